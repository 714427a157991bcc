#!/usr/bin/env python3
"""smtpreply tally on damaged captures: the corpus written by
tests/damaged/gen_damaged.py, whose expect.json says, for each case, the
documented exit status, the one-line messages, and the partial results.

Each case runs once with --format json (checked in full: exit status, no
signal, no hang, stderr lines, files[], totals; and, for a damaged pcap,
results identical to a clean file with its complete records) and once
each with --format text, --format csv, --replies and -j 2 (checked for the
same exit status and no crash).  test_tally.py already covers a missing file, plain-text garbage
and one truncated file beside a good one; this extends that to the whole
corpus.  One summary line per case; exit 1 on any failure."""
import concurrent.futures
import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

smtpreply = env.smtpreply()
gen = os.path.join(env.SRCDIR, "tests", "damaged", "gen_damaged.py")
# A run takes milliseconds (under ASan well under a second): a run that
# takes this long is hanging, e.g. blocked opening a FIFO.
TIMEOUT = float(os.environ.get("DAMAGED_TIMEOUT", "10"))

started = time.monotonic()
tmp = tempfile.mkdtemp(prefix="smtpreply-damaged-")
subprocess.run([sys.executable, gen, tmp], check=True, timeout=120, stdout=subprocess.DEVNULL)
cases = json.load(open(os.path.join(tmp, "expect.json")))["cases"]


