#!/usr/bin/env python3
"""Golden test for the project's own captures (captures/*.truth.json, taken
from the client's transcript): the analyzer's replies, in order, with
their enhanced codes, and its JSON totals equal the truth."""
import glob, json, os, subprocess, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, fatal  # noqa: E402

smtpreply = env.smtpreply()
here = env.CAPTURES
truths = sorted(glob.glob(os.path.join(here, "*.truth.json")))
if not truths:
    fatal("no truth files in captures/")
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
    check(not problems, os.path.basename(cap) + "".join("\n  " + p for p in problems))
finish()
