#!/usr/bin/env python3
# fake_smtpd.py - a tiny scripted SMTP server on stdin/stdout, used with
# `swaks --pipe "python3 fake_smtpd.py"` to record the swaks-fake-*.txt
# transcripts (no network needed).
import sys
def out(s):
    sys.stdout.write(s); sys.stdout.flush()
out("220 fake.example ESMTP\r\n")
indata=False
while True:
    l=sys.stdin.readline()
    if not l: break
    if indata:
        if l in (".\r\n",".\n"):
            indata=False; out("250 2.0.0 Ok: queued as ABC\r\n")
        continue
    v=l.strip().split(" ")[0].upper()
    if v=="EHLO": out("250-fake.example\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
    elif v=="MAIL": out("250 2.1.0 Ok\r\n")
    elif v=="RCPT":
        if "bad" in l: out("550 5.1.1 <bad@x>: Recipient address rejected\r\n")
        else: out("250 2.1.5 Ok\r\n")
    elif v=="DATA": out("354 End data with <CR><LF>.<CR><LF>\r\n"); indata=True
    elif v=="QUIT": out("221 2.0.0 Bye\r\n"); break
    elif v=="AUTH":
        if len(l.split())>2: out("235 2.7.0 Authentication successful\r\n")
        else:
            out("334 VXNlcm5hbWU6\r\n"); sys.stdin.readline(); out("334 UGFzc3dvcmQ6\r\n"); sys.stdin.readline(); out("535 5.7.8 Error: authentication failed\r\n")
    else: out("502 5.5.2 Error: command not recognized\r\n")
