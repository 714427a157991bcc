#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# chroots.sh - Debian chroots made with debootstrap from Debian's archive,
# cached between runs on one machine.  Sourced by tests/versions/run.sh and
# tests/versions/packages.sh; run directly it makes (or reuses) one:
#
#   scripts/chroots.sh NAME SUITE [PACKAGE...]   # prints the chroot's path
#
# The cache is $SMTPREPLY_CHROOT_CACHE (default /var/cache/smtpreply/chroots):
# NAME/ is the chroot, NAME/.smtpreply-packages the packages installed in
# it.  A chroot is reused when present; packages it lacks are installed.
# It is first made in NAME.new/ and renamed when debootstrap succeeded, so
# an interrupted run leaves nothing half made.  Needs root.
set -euo pipefail

CHROOT_CACHE=${SMTPREPLY_CHROOT_CACHE:-/var/cache/smtpreply/chroots}
DEBIAN_MIRROR=${SMTPREPLY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Ubuntu 24.04 (SUITE noble, Wireshark 4.2) comes from Ubuntu's archive,
# checked with the Ubuntu archive keyring that Debian 13 packages
# (ubuntu-keyring, fetched through the trixie chroot: Debian 12 has none).
UBUNTU_MIRROR=${SMTPREPLY_UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}
UBUNTU_SUITES="noble"

chroot_log() { echo "chroots: $*" >&2; }

# Steps that fetch from the archive are tried CHROOT_TRIES times (default
# 3), CHROOT_RETRY_PAUSE seconds apart (default 30): a mirror that is
# briefly unreachable or mid-sync is not a test failure.  Nothing else is
# retried.
CHROOT_TRIES=${SMTPREPLY_CHROOT_TRIES:-3}
CHROOT_RETRY_PAUSE=${SMTPREPLY_CHROOT_RETRY_PAUSE:-30}

# chroot_retry WHAT CMD...: runs CMD until it succeeds, at most
# CHROOT_TRIES times.
chroot_retry() {
    local what=$1 try=1; shift
    until "$@"; do
        if [ "$try" -ge "$CHROOT_TRIES" ]; then
            chroot_log "$what failed $try times; giving up"
            return 1
        fi
        chroot_log "$what failed (try $try of $CHROOT_TRIES); again in ${CHROOT_RETRY_PAUSE}s"
        sleep "$CHROOT_RETRY_PAUSE"
        try=$((try + 1))
    done
}

# chroot_ubuntu_keyring: prints the path of the Ubuntu archive keyring,
# kept in the cache, taken from Debian 13's ubuntu-keyring package.
chroot_ubuntu_keyring() {
    local key="$CHROOT_CACHE/ubuntu-archive-keyring.gpg" t tmp
    if [ ! -s "$key" ]; then
        chroot_ensure trixie trixie >&2 || return 1
        t=$CHROOT_DIR
        tmp=$(mktemp -d "$t/tmp/keyring.XXXXXX")
        chroot_mount "$t"
        cp /etc/resolv.conf "$t/etc/resolv.conf" 2>/dev/null || true
        if ! chroot_retry "apt-get download ubuntu-keyring" chroot "$t" sh -c \
                "apt-get -q update >/dev/null && cd /tmp/${tmp##*/} && apt-get -q download ubuntu-keyring" >&2; then
            chroot_umount "$t"; rm -rf "$tmp"; return 1
        fi
        chroot_umount "$t"
        dpkg-deb --fsys-tarfile "$tmp"/ubuntu-keyring_*.deb |
            tar -xOf - ./usr/share/keyrings/ubuntu-archive-keyring.gpg > "$key.new"
        rm -rf "$tmp"
        mv "$key.new" "$key"
    fi
    echo "$key"
}

# chroot_debootstrap SUITE DIR: one debootstrap run into a fresh DIR.
chroot_debootstrap() {
    local suite=$1 dir=$2 key script
    rm -rf "$dir"
    case " $UBUNTU_SUITES " in
        *" $suite "*)
            key=$(chroot_ubuntu_keyring) || return 1
            # Debian 12's debootstrap knows no Ubuntu after 22.04; every
            # Ubuntu script there is the same as gutsy's.
            script=/usr/share/debootstrap/scripts/$suite
            [ -e "$script" ] || script=/usr/share/debootstrap/scripts/gutsy
            timeout 1800 debootstrap --variant=minbase --keyring="$key" \
                --components=main,universe "$suite" "$dir" "$UBUNTU_MIRROR" "$script" || return 1
            # Wireshark is in universe; -updates has its fixes.
            printf 'deb %s %s main universe\ndeb %s %s-updates main universe\n' \
                "$UBUNTU_MIRROR" "$suite" "$UBUNTU_MIRROR" "$suite" > "$dir/etc/apt/sources.list"
            ;;
        *) timeout 1800 debootstrap --variant=minbase "$suite" "$dir" "$DEBIAN_MIRROR" ;;
    esac
}

