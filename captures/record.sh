#!/usr/bin/env bash
# record.sh - re-records the project's real captures: swaks (Debian) as the
# client against a postfix listening on loopback, tcpdump as the recorder.
# Loopback only.  Each capture gets the swaks transcript beside it
# (NAME.swaks.txt) and a truth file derived from that transcript
# (NAME.truth.json, by truth_from_swaks.py): the client's own record of
# what the server answered, never smtpreply's.
#
# The server: a private postfix instance (its own config directory and
# queue under $WORK; /etc/postfix is never touched) for mx.example.test
# with known users (alice, bob), busy@ (450), greylist@ (451), full@ (452),
# relay denied elsewhere, STARTTLS with a self-signed certificate and SASL
# PLAIN/LOGIN for alice@example.test / secret.  Nothing can leave the
# machine: every transport that could deliver outside is error:, the local
# domain's is discard:.  It is stopped at the end.
# Usage: captures/record.sh   (needs root: postfix, tcpdump)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/smtpreply-record}
PF=$WORK/etc           # config_directory of the private instance
PY=/usr/bin/python3    # Debian's python: has scapy for truth_from_swaks.py

need_packages() {
    local missing=()
    command -v postfix >/dev/null || missing+=(postfix)
    command -v swaks >/dev/null || missing+=(swaks)
    command -v tcpdump >/dev/null || missing+=(tcpdump)
    command -v dumpcap >/dev/null || missing+=(tshark)
    command -v saslpasswd2 >/dev/null || missing+=(sasl2-bin)
    command -v openssl >/dev/null || missing+=(openssl)
    [ -e /usr/lib/x86_64-linux-gnu/sasl2/libsasldb.so ] || \
        ls /usr/lib/*/sasl2/libsasldb.so >/dev/null 2>&1 || missing+=(libsasl2-modules-db)
    ls /usr/lib/*/sasl2/libplain.so >/dev/null 2>&1 || missing+=(libsasl2-modules)
    [ -x $PY ] || missing+=(python3)
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update
        # postfix asks debconf questions: answer them so the install is silent.
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
}

setup_postfix() {
    stop_postfix
    rm -rf "$WORK"
    mkdir -p "$PF/sasl" "$WORK/spool" "$WORK/data"
    chmod 755 "$WORK"
    chown postfix "$WORK/data"
    cp /etc/postfix/master.cf "$PF/master.cf"
    : > "$PF/main.cf"
    # No chroot: the private instance reads its maps and sasldb where they are.
    postconf -c "$PF" -F '*/*/chroot = n'
    postconf -c "$PF" -e \
        "compatibility_level = 3.6" \
        "queue_directory = $WORK/spool" \
        "data_directory = $WORK/data" \
        "maillog_file = $WORK/maillog" \
        "maillog_file_prefixes = $WORK" \
        "myhostname = mx.example.test" \
        "mydomain = example.test" \
        "myorigin = \$myhostname" \
        "mydestination =" \
        "mynetworks = 192.0.2.1/32" \
        "inet_interfaces = loopback-only" \
        "inet_protocols = all" \
        "relayhost =" \
        "default_transport = error:outbound mail disabled while recording" \
        "relay_transport = error:outbound mail disabled while recording" \
        "local_transport = error:local delivery disabled while recording" \
        "alias_maps =" "alias_database =" "biff = no" \
        "virtual_mailbox_domains = example.test" \
        "virtual_mailbox_maps = texthash:$PF/mailboxes" \
        "virtual_transport = discard:" \
        "smtpd_banner = \$myhostname ESMTP Postfix (smtpreply capture lab)" \
        "smtpd_peername_lookup = no" \
        "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination" \
        "smtpd_sender_restrictions = check_sender_access texthash:$PF/sender_access" \
        "smtpd_recipient_restrictions = check_recipient_access texthash:$PF/recipient_access" \
        "smtpd_tls_security_level = may" \
        "smtpd_tls_cert_file = $PF/cert.pem" \
        "smtpd_tls_key_file = $PF/key.pem" \
        "smtpd_sasl_auth_enable = yes" \
        "smtpd_sasl_type = cyrus" \
        "smtpd_sasl_path = smtpd" \
        "cyrus_sasl_config_path = $PF/sasl" \
        "broken_sasl_auth_clients = no"
    cat > "$PF/mailboxes" <<MB
alice@example.test   alice/
bob@example.test     bob/
carol@example.test   carol/
busy@example.test    busy/
greylist@example.test greylist/
full@example.test    full/
MB
    cat > "$PF/recipient_access" <<RA
busy@example.test     450 4.2.1 Mailbox busy, try again later
greylist@example.test 451 4.7.1 Greylisted, please try again later
full@example.test     452 4.2.2 Mailbox full
RA
    cat > "$PF/sender_access" <<SA
blocked@bad.test      553 5.7.1 Sender rejected by local policy
SA
    cat > "$PF/sasl/smtpd.conf" <<SC
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $PF/sasldb2
SC
    echo 'secret' | saslpasswd2 -p -f "$PF/sasldb2" -u example.test -c alice
    chown root:postfix "$PF/sasldb2"; chmod 640 "$PF/sasldb2"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=mx.example.test \
        -keyout "$PF/key.pem" -out "$PF/cert.pem" 2>/dev/null
    chmod 600 "$PF/key.pem"
    postfix -c "$PF" check
    postfix -c "$PF" start
    # Wait until smtpd answers on 127.0.0.1:25.
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null && return 0
        sleep 0.2
    done
    echo "record.sh: postfix did not come up; see $WORK/maillog" >&2
    exit 2
}

stop_postfix() {
    if [ -f "$PF/main.cf" ]; then
        postfix -c "$PF" stop 2>/dev/null || true
        sleep 1
    fi
}

need_packages
setup_postfix
trap stop_postfix EXIT
# The readiness probe's connection must be over (greeting and close)
# before the first recording starts, or it lands in that capture.
sleep 3
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
