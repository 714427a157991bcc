#!/usr/bin/env python3
"""test_transcript_why.py - `smtpreply transcript` says why a reply failed:
the full reply text (a 354's "<CR><LF>.<CR><LF>" kept), the reason and
advice under each failure, the meaning that fits, a summary closing each
transaction, warnings for skipped dialogue-like lines, --redact, and
agreement with the quiz (tests/quiz/replies.tsv): every row whose item is
a plain reply, put after a command that fits the row's command, gets the
quiz's reason from `transcript --json`."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

SMTPREPLY = env.smtpreply()
TDIR = os.path.join(env.SRCDIR, "tests", "transcripts")
QUIZ = os.path.join(env.SRCDIR, "tests", "quiz", "replies.tsv")


def run(args, stdin=None):
    return subprocess.run([SMTPREPLY, "transcript"] + args, input=stdin,
                          capture_output=True, text=True, timeout=60)


def fnv_token(local):
    """The redaction token, computed here independently of the C code."""
    h = 0xcbf29ce484222325
    for c in local.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return "h-%08x" % (h >> 32)


FAIL = os.path.join(TDIR, "failures-rcpt.txt")

# ---- JSON: reasons, full text, meaning, rcpt --------------------------------
p = run(["--json", FAIL])
check(p.returncode == 0 and p.stderr == "", "failures-rcpt: exit %d %r" % (p.returncode, p.stderr))
doc = json.loads(p.stdout)
rcpts = [r for r in doc["replies"] if r["command"] == "RCPT"]
got = [(r["rcpt"], r["code"], r["reason"]) for r in rcpts[:4]]
want = [("nobody@example.org", 550, "recipient-unknown"),
        ("full@example.org", 452, "mailbox-full"),
        ("bob@elsewhere.example", 554, "relay-denied"),
        ("carol@example.org", 250, None)]
check(got == want, "failures-rcpt: rcpt and reason of each RCPT reply: %r" % got)
check(all((r["reason"] is None) == (r["code"] < 400) for r in doc["replies"]),
      "failures-rcpt: a reason for every failure, none for a success")
check(all((r["reason_source"] is None) == (r["reason"] is None)
          and r["reason_source"] in (None, "text", "enhanced", "code") for r in doc["replies"]),
      "failures-rcpt: reason_source with every reason")
check(all(r["rcpt"] is None for r in doc["replies"] if r["command"] != "RCPT"),
      "failures-rcpt: rcpt is null outside RCPT replies")
quota = rcpts[1]
check(quota["text"] == "4.2.2 The email account that you tried to reach is over quota. Please "
      "direct\n4.2.2 the recipient to\n4.2.2  https://support.google.com/mail/?p=OverQuotaTemp"
      and quota["lines"] == 3, "452 4.2.2: text holds all three lines: %r" % quota["text"])
check("too many recipients" not in quota["meaning"].lower() and "mailbox full" in
      quota["meaning"].lower(), "452 4.2.2 at RCPT: the meaning fits: %r" % quota["meaning"])
relay = rcpts[2]
check("connection-opening" not in relay["meaning"] and "No SMTP service" not in relay["meaning"],
      "554 5.7.1 at RCPT: the meaning fits: %r" % relay["meaning"])
d354 = [r for r in doc["replies"] if r["code"] == 354]
check(len(d354) == 1 and d354[0]["text"] == "End data with <CR><LF>.<CR><LF>",
      "354: its text is kept whole: %r" % [r["text"] for r in d354])
for key in ("command", "code", "enhanced", "class", "meaning", "anomalies", "stage", "lines",
            "line", "text", "reason", "reason_source", "rcpt"):
    check(all(key in r for r in doc["replies"]), "failures-rcpt: every reply has %s" % key)

# RFC 5321 D.1 writes "<CRLF>.<CRLF>" in its 354 text; a client's
# spelled-out end of data still counts as the end of data.
p = run(["--json", os.path.join(TDIR, "rfc5321-d1-typical.txt")])
texts = [r["text"] for r in json.loads(p.stdout)["replies"] if r["code"] == 354]
check(texts == ["Start mail input; end with <CRLF>.<CRLF>"], "D.1 354 text: %r" % texts)
p = run(["--json", os.path.join(TDIR, "rfc821-end-of-data-notation.txt")])
check([r["stage"] for r in json.loads(p.stdout)["replies"]].count("data-end") == 1,
      "C: <CRLF>.<CRLF> still ends the data")

# ---- JSON: the transaction summaries ----------------------------------------
tr = doc["transactions"]
check(len(tr) == 2, "failures-rcpt: two transactions (%d)" % len(tr))
if len(tr) == 2:
    first = [(x["rcpt"], x["status"], x["reply"] and x["reply"]["reason"]) for x in tr[0]["recipients"]]
    check(first == [("nobody@example.org", "refused", "recipient-unknown"),
                    ("full@example.org", "deferred", "mailbox-full"),
                    ("bob@elsewhere.example", "refused", "relay-denied"),
                    ("carol@example.org", "accepted", None)],
          "first transaction: each recipient's outcome and reason: %r" % first)
    check(tr[0]["closed_by"] == "end of data" and tr[0]["message"]["code"] == 250
          and tr[0]["line"] == 10, "first transaction: closed by the end of data: %r"
          % {k: tr[0][k] for k in ("closed_by", "message", "line")})
    second = [(x["rcpt"], x["status"]) for x in tr[1]["recipients"]]
    check(second == [("carol@example.org", "not-sent")] and tr[1]["closed_by"] == "RSET"
          and tr[1]["message"] is None, "second transaction: closed by RSET, nothing sent: %r %r"
          % (second, tr[1]["closed_by"]))

# PRDR: a recipient's own reply to the data decides its outcome.
p = run(["--json", os.path.join(TDIR, "prdr.txt")])
pdoc = json.loads(p.stdout)
prdr = [(x["rcpt"], x["status"]) for x in pdoc["transactions"][0]["recipients"]]
check(prdr == [("b@mx.example", "accepted"), ("nobody@mx.example", "refused"),
               ("c@mx.example", "refused")], "PRDR: per-recipient outcomes: %r" % prdr)
check([r["rcpt"] for r in pdoc["replies"] if r["stage"] == "prdr-rcpt"] ==
      ["b@mx.example", "c@mx.example"], "PRDR: each per-recipient reply carries its rcpt")
p = run([os.path.join(TDIR, "prdr.txt")])
check(p.stdout.count("C: .") == 1, "PRDR: one '.' line however many replies answer it")

# ---- Text output ------------------------------------------------------------
p = run([FAIL])
text = p.stdout
check(p.returncode == 0, "text: exit %d" % p.returncode)


def block(start, end):
    i = text.find(start)
    j = text.find(end, i + 1)
    return text[i:j] if 0 <= i < j else ""


b = block("C: RCPT TO:<nobody@example.org>", "C: RCPT TO:<full@")
check("reason recipient-unknown (permanent" in b and "advice: " in b,
      "text: reason and advice under the 550:\n" + b)
b = block("C: RCPT TO:<full@example.org>", "C: RCPT TO:<bob@")
check("S: 452-4.2.2 The email account" in b and "S: 452-4.2.2 the recipient to" in b
      and "S: 452 4.2.2  https://support.google.com" in b, "text: every line of the 452:\n" + b)
check("reason mailbox-full (temporary" in b and "advice: " in b, "text: the 452's reason")
b = block("C: RCPT TO:<carol@example.org>", "C: DATA")
check("reason" not in b and "advice" not in b, "text: no reason under a success:\n" + b)
check("S: 354 End data with <CR><LF>.<CR><LF>\n" in text, "text: the 354 line whole")
b = block("== transaction from line 10", "C: MAIL")
check("1 accepted, 1 deferred, 2 refused" in b
      and re.search(r"deferred +full@example.org: mailbox-full \(452 4\.2\.2", b)
      and re.search(r"refused +bob@elsewhere.example: relay-denied", b)
      and re.search(r"accepted +carol@example.org\n", b) and "message    250 accepted" in b,
      "text: the summary after the end of data:\n" + b)
i_sum, i_rset = text.find("closed by RSET"), text.find("C: RSET")
check(0 <= i_sum < i_rset, "text: the RSET's transaction summed up before the RSET")

# ---- Warnings for skipped lines ---------------------------------------------
LOWER = os.path.join(TDIR, "lowercase-prefix.txt")
p = run([LOWER])
check(p.returncode == 0 and p.stderr == "", "warnings: exit 0, nothing on stderr")
for ln, name in ((5, "lower-case-prefix"), (6, "lower-case-prefix"),
                 (9, "reply-without-prefix"), (10, "command-without-prefix")):
    check("? line %d ignored (%s" % (ln, name) in p.stdout, "warnings: line %d noted" % ln)
i_w, i_helo = p.stdout.find("? line 5 ignored"), p.stdout.find("C: HELO")
check(0 <= i_w < i_helo, "warnings: noted where they stand")
p = run(["--json", "-"], stdin="S: 220 x\nC: QUIT\nS: 221 bye\n# c: a comment\n\nprose\n")
check(json.loads(p.stdout)["warnings"] == [], "warnings: none for comments, blanks and prose")
p = run(["--help"])
check("--redact" in p.stdout and "warning" in p.stdout and "c:" in p.stdout,
      "--help: names --redact and the warnings")

# ---- --redact -----------------------------------------------------------------
# The text shows commands (alice is only in MAIL FROM); the JSON does not.
for fmt, locals_, domains in (([], ["nobody", "full", "bob", "carol", "alice"],
                               ["example.org", "elsewhere.example", "example.com"]),
                              (["--json"], ["nobody", "full", "bob", "carol"],
                               ["example.org", "elsewhere.example"])):
    p = run(fmt + ["--redact", FAIL])
    out = p.stdout
    leaked = [l for l in locals_ + ["alice"] if l + "@" in out]
    check(p.returncode == 0 and not leaked, "--redact %s: no local part left %r" % (fmt, leaked))
    check(all(fnv_token(l) + "@" in out for l in locals_),
          "--redact %s: each local part became its token" % fmt)
    check(all("@" + d in out for d in domains), "--redact %s: domains kept" % fmt)
p = run(["--json", "--redact", FAIL])
rdoc = json.loads(p.stdout)
check([r["reason"] for r in rdoc["replies"]] == [r["reason"] for r in doc["replies"]],
      "--redact: the reasons are those of the text as sent")
check([r["rcpt"] for r in rdoc["replies"] if r["command"] == "RCPT"][:2]
      == [fnv_token("nobody") + "@example.org", fnv_token("full") + "@example.org"],
      "--redact: rcpt redacted")
check(rdoc["replies"][3]["text"].startswith("5.1.1 <%s@example.org>" % fnv_token("nobody")),
      "--redact: reply text redacted: %r" % rdoc["replies"][3]["text"])
check(rdoc["transactions"][0]["recipients"][0]["rcpt"] == fnv_token("nobody") + "@example.org",
      "--redact: the summary's recipients redacted")
p = run(["--json", "--redact", LOWER])
check("alice@" not in p.stdout and fnv_token("alice") + "@example.com" in p.stdout,
      "--redact: a skipped line's text redacted")

# ---- The quiz: every plain-reply row through a synthetic transcript ----------
COMMANDS = {
    "MAIL": "MAIL FROM:<alice@example.com>",
    "RCPT": "RCPT TO:<bob@example.org>",
    "DATA": "DATA",
    "AUTH": "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "STARTTLS": "STARTTLS",
    "VRFY": "VRFY bob",
    "BURL": "BURL imap://alice@imap.example.com/Drafts;UIDVALIDITY=1/;uid=20 LAST",
}


def unescape(s):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}.get(
        m.group(1), "\\" + m.group(1)), s)


def dialogue(command, reply_lines):
    s = "".join("S: %s\n" % l for l in reply_lines)
    if command == "greeting":
        return s
    if command == "-":  # no command: an unsolicited reply after the greeting
        return "S: 220 mx.example.org ESMTP\n" + s
    if command == ".":
        return ("C: MAIL FROM:<alice@example.com>\nS: 250 ok\nC: RCPT TO:<bob@example.org>\n"
                "S: 250 ok\nC: DATA\nS: 354 go ahead\nC: Subject: quiz\nC:\nC: body\nC: .\n" + s)
    return "C: %s\n" % COMMANDS.get(command, command) + s


rows = tried = 0
for n, line in enumerate(open(QUIZ, encoding="utf-8"), 1):
    if not line.strip() or line.startswith("#"):
        continue
    f = line.rstrip("\n").split("\t")
    if len(f) != 7:
        check(False, "quiz line %d: seven columns" % n)
        continue
    rows += 1
    reason, code, esc, command, named, item, source = f
    lines = unescape(item).replace("\r", "").split("\n")
    if not all(re.match(r"^\d{3}([ -]|$)", l) for l in lines):
        continue  # a log line or a transcript: other readers' part
    tried += 1
    p = run(["--json", "-"], stdin=dialogue(command, lines))
    try:
        last = json.loads(p.stdout)["replies"][-1]
    except (ValueError, KeyError, IndexError):
        check(False, "quiz line %d: transcript gave no reply: %r" % (n, p.stderr))
        continue
    check(last["code"] == int(code) and last["reason"] == reason
          and (last["enhanced"] or "-") == esc,
          "quiz line %d (%s at %s): %s %s %s" % (n, reason, command, last["code"],
                                                last["enhanced"], last["reason"]))
check(tried >= 100, "quiz: %d of %d rows are plain replies, all tried" % (tried, rows))
finish()
