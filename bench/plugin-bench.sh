#!/bin/bash
# SPDX-License-Identifier: MIT
# Wireshark plugin overhead (a benchmark, not a timed test):
# tshark on the same large capture, in the same run, without and with the
# smtpreply plugin, a few times each; prints median wall times and the
# added time.  Runs tshark as uid 65534 when root (see tests/plugin/lib.sh).
#
#   bench/plugin-bench.sh [BUILD_DIR] [CAPTURE] [REPEATS]
# Without CAPTURE, a synthetic one ($SESSIONS, default 20000 sessions, tests/plugin/helpers/
# mkpcap.py) is written first.  INSTRUCTIONS=N (needs valgrind) also
# counts the instructions of the two baselines' commands, without and with
# the plugin, on a synthetic N-session file: a figure this machine's load
# does not move.  REPEATS 0 skips the timed rounds.
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

if [ "$reps" -eq 0 ]; then
    : # no timed rounds: no large capture
elif [ -z "$capture" ]; then
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
    echo "$(calc "$t1 - $t0") $(awk '{ print $1 + $2 }' "$SR_TMP/time.out")"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# calc EXPR: floating-point arithmetic (awk: minimal chroots have no bc).
calc() { awk "BEGIN { print $1 }"; }

# tshark -q alone dissects nothing, so every run prints something: the
# baseline is the built-in dissector's smtp.response.code without the
# plugin (-T fields builds every dissector's visible tree, so the plugin
# draws every reply in full: its dearest case); then the same command with
# the plugin loaded, then the plugin's own field and its stats tree.
# tshark's plain packet list (no -V, -T or filter) is timed as a second
# pair: there no dissector builds a tree.
base_args=(-T fields -e smtp.response.code)
timed() { # the CPU-time rounds and their report (REPEATS 0: none)
    without=() same=() own=() tree=() plain0=() plain1=()
    for _ in $(seq "$reps"); do
        without+=("$(run "$SR_TMP/noplugins" "${base_args[@]}")")
        same+=("$(run "$SR_TMP/plugins" "${base_args[@]}")")
        own+=("$(run "$SR_TMP/plugins" -T fields -e smtpreply.code)")
        tree+=("$(run "$SR_TMP/plugins" -q -z smtpreply,tree)")
        plain0+=("$(run "$SR_TMP/noplugins")")
        plain1+=("$(run "$SR_TMP/plugins")")
    done
    col() { local k=$1; shift; printf '%s\n' "$@" | awk -v k="$k" '{ print $k }' | median; }
    # The median of the per-round ratios of CPU time (run and its baseline
    # ran one after the other, so a slow spell of the machine hits both).
    paired() { # paired "BASE_TIMES" "TIMES": median ratio - 1, in percent
        paste -d' ' <(printf '%s\n' $1 | awk 'NR % 2 == 0') <(printf '%s\n' $2 | awk 'NR % 2 == 0') |
            awk '{ print ($2 / $1 - 1) * 100 }' | median
    }
    report() { # report LABEL "BASE_TIMES" TIMES...
        local label=$1 basetimes=$2; shift 2
        local m c b cb
        b=$(printf '%s\n' $basetimes | awk 'NR % 2 == 1' | median)
        cb=$(printf '%s\n' $basetimes | awk 'NR % 2 == 0' | median)
        m=$(col 1 "$@")
        c=$(col 2 "$@")
        printf '%-48s wall %6.2f s (%+6.1f%%)  cpu %6.2f s (%+6.1f%%, paired %+6.1f%%)\n' "$label" "$m" \
            "$(calc "($m - $b) * 100 / $b")" "$c" \
            "$(calc "($c - $cb) * 100 / $cb")" "$(paired "$basetimes" "$*")"
    }
    printf '%-48s wall %6.2f s            cpu %6.2f s  (medians of %d)\n' \
        "without plugin: -T fields -e smtp.response.code" "$(col 1 "${without[@]}")" \
        "$(col 2 "${without[@]}")" "$reps"
    report "with plugin:    -T fields -e smtp.response.code" "${without[*]}" "${same[@]}"
    report "with plugin:    -T fields -e smtpreply.code" "${without[*]}" "${own[@]}"
    report "with plugin:    -q -z smtpreply,tree" "${without[*]}" "${tree[@]}"
    printf '%-48s wall %6.2f s            cpu %6.2f s\n' "without plugin: packet list (tshark -r)" \
        "$(col 1 "${plain0[@]}")" "$(col 2 "${plain0[@]}")"
    report "with plugin:    packet list (tshark -r)" "${plain0[*]}" "${plain1[@]}"
    echo "capture: $(basename "$capture"), $(stat -c %s "$capture") bytes; $(nproc) cores; $(tshark -v | head -1)"
}
[ "$reps" -gt 0 ] && timed

# Instructions: callgrind's count of each baseline's command without and
# with the plugin on a synthetic INSTRUCTIONS-session file.  tshark's
# start-up (the same command on a one-session file, without the plugin)
# is left out of the percentage, so it does not depend on the file's size.
if [ -n "${INSTRUCTIONS:-}" ]; then
    command -v valgrind >/dev/null || { echo "INSTRUCTIONS=N needs valgrind" >&2; exit 2; }
    many=$SR_TMP/captures/instructions.pcap one=$SR_TMP/captures/one.pcap
    python3 -c "import sys; sys.path.insert(0, '$here/tests/plugin/helpers'); import mkpcap; \
mkpcap.many('$many', int('$INSTRUCTIONS')); mkpcap.many('$one', 1)"
    chmod 644 "$many" "$one"
    irefs() { # irefs DIR CAPTURE ARGS...: instructions of one tshark run
        local dir=$1 cap=$2; shift 2
        local who=()
        [ "$(id -u)" = 0 ] && who=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        "${who[@]}" env HOME="$SR_TMP/home" WIRESHARK_PLUGIN_DIR="$dir" \
            valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            tshark -r "$cap" "$@" 2>&1 >/dev/null | awk '/refs:/ { gsub(",", "", $NF); print $NF }'
    }
    for cmd in "-T fields -e smtp.response.code" ""; do
        # shellcheck disable=SC2086 # the command's words
        start=$(irefs "$SR_TMP/noplugins" "$one" $cmd)
        # shellcheck disable=SC2086
        base=$(irefs "$SR_TMP/noplugins" "$many" $cmd)
        # shellcheck disable=SC2086
        with=$(irefs "$SR_TMP/plugins" "$many" $cmd)
        [ -n "$start" ] && [ -n "$base" ] && [ -n "$with" ] ||
            { echo "callgrind gave no count for '$cmd'" >&2; exit 1; }
        printf '%-48s %6d M -> %6d M instructions (%+5.1f%%; start-up %d M left out)\n' \
            "${cmd:-packet list (tshark -r)}" $((base / 1000000)) $((with / 1000000)) \
            "$(calc "($with - $base) * 100 / ($base - $start)")" $((start / 1000000))
    done
    echo "instructions: $INSTRUCTIONS synthetic sessions (mkpcap.many), valgrind's callgrind"
fi
