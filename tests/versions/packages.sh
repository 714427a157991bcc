#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/versions/packages.sh BUILD_DIR - the Debian packages that
# `cpack -G DEB` makes in BUILD_DIR install with `apt install ./NAME.deb` on
# a clean system of the release they were built on, and work there:
#   - a clean minbase chroot of that release (scripts/chroots.sh, cached) is
#     used through an overlay, so it stays clean for the next run;
#   - apt installs smtpreply, then smtpreply-wireshark-plugin (with what
#     they depend on and recommend, from Debian's archive);
#   - `smtpreply explain 550` must explain 550 and the man page must be
#     installed;
#   - `tshark -G plugins`, as uid 65534, must list the plugin from the
#     system plugin folder the package put it in.
# Needs root (debootstrap, chroot, mount).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/chroots.sh"
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
[ "$(id -u)" = 0 ] || { echo "packages: needs root (debootstrap, chroot)" >&2; exit 2; }
fail() { echo "FAIL: packages: $*" >&2; exit 1; }

. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}

t0=$SECONDS
echo "==== packages: cpack -G DEB in $build" >&2
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >/dev/null) || fail "cpack failed"
cli_deb=$(ls "$build"/smtpreply_*.deb)
plugin_deb=$(ls "$build"/smtpreply-wireshark-plugin_*.deb)
for d in "$cli_deb" "$plugin_deb"; do
    echo "  $(basename "$d"): Depends: $(dpkg-deb -f "$d" Depends)" >&2
done
grep -Eq '(^|, )libwireshark[0-9]+($|,| )' <<<"$(dpkg-deb -f "$plugin_deb" Depends)" ||
    fail "the plugin package does not depend on a libwireshark ABI package"

t_cpack=$((SECONDS - t0)); t0=$SECONDS
chroot_ensure "$suite-clean" "$suite"
clean=$CHROOT_DIR
t_chroot=$((SECONDS - t0)); t0=$SECONDS

tmp=$(mktemp -d /tmp/smtpreply-packages.XXXXXX)
root=$tmp/root
debs=$CHROOT_CACHE/$suite-clean.debs
cleanup() {
    chroot_umount "$root" 2>/dev/null || true
    mountpoint -q "$root/var/cache/apt/archives" && umount "$root/var/cache/apt/archives"
    mountpoint -q "$root" && umount "$root"
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/upper" "$tmp/work" "$root" "$debs/partial"
mount -t overlay overlay -o "lowerdir=$clean,upperdir=$tmp/upper,workdir=$tmp/work" "$root"
# Downloaded packages are kept between runs.
mount --bind "$debs" "$root/var/cache/apt/archives"
chroot_mount "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$cli_deb" "$plugin_deb" "$root/tmp/"
chmod 644 "$root/tmp/"*.deb

run() { chroot "$root" env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin LC_ALL=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive "$@"; }

echo "==== packages: apt install ./$(basename "$cli_deb") in a clean $suite" >&2
# What comes from the archive is fetched first, retried when the archive
# fails (chroot_retry); the installs then use only what was fetched, and
# are not retried: their failure is the package's (apt finds everything
# in its cache then; --no-download cannot be used: apt rejects it with a
# local .deb, "Pathname to install is not absolute").
apt_run() { run apt-get -y -q -o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=true "$@"; }
fetch() {  # fetch LOG DEB: download what installing DEB needs
    local log=$1 deb=$2
    chroot_retry "apt-get update and download for $(basename "$deb")" \
        sh -c 'run() { chroot "$0" env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin LC_ALL=C.UTF-8 \
                           DEBIAN_FRONTEND=noninteractive "$@"; }
               run apt-get -q -o Dpkg::Use-Pty=0 update >/dev/null &&
               run apt-get -y -q -o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=true \
                   --download-only install "$1"' "$root" "./tmp/$(basename "$deb")" >"$log" 2>&1 ||
        { cat "$log" >&2; fail "could not fetch what $(basename "$deb") needs from the archive"; }
}
fetch "$tmp/fetch-cli.log" "$cli_deb"
apt_run install "./tmp/$(basename "$cli_deb")" > "$tmp/apt-cli.log" 2>&1 ||
    { cat "$tmp/apt-cli.log" >&2; fail "apt install of the CLI package failed"; }
out=$(run smtpreply explain 550) || fail "smtpreply explain 550 failed"
head -1 <<<"$out" >&2
grep -q '^550 ' <<<"$out" || fail "smtpreply explain 550 printed: $out"
run test -f /usr/share/man/man1/smtpreply.1.gz || fail "no man page smtpreply(1)"
run test -f /usr/share/doc/smtpreply/copyright || fail "no /usr/share/doc/smtpreply/copyright"

echo "==== packages: apt install ./$(basename "$plugin_deb")" >&2
fetch "$tmp/fetch-plugin.log" "$plugin_deb"
apt_run install "./tmp/$(basename "$plugin_deb")" > "$tmp/apt-plugin.log" 2>&1 ||
    { cat "$tmp/apt-plugin.log" >&2; fail "apt install of the plugin package failed"; }
run test -f /usr/share/doc/smtpreply-wireshark-plugin/copyright ||
    fail "no /usr/share/doc/smtpreply-wireshark-plugin/copyright"
so=$(run dpkg -L smtpreply-wireshark-plugin | grep '/epan/smtpreply\.so$') ||
    fail "the plugin package holds no .../epan/smtpreply.so"
mkdir -p "$root/tmp/home"; chown 65534:65534 "$root/tmp/home"
out=$(chroot --userspec=65534:65534 "$root" env -i PATH=/usr/bin:/bin HOME=/tmp/home \
          timeout 300 tshark -G plugins 2>&1) || fail "tshark -G plugins failed: $out"
grep "^smtpreply\.so.*$so" <<<"$out" >&2 ||
    fail "tshark -G plugins does not list $so:
$out"
echo "OK: both packages install on a clean $suite; tshark lists $so" >&2
printf '==== packages: timings\n  %-44s %4ds\n  %-44s %4ds\n  %-44s %4ds\n' \
    "cpack" "$t_cpack" "make or reuse the clean $suite chroot" "$t_chroot" \
    "install both packages and check them" $((SECONDS - t0)) >&2
