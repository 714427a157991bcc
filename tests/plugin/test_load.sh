#!/bin/bash
# SPDX-License-Identifier: MIT
# The plugin loads for an unprivileged user, registers every field the
# issue names, its stats tree, and leaves the built-in SMTP dissector (IMF,
# STARTTLS -> TLS) working.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/checks.sh"

require_plugin_loaded
pass "tshark -G plugins lists the plugin"

fields=$(ts -G fields) || fail "tshark -G fields"
for f in smtpreply smtpreply.code smtpreply.class smtpreply.category smtpreply.meaning \
         smtpreply.status smtpreply.rfc smtpreply.esc smtpreply.esc.class \
         smtpreply.esc.subject smtpreply.esc.detail smtpreply.esc.meaning \
         smtpreply.command smtpreply.request_in smtpreply.time smtpreply.anomaly \
         smtpreply.response_in smtpreply.unanswered smtpreply.stage smtpreply.text \
         smtpreply.reason smtpreply.reason_source smtpreply.rcpt; do
    echo "$fields" | awk -F'\t' -v f="$f" '$3 == f { found = 1 } END { exit !found }' ||
        fail "field $f is not registered"
    pass "field $f is registered"
done
echo "$fields" | awk -F'\t' '$1 == "P" && $3 == "smtpreply" { print $2 }' |
    grep -qx "SMTP Reply Analysis" || fail "protocol is not named \"SMTP Reply Analysis\""
pass "the protocol is named \"SMTP Reply Analysis\""
echo "$fields" | awk -F'\t' '$3 == "smtpreply.request_in" && $4 == "FT_FRAMENUM" { ok = 1 } END { exit !ok }' ||
    fail "smtpreply.request_in is not FT_FRAMENUM"
pass "smtpreply.request_in is FT_FRAMENUM"
echo "$fields" | awk -F'\t' '$3 == "smtpreply.time" && $4 == "FT_RELATIVE_TIME" { ok = 1 } END { exit !ok }' ||
    fail "smtpreply.time is not FT_RELATIVE_TIME"
pass "smtpreply.time is FT_RELATIVE_TIME"

ts -z help 2>&1 | grep -qx "     smtpreply,tree" || fail "tshark -z help does not list smtpreply,tree"
pass "tshark -z help lists smtpreply,tree"

caps="$SHARED/captures"
if [ -f "$caps/zeek-smtp.pcap" ] && [ -f "$caps/zeek-smtp-starttls.pcap" ]; then
    c=$(stage_capture "$caps/zeek-smtp.pcap")
    # The built-in dissector still decodes replies and hands DATA to IMF.
    n=$(ts -r "$c" -Y smtp.response.code -T fields -e smtp.response.code | wc -l)
    [ "$n" -gt 0 ] || fail "smtp.response.code vanished with the plugin loaded"
    pass "smtp.response.code still decoded ($n replies)"
    ts -r "$c" -Y imf -T fields -e frame.number | grep -q . || fail "IMF no longer dissected"
    pass "IMF still dissected"
    proto=$(ts -r "$c" -Y 'smtpreply.code == 250' -T fields -e _ws.col.Protocol | sort -u)
    echo "$proto" | grep -qx "SMTP" || fail "reply frames no longer show protocol SMTP: $proto"
    pass "reply frames still show protocol SMTP"
    c=$(stage_capture "$caps/zeek-smtp-starttls.pcap")
    ts -r "$c" -Y tls -T fields -e frame.number | grep -q . || fail "STARTTLS no longer hands off to TLS"
    pass "STARTTLS still hands off to TLS"
    ts -r "$c" -Y 'smtpreply.encrypted' -T fields -e frame.number | grep -q . ||
        fail "smtpreply.encrypted not set after STARTTLS"
    pass "smtpreply.encrypted set after STARTTLS"
else
    skip "the built-in dissector checks: $caps not present"
fi
finish
