#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/versions/run.sh [trixie] [testing] [noble] - the plugin on the
# Wireshark of other releases, each in a chroot made by debootstrap from
# the release's archive and cached between runs (scripts/chroots.sh):
#   trixie   Debian 13, Wireshark 4.4: the whole project is built with its
#            gcc and libpcap; the CLI and unit tests and the plugin tests run;
#   testing  Debian testing (4.6 in late 2026; it moves): the project is
#            built, and the plugin tests run;
#   noble    Ubuntu 24.04, Wireshark 4.2, from Ubuntu's archive: as testing.
#            Not in the default run (see README, "Wireshark versions").
# How much of the plugin suite runs is SMTPREPLY_VERSIONS_SCOPE:
#   ci (default)  every plugin test, with the two sampling tests cut down:
#                 test_mutation reads each capture once (MUTATION_RATES=0.05,
#                 MUTATION_SEEDS=3:66: 1 of its 9 rate x seed variants) and
#                 test_differential makes one random variant of each damage
#                 kind (DIFF_VARIANTS=1, 3 by default);
#   full          the plugin suite exactly as on the host;
#   bench         no tests: only the plugin is built, and
#                 bench/plugin-bench.sh runs on that release's tshark
#                 (BENCH_REPEATS rounds, default 5; SESSIONS and
#                 INSTRUCTIONS as for the bench, valgrind installed in the
#                 chroot for INSTRUCTIONS).
# The CLI and unit tests always run whole (except in the bench scope).
# In both, cpack's plugin package must depend on the package of that
# release's libwireshark.
# In each, the source (and the shared folder, when present) is copied in,
# the version found is printed, `tshark -G plugins` as uid 65534 must list
# the freshly built plugin before any test runs, and each part is timed.
# Needs root (debootstrap, chroot, mount).  Without arguments: both.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/chroots.sh"
jobs=$(nproc)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie testing)
[ "$(id -u)" = 0 ] || { echo "versions: needs root (debootstrap, chroot)" >&2; exit 2; }

timings=()
mounted=()
cleanup() {
    local d
    for d in "${mounted[@]}"; do chroot_umount "$d"; done
}
trap cleanup EXIT

# timed LABEL CMD...: runs CMD, records how long it took.
timed() {
    local label=$1 start=$SECONDS; shift
    "$@"
    timings+=("$(printf '%-44s %4ds' "$label" $((SECONDS - start)))")
}

scope=${SMTPREPLY_VERSIONS_SCOPE:-ci}
case $scope in
    ci)   knobs=(MUTATION_RATES=0.05 MUTATION_SEEDS=3:66 DIFF_VARIANTS=1) ;;
    full | bench) knobs=() ;;
    *) echo "versions: SMTPREPLY_VERSIONS_SCOPE is ci, full or bench, not $scope" >&2; exit 2 ;;
esac

# in_chroot DIR CMD: a shell command inside DIR, as root.
in_chroot() {
    chroot "$1" env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root \
        LC_ALL=C.UTF-8 TSHARK_TIMEOUT="${TSHARK_TIMEOUT:-300}" "${knobs[@]}" \
        bash -euo pipefail -c "$2"
}

# copy_source DIR: the repository's files (tracked and new, not ignored:
# no build directories) to DIR/build/src, and ../shared to DIR/build/shared.
copy_source() {
    local dir=$1
    rm -rf "$dir/build"
    mkdir -p "$dir/build/src"
    if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
            xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
            tar --null -T - -cf -) | tar -xf - -C "$dir/build/src"
    else
        tar -C "$repo" --exclude='./build*' -cf - . | tar -xf - -C "$dir/build/src"
    fi
    if [ -d "$repo/../shared" ]; then
        cp -a "$repo/../shared" "$dir/build/shared"
    fi
    chmod -R a+rX "$dir/build"
}

# check_plugin_listed DIR: tshark -G plugins, as uid 65534, lists the built
# plugin from a plugin folder of the version tshark expects.
check_plugin_listed() {
    local dir=$1 so subdir staged out line
    so=$(in_chroot "$dir" 'readlink -f /build/b/plugin/smtpreply.so')
    subdir=$(sed -n 's/^SMTPREPLY_PLUGIN_SUBDIR:INTERNAL=//p' "$dir/build/b/CMakeCache.txt")
    [ -n "$subdir" ] || { echo "versions: no plugin folder in the build's cache" >&2; return 1; }
    staged="/build/check/plugins/$subdir/smtpreply.so"
    mkdir -p "$dir$(dirname "$staged")" "$dir/build/check/home"
    cp "$dir$so" "$dir$staged"
    chmod -R a+rX "$dir/build/check"
    chown 65534:65534 "$dir/build/check/home"
    out=$(chroot --userspec=65534:65534 "$dir" env -i PATH=/usr/bin:/bin HOME=/build/check/home \
              WIRESHARK_PLUGIN_DIR=/build/check/plugins timeout 300 tshark -G plugins 2>&1) || {
        echo "versions: tshark -G plugins failed: $out" >&2; return 1; }
    line=$(grep "^smtpreply\.so.*$staged" <<<"$out") || {
        echo "versions: tshark -G plugins does not list $staged:" >&2
        echo "$out" >&2; return 1; }
    echo "$line"
    # plugin_describe(): without it 4.2+ lists the type as "unknown".
    if grep -qw unknown <<<"$line"; then
        echo "versions: tshark lists the plugin's type as unknown" >&2; return 1
    fi
}

