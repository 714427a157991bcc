#!/usr/bin/env python3
"""The damaged-capture corpus (issue 8): generates it with
tests/lib/gen_damaged.py, then runs smtpreply on every case, in every
format.  Each must end with its documented exit status (never a signal,
never a hang), say what went wrong in one line per problem, list the file
with its problems, and still give everything that was readable: exactly
what a clean file with the same complete packets gives."""
import json
import os
import re
import subprocess
import sys
import tempfile

SMTPREPLY = os.environ["SMTPREPLY"]
HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "lib", "gen_damaged.py")
failures = 0
passes = 0


def check(cond, what):
    global failures, passes
    if cond:
        passes += 1
    else:
        failures += 1
        print(f"FAIL {what}")
    return cond


def run(args):
    try:
        p = subprocess.run([SMTPREPLY, "-q", *args], capture_output=True, text=True,
                           errors="replace", timeout=30)
    except subprocess.TimeoutExpired:
        return None
    return p


def comparable(d, path):
    """A run's results without the file name (which differs by design)."""
    sessions = [{k: v for k, v in s.items() if k != "file"} for s in d["sessions"]]
    totals = {k: v for k, v in d["totals"].items()}
    return sessions, totals


with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([sys.executable, GEN, tmp], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(tmp, "expect.json")) as f:
        cases = json.load(f)
    for c in cases:
        path = os.path.join(tmp, c["file"])
        name = c["file"]
        p = run(["--json", path])
        if not check(p is not None, f"{name}: finished within 30 s"):
            continue
        if not check(p.returncode >= 0, f"{name}: killed by signal {-p.returncode}"):
            continue
        check(p.returncode == c["status"],
              f"{name} ({c['description']}): exit {p.returncode}, expected {c['status']}"
              f"\n     stderr: {p.stderr.strip()[:300]}")
        lines = [x for x in p.stderr.splitlines() if x.strip()]
        if c["stderr"] == "":
            check(not lines, f"{name}: no message expected, got {lines[:3]}")
        else:
            check(all(re.match(c["stderr"], x) for x in lines),
                  f"{name}: every stderr line names the file: {lines[:3]}")
            check(len(lines) >= 1, f"{name}: a message expected")
            if "stderr_lines" in c:
                check(len(lines) == c["stderr_lines"],
                      f"{name}: {len(lines)} stderr lines, expected {c['stderr_lines']}: {lines}")
        try:
            d = json.loads(p.stdout)
        except ValueError:
            check(False, f"{name}: stdout is not JSON: {p.stdout[:200]!r}")
            continue
        files = {os.path.relpath(f["path"], path) if c["file"] == "directory" else "": f
                 for f in d["files"]}
        if "dir_files" in c:
            for rel, want in c["dir_files"].items():
                f = files.get(rel)
                if not check(f is not None, f"{name}: {rel} listed in files[] ({list(files)})"):
                    continue
                if isinstance(want.get("problems"), list):
                    check(len(f["problems"]) == len(want["problems"]) and
                          all(got.startswith(w) for got, w in zip(f["problems"], want["problems"])),
                          f"{name}: {rel} problems {f['problems']}, expected {want['problems']}")
                elif "problems" in want:
                    check(len(f["problems"]) == want["problems"],
                          f"{name}: {rel} has {len(f['problems'])} problems: {f['problems']}")
                if "packets" in want:
                    check(f["packets"] == want["packets"],
                          f"{name}: {rel} {f['packets']} packets, expected {want['packets']}")
        else:
            f = d["files"][0] if d["files"] else None
            if check(f is not None and len(d["files"]) == 1, f"{name}: listed once in files[]"):
                check(len(f["problems"]) == c["problems"],
                      f"{name}: problems {f['problems']}, expected {c['problems']}")
                check(f["packets"] == c["packets"],
                      f"{name}: {f['packets']} packets, expected {c['packets']}")
        t = d["totals"]
        if "replies" in c:
            check(t["replies"] == c["replies"], f"{name}: {t['replies']} replies, "
                  f"expected {c['replies']}")
        if "replies_at_most" in c:
            check(t["replies"] <= c["replies_at_most"], f"{name}: {t['replies']} replies")
        if "replies_at_least" in c:
            check(t["replies"] >= c["replies_at_least"], f"{name}: {t['replies']} replies")
        if "skipped_linktype" in c:
            check(t["skipped_packets"].get("unsupported link type") == c["skipped_linktype"],
                  f"{name}: skipped {t['skipped_packets']}")
        if "same_as" in c:
            q = run(["--json", os.path.join(tmp, c["same_as"])])
            ref = json.loads(q.stdout)
            check(comparable(d, path) == comparable(ref, c["same_as"]),
                  f"{name}: results equal those of {c['same_as']} (the same complete packets)"
                  f"\n     got {d['totals']['codes']} want {ref['totals']['codes']}")
        # The other formats and the per-reply stream: same status, no crash.
        for fmt in (["--format", "text"], ["--format", "csv"], ["--replies"], ["-j", "2"]):
            q = run(fmt + [path])
            check(q is not None and q.returncode == c["status"],
                  f"{name} {' '.join(fmt)}: exit {q.returncode if q else 'timeout'}")
    print(f"{len(cases)} damaged inputs: {passes} checks passed, {failures} failed")
sys.exit(1 if failures else 0)
