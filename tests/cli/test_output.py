#!/usr/bin/env python3
"""The tally's streamed writer (analyzer/tally_out.c) on awkward strings:
file names with quotes, backslashes, commas, control characters, valid
UTF-8 and invalid bytes must give valid JSON (invalid bytes as U+FFFD),
valid one-object-per-line --replies, and RFC 4180 CSV.  Also: reply text
keeps its UTF-8, a session without replies keeps its CSV row, rt_ms is
always an object, totals.classes has exactly "2".."5", and a full disk is
an error, not a silent success."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402
import pcapgen  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR



src = os.path.join(SRCDIR, "captures", "delivery-pipelining.pcap")
names = [
    b'quote"and\\backslash.pcap',
    b"comma,and\nnewline\ttab\x01ctl.pcap",
    "caf\u00e9-\u65e5\u672c-\U0001f4e7.pcap".encode(),
    b"bad-\xff\xfe-\xc3(-\xed\xa0\x80-utf8.pcap",
]
with tempfile.TemporaryDirectory() as tmp:
    tmpb = tmp.encode()
    for raw in names:
        path = os.path.join(tmpb, raw)
        shutil.copy(src, path)
        shown = raw.decode("utf-8", "replace")
        p = subprocess.run([SMTPREPLY, "-q", "--json", path], capture_output=True)
        try:
            d = json.loads(p.stdout)
            ok = True
        except ValueError as e:
            ok, d = False, None
            print(p.stdout[:400], e)
        check(p.returncode == 0 and ok, f"JSON parses with file name {shown!r}")
        if d:
            want = os.path.join(tmp, shown) if b"\xff" not in raw else None
            got = d["files"][0]["path"]
            if want:
                check(got == want and d["sessions"][0]["file"] == want,
                      f"path round-trips: {shown!r}")
            else:
                check("\ufffd" in got and d["sessions"][0]["file"] == got,
                      f"invalid UTF-8 shown as U+FFFD: {got!r}")
        p = subprocess.run([SMTPREPLY, "-q", "--replies", path], capture_output=True)
        lines = p.stdout.splitlines()
        try:
            objs = [json.loads(line) for line in lines]
        except ValueError:
            objs = []
        check(p.returncode == 0 and len(objs) == len(lines) == 10,
              f"--replies: 10 JSON lines for {shown!r}")
        p = subprocess.run([SMTPREPLY, "-q", "--format", "csv", path], capture_output=True)
        rows = list(csv.reader(io.StringIO(p.stdout.decode("utf-8", "replace"), newline="")))
        check(p.returncode == 0 and rows[0] == ["file", "client", "server", "status", "code",
                                                "count", "meaning"]
              and len(rows) == 8 and all(len(r) == 7 for r in rows)
              and rows[1][0].endswith(shown.replace("\ufffd", "")[-5:]),
              f"CSV: header and 7 rows of 7 fields for {shown!r}")

# Server text with UTF-8 (RFC 6531), invalid bytes and an escape sequence;
# a second session that never gets a reply; an invalid code (699).
with tempfile.TemporaryDirectory() as tmp:
    conv = pcapgen.Conversation(40001)
    conv.open()
    conv.s("220 mx caf\u00e9 \u65e5\u672c ".encode() + b"\xff\xfe \x1b[31m ready\r\n")
    conv.c(b"NOOP\r\n")
    conv.s(b"699 odd\r\n")
    conv.c(b"QUIT\r\n")
    conv.s(b"221 bye\r\n")
    conv.close()
    quiet = pcapgen.Conversation(40002)  # only the client side was captured
    quiet.c(b"EHLO x\r\n")
    quiet.c(b"QUIT\r\n")
    refused = pcapgen.Conversation(40003)  # SYN answered by RST: no dialogue
    refused.c(flags=pcapgen.SYN)
    refused.s(flags=pcapgen.RST | pcapgen.ACK)
    cap = os.path.join(tmp, "text.pcap")
    pcapgen.write(cap, conv.records + quiet.records + refused.records)
    p = subprocess.run([SMTPREPLY, "-q", "--replies", cap], capture_output=True)
    texts = [json.loads(line)["text"] for line in p.stdout.splitlines()]
    check(texts and texts[0] == "mx caf\u00e9 \u65e5\u672c \ufffd\ufffd \x1b[31m ready",
          f"--replies text keeps UTF-8, bad bytes as U+FFFD: {texts[:1]!r}")
    p = subprocess.run([SMTPREPLY, "-q", "--json", cap], capture_output=True)
    d = json.loads(p.stdout)
    check(d["totals"]["sessions"] == 2 and d["totals"]["empty_connections"] == 1
          and not any(x["client"].endswith(":40003") for x in d["sessions"]),
          f"a refused connection is an empty connection, not a session: {d['totals']}")
    check(list(d["totals"]["classes"]) == ["2", "3", "4", "5"]
          and d["totals"]["codes"].get("699") == 1,
          f"classes keys 2..5 only, 699 still under codes: {d['totals']}")
    for s in d["sessions"]:
        check(isinstance(s["rt_ms"], dict) and set(s["rt_ms"]) == {"min", "median", "max"},
              f"rt_ms is an object: {s['rt_ms']!r}")
    p = subprocess.run([SMTPREPLY, "-q", "--format", "csv", cap], capture_output=True)
    rows = list(csv.reader(io.StringIO(p.stdout.decode(), newline="")))
    check(any(r[1].endswith(":40002") and r[4] == "" and r[5] == "0" for r in rows[1:]),
          f"CSV row for the session without replies: {rows!r}")
    # A full disk: exit 2 and one line, with -o and on standard output.
    for args, redirect in ((["-o", "/dev/full"], None), ([], "/dev/full")):
        big = [cap] * 40  # more than a stdio buffer of output
        with open(redirect or os.devnull, "wb") as out:
            p = subprocess.run([SMTPREPLY, "-q", "--json"] + args + big, stdout=out,
                               stderr=subprocess.PIPE)
        check(p.returncode == 2 and len(p.stderr.splitlines()) == 1
              and b"No space left" in p.stderr,
              f"full disk {args or 'stdout'}: exit {p.returncode}, {p.stderr!r}")

# Text: each file's sessions under a "-- FILE" line, "#" the session number
# (from 0, as --replies' session and the JSON summary's id).
caps = [os.path.join(SRCDIR, "captures", n) for n in ("auth-plain.pcap", "ipv6.pcap")]
p = subprocess.run([SMTPREPLY, "-q"] + caps, capture_output=True, text=True)
lines = p.stdout.splitlines()
heads = [k for k, line in enumerate(lines) if line.startswith("-- ")]
check(p.returncode == 0 and [lines[k][3:] for k in heads] == caps
      and lines[heads[0] + 1].startswith("0 ") and lines[heads[1] + 1].startswith("1 "),
      f"text: a line naming each file above its sessions: {lines[:6]!r}")

finish()
