#!/bin/bash
# SPDX-License-Identifier: MIT
# Mutation test: every capture in captures/ and, when present,
# $SHARED/captures/ is damaged with `editcap -E` at several error rates and
# seeds and read by tshark with the plugin loaded, as an unprivileged user
# (lib.sh).  Every read prints the full tree (-V); some also run two passes
# (-2), the stats tree (-z smtpreply,tree) or the plugin's preferences.
#
# A failure is: tshark killed by a signal (exit >= 128) or timed out;
# an exit status other than 0 or tshark's answer to a file that "appears
# to be damaged or corrupt" (read_stopped in lib.sh), expected here; an exception
# attributed to our protocol ("Malformed Packet: SMTPREPLY", "Dissector
# bug, protocol SMTPREPLY"); or any "Dissector bug" that goes away when
# our protocol is disabled (one that stays is Wireshark's own: reported,
# not failed).  The mutated file of each failure is kept under
# $BUILDDIR/mutation-failures/ to reproduce it.
#
# Knobs: MUTATION_RATES (default "0.01 0.05 0.2"); MUTATION_SEEDS (default
# "1 2 3:66"), each SEED or SEED:OFFSET, the offset being editcap's -o:
# bytes left intact at the start of each frame, so the link, IP and TCP
# headers survive and the errors land in the SMTP payload, which the
# whole-frame errors mostly keep from ever reaching the plugin at 0.2;
# MUTATION_JOBS (default 2); TSHARK_TIMEOUT (default 60).
TSHARK_TIMEOUT=${TSHARK_TIMEOUT:-60}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/checks.sh"

command -v editcap >/dev/null 2>&1 || fail "editcap is not installed (apt-get install tshark)"
editcap --help 2>&1 | grep -q -- '--seed' || fail "this editcap has no --seed option"

RATES=${MUTATION_RATES:-0.01 0.05 0.2}
SEEDS=${MUTATION_SEEDS:-1 2 3:66}
JOBS=${MUTATION_JOBS:-2}
KEEP="$BUILDDIR/mutation-failures"

require_plugin_loaded
pass "tshark -G plugins lists the plugin"

