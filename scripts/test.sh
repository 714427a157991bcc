#!/usr/bin/env bash
# test.sh - install what is missing, then build and run every test:
#   (first: every C file must match .clang-format, scripts/check-format.sh)
#   build/        the normal build (-Werror), with the Wireshark plugin
#   build-asan/   the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   build-fuzz/   clang + libFuzzer: each fuzz target runs for a short time
#   then, in Debian chroots made by debootstrap and cached in
#   /var/cache/smtpreply/chroots (tests/versions/): the plugin on Wireshark
#   4.4 (Debian 13) and on Debian testing's (4.6), the whole project and
#   every CLI test on Debian 13, and the .deb packages from build/ installed
#   on a clean Debian 12.  It needs root and Debian's archive.  By default
#   the chroots run the plugin suite with its two sampling tests cut down
#   (SMTPREPLY_VERSIONS_SCOPE=ci, see tests/versions/run.sh);
#   SMTPREPLY_VERSIONS=full runs it whole there, SMTPREPLY_VERSIONS=0 skips
#   the chroot part.
# Prints how long each part took.
# Fails on any test failure or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=${SMTPREPLY_VERSIONS:-ci}
case $versions in
  0 | ci | 1 | full) ;;
  *) echo "SMTPREPLY_VERSIONS is 0, ci or full, not $versions" >&2; exit 2 ;;
esac
./scripts/deps.sh test
echo "==== C style (clang-format-14, .clang-format)" >&2
./scripts/check-format.sh
jobs=$(nproc)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

timings=()
# The chroots of the last part (Debian 13, testing, clean Debian 12) are
# made, or their packages updated, while the host builds run: that is
# mostly waiting on the archive and the disk.  The last part reuses what
# this made (scripts/chroots.sh locks each chroot); if this failed, it
# tries again itself, so only its log is shown here.
prep_pid=
if [ "$versions" != 0 ]; then
  mkdir -p build
  rm -f build/chroots-prepare.seconds
  prep_start=$SECONDS
  (
    . scripts/chroots.sh
    # shellcheck disable=SC2046
    for s in trixie testing; do chroot_ensure "$s" "$s" $(scripts/deps.sh --list versions); done
    . /etc/os-release
    chroot_ensure "$VERSION_CODENAME-clean" "$VERSION_CODENAME"
    echo "$((SECONDS - prep_start))" > build/chroots-prepare.seconds
  ) > build/chroots-prepare.log 2>&1 &
  prep_pid=$!
fi

run_build() {  # dir, ctest-args, cmake options...
  local dir=$1 ctest_args=$2 start=$SECONDS; shift 2
  echo "==== $dir: configure and build" >&2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "==== $dir: tests" >&2
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" $ctest_args
  timings+=("$(printf '%-40s %5ds' "$dir: build and tests" $((SECONDS - start)))")
}

run_build build "" -DSMTPREPLY_PLUGIN=ON
run_build build-asan "" -DSMTPREPLY_SANITIZE=ON
# The fuzz build runs only the fuzz smoke runs: the suite ran twice above.
run_build build-fuzz "-L fuzz" -DSMTPREPLY_FUZZ=ON -DCMAKE_C_COMPILER=clang
if [ -n "$prep_pid" ]; then
  echo "==== chroots: waiting for their making (build/chroots-prepare.log)" >&2
  if wait "$prep_pid"; then
    timings+=("$(printf '%-40s %5ds' "chroots made (beside the builds)" "$(cat build/chroots-prepare.seconds)")")
  else
    echo "==== chroots: making them failed; tests/versions/run.sh tries again:" >&2
    tail -20 build/chroots-prepare.log >&2
  fi
fi
if [ "$versions" = 0 ]; then
  echo "==== SMTPREPLY_VERSIONS=0: the Debian chroot part is skipped" >&2
else
  # Set either way: a scope left in the environment (bench runs no test)
  # must not change what the test run checks.
  if [ "$versions" = full ]; then export SMTPREPLY_VERSIONS_SCOPE=full; else export SMTPREPLY_VERSIONS_SCOPE=ci; fi
  start=$SECONDS
  tests/versions/run.sh trixie testing
  timings+=("$(printf '%-40s %5ds' "chroots: Debian 13 and testing" $((SECONDS - start)))")
  start=$SECONDS
  tests/versions/packages.sh build
  timings+=("$(printf '%-40s %5ds' "packages on a clean Debian 12" $((SECONDS - start)))")
fi
echo "==== timings (wall clock)" >&2
printf '  %s\n' "${timings[@]}" >&2
echo "==== all builds passed" >&2
