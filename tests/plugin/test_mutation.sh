#!/bin/bash
# SPDX-License-Identifier: MIT
# Mutation test of the plugin (issue 8): every capture (ours, and the public
# ones in ../shared/captures when present) is damaged with `editcap -E` at
# several error rates and seeds, then read by tshark with the plugin loaded,
# as an unprivileged user, with the full tree (-V), in one pass and in two
# (-2), and once per capture with the stats tree.  Fails on a crash (killed
# by a signal), a hang (timeout), "Dissector bug" anywhere, or a malformed
# packet blamed on our protocol.  tshark may say a mutated file is damaged
# (exit 2): that is not a failure.
. "$(dirname "$0")/lib.sh"

require_plugin_loaded
command -v editcap >/dev/null || fail "editcap is not installed (apt-get install wireshark-common)"

RATES=${MUTATION_RATES:-"0.01 0.05 0.2"}
SEEDS=${MUTATION_SEEDS:-"1 2"}
TSHARK_TIMEOUT=60
mkdir -p "$SR_TMP/mut"
chmod 755 "$SR_TMP/mut"

inputs=("$SRCDIR"/captures/*.pcap "$SRCDIR"/captures/*.pcapng)
if [ -d "$SHARED/captures" ]; then
    for f in "$SHARED"/captures/*.pcap "$SHARED"/captures/*.pcapng; do
        [ -f "$f" ] && inputs+=("$f")
    done
fi

# check_run LABEL FILE TSHARK-ARGS...: one tshark run over a mutated file.
runs=0 annotated=0
check_run() {
    local label=$1 file=$2 out rc
    shift 2
    out=$(ts -r "$file" "$@" 2>&1)
    rc=$?
    runs=$((runs + 1))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail "$label: tshark hung (timeout ${TSHARK_TIMEOUT}s)"
    elif [ "$rc" -ge 128 ]; then
        fail "$label: tshark died by signal $((rc - 128))
$(echo "$out" | tail -5)"
    fi
    if echo "$out" | grep -q "Dissector bug"; then
        fail "$label: Dissector bug
$(echo "$out" | grep -m3 "Dissector bug")"
    fi
    if echo "$out" | grep -qi "Malformed Packet: SMTPREPLY"; then
        fail "$label: malformed packet in our protocol
$(echo "$out" | grep -m3 -i "Malformed Packet: SMTPREPLY")"
    fi
    # Count the runs where our tree appears, to be sure the plugin really
    # dissected mutated data (a file damaged early may show none).
    if echo "$out" | grep -q "SMTP Reply Analysis"; then
        annotated=$((annotated + 1))
    fi
    return 0
}

files=0
for src in "${inputs[@]}"; do
    [ -f "$src" ] || continue
    files=$((files + 1))
    base=$(basename "$src")
    staged=$(stage_capture "$src")
    for rate in $RATES; do
        for seed in $SEEDS; do
            mut="$SR_TMP/mut/$base.$rate.$seed"
            editcap -E "$rate" --seed "$seed" "$staged" "$mut" >/dev/null 2>&1 ||
                fail "editcap -E $rate --seed $seed $base"
            chmod 644 "$mut"
            check_run "$base -E $rate seed $seed" "$mut" -V
            check_run "$base -E $rate seed $seed (-2)" "$mut" -2 -V -Y smtpreply
        done
    done
    # The stats tree over the most damaged copy.
    check_run "$base stats tree" "$SR_TMP/mut/$base.${RATES##* }.${SEEDS##* }" -q -z smtpreply,tree
    rm -f "$SR_TMP"/mut/"$base".*
done
[ "$files" -gt 0 ] || fail "no captures found"
[ "$annotated" -gt $((runs / 4)) ] ||
    fail "only $annotated of $runs runs show the plugin's tree: is it dissecting at all?"
echo "OK: $files captures x rates ($RATES) x seeds ($SEEDS): $runs tshark runs with the plugin," \
     "$annotated of them with our tree; no crash, no hang, no Dissector bug"
