# SPDX-License-Identifier: MIT
# checks.sh - the result format of tests/lib/checks.py for shell tests
# (sourced, not run): "ok   WHAT", "FAIL WHAT", "skip WHAT", then the last
# line "N passed, N failed[, N skipped]"; exit 1 on any failure.
#
#   pass WHAT      a check that held
#   skip WHAT      a check that could not run here
#   fail WHAT      a check that did not hold: counted, then finish (the
#                  shell tests stop at their first failure)
#   checks_add PASSED FAILED   counts checks made elsewhere (e.g. by jobs
#                  run in the background), printing nothing
#   finish         prints the last line and exits

checks_passed=0
checks_failed=0
checks_skipped=0

pass() { checks_passed=$((checks_passed + 1)); echo "ok   $*"; }
skip() { checks_skipped=$((checks_skipped + 1)); echo "skip $*"; }
fail() { checks_failed=$((checks_failed + 1)); echo "FAIL $*"; finish; }
checks_add() { checks_passed=$((checks_passed + $1)); checks_failed=$((checks_failed + $2)); }

finish() {
    local line="$checks_passed passed, $checks_failed failed"
    [ "$checks_skipped" -gt 0 ] && line="$line, $checks_skipped skipped"
    echo "$line"
    [ "$checks_failed" -eq 0 ] || exit 1
    exit 0
}