# The captures: pcap and pcapng files only (captures/ also holds truth and
# transcript files next to them).
files=()
for dir in "$SRCDIR/captures" "$SHARED/captures"; do
    [ -d "$dir" ] || { echo "note: $dir not present, skipped"; continue; }
    for f in "$dir"/*.pcap "$dir"/*.pcapng; do
        [ -f "$f" ] && files+=("$f")
    done
done
[ ${#files[@]} -gt 0 ] || fail "no captures found"

# The plugin must really dissect in this set-up, or a clean run proves nothing.
first=$(stage_capture "${files[0]}")
ts -r "$first" -Y smtpreply -T fields -e frame.number 2>/dev/null | grep -q . ||
    fail "the plugin dissects nothing in ${files[0]} (is it active?)"
pass "the plugin dissects ${files[0]}"

mkdir -p "$SR_TMP/mut" "$SR_TMP/res"
chmod 755 "$SR_TMP/mut"

# One mutated read.  Writes "ok ...", "warn ..." or "FAIL ..." to res/$idx.
run_one() {
    local idx=$1 src=$2 rate=$3 variant=$4
    local ext=${src##*.} base mut out err rc opts=() what seed=${4%%:*} skip=()
    [ "$variant" != "$seed" ] && skip=(-o "${variant#*:}")
    base=$(basename "$src")
    mut="$SR_TMP/mut/$idx.$ext"
    out="$SR_TMP/mut/$idx.out"
    err="$SR_TMP/mut/$idx.err"
    if ! editcap -E "$rate" --seed "$seed" "${skip[@]}" "$src" "$mut" >"$err" 2>&1; then
        echo "FAIL editcap -E $rate --seed $seed ${skip[*]} $base: $(head -c 300 "$err")" \
            >"$SR_TMP/res/$idx"
        return
    fi
    chmod 644 "$mut"
    # Vary the reading: two passes on every third, the stats tree on every
    # fourth, the preferences on every fifth.
    [ $((idx % 3)) -eq 0 ] && opts+=(-2)
    [ $((idx % 4)) -eq 1 ] && opts+=(-z smtpreply,tree)
    [ $((idx % 5)) -eq 2 ] && opts+=(-o smtpreply.info_meaning:TRUE -o smtpreply.ports:1080,8025)
    what="$base -E $rate --seed $seed ${skip[*]} ${opts[*]}"
    ts -r "$mut" -V "${opts[@]}" >"$out" 2>&1
    rc=$?
    local bad=""
    if [ $rc -eq 124 ]; then
        bad="timed out after ${TSHARK_TIMEOUT}s"
    elif [ $rc -ge 128 ]; then
        bad="killed by signal $((rc - 128))"
    elif [ $rc -ne 0 ] && ! read_stopped "$rc" "$out"; then
        bad="exit status $rc"
    fi
    if [ -z "$bad" ] && grep -qiE 'Malformed Packet: SMTPREPLY|Dissector bug, protocol SMTPREPLY' "$out"; then
        bad="exception in our dissector: $(grep -m1 -iE 'Malformed Packet: SMTPREPLY|Dissector bug, protocol SMTPREPLY' "$out")"
    fi
    if [ -z "$bad" ] && grep -q 'Dissector bug' "$out"; then
        # Someone's bug: ours if it goes away with our protocol disabled.
        if ts -r "$mut" -V "${opts[@]}" --disable-protocol smtpreply 2>&1 | grep -q 'Dissector bug'; then
            echo "warn $what: Wireshark's own: $(grep -m1 'Dissector bug' "$out")" >"$SR_TMP/res/$idx"
            rm -f "$mut" "$out" "$err"
            return
        fi
        bad="Dissector bug only with the plugin: $(grep -m1 'Dissector bug' "$out")"
    fi
    if [ -n "$bad" ]; then
        mkdir -p "$KEEP"
        cp "$mut" "$KEEP/$idx-$base" 2>/dev/null
        { echo "FAIL $what: $bad (kept as $KEEP/$idx-$base)"; tail -n 5 "$out" | sed 's/^/    /'; } \
            >"$SR_TMP/res/$idx"
    else
        # Did the errors leave anything for the plugin to dissect?
        local reached=no
        grep -q '^\[SMTP Reply Analysis' "$out" && reached=yes
        echo "ok $what (exit $rc, reached $reached)" >"$SR_TMP/res/$idx"
    fi
    rm -f "$mut" "$out" "$err"
}

idx=0
running=0
for f in "${files[@]}"; do
    for rate in $RATES; do
        for seed in $SEEDS; do
            idx=$((idx + 1))
            run_one "$idx" "$f" "$rate" "$seed" &
            running=$((running + 1))
            if [ "$running" -ge "$JOBS" ]; then
                wait -n
                running=$((running - 1))
            fi
        done
    done
done
wait

nrates=$(echo $RATES | wc -w)
nseeds=$(echo $SEEDS | wc -w)
all=$(cat "$SR_TMP"/res/*)
nfail=$(echo "$all" | grep -c '^FAIL')
nwarn=$(echo "$all" | grep -c '^warn')
nok=$(echo "$all" | grep -c '^ok')
ndamaged=$(echo "$all" | grep -cE '^ok .*\(exit [1-9][0-9]*,')
echo "$all" | grep '^warn' | sed 's/^/  /'
echo "$all" | awk '/^FAIL/ { p = 1; print; next } /^    / { if (p) print; next } { p = 0 }' |
    sed 's/^/  /'
for rate in $RATES; do
    echo "  rate $rate: $(echo "$all" | grep -c -- "-E $rate .*reached yes") of" \
         "$(echo "$all" | grep -c -- "-E $rate ") reads still had SMTP for the plugin to dissect"
done
echo "mutation: ${#files[@]} files x $nrates rates ($RATES) x $nseeds seeds ($SEEDS) = $idx reads;" \
     "$nok clean ($ndamaged of them 'damaged file'), $nwarn Wireshark's own dissector bugs," \
     "$nfail failures; ${SECONDS}s"
checks_add "$((nok + nwarn))" 0   # one check per clean read
[ "$nfail" -eq 0 ] && [ $((nok + nwarn)) -eq "$idx" ] ||
    fail "$nfail of $idx mutated reads failed ($((idx - nok - nwarn - nfail)) gave no result)"
finish
