#!/usr/bin/env python3
"""Per-session reply codes of every public capture in ../shared/captures
equal truth.json (counted there from the packets' bytes, independently of
any SMTP parser).  Skips, with a message, when the folder is absent."""
import collections, json, os, subprocess, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip  # noqa: E402

smtpreply = env.smtpreply()
caps = env.SHARED_CAPTURES
truth_path = os.path.join(caps, "truth.json")
if not os.path.exists(truth_path):
    skip("every capture: %s absent, nothing to compare" % truth_path)
    finish()

truth = json.load(open(truth_path))
for name, t in sorted(truth.items()):
    path = os.path.join(caps, name)
    p = subprocess.run([smtpreply, "--format", "json", "-q", path],
                       capture_output=True, text=True, timeout=120)
    expect_rc = 1 if "damaged" in t.get("features", []) and "corrupt" in t.get("format", "") else 0
    problems = []
    if p.returncode not in (0, 1) or (p.returncode != expect_rc):
        problems.append(f"exit {p.returncode}, expected {expect_rc}: {p.stderr.strip()}")
    try:
        got = json.loads(p.stdout)
    except ValueError:
        problems.append("output is not JSON")
        got = {"sessions": [], "totals": {"codes": {}}}
    ours = {(s["client"], s["server"]): s for s in got["sessions"]}
    for ts in t["sessions"]:
        key = (ts["client"], ts["server"])
        want = collections.Counter(str(c) for c in ts["replies"])
        s = ours.pop(key, None)
        if s is None:
            problems.append(f"session {key} missing (truth {dict(want)})")
            continue
        have = collections.Counter({k: v for k, v in s["codes"].items()})
        if have != want:
            problems.append(f"session {key}: codes {dict(have)} != truth {dict(want)}")
    for key, s in ours.items():
        problems.append(f"extra session {key} with codes {s['codes']}")
    if got["totals"].get("sessions") != len(t["sessions"]):
        problems.append(f"totals.sessions {got['totals'].get('sessions')} != "
                        f"{len(t['sessions'])} in the truth")
    want_tot = {k: v for k, v in t.get("totals", {}).items()}
    if got["totals"]["codes"] != want_tot:
        problems.append(f"totals {got['totals']['codes']} != {want_tot}")
    check(not problems, name + "".join("\n  " + p for p in problems))
finish()
