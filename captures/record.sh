#!/usr/bin/env bash
# record.sh - re-records the project's real captures: swaks (Debian) as the
# client against a postfix listening on loopback, tcpdump as the recorder.
# Loopback only.  Each capture gets the swaks transcript beside it
# (NAME.swaks.txt) and a truth file derived from that transcript
# (NAME.truth.json, by truth_from_swaks.py): the client's own record of
# what the server answered, never smtpreply's.
#
# The server: a postfix for mx.example.test with known users (alice, bob),
# busy@ (450), greylist@ (451), full@ (452), relay denied elsewhere,
# STARTTLS with a self-signed certificate and SASL PLAIN/LOGIN for
# alice@example.test / secret.  SERVER_V4/SERVER_V6 point at it.
# Usage: captures/record.sh   (needs root for tcpdump)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
V4=${SERVER_V4:-127.0.0.1}
V6=${SERVER_V6:-::1}
PY=/usr/bin/python3
for p in swaks tcpdump editcap; do
  command -v $p >/dev/null || { echo "record.sh: $p missing (apt-get install swaks tcpdump tshark)" >&2; exit 2; }
done

# record NAME IFACE FILTER -- swaks args...
record() {
  local name=$1 iface=$2 filter=$3; shift 4
  local pcap=$here/$name.pcap
  tcpdump -i "$iface" -U -s 0 -w "$pcap.tmp" "$filter" 2>/dev/null &
  local tp=$!
  sleep 1
  swaks "$@" > "$here/$name.swaks.txt" 2>&1 || true
  sleep 1
  kill $tp; wait $tp 2>/dev/null || true
  mv "$pcap.tmp" "$pcap"
  $PY "$here/truth_from_swaks.py" "$pcap" "$here/$name.swaks.txt" > "$here/$name.truth.json"
  echo "recorded $name"
}

common=(--from sender@client.test --helo client.test)
# Delivery with PIPELINING: accepted, unknown user (5.1.1), busy (450),
# relay denied (554 5.7.1); the message goes to alice.
record delivery-pipelining lo "tcp port 25" -- --server $V4 --port 25 "${common[@]}" \
  --to alice@example.test,nobody@example.test,busy@example.test,someone@elsewhere.test \
  --pipeline --body "Subject: test\n\nhello\n"
# Greylisting (451) then full mailbox (452): nothing accepted, DATA refused.
record tempfail lo "tcp port 25" -- --server $V4 --port 25 "${common[@]}" \
  --to greylist@example.test,full@example.test
# STARTTLS: nothing countable after the 220 that answers it.
record starttls lo "tcp port 25" -- --server $V4 --port 25 "${common[@]}" --to bob@example.test --tls
# AUTH PLAIN then LOGIN with a wrong password, on plain text (lab only).
record auth-plain lo "tcp port 25" -- --server $V4 --port 25 "${common[@]}" --to bob@example.test \
  --auth PLAIN --auth-user alice@example.test --auth-password secret
record auth-fail lo "tcp port 25" -- --server $V4 --port 25 "${common[@]}" --to bob@example.test \
  --auth LOGIN --auth-user alice@example.test --auth-password wrong
# IPv6 loopback.
record ipv6 lo "tcp port 25" -- --server $V6 --port 25 "${common[@]}" --to alice@example.test
# tcpdump -i any: Linux cooked v2 (SLL2) link type.
record any-sll2 any "tcp port 25 and host 127.0.0.1" -- --server $V4 --port 25 "${common[@]}" \
  --to bob@example.test
# pcapng: the delivery capture rewritten by editcap.
editcap -F pcapng "$here/delivery-pipelining.pcap" "$here/delivery-pipelining.pcapng"
cp "$here/delivery-pipelining.truth.json" "$here/delivery-pipelining.pcapng.truth.json"
