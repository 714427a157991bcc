#!/usr/bin/env python3
"""session.py - the SMTP clients of record-tls.sh, each keeping its own
transcript of what it sent and received, and the truth made from it.

  session.py smtplib NAME PORT MODE [--tls12 CIPHERS] [--no-etm] [--keylog F]
  session.py s_client NAME PORT KEYLOG       openssl s_client -starttls smtp
                                             with a KeyUpdate each way
  session.py msmtp NAME PORT KEYLOG          msmtp (GnuTLS, SSLKEYLOGFILE)
  session.py truth NAME.truth.json CAPTURE TRANSCRIPT [TRANSCRIPT...]

MODE is starttls or implicit.  A transcript (NAME.client.txt, appended
to, so that one capture can hold several sessions) has one line per
reply received, as the client read it:

  # session CLIENT SERVER starttls|implicit keys|nokeys
  <- 250 2.1.0 Ok          a reply read in plaintext (first line)
  <~ 550 5.1.1 <...>       a reply read inside TLS

and `truth` turns transcripts into the truth file: per session the reply
codes in order (a multi-line reply once), their enhanced codes, how many
of them came before TLS (`before_tls`), how TLS started (`tls`), and
whether the session's secrets are in the key log (`keys`).  All
connections are to loopback addresses."""
import json
import os
import re
import smtplib
import ssl
import subprocess
import sys
import threading
import time

SENDER = "sender@client.test"
# alice: accepted; nobody: 550 5.1.1 unknown user; busy: 450 4.2.1;
# greylist: 451 4.7.1; someone@elsewhere: 554 5.7.1 relay denied.
RCPTS = ["alice@example.test", "nobody@example.test", "busy@example.test",
         "greylist@example.test", "someone@elsewhere.test"]
BODY = b"Subject: TLS capture\r\n\r\nhello inside TLS\r\n"


def loopback(host):
    if host not in ("127.0.0.1", "::1", "127.0.0.2"):
        sys.exit("session.py: %s is not a loopback address" % host)
    return host


class Transcript:
    def __init__(self, name, mode, keys=True):
        self.f = open(name + ".client.txt", "a", encoding="utf-8")
        self.f.write("# session %s %s\n" % (mode, "keys" if keys else "nokeys"))

    def reply(self, tls, code, first_line):
        self.f.write("%s %03d %s\n" % ("<~" if tls else "<-", code, first_line))
        self.f.flush()


def do_smtplib(name, port, mode, tls12=None, no_etm=False, keylog=None, host="127.0.0.1", keys=True):
    loopback(host)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = keylog or (name + ".keylog")
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(tls12)
    if no_etm:
        ctx.options |= 0x00080000   # SSL_OP_NO_ENCRYPT_THEN_MAC
    log = {}

    class Recorded(smtplib.SMTP_SSL if mode == "implicit" else smtplib.SMTP):
        def getreply(self):
            code, msg = super().getreply()
            first = msg.decode("utf-8", "replace").split("\n")[0]
            log["t"].reply(isinstance(self.sock, ssl.SSLSocket), code, first)
            return code, msg

        def connect(self, host="localhost", port=0, source_address=None):
            self._host = host
            self.sock = self._get_socket(host, port, self.timeout)
            self.file = None
            log["t"] = Transcript(name, mode, keys)
            code, msg = self.getreply()
            return code, msg

    if mode == "implicit":
        s = Recorded(context=ctx, timeout=10)
    else:
        s = Recorded(timeout=10)
    s.connect(host, port)
    s.ehlo("client.test")
    if mode == "starttls":
        s.starttls(context=ctx)
        s.ehlo("client.test")
    s.mail(SENDER)
    ok = 0
    for r in RCPTS:
        code, _ = s.rcpt(r)
        ok += code == 250
    if ok:
        s.data(BODY)
    else:
        s.docmd("DATA")
    s.quit()


def replies_of(lines):
    """(code, first line text) of each reply, a multi-line reply once."""
    cur = None
    for line in lines:
        m = re.match(r"^(\d{3})([ -]?)(.*)$", line)
        if not m:
            continue
        if cur is None:
            cur = (int(m.group(1)), m.group(3))
        if m.group(2) != "-":
            yield cur
            cur = None