# chroot_apt_install DIR PACKAGE...: apt-get update, then install.
chroot_apt_install() {
    local dir=$1; shift
    chroot_apt "$dir" update >/dev/null &&
        chroot_apt "$dir" install --no-install-recommends "$@"
}

# chroot_mount DIR: /proc and /dev inside DIR, for apt, tshark and the
# tests (removed by chroot_umount; callers trap it).
chroot_mount() {
    local dir=$1
    mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
    mountpoint -q "$dir/dev" || mount --bind /dev "$dir/dev"
}

chroot_umount() {
    local dir=$1
    if mountpoint -q "$dir/dev"; then umount "$dir/dev" || umount -l "$dir/dev"; fi
    if mountpoint -q "$dir/proc"; then umount "$dir/proc" || umount -l "$dir/proc"; fi
}

# chroot_apt DIR ARGS...: apt-get inside DIR, non-interactive.
chroot_apt() {
    local dir=$1; shift
    timeout 1800 chroot "$dir" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
        apt-get -y -q -o Dpkg::Use-Pty=0 "$@"
}

# chroot_ensure NAME SUITE [PACKAGE...]: sets CHROOT_DIR to a chroot of
# SUITE holding PACKAGEs (plus minbase), making it if needed.
chroot_ensure() {
    local name=$1 suite=$2; shift 2
    local dir="$CHROOT_CACHE/$name" marker missing=() p lockfd
    mkdir -p "$CHROOT_CACHE"
    exec {lockfd}>"$CHROOT_CACHE/$name.lock"
    flock "$lockfd"
    if [ ! -x "$dir/usr/bin/apt-get" ]; then
        chroot_log "making $name ($suite) with debootstrap --variant=minbase"
        chroot_retry "debootstrap $suite" chroot_debootstrap "$suite" "$dir.new" \
            > "$CHROOT_CACHE/$name.debootstrap.log" 2>&1 ||
            { tail -20 "$CHROOT_CACHE/$name.debootstrap.log" >&2; flock -u "$lockfd"; return 1; }
        # Debian testing's Release file, as some mirrors serve it, can be
        # past its Valid-Until date; nothing here depends on freshness.
        echo 'Acquire::Check-Valid-Until "false";' > "$dir.new/etc/apt/apt.conf.d/99smtpreply"
        # tshark's postinst asks whether dumpcap should be setuid: no.
        echo 'wireshark-common wireshark-common/install-setuid boolean false' \
            > "$dir.new/root/debconf-preseed"
        chroot "$dir.new" debconf-set-selections /root/debconf-preseed
        rm -f "$dir.new/var/cache/apt/archives/"*.deb
        mv "$dir.new" "$dir"
    else
        chroot_log "reusing $dir"
    fi
    marker="$dir/.smtpreply-packages"
    touch "$marker"
    for p in "$@"; do grep -qx "$p" "$marker" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        chroot_log "$name: installing ${missing[*]}"
        cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
        chroot_mount "$dir"
        if chroot_retry "apt-get install in $name" chroot_apt_install "$dir" "${missing[@]}" \
               > "$CHROOT_CACHE/$name.apt.log" 2>&1; then
            chroot_apt "$dir" clean >/dev/null
            printf '%s\n' "${missing[@]}" >> "$marker"
        else
            tail -20 "$CHROOT_CACHE/$name.apt.log" >&2
            chroot_umount "$dir"; flock -u "$lockfd"; return 1
        fi
        chroot_umount "$dir"
    fi
    flock -u "$lockfd"
    CHROOT_DIR=$dir
}

# chroot_dpkg_version DIR PACKAGE: the installed version, or nothing.
chroot_dpkg_version() {
    chroot "$1" dpkg-query -W -f='${Version}' "$2" 2>/dev/null || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    [ $# -ge 2 ] || { echo "usage: $0 NAME SUITE [PACKAGE...]" >&2; exit 2; }
    chroot_ensure "$@"
    echo "$CHROOT_DIR"
fi
