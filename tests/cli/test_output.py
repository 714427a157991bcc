#!/usr/bin/env python3
"""The tally's streamed writer (analyzer/tally_out.c) on awkward strings:
file names with quotes, backslashes, commas, control characters, valid
UTF-8 and invalid bytes must give valid JSON (invalid bytes as U+FFFD),
valid one-object-per-line --replies, and RFC 4180 CSV."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402

SMTPREPLY = os.environ["SMTPREPLY"]
SRCDIR = os.environ["SRCDIR"]



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

finish()
