#!/bin/bash
# SPDX-License-Identifier: MIT
# Wireshark plugin overhead (a benchmark, not a timed test):
# tshark on the same large capture, in the same run, without and with the
# smtpreply plugin, a few times each; prints median wall times and the
# added time.  Runs tshark as uid 65534 when root (see tests/plugin/lib.sh).
#
#   bench/plugin-bench.sh [BUILD_DIR] [CAPTURE] [REPEATS]
# Without CAPTURE, a synthetic one ($SESSIONS, default 20000 sessions, tests/plugin/helpers/
# mkpcap.py) is written first.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
capture=${2:-}
reps=${3:-5}
export SMTPREPLY_PLUGIN=$build/plugin/smtpreply.so SRCDIR=$here BUILDDIR=$build
export TSHARK_TIMEOUT=1800
# The plugin folder of the installed Wireshark's version, as the build sets it.
ws_minor=$(tshark -v 2>/dev/null | sed -n '1s/.*(Wireshark) \([0-9]*\.[0-9]*\).*/\1/p')
export SMTPREPLY_PLUGIN_SUBDIR=${SMTPREPLY_PLUGIN_SUBDIR:-$ws_minor/epan}
[ -f "$SMTPREPLY_PLUGIN" ] || { echo "build the plugin first ($SMTPREPLY_PLUGIN)" >&2; exit 2; }
. "$here/tests/plugin/lib.sh"
require_plugin_loaded

if [ -z "$capture" ]; then
    capture=$SR_TMP/captures/bench.pcap
    python3 -c "import sys; sys.path.insert(0, '$here/tests/plugin/helpers'); import mkpcap; \
print('synthetic capture:', mkpcap.many('$capture', ${SESSIONS:-20000}), 'frames')"
    chmod 644 "$capture"
else
    capture=$(stage_capture "$capture")
fi
mkdir -p "$SR_TMP/noplugins/$SMTPREPLY_PLUGIN_SUBDIR"
chmod -R a+rX "$SR_TMP"

# On a machine others load too, wall time mostly measures them: CPU time
# (user + system) of tshark is reported beside it, and both as ratios to
# the baseline of the same run (the runs are interleaved).
run() { # run DIR ARGS...: "wall cpu" seconds of one tshark run with plugin dir DIR
    local dir=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    local who=()
    [ "$(id -u)" = 0 ] && who=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    /usr/bin/time -o "$SR_TMP/time.out" -f "%U %S" "${who[@]}" \
        env HOME="$SR_TMP/home" WIRESHARK_PLUGIN_DIR="$dir" \
        timeout "$TSHARK_TIMEOUT" tshark -r "$capture" "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc) $(awk '{ print $1 + $2 }' "$SR_TMP/time.out")"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# tshark -q alone dissects nothing, so every run extracts a field: the
# baseline is the built-in dissector's smtp.response.code without the
# plugin; then the same command with the plugin loaded (it feeds the core
# on every TCP segment), then the plugin's own fields and stats tree.
base_args=(-T fields -e smtp.response.code)
without=() same=() own=() tree=()
for _ in $(seq "$reps"); do
    without+=("$(run "$SR_TMP/noplugins" "${base_args[@]}")")
    same+=("$(run "$SR_TMP/plugins" "${base_args[@]}")")
    own+=("$(run "$SR_TMP/plugins" -T fields -e smtpreply.code)")
    tree+=("$(run "$SR_TMP/plugins" -q -z smtpreply,tree)")
done
col() { local k=$1; shift; printf '%s\n' "$@" | awk -v k="$k" '{ print $k }' | median; }
base=$(col 1 "${without[@]}")
cbase=$(col 2 "${without[@]}")
report() { # report LABEL TIMES...
    local label=$1; shift
    local m c
    m=$(col 1 "$@")
    c=$(col 2 "$@")
    printf '%-50s wall %7.2f s (%+6.1f%%)  cpu %7.2f s (%+6.1f%%)\n' "$label" "$m" \
        "$(echo "($m - $base) * 100 / $base" | bc -l)" "$c" \
        "$(echo "($c - $cbase) * 100 / $cbase" | bc -l)"
}
printf '%-50s wall %7.2f s           cpu %7.2f s  (medians of %d)\n' \
    "without plugin: -T fields -e smtp.response.code" "$base" "$cbase" "$reps"
report "with plugin:    -T fields -e smtp.response.code" "${same[@]}"
report "with plugin:    -T fields -e smtpreply.code" "${own[@]}"
report "with plugin:    -q -z smtpreply,tree" "${tree[@]}"
echo "capture: $(basename "$capture"), $(stat -c %s "$capture") bytes; $(nproc) cores; $(tshark -v | head -1)"
