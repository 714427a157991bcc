#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`smtpreply explain` says why a reply failed: every form an ARG may take
(code, enhanced code, one line, a multi-line reply with LF or CRLF,
standard input, S: and <- prefixes, Postfix, Exim and Microsoft log
lines), --command (a verb, "." and "greeting", overriding a log line's
command), the JSON keys and when they are null, the text output's order,
the regression cases (452 4.2.2 over quota, 554 relay access denied, 503
at RCPT and DATA), and every row of tests/quiz/replies.tsv.
Runs alone: python3 tests/cli/test_explain_why.py"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from checks import check, finish  # noqa: E402

SRCDIR = os.environ.get("SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
SMTPREPLY = os.environ.get("SMTPREPLY") or os.path.join(
    os.environ.get("BUILDDIR") or os.path.join(SRCDIR, "build"), "analyzer", "smtpreply")
QUIZ = os.path.join(SRCDIR, "tests", "quiz", "replies.tsv")

REASONS = {"recipient-unknown", "recipient-domain", "mailbox-full", "mailbox-disabled",
           "message-too-big", "too-many-recipients", "sender-rejected",
           "sender-authentication", "blocklisted", "rate-limited", "greylisted", "spam",
           "virus", "content", "policy", "relay-denied", "auth-required", "auth-failed",
           "tls-required", "tls-failed", "protocol", "server-error", "timeout",
           "unavailable", "other"}
PARTIES = {"recipient", "sender-setup", "sender-reputation", "message", "client", "receiver"}
SOURCES = {"text", "enhanced", "code"}
STAGES = {"greeting", "reply", "data-start", "data-end", "bdat", "auth-challenge",
          "auth-final"}
# Keys a basic code had before reasons came, and the ones reasons add.
OLD_KEYS = {"code", "class", "class_name", "category", "category_name", "status", "meaning",
            "rfc", "commands", "notes", "retry", "retry_advice", "contexts", "in_table",
            "enhanced"}
OLD_ESC_ONLY_KEYS = {"code", "class", "class_name", "category", "category_name", "status",
                     "meaning", "rfc", "commands", "notes", "enhanced"}
NEW_KEYS = {"reason", "reason_source", "permanent", "party", "advice", "command", "stage",
            "text"}


def run(*args, stdin=None, data=None):
    p = subprocess.run([SMTPREPLY, "explain", *args], capture_output=True, timeout=120,
                       input=data, stdin=stdin if data is None else None)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def js(*args, data=None, stdin=None):
    rc, out, err = run("--json", *args, data=data, stdin=stdin)
    try:
        obj = json.loads(out) if out.strip() else None
    except ValueError:
        obj = None
    return rc, obj, err


def one_line(err):
    return len(err.splitlines()) == 1 and err.startswith("smtpreply explain: ")


def check_null_rules(o, what):
    """A failure has every reason key set; anything else has them null."""
    check(NEW_KEYS <= set(o), f"{what}: new keys {sorted(NEW_KEYS - set(o))} missing")
    cls = o["code"] // 100 if o["code"] is not None else o["class"]
    if cls in (4, 5):
        check(o["reason"] in REASONS and o["reason_source"] in SOURCES
              and o["party"] in PARTIES and isinstance(o["advice"], str) and o["advice"],
              f"{what}: failure has reason, source, party, advice")
        check(o["permanent"] is (cls == 5), f"{what}: permanent follows the class")
    else:
        check(all(o[k] is None for k in ("reason", "reason_source", "permanent", "party",
                                          "advice")), f"{what}: no reason for class {cls}")
    check(o["stage"] is None or o["stage"] in STAGES, f"{what}: stage {o['stage']!r}")
    check(o["command"] is None or (o["command"].isupper() and o["command"].isalpha()),
          f"{what}: command {o['command']!r}")


# --- every input form -----------------------------------------------------
rc, o, err = js("550")
check(rc == 0 and err == "", "bare code: exit 0")
check(OLD_KEYS <= set(o), f"bare code keeps today's keys ({sorted(OLD_KEYS - set(o))})")
check_null_rules(o, "550")
check(o["text"] is None and o["command"] is None and o["stage"] is None,
      "bare code: text, command, stage null")
check(o["reason_source"] == "code" and o["reason"] == "other",
      "bare 550 without a command: reason from the code alone")
rc, o, _ = js("421")
check(o["reason"] == "unavailable" and o["permanent"] is False, "bare 421: unavailable, temporary")
rc, o, _ = js("250")
check_null_rules(o, "250")
rc, o, _ = js("354")
check_null_rules(o, "354")
rc, o, _ = js("600")
check(rc == 0 and o["status"] == "invalid" and o["reason"] is None and o["permanent"] is None,
      "600: invalid, no reason")

rc, o, _ = js("5.2.2")
check(OLD_ESC_ONLY_KEYS <= set(o), "enhanced code alone keeps its keys")
check_null_rules(o, "5.2.2")
check(o["code"] is None and o["reason"] == "mailbox-full" and o["reason_source"] == "enhanced",
      "5.2.2 alone: mailbox-full from the enhanced code")
check(o["text"] is None, "enhanced code alone: text null")
rc, o, _ = js("2.1.5")
check(o["reason"] is None and o["permanent"] is None, "2.1.5 alone: a success, no reason")

LINE = "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown"
rc, o, _ = js(LINE)
check_null_rules(o, "one line")
check(o["line"] == LINE and o["text"] == LINE[4:], "one line: line and text")
check(o["reason"] == "recipient-unknown" and o["enhanced"]["code"] == "5.1.1",
      "one line: recipient-unknown")

GMAIL = ["550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
         "550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.",
         "550-5.7.26",
         "550-5.7.26  Authentication results:",
         "550-5.7.26  DKIM = did not pass",
         "550-5.7.26  SPF [example.com] with ip: [192.0.2.1] = did not pass",
         "550 5.7.26 https://support.google.com/mail/answer/81126 - gsmtp"]
WANT_TEXT = "\n".join(l[4:] for l in GMAIL)
by_form = {}
for name, item in (("LF", "\n".join(GMAIL)), ("CRLF", "\r\n".join(GMAIL) + "\r\n"),
                   ("S: prefixes", "\n".join("S: " + l for l in GMAIL)),
                   ("<- prefixes", "\r\n".join("<-  " + l for l in GMAIL))):
    rc, o, err = js(item)
    check(rc == 0 and o is not None, f"multi-line ({name}): exit 0 ({err.strip()!r})")
    if o is None:
        continue
    check_null_rules(o, f"multi-line ({name})")
    check(o["text"] == WANT_TEXT, f"multi-line ({name}): text has every line")
    by_form[name] = (o["code"], o["enhanced"]["code"], o["reason"], o["reason_source"])
check(len(set(by_form.values())) == 1 and by_form.get("LF", (0, 0, ""))[2] ==
      "sender-authentication", f"every multi-line form reads the same ({by_form})")

rc, o, err = js("-", data=("\r\n".join(GMAIL) + "\r\n").encode())
check(rc == 0 and o and o["text"] == WANT_TEXT and o["reason"] == "sender-authentication",
      "- reads standard input as one item")
rc, o, err = js("550", "-", "5.1.1", data=(LINE + "\n").encode())
check(rc == 0 and isinstance(o, list) and [x["code"] for x in o] == [550, 550, None]
      and o[1]["line"] == LINE, "- among other ARGs: one item, its line end dropped")
rc, o, err = js("-", "-", data=b"452 4.2.2 over quota\n")
check(rc == 0 and isinstance(o, list) and len(o) == 2 and o[0] == o[1],
      "- twice: standard input read once, the same item both times")
rc, o, err = js("-", "550", data=b"")
check(rc == 2 and isinstance(o, list) and [x["code"] for x in o] == [550] and one_line(err)
      and "standard input" in err,
      "empty standard input: one-line error, exit 2, the good ARG printed")
rc, out, err = run("-", data=b"550 " + b"x" * (1 << 20) + b"\n")
check(rc == 2 and out == "" and one_line(err) and "larger than" in err,
      f"standard input over 1 MiB: one-line error, exit 2 ({err.strip()[:80]!r})")
fd = os.open(HERE, os.O_RDONLY)
try:
    rc, out, err = run("-", "550", stdin=fd)
finally:
    os.close(fd)
check(rc == 2 and "550" in out and one_line(err) and "cannot read standard input" in err,
      f"unreadable standard input (a directory): one-line error ({err.strip()!r})")
rc, out, err = run("first line\nsecond line", "550")
check(rc == 2 and "550" in out and one_line(err) and "\\x0a" in err,
      f"a bad multi-line ARG: one escaped line on stderr ({err.strip()!r})")

LOGS = [
    ("Postfix RCPT",
     "Dec  5 10:00:00 mx postfix/smtp[1234]: 4F2A81C0: to=<nobody@example.com>, "
     "relay=mx.example.com[192.0.2.10]:25, delay=1.2, dsn=5.1.1, status=bounced (host "
     "mx.example.com[192.0.2.10] said: 550 5.1.1 <nobody@example.com>: Recipient address "
     "rejected: User unknown in local recipient table (in reply to RCPT TO command))",
     "RCPT", "reply", "recipient-unknown"),
    ("Postfix end of DATA",
     "postfix/smtp[99]: 1A2B: to=<a@example.com>, status=bounced (host mx.example.com"
     "[192.0.2.10] said: 552 5.3.4 Message size exceeds fixed limit (in reply to end of "
     "DATA command))", "DATA", "data-end", "message-too-big"),
    ("Postfix, phrases in upper case",
     "HOST MX.EXAMPLE.COM[192.0.2.10] SAID: 452 4.2.2 MAILBOX FULL (IN REPLY TO RCPT TO "
     "COMMAND)", "RCPT", "reply", "mailbox-full"),
    ("Exim RCPT TO",
     "2024-01-15 10:00:00 1rPQ2x-0001Ab-CD ** nobody@example.org R=dnslookup T=remote_smtp "
     "H=mx.example.org [192.0.2.20]: SMTP error from remote mail server after RCPT "
     "TO:<nobody@example.org>: 550 5.1.1 <nobody@example.org>: Recipient address rejected: "
     "User unknown", "RCPT", "reply", "recipient-unknown"),
    ("Exim bounce form", "  host mx.example.net [192.0.2.30]: 550 Unrouteable address",
     None, None, "recipient-domain"),
    ("Microsoft",
     "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
     "found by SMTP address lookup'", None, None, "recipient-unknown"),
    ("Microsoft, lower case", "remote server returned '550 5.1.10 recipient not found'",
     None, None, "recipient-unknown"),
    ("a transcript's client line", "C: RCPT TO:<a@example.org>\r\nS: 550 5.1.1 no such user",
     "RCPT", "reply", "recipient-unknown"),
    ("swaks, end of data", " -> .\n<-  554 5.7.1 Message rejected as spam", "DATA", "data-end",
     "spam"),
]
for name, item, cmd, stage, reason in LOGS:
    rc, o, err = js(item)
    check(rc == 0 and o is not None, f"{name}: read ({err.strip()!r})")
    if o is None:
        continue
    check_null_rules(o, name)
    check((o["command"], o["stage"], o["reason"]) == (cmd, stage, reason),
          f"{name}: command {o['command']}, stage {o['stage']}, reason {o['reason']}")
    check(o["line"] == item.strip(" \t\r\n") and o["text"] and o["text"] in item,
          f"{name}: line is the item, text the reply in it")

# --- --command ------------------------------------------------------------
for verb, code, want_cmd, want_stage in (
        ("rcpt", "550", "RCPT", "reply"), ("Mail", "553", "MAIL", "reply"),
        (".", "554", "DATA", "data-end"), ("DATA", "354", "DATA", "data-start"),
        ("greeting", "554", None, "greeting"), ("GREETING", "220", None, "greeting"),
        ("auth", "334", "AUTH", "auth-challenge"), ("AUTH", "535", "AUTH", "auth-final"),
        ("bdat", "552", "BDAT", "bdat"), ("STARTTLS", "454", "STARTTLS", "reply"),
        ("ehlo", "250", "EHLO", "reply"), ("VRFY", "252", "VRFY", "reply")):
    rc, o, err = js("--command", verb, code)
    check(rc == 0 and o and (o["command"], o["stage"]) == (want_cmd, want_stage),
          f"--command {verb} {code}: {want_cmd} / {want_stage}")
    if o:
        check_null_rules(o, f"--command {verb} {code}")
        check(o["text"] is None, f"--command {verb} {code}: text null for a bare code")
rc, o, _ = js("--command=greeting", "554")
check(o["reason"] == "unavailable" and o["meaning"].startswith("No SMTP service"),
      "--command=greeting 554: unavailable, no SMTP service")
rc, o, _ = js("--command", ".", "250")
check(o["reason"] is None and "accepted" in o["meaning"].lower(),
      "--command . 250: the message accepted")
rc, o, _ = js("--command", "STARTTLS", "454")
check(o["reason"] == "tls-failed", "--command STARTTLS 454: tls-failed")
rc, o, _ = js("--command", "AUTH", "454")
check(o["reason"] == "auth-failed", "--command AUTH 454: auth-failed")
postfix = LOGS[0][1]
rc, o, _ = js("--command", "MAIL", postfix)
check(o["command"] == "MAIL" and o["stage"] == "reply",
      "--command MAIL overrides the log line's RCPT")
rc, o, _ = js("--command", ".", postfix)
check(o["command"] == "DATA" and o["stage"] == "data-end", "--command . overrides it too")
for bad in ("FOO", "", "CONNECT", "DATA-END", "RCPT TO", ".."):
    rc, out, err = run("--command", bad, "550")
    check(rc == 2 and out == "" and one_line(err) and "--command" in err,
          f"--command {bad!r}: usage error, one line ({err.strip()!r})")
rc, out, err = run("550", "--command")
check(rc == 2 and out == "" and one_line(err), "--command without a value: usage error")

# --- the regression cases -------------------------------------------------
rc, o, _ = js("--command", "RCPT",
              "452-4.2.2 The email account that you tried to reach is over quota.\r\n"
              "452 4.2.2 Please direct the recipient to the help page - gsmtp")
check(o["reason"] == "mailbox-full" and o["permanent"] is False and o["party"] == "recipient",
      "452 4.2.2 over quota at RCPT: mailbox-full, temporary, the recipient")
check("mailbox full" in o["meaning"].lower() and "too many" not in o["meaning"].lower(),
      f"452 4.2.2 at RCPT: the meaning is a full mailbox ({o['meaning']!r})")
rc, o, _ = js("--command", "RCPT", "452 4.2.2 Mailbox full")
check(o["reason"] == "mailbox-full" and "too many" not in o["meaning"].lower(),
      "452 4.2.2 at RCPT, short text: mailbox-full")
rc, o, _ = js("--command", "RCPT", "554 5.7.1 <bob@example.org>: Relay access denied")
check(o["reason"] == "relay-denied" and o["party"] == "sender-setup",
      "554 5.7.1 Relay access denied at RCPT: relay-denied")
check("transaction failed" not in o["meaning"].lower(),
      f"554 5.7.1 at RCPT: not 'transaction failed' ({o['meaning']!r})")
rc, o, _ = js("--command", "RCPT", "503")
check(o["reason"] == "protocol" and "need mail first" in o["meaning"].lower(),
      f"503 at RCPT: need MAIL first ({o['meaning']!r})")
rc, o, _ = js("--command", "DATA", "503 Error: need RCPT command")
check(o["reason"] == "protocol" and "need mail and rcpt first" in o["meaning"].lower(),
      f"503 at DATA: need MAIL and RCPT first ({o['meaning']!r})")
rc, o, _ = js("503")
check("need mail" not in o["meaning"].lower(), "503 without a command: its general meaning")

# --- the text output: reason and advice first, then the details -----------
rc, out, _ = run("--command", "RCPT", "552 5.2.2 Mailbox full")
lines = out.splitlines()
check(rc == 0 and lines[0].startswith("reason: mailbox-full (") and
      "permanent" in lines[0] and "the recipient must act" in lines[0],
      f"text: the reason first ({lines[0] if lines else ''!r})")
check(len(lines) > 1 and lines[1].startswith("advice: ") and len(lines[1]) > 20,
      "text: the advice second")
check("RCPT (stage reply)" in out and "552  Mailbox full" in out and "class:" in out,
      "text: then the command and the details")
rc, out, _ = run("250")
check(out.startswith("reason: none"), "text: a success has no reason")
rc, out, _ = run("\n".join(GMAIL))
check(all(l[4:].strip() in out for l in GMAIL if l[4:].strip()),
      "text: every line of a multi-line reply shown")
rc, out, _ = run("550 bad\x1b[31m escape")
check(rc == 0 and "\x1b" not in out and "\\x1b" in out, "text: control characters escaped")

# --- every row of the quiz ------------------------------------------------


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            i += 1
            c = {"n": "\n", "r": "\r", "t": "\t"}.get(s[i], s[i])
        out.append(c)
        i += 1
    return "".join(out)


def want_cmd_stage(col, code):
    if col == "-":
        return None, None
    if col == ".":
        return "DATA", "data-end"
    if col == "greeting":
        return None, "greeting"
    verb = col.upper()
    stage = {"DATA": "data-start", "BDAT": "bdat"}.get(verb, "reply")
    if verb == "AUTH":
        stage = "auth-challenge" if code == 334 else "auth-final"
    return verb, stage


rows = []
with open(QUIZ, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        check(len(cols) == 7, f"quiz line {n}: seven columns")
        if len(cols) == 7:
            rows.append((n, cols))
check(len(rows) >= 60, f"quiz: {len(rows)} rows")
# One run per --command value (rows whose item names its command run
# without one, so the command must be read from the item).
groups = {}
for n, cols in rows:
    reason, code, esc, cmd, named, item, source = cols
    opt = cmd if cmd != "-" and named == "no" else None
    groups.setdefault(opt, []).append((n, cols, unescape(item)))
agree = 0
for opt, members in sorted(groups.items(), key=lambda kv: str(kv[0])):
    args = (["--command", opt] if opt else []) + ["--"] + [m[2] for m in members]
    rc, arr, err = js(*args)
    if isinstance(arr, dict):
        arr = [arr]
    check(rc == 0 and isinstance(arr, list) and len(arr) == len(members),
          f"quiz --command {opt}: {len(members)} rows explained ({err.strip()[:200]!r})")
    if not isinstance(arr, list) or len(arr) != len(members):
        continue
    for (n, cols, _), o in zip(members, arr):
        reason, code, esc, cmd, named, item, source = cols
        wcmd, wstage = want_cmd_stage(cmd, int(code))
        got = (o["reason"], o["code"], o["enhanced"]["code"] if o["enhanced"] else "-",
               o["command"], o["stage"])
        want = (reason, int(code), esc, wcmd, wstage)
        ok = check(got == want, f"quiz line {n} ({source}): {got} == {want}")
        check_null_rules(o, f"quiz line {n}")
        agree += ok
print(f"quiz: {agree} of {len(rows)} rows agree")

finish()
