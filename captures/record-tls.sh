#!/usr/bin/env bash
# record-tls.sh - re-records the project's TLS captures (captures/tls/):
# SMTP inside STARTTLS and implicit TLS, on loopback only, each capture
# with the key log its client wrote (NAME.keylog), the client's own
# transcript (NAME.client.txt) and the truth made from that transcript
# (NAME.truth.json, by tls/session.py truth), never from smtpreply.
#
# The server is a private postfix instance like record.sh's (its own
# config directory and queue under $WORK; /etc/postfix is never touched;
# every transport that could deliver outside is error:, the local domain's
# discard:), with STARTTLS on 25 and implicit TLS (wrapper mode) on 465.
# A second server, exim4 from its unpacked Debian packages (they conflict
# with postfix's) with its own configuration under $EXIMDIR, listens on
# 127.0.0.2:25: its GnuTLS writes the server side's key log from
# SSLKEYLOGFILE.  The clients: Python's smtplib (ssl.SSLContext.keylog_filename), openssl
# s_client -starttls smtp -keylogfile (for KeyUpdate), msmtp (GnuTLS,
# SSLKEYLOGFILE).  Every server is stopped at the end.
# Usage: captures/record-tls.sh   (needs root: postfix, tcpdump)
#        ONLY=NAME captures/record-tls.sh   re-records that capture alone
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/tls
WORK=${WORK:-/tmp/smtpreply-record-tls}
PF=$WORK/etc
PY=/usr/bin/python3    # Debian's python: scapy for the truth's endpoints
EXIMDIR=${EXIMDIR:-/tmp/smtpreply-record-exim}
EXIM=$EXIMDIR/root/usr/sbin/exim4

need_packages() {
    local missing=()
    command -v postfix >/dev/null || missing+=(postfix)
    command -v tcpdump >/dev/null || missing+=(tcpdump)
    command -v editcap >/dev/null || missing+=(tshark)
    command -v msmtp >/dev/null || missing+=(msmtp)
    command -v openssl >/dev/null || missing+=(openssl)
    $PY -c 'import scapy' 2>/dev/null || missing+=(python3-scapy)
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
}

setup_postfix() {
    stop_postfix
    rm -rf "$WORK"
    mkdir -p "$PF" "$WORK/spool" "$WORK/data"
    chmod 755 "$WORK"
    chown postfix "$WORK/data"
    cp /etc/postfix/master.cf "$PF/master.cf"
    # Implicit TLS (RFC 8314) on 465.
    echo "465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" >> "$PF/master.cf"
    : > "$PF/main.cf"
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
        "smtpd_relay_restrictions = reject_unauth_destination" \
        "smtpd_recipient_restrictions = check_recipient_access texthash:$PF/recipient_access" \
        "smtpd_tls_security_level = may" \
        "smtpd_tls_cert_file = $PF/cert.pem" \
        "smtpd_tls_key_file = $PF/key.pem"
    cat > "$PF/mailboxes" <<MB
alice@example.test   alice/
bob@example.test     bob/
busy@example.test    busy/
greylist@example.test greylist/
full@example.test    full/
MB
    cat > "$PF/recipient_access" <<RA
busy@example.test     450 4.2.1 Mailbox busy, try again later
greylist@example.test 451 4.7.1 Greylisted, please try again later
full@example.test     452 4.2.2 Mailbox full
RA
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=mx.example.test \
        -keyout "$PF/key.pem" -out "$PF/cert.pem" 2>/dev/null
    chmod 600 "$PF/key.pem"
    postfix -c "$PF" check
    postfix -c "$PF" start
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/465) 2>/dev/null && return 0
        sleep 0.2
    done
    echo "record-tls.sh: postfix did not come up; see $WORK/maillog" >&2
    exit 2
}

