#!/usr/bin/env python3
"""Golden test for the project's own captures (captures/*.truth.json, taken
from the client's transcript): the analyzer's replies, in order, with
their enhanced codes, and its JSON totals equal the truth."""
import glob, json, os, subprocess, sys

smtpreply = os.environ["SMTPREPLY"]
here = os.path.join(os.environ["SRCDIR"], "captures")
passed = failed = 0
truths = sorted(glob.glob(os.path.join(here, "*.truth.json")))
if not truths:
    print("FAIL: no truth files in captures/")
    sys.exit(1)
for tpath in truths:
    cap = tpath[: -len(".truth.json")]
    if not os.path.exists(cap):
        cap = cap + ".pcap"
    truth = json.load(open(tpath))
    problems = []
    p = subprocess.run([smtpreply, "--replies", cap], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        problems.append(f"--replies exit {p.returncode}: {p.stderr.strip()}")
    by_session = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        by_session.setdefault((r["client"], r["server"]), []).append(r)
    for ts in truth["sessions"]:
        got = by_session.pop((ts["client"], ts["server"]), [])
        codes = [r["code"] for r in got]
        if codes != ts["replies"]:
            problems.append(f"{ts['client']} -> {ts['server']}: {codes} != {ts['replies']}")
        esc = [r["enhanced"] or "" for r in got]
        if "enhanced" in ts and esc != ts["enhanced"]:
            problems.append(f"enhanced {esc} != {ts['enhanced']}")
    if by_session:
        problems.append(f"sessions not in the truth: {list(by_session)}")
    j = subprocess.run([smtpreply, "--json", cap], capture_output=True, text=True, timeout=60)
    tot = json.loads(j.stdout)["totals"]["codes"]
    if tot != truth["totals"]:
        problems.append(f"totals {tot} != {truth['totals']}")
    if problems:
        failed += 1
        print(f"FAIL {os.path.basename(cap)}:\n  " + "\n  ".join(problems))
    else:
        passed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