def run(case, fmt):
    """Runs smtpreply over the case's inputs from inside the corpus (so
    paths in the output are the case's own); None if it hung."""
    stdin = open(os.path.join(tmp, case["stdin"]), "rb") if "stdin" in case else subprocess.DEVNULL
    try:
        opts = {"replies": ["--replies"], "jobs": ["--format", "json", "-j", "2"]}.get(
            fmt, ["--format", fmt])
        return subprocess.run([smtpreply, *opts, "-q", *case["args"]], cwd=tmp,
                              stdin=stdin, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()


def exit_problem(case, p, fmt):
    """Why the run's ending is wrong, or None."""
    if p is None:
        return "%s: hung (no exit within %g s)" % (fmt, TIMEOUT)
    if p.returncode < 0:
        return "%s: killed by signal %d" % (fmt, -p.returncode)
    if p.returncode != case["status"]:
        return "%s: exit %d, expected %d" % (fmt, p.returncode, case["status"])
    return None


def stderr_problems(case, p):
    """Every stderr line must match one of the expected regexes and every
    regex one line: one line per problem file, nothing else."""
    lines = p.stderr.decode("utf-8", "replace").splitlines()
    want = list(case["stderr"])
    if case.get("stderr_optional") and not lines:
        return []
    out = []
    for line in lines:
        hit = next((rx for rx in want if re.search(rx, line)), None)
        if hit is None:
            out.append("unexpected stderr line %r" % line)
        else:
            want.remove(hit)
    out += ["no stderr line matching %r" % rx for rx in want]
    return out


def json_problems(case, p):
    try:
        d = json.loads(p.stdout)
    except ValueError as e:
        return ["stdout is not JSON (%s): %r" % (e, p.stdout[:200])]
    if not isinstance(d.get("files"), list) or not isinstance(d.get("totals"), dict):
        return ["no files[] or totals in the JSON"]
    out = []
    listed = {f.get("path"): f for f in d["files"]}
    if set(listed) != set(case["files"]):
        out.append("files[] lists %s, expected %s" % (sorted(listed), sorted(case["files"])))
    for path, want in case["files"].items():
        got = listed.get(path)
        if got is None:
            continue
        if set(got) < {"path", "packets", "bytes", "problems"}:
            out.append("%s: files[] entry lacks keys: %s" % (path, sorted(got)))
            continue
        if got["packets"] != want["packets"]:
            out.append("%s: %s packets, expected %d" % (path, got["packets"], want["packets"]))
        probs = got["problems"]
        if len(probs) != len(want["problems"]) or not all(
                re.search(rx, pr) for rx, pr in zip(want["problems"], probs)):
            out.append("%s: problems %s, expected to match %s" % (path, probs, want["problems"]))
    t = d["totals"]
    for key in ("sessions", "replies"):
        lo, hi = case[key]
        if not isinstance(t.get(key), int) or not lo <= t[key] <= hi:
            out.append("totals.%s %s not in [%d, %d]" % (key, t.get(key), lo, hi))
    if len(d.get("sessions", [])) != t.get("sessions"):
        out.append("%d sessions listed, totals say %s" % (len(d.get("sessions", [])),
                                                          t.get("sessions")))
    for code, n in t.get("codes", {}).items():
        if n > case["codes_max"].get(code, 0):
            out.append("code %s counted %d times, the whole capture has %d"
                       % (code, n, case["codes_max"].get(code, 0)))
    for key, want in case["totals"].items():
        if t.get(key) != want:
            out.append("totals.%s = %s, expected %s" % (key, t.get(key), want))
    for s in d.get("sessions", []):
        if case["files"].get(s.get("file"), {}).get("packets", 0) == 0:
            out.append("a session from %r, which has no packets" % s.get("file"))
    return out


def clean_prefix(path, n):
    """A clean pcap holding the first n records of a damaged one (None if
    it is not a pcap file whose first n records are whole)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 24 or raw[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                                         b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        return None
    end = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    for _ in range(n):
        if off + 16 > len(raw):
            return None
        off += 16 + struct.unpack(end + "I", raw[off + 8:off + 12])[0]
    if off > len(raw):
        return None
    out = path + ".clean-prefix.pcap"
    with open(out, "wb") as f:
        f.write(raw[:off])
    return out


def same_as_prefix(case, p):
    """Damage loses nothing that was readable: a damaged pcap gives exactly
    the sessions and totals of a clean file with its complete records."""
    if case["status"] != 1 or "stdin" in case or len(case["args"]) != 1:
        return []
    name = case["args"][0]
    n = case["files"].get(name, {}).get("packets")
    prefix = clean_prefix(os.path.join(tmp, name), n) if n is not None else None
    if prefix is None:
        return []
    q = subprocess.run([smtpreply, "--format", "json", "-q", prefix], capture_output=True,
                       timeout=TIMEOUT)
    try:
        got, want = json.loads(p.stdout), json.loads(q.stdout)
    except ValueError:
        return ["clean prefix: no JSON"]
    strip = lambda d: ([{k: v for k, v in x.items() if k != "file"} for x in d["sessions"]],
                       d["totals"])
    if strip(got) != strip(want):
        return ["results differ from a clean file with the same %d records: %s vs %s"
                % (n, got["totals"]["codes"], want["totals"]["codes"])]
    return []


def check_case(case):
    """Returns (summary, [failures]) for one case."""
    fails = []
    p = run(case, "json")
    why = exit_problem(case, p, "json")
    if why:
        fails.append(why)
    if p is None:                       # a hang: the other formats would hang too
        return "hung", fails
    fails += stderr_problems(case, p)
    fails += json_problems(case, p)
    fails += same_as_prefix(case, p)
    for fmt in ("text", "csv", "replies", "jobs"):
        q = run(case, fmt)
        why = exit_problem(case, q, fmt)
        if why:
            fails.append(why)
            continue
        if len(q.stderr.splitlines()) != len(p.stderr.splitlines()):
            fails.append("%s: %d stderr lines, json run had %d"
                         % (fmt, len(q.stderr.splitlines()), len(p.stderr.splitlines())))
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(q.stdout.decode("utf-8", "replace"))))
            if not rows or rows[0] != ["file", "client", "server", "status", "code", "count",
                                       "meaning"] or any(len(r) != 7 for r in rows):
                fails.append("csv: malformed output %r" % q.stdout[:200])
    try:
        t = json.loads(p.stdout)["totals"]
        summary = "exit %d, %d sessions, %d replies [%d..%d]" % (
            p.returncode, t["sessions"], t["replies"], case["replies"][0], case["replies"][1])
    except (ValueError, KeyError, TypeError):
        summary = "exit %d" % p.returncode
    return summary, fails


# Two at a time: the machine has two cores and other work runs beside us.
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    for case, (summary, fails) in zip(cases, pool.map(check_case, cases)):
        check(not fails, "%-32s %s%s" % (case["name"], summary, "".join(
            "\n       - " + f for f in fails) + ("\n       (%s)" % case["description"]
                                               if fails else "")))

shutil.rmtree(tmp, ignore_errors=True)
print("%d cases, %.1f s" % (len(cases), time.monotonic() - started))
finish()
