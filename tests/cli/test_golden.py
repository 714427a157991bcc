#!/usr/bin/env python3
"""Golden output of the tally: every bundled capture in captures/ (the
.pcap and .pcapng files), one run of several captures together and one run
on the captures/ directory, each in every output format (text, --format
json, --format csv, --replies, --replies --format csv), compared byte for
byte with the expected files committed under tests/golden/.  Standard
error and the exit status of every run are compared too (golden/status.txt).

One value is normalised before the comparison: totals.core_memory_peak in
JSON.  It is the largest number of bytes the core held at once, so it
follows the size of the core's structures (a field added to a session
changes it) rather than anything the capture says.  Everything else must
be identical.

When the output changes on purpose, rewrite the expected files with
    python3 tests/cli/test_golden.py --update
and review the diff before committing it.

Environment: SMTPREPLY (the binary), SRCDIR (the source tree).  Run alone,
SRCDIR defaults to the tree this file is in and SMTPREPLY to
$BUILDDIR/analyzer/smtpreply, with BUILDDIR defaulting to SRCDIR/build."""
import difflib
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from checks import check, finish  # noqa: E402

SRCDIR = os.environ.get("SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILDDIR = os.environ.get("BUILDDIR") or os.path.join(SRCDIR, "build")
SMTPREPLY = os.environ.get("SMTPREPLY") or os.path.join(BUILDDIR, "analyzer", "smtpreply")
GOLDEN = os.path.join(SRCDIR, "tests", "golden")
UPDATE = "--update" in sys.argv[1:]

FORMATS = [
    ("text", []),
    ("json", ["--format", "json"]),
    ("csv", ["--format", "csv"]),
    ("replies", ["--replies"]),
    ("replies-csv", ["--replies", "--format", "csv"]),
]

# The memory high-water mark depends on the core's struct sizes only.
MEMORY_PEAK = re.compile(rb'("core_memory_peak": )\d+')


def normalise(out):
    return MEMORY_PEAK.sub(rb"\1<memory-dependent>", out)


def runs():
    """(name, arguments) of every run, paths relative to SRCDIR so the
    output names no machine-specific directory."""
    caps = sorted(f for f in os.listdir(os.path.join(SRCDIR, "captures"))
                  if f.endswith((".pcap", ".pcapng")))
    several = [c for c in ["auth-fail.pcap", "delivery-pipelining.pcapng", "ipv6.pcap",
                           "tempfail.pcap"] if c in caps]
    out = [(c, [os.path.join("captures", c)]) for c in caps]
    out.append(("several", [os.path.join("captures", c) for c in several]))
    out.append(("directory", ["captures"]))
    return out


def first_diff(name, want, got, limit=40):
    lines = list(difflib.unified_diff(want.decode("utf-8", "replace").splitlines(True),
                                      got.decode("utf-8", "replace").splitlines(True),
                                      f"expected/{name}", f"actual/{name}"))
    head = "".join(lines[:limit])
    if len(lines) > limit:
        head += f"... ({len(lines) - limit} more diff lines)\n"
    return head


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


if not os.access(SMTPREPLY, os.X_OK):
    print(f"FAIL no smtpreply binary at {SMTPREPLY} (build first, or set SMTPREPLY)")
    sys.exit(1)

env = dict(os.environ, LC_ALL="C", TZ="UTC")
status = []
if UPDATE:
    os.makedirs(GOLDEN, exist_ok=True)
for name, paths in runs():
    for fmt, flags in FORMATS:
        case = f"{name}.{fmt}"
        p = subprocess.run([SMTPREPLY, *flags, *paths], cwd=SRCDIR, env=env,
                           capture_output=True, timeout=300)
        got = normalise(p.stdout)
        status.append(f"== {case}: exit {p.returncode}\n".encode() + p.stderr)
        path = os.path.join(GOLDEN, case)
        if UPDATE:
            with open(path, "wb") as f:
                f.write(got)
            continue
        want = read(path)
        if want is None:
            check(False, f"{case}: no expected file tests/golden/{case} (run with --update)")
        elif not check(want == got, f"{case}: stdout identical to tests/golden/{case}"):
            print(first_diff(case, want, got), end="")

status_blob = b"".join(status)
status_path = os.path.join(GOLDEN, "status.txt")
if UPDATE:
    with open(status_path, "wb") as f:
        f.write(status_blob)
    print(f"rewrote {len(status)} expected outputs and status.txt in {GOLDEN}")
    sys.exit(0)
want = read(status_path)
if want is None:
    check(False, "no tests/golden/status.txt (run with --update)")
elif not check(want == status_blob, "exit statuses and stderr identical to tests/golden/status.txt"):
    print(first_diff("status.txt", want, status_blob), end="")
finish()