def do_s_client(name, port, keylog):
    """openssl s_client -starttls smtp; 'K' on a line of its own makes it
    send a KeyUpdate asking for one back, 'k' one that does not.  Its
    interactive commands also take a line starting with Q or R, so the
    SMTP commands are typed in lower case."""
    # stdbuf: -debug goes through stdio, the decrypted data straight to
    # the descriptor; unbuffered, each comes out whole and in order.
    p = subprocess.Popen(["stdbuf", "-o0", "openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                          "-starttls", "smtp", "-name", "client.test", "-tls1_3", "-crlf",
                          "-debug", "-keylogfile", keylog],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = []
    th = threading.Thread(target=lambda: out.append(p.stdout.read()))
    th.start()
    for line in ["ehlo client.test", "mail from:<%s>" % SENDER, "K",
                 "rcpt to:<alice@example.test>", "rcpt to:<nobody@example.test>", "k",
                 "rcpt to:<busy@example.test>", "data", "Subject: key update", "",
                 "hello", ".", "quit"]:
        time.sleep(0.6)
        p.stdin.write((line + "\n").encode())
        p.stdin.flush()
    time.sleep(1)
    p.stdin.close()
    p.wait(timeout=10)
    th.join()
    text = out[0].decode("latin-1")
    # Before TLS: the bytes s_client's -debug shows it read before it
    # wrote its first TLS record (the ClientHello, content type 22).
    # After: the decrypted replies it prints as they are.
    pre, post, cur, in_tls = bytearray(), [], None, False
    for line in text.split("\n"):
        line = line.rstrip("\r")
        m = re.match(r"^(read from|write to) 0x[0-9a-f]+ \[0x[0-9a-f]+\]", line)
        if m:
            cur = m.group(1)
            continue
        d = re.match(r"^[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})", line)
        if d:
            data = bytes.fromhex(d.group(1).replace("-", " "))
            if cur == "write to" and not in_tls and data[:1] == b"\x16":
                in_tls = True
            elif cur == "read from" and not in_tls:
                pre += data
            continue
        if in_tls and re.match(r"^\d{3}[ -]", line):
            post.append(line)
    t = Transcript(name, "starttls")
    for tls, lines in ((False, pre.decode("latin-1").split("\r\n")), (True, post)):
        for code, first in replies_of(lines):
            t.reply(tls, code, first)


def do_msmtp(name, port, keylog):
    """msmtp --debug prints every reply as `<-- LINE`; the replies after
    the one answering STARTTLS were read inside TLS."""
    env = dict(os.environ, SSLKEYLOGFILE=os.path.abspath(keylog))
    p = subprocess.run(["msmtp", "--debug", "--host=127.0.0.1", "--port=%d" % port,
                        "--tls=on", "--tls-starttls=on", "--tls-certcheck=off",
                        "--auth=off", "--domain=client.test", "--from=" + SENDER,
                        "alice@example.test", "bob@example.test"],
                       input=BODY, capture_output=True, env=env, timeout=30)
    text = p.stdout.decode("latin-1") + p.stderr.decode("latin-1")
    t = Transcript(name, "starttls")
    tls, after_starttls, cur = False, False, None
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.startswith("--> STARTTLS"):
            after_starttls = True
        m = re.match(r"^<-- (\d{3})([ -]?)(.*)$", line)
        if not m:
            continue
        if cur is None:
            cur = (int(m.group(1)), m.group(3))
        if m.group(2) != "-":
            t.reply(tls, *cur)
            cur = None
            if after_starttls:
                tls = True


def do_truth(out, capture, transcripts):
    """The truth file: the replies of each session from the client's
    transcript, the endpoints from the capture's SYNs in order."""
    from scapy.all import rdpcap, TCP, IP, IPv6
    sessions = []
    for tr in transcripts:
        for line in open(tr, encoding="utf-8"):
            if line.startswith("# session "):
                mode, keys = line.split()[2:4]
                sessions.append({"tls": mode, "keys": keys == "keys", "replies": [],
                                 "enhanced": [], "before_tls": 0})
                continue
            m = re.match(r"^(<-|<~) (\d{3}) ?(.*)$", line.rstrip("\n"))
            if m:
                s = sessions[-1]
                s["replies"].append(int(m.group(2)))
                esc = re.match(r"^([245]\.\d{1,3}\.\d{1,3})\b", m.group(3))
                s["enhanced"].append(esc.group(1) if esc else "")
                if m.group(1) == "<-":
                    s["before_tls"] += 1
    syns = []
    for p in rdpcap(capture):
        if TCP in p and p[TCP].flags & 0x02 and not p[TCP].flags & 0x10:
            ip = p[IP] if IP in p else p[IPv6]
            fmt = "%s:%d" if IP in p else "[%s]:%d"
            syns.append((fmt % (ip.src, p[TCP].sport), fmt % (ip.dst, p[TCP].dport)))
    if len(syns) != len(sessions):
        sys.exit("session.py: %s has %d connections, the transcripts %d sessions"
                 % (capture, len(syns), len(sessions)))
    totals = {}
    out_sessions = []
    for (client, server), s in zip(syns, sessions):
        for r in s["replies"]:
            totals[str(r)] = totals.get(str(r), 0) + 1
        out_sessions.append({"client": client, "server": server, "replies": s["replies"],
                             "enhanced": s["enhanced"], "tls": s["tls"],
                             "before_tls": s["before_tls"], "keys": s["keys"]})
    with open(out, "w") as f:
        json.dump({"file": os.path.basename(capture), "sessions": out_sessions,
                   "totals": dict(sorted(totals.items()))}, f, indent=1)
        f.write("\n")


def main(a):
    if a[0] == "smtplib":
        name, port, mode = a[1], int(a[2]), a[3]
        tls12 = a[a.index("--tls12") + 1] if "--tls12" in a else None
        keylog = a[a.index("--keylog") + 1] if "--keylog" in a else None
        host = a[a.index("--host") + 1] if "--host" in a else "127.0.0.1"
        do_smtplib(name, port, mode, tls12, "--no-etm" in a, keylog, host, "--nokeys" not in a)
    elif a[0] == "s_client":
        do_s_client(a[1], int(a[2]), a[3])
    elif a[0] == "msmtp":
        do_msmtp(a[1], int(a[2]), a[3])
    elif a[0] == "truth":
        do_truth(a[1], a[2], a[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
