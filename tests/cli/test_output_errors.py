#!/usr/bin/env python3
"""A write that fails is never silent: every command whose output goes to
/dev/full (writes fail with ENOSPC) says `cannot write the output` once on
stderr and exits 2, as the tally always did; `merge -o /dev/full` names the
file.  Small outputs fail only in the last flush, large ones (`codes
--json`, a tally with many captures) already part way through."""
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR
MESSAGE = "smtpreply: cannot write the output: No space left on device"

if not os.path.exists("/dev/full"):
    skip("every check: no /dev/full on this system")
    finish()

capture = os.path.join(SRCDIR, "captures", "delivery-pipelining.pcap")
captures = sorted(f for f in glob.glob(os.path.join(SRCDIR, "captures", "*"))
                  if f.endswith((".pcap", ".pcapng")))
transcript = os.path.join(SRCDIR, "tests", "transcripts", "anomalies.txt")


def run(args, stdout):
    with open(stdout, "wb") as out:
        return subprocess.run([SMTPREPLY, *args], stdout=out, stderr=subprocess.PIPE,
                              text=True, timeout=300)


with tempfile.TemporaryDirectory() as tmp:
    summary = os.path.join(tmp, "summary.json")
    p = subprocess.run([SMTPREPLY, "-q", "--json", "-o", summary, capture],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"a summary to merge: {p.stderr}")

    cases = [
        ["explain", "550"],
        ["explain", "--json", "550"],
        ["explain", "--json", *[str(c) for c in range(200, 600)]],
        ["explain", "--help"],
        ["codes"],
        ["codes", "--csv"],
        ["codes", "--json"],
        ["transcript", transcript],
        ["transcript", "--json", transcript],
        ["merge", summary],
        ["--help"],
        ["--version"],
        # The tally checks its own output: the message must come once.
        ["-q", capture],
        ["-q", "--json", capture],
        ["tally", "-q", "--json", *captures],
        ["-q", "--replies", *captures],
    ]
    for args in cases:
        shown = " ".join(args if len(args) < 6 else args[:3] + ["..."])
        # The same command to a real file works: the failure is the disk's.
        ok = run(args, os.path.join(tmp, "out"))
        check(ok.returncode == 0 and os.path.getsize(os.path.join(tmp, "out")) > 0,
              f"{shown} > file: exit 0 ({ok.stderr.strip()})")
        p = run(args, "/dev/full")
        lines = p.stderr.splitlines()
        check(p.returncode == 2 and lines == [MESSAGE],
              f"{shown} > /dev/full: exit 2 and one message (got {p.returncode}, {lines})")

    # A bad argument and a write error: both are said, the status is 2.
    p = run(["explain", "550", "bogus"], "/dev/full")
    check(p.returncode == 2 and "bogus" in p.stderr and MESSAGE in p.stderr,
          f"explain with a bad argument > /dev/full: both messages ({p.stderr!r})")

    # merge -o: the file is named, as when it cannot be opened.
    p = subprocess.run([SMTPREPLY, "merge", "-o", "/dev/full", summary],
                       capture_output=True, text=True)
    check(p.returncode == 2
          and p.stderr.splitlines() == ["smtpreply merge: /dev/full: No space left on device"],
          f"merge -o /dev/full: exit 2 naming the file ({p.returncode}, {p.stderr!r})")
    big = [summary] * 200  # past any stdio buffer: fails inside the JSON writer
    p = subprocess.run([SMTPREPLY, "merge", "-o", "/dev/full", *big],
                       capture_output=True, text=True)
    check(p.returncode == 2
          and p.stderr.splitlines() == ["smtpreply merge: /dev/full: No space left on device"],
          f"merge -o /dev/full, large: exit 2 naming the file ({p.stderr!r})")
    out = os.path.join(tmp, "merged.json")
    p = subprocess.run([SMTPREPLY, "merge", "-o", out, summary], capture_output=True, text=True)
    check(p.returncode == 0 and json.load(open(out))["totals"]["sessions"] > 0,
          f"merge -o FILE still works ({p.stderr!r})")

finish()