# exim4 from its .deb: Debian's binary runs as the user Debian-exim.
setup_exim() {
    stop_exim
    rm -rf "$EXIMDIR"
    mkdir -p "$EXIMDIR/debs" "$EXIMDIR/root" "$EXIMDIR/spool" "$EXIMDIR/log"
    (cd "$EXIMDIR/debs" && apt-get download exim4-daemon-light exim4-base)
    for d in "$EXIMDIR"/debs/*.deb; do dpkg-deb -x "$d" "$EXIMDIR/root"; done
    getent group Debian-exim >/dev/null || addgroup --system --allow-bad-names Debian-exim
    getent passwd Debian-exim >/dev/null || adduser --system --allow-bad-names \
        --ingroup Debian-exim --no-create-home --home /nonexistent Debian-exim
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=mx2.example.test \
        -keyout "$EXIMDIR/key.pem" -out "$EXIMDIR/cert.pem" 2>/dev/null
    chown Debian-exim "$EXIMDIR/key.pem"; chmod 600 "$EXIMDIR/key.pem"
    chown Debian-exim:Debian-exim "$EXIMDIR/spool" "$EXIMDIR/log"
    # Nothing is delivered: messages stay queued (no routers at all), and
    # the daemon runs no queue.  GnuTLS writes as exim's user, in the spool.
    cat > "$EXIMDIR/exim.conf" <<EC
exim_path = $EXIM
keep_environment = SSLKEYLOGFILE
spool_directory = $EXIMDIR/spool
log_file_path = $EXIMDIR/log/%slog
pid_file_path = $EXIMDIR/exim.pid
primary_hostname = mx2.example.test
local_interfaces = <; 127.0.0.2.25
tls_advertise_hosts = *
tls_certificate = $EXIMDIR/cert.pem
tls_privatekey = $EXIMDIR/key.pem
host_lookup =
queue_only = true
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept  recipients = alice@example.test : bob@example.test
  defer   recipients = busy@example.test
          message = 4.2.1 Mailbox busy, try again later
  deny    recipients = someone@elsewhere.test
          message = 5.7.1 Relay not permitted
  deny    message = 5.1.1 Unknown user
begin routers
begin transports
EC
    SSLKEYLOGFILE=$EXIMDIR/spool/keys.log "$EXIM" -C "$EXIMDIR/exim.conf" -bd
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.2/25) 2>/dev/null && return 0
        sleep 0.2
    done
    echo "record-tls.sh: exim did not come up; see $EXIMDIR/log" >&2
    exit 2
}

stop_exim() {
    if [ -f "$EXIMDIR/exim.pid" ]; then
        kill "$(cat "$EXIMDIR/exim.pid")" 2>/dev/null || true
        rm -f "$EXIMDIR/exim.pid"
        sleep 1
    fi
}

stop_postfix() {
    if [ -f "$PF/main.cf" ]; then
        postfix -c "$PF" stop 2>/dev/null || true
        sleep 1
    fi
}

need_packages
setup_postfix
tp=
cleanup() { [ -z "$tp" ] || kill "$tp" 2>/dev/null || true; stop_postfix; stop_exim; }
trap cleanup EXIT
sleep 3   # the readiness probe's connection ends before the first capture
mkdir -p "$out"
cd "$out"

# record NAME PORT -- command...: tcpdump on lo around one client run.
record() {
    local name=$1 port=$2; shift 3
    [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ] || return 0
    rm -f "$name.pcap" "$name.keylog" "$name.client.txt"
    tcpdump -i lo -U -s 0 -w "$name.pcap.tmp" "tcp port $port" 2>/dev/null &
    tp=$!
    sleep 1
    "$@"
    sleep 1
    kill $tp; wait $tp 2>/dev/null || true
    tp=
    mv "$name.pcap.tmp" "$name.pcap"
    $PY "$here/tls/session.py" truth "$name.truth.json" "$name.pcap" "$name.client.txt"
    echo "recorded $name"
}
S="$PY $here/tls/session.py"

# TLS 1.3 (OpenSSL's default suite, TLS_AES_256_GCM_SHA384) under STARTTLS,
# with refusals inside TLS: 550 5.1.1, 450, 451, 554 relay denied.
record starttls-tls13 25 -- $S smtplib starttls-tls13 25 starttls
# TLS 1.2 forced, each record protection.
record starttls-tls12-gcm 25 -- $S smtplib starttls-tls12-gcm 25 starttls \
    --tls12 ECDHE-RSA-AES128-GCM-SHA256
record starttls-tls12-chacha 25 -- $S smtplib starttls-tls12-chacha 25 starttls \
    --tls12 ECDHE-RSA-CHACHA20-POLY1305
record starttls-tls12-cbc-etm 25 -- $S smtplib starttls-tls12-cbc-etm 25 starttls \
    --tls12 ECDHE-RSA-AES128-SHA256
record starttls-tls12-cbc-noetm 25 -- $S smtplib starttls-tls12-cbc-noetm 25 starttls \
    --tls12 ECDHE-RSA-AES256-SHA --no-etm
# TLS 1.3 with a KeyUpdate each way: s_client sends one asking for an
# answer (postfix's OpenSSL answers with its own), then one more.
record keyupdate-tls13 25 -- $S s_client keyupdate-tls13 25 keyupdate-tls13.keylog
# Implicit TLS on 465.
record implicit-465 465 -- $S smtplib implicit-465 465 implicit
# msmtp, GnuTLS writing the key log from SSLKEYLOGFILE.
record msmtp-gnutls 25 -- $S msmtp msmtp-gnutls 25 msmtp-gnutls.keylog
# Two sessions, the second's secrets withheld from the key log that ships.
withheld() {
    $S smtplib keys-withheld 25 starttls --keylog keys-withheld.keylog
    $S smtplib keys-withheld 25 starttls --keylog keys-withheld.withheld --nokeys
    rm -f keys-withheld.withheld
}
record keys-withheld 25 -- withheld
# exim4 (GnuTLS) as the server, writing the key log on its side; the
# client's own key log is not the one shipped.
setup_exim
sleep 3
exim_session() {
    rm -f "$EXIMDIR/spool/keys.log"
    $S smtplib exim-gnutls 25 starttls --host 127.0.0.2 --keylog "$EXIMDIR/client.keylog"
    cp "$EXIMDIR/spool/keys.log" exim-gnutls.keylog
}
record exim-gnutls 25 -- exim_session
stop_exim
[ -z "${ONLY:-}" ] || exit 0
# pcapng with the key log embedded (a Decryption Secrets Block).
editcap -F pcapng --inject-secrets tls,starttls-tls13.keylog starttls-tls13.pcap \
    starttls-tls13-dsb.pcapng
sed 's/"starttls-tls13.pcap"/"starttls-tls13-dsb.pcapng"/' starttls-tls13.truth.json \
    > starttls-tls13-dsb.truth.json
cp starttls-tls13.client.txt starttls-tls13-dsb.client.txt
echo "recorded starttls-tls13-dsb"