# check_package_depends DIR: the plugin's .deb made there depends on the
# package that holds that release's libwireshark (its ABI).
check_package_depends() {
    local dir=$1 abi deps
    in_chroot "$dir" 'cd /build/b && rm -f ./*.deb && cpack -G DEB >/dev/null'
    abi=$(in_chroot "$dir" 'dpkg-query -S "$(readlink -f /usr/lib/*/libwireshark.so)"' | cut -d: -f1)
    deps=$(in_chroot "$dir" 'dpkg-deb -f /build/b/smtpreply-wireshark-plugin_*.deb Depends')
    echo "  plugin package Depends: $deps" >&2
    grep -Eq "(^|, )$abi(,|$| )" <<<"$deps" || {
        echo "versions: the plugin package does not depend on $abi" >&2; return 1; }
}

# build_in DIR [BUILD_ARGS...]: configure the copied source in DIR's
# /build/b and build it (everything, or what BUILD_ARGS name).
build_in() {
    local dir=$1; shift
    in_chroot "$dir" \
        "cmake -S /build/src -B /build/b -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPREPLY_PLUGIN=ON \
             -DSMTPREPLY_SHARED_DIR=/build/shared >/dev/null &&
         cmake --build /build/b -j $jobs $* >/dev/null"
}

# run_bench NAME DIR: the plugin alone built in DIR, then the plugin
# benchmark on DIR's tshark.
run_bench() {
    local name=$1 dir=$2 reps=${BENCH_REPEATS:-5}
    local knob value
    # Numbers only: they are written into the command run in the chroot.
    for knob in "BENCH_REPEATS=$reps" "SESSIONS=${SESSIONS:-20000}" "INSTRUCTIONS=${INSTRUCTIONS:-0}"; do
        value=${knob#*=}
        case $value in
            '' | *[!0-9]*) echo "versions: ${knob%%=*} is a number, not '$value'" >&2; return 2 ;;
        esac
    done
    echo "==== $name: configure and build the plugin" >&2
    timed "$name: build the plugin" build_in "$dir" --target smtpreply_plugin
    echo "==== $name: tshark -G plugins (uid 65534)" >&2
    check_plugin_listed "$dir"
    if [ -n "${INSTRUCTIONS:-}" ]; then
        echo "==== $name: valgrind, for INSTRUCTIONS=$INSTRUCTIONS" >&2
        timed "$name: install valgrind" chroot_apt_install "$dir" valgrind >/dev/null
    fi
    echo "==== $name: bench/plugin-bench.sh ($reps rounds)" >&2
    timed "$name: bench" in_chroot "$dir" \
        "SESSIONS='${SESSIONS:-20000}' INSTRUCTIONS='${INSTRUCTIONS:-}' \
         bash /build/src/bench/plugin-bench.sh /build/b '' $reps"
}

run_suite() {
    local name=$1 dir version labels
    case $name in
        trixie)  labels='plugin|cli|unit' ;;
        testing | noble) labels='plugin' ;;
        *) echo "versions: unknown suite $name (trixie, testing or noble)" >&2; return 2 ;;
    esac
    echo "==== $name: chroot" >&2
    # shellcheck disable=SC2046
    timed "$name: make or reuse the chroot" chroot_ensure "$name" "$name" \
        $("$repo/scripts/deps.sh" --list versions)
    dir=$CHROOT_DIR
    # One run at a time uses a chroot's /build.
    exec {usefd}>"$CHROOT_CACHE/$name.use.lock"
    flock "$usefd"
    chroot_mount "$dir"; mounted+=("$dir")
    version=$(in_chroot "$dir" 'tshark --version 2>/dev/null | head -1')
    echo "==== $name: $version ($(. "$dir/etc/os-release" && echo "$PRETTY_NAME"), tshark package" \
         "$(chroot_dpkg_version "$dir" tshark), $(in_chroot "$dir" 'gcc --version | head -1'))" >&2
    timed "$name: copy the source" copy_source "$dir"
    if [ "$scope" = bench ]; then
        run_bench "$name" "$dir"
    else
        echo "==== $name: configure and build" >&2
        timed "$name: build" build_in "$dir"
        echo "==== $name: tshark -G plugins (uid 65534)" >&2
        check_plugin_listed "$dir"
        echo "==== $name: cpack: the plugin package's dependency" >&2
        timed "$name: cpack" check_package_depends "$dir"
        echo "==== $name: tests (-L '$labels', scope $scope${knobs[*]:+: ${knobs[*]}})" >&2
        timed "$name: tests -L '$labels'" in_chroot "$dir" \
            "ctest --test-dir /build/b --output-on-failure -j $jobs -L '$labels'"
    fi
    chroot_umount "$dir"
    flock -u "$usefd"
}

for s in "${suites[@]}"; do run_suite "$s"; done
echo "==== versions: timings" >&2
printf '  %s\n' "${timings[@]}" >&2
