#!/usr/bin/env python3
"""Per session, the ordered (command answered, stage, code) of every reply
that `smtpreply --replies` prints, and the number of unanswered commands
in the tally, equal tests/pairing/expected/ (written by reading each
capture's bytes, not from smtpreply's output; tests/pairing/README.md).
Covers captures/ always, and ../shared/captures and ../shared/captures-peers
when present (skipped otherwise).  Runnable alone:
    python3 tests/cli/test_pairing.py   (tests/lib/env.py finds the rest)"""
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip  # noqa: E402

SRCDIR = env.SRCDIR
SMTPREPLY = env.smtpreply()
SHARED = env.SHARED
EXPECTED = os.path.join(SRCDIR, "tests", "pairing", "expected")
FOLDERS = [("repo", os.path.join(SRCDIR, "captures")),
           ("shared", os.path.join(SHARED, "captures")),
           ("peers", os.path.join(SHARED, "captures-peers"))]

# Sessions whose pairing smtpreply does not yet get right, as
# (expected file, client): each must still differ (an entry that passes
# must leave this list).  Empty when every session pairs as its bytes say.
XFAIL = {
}


def parse_expected(path):
    """{(client, server): {"replies": [...], "unanswered": N or None}} in
    file order; a key that appears twice (a reused 4-tuple) continues."""
    out = collections.OrderedDict()
    cur = None
    for n, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if parts[0] == "session" and len(parts) == 3:
            cur = out.setdefault((parts[1], parts[2]), {"replies": [], "unanswered": None})
        elif cur is None:
            raise ValueError("%s:%d: line before any session" % (path, n))
        elif parts[0] == "unanswered" and len(parts) == 2:
            cur["unanswered"] = (cur["unanswered"] or 0) + int(parts[1])
        elif len(parts) == 3 and parts[2].isdigit():
            cur["replies"].append((None if parts[0] == "-" else parts[0], parts[1], int(parts[2])))
        else:
            raise ValueError("%s:%d: cannot read %r" % (path, n, raw.rstrip()))
    return out


def observed(cap):
    p = subprocess.run([SMTPREPLY, "-q", "--replies", cap], capture_output=True, text=True,
                       timeout=300)
    got = collections.OrderedDict()
    for line in p.stdout.splitlines():
        r = json.loads(line)
        got.setdefault((r["client"], r["server"]), {"replies": [], "unanswered": 0})[
            "replies"].append((r["command"], r["stage"], r["code"]))
    j = subprocess.run([SMTPREPLY, "-q", "--format", "json", cap], capture_output=True,
                       text=True, timeout=300)
    for s in json.loads(j.stdout)["sessions"]:
        g = got.setdefault((s["client"], s["server"]), {"replies": [], "unanswered": 0})
        g["unanswered"] += s.get("unanswered", 0)
    return got


def first_difference(want, have):
    for i, (w, h) in enumerate(zip(want, have)):
        if w != h:
            return "reply %d: expected %s, smtpreply %s" % (i + 1, fmt(w), fmt(h))
    if len(want) != len(have):
        i = min(len(want), len(have))
        return "reply %d: expected %s, smtpreply %s" % (
            i + 1, fmt(want[i]) if i < len(want) else "none", fmt(have[i]) if i < len(have) else "none")
    return None


def fmt(r):
    return "%s %s %03d" % (r[0] or "-", r[1], r[2])


xfail_seen = set()
for tag, folder in FOLDERS:
    if not os.path.isdir(folder):
        if tag == "repo":
            check(False, "%s: folder %s present" % (tag, folder))
        else:
            skip("%s: %s absent, its captures not compared" % (tag, folder))
        continue
    caps = sorted(f for f in os.listdir(folder) if f.endswith((".pcap", ".pcapng")))
    check(len(caps) > 0, "%s: captures found in %s" % (tag, folder))
    for name in caps:
        rel = "%s/%s.pairs" % (tag, name)
        exp_path = os.path.join(EXPECTED, tag, name + ".pairs")
        if not check(os.path.exists(exp_path), "%s: expected file exists" % rel):
            continue
        want = parse_expected(exp_path)
        have = observed(os.path.join(folder, name))
        for key in list(want) + [k for k in have if k not in want]:
            what = "%s %s -> %s" % (name, key[0], key[1])
            w, h = want.get(key), have.get(key)
            if w is None:
                check(False, "%s: session smtpreply reports is not expected (%d replies)" %
                      (what, len(h["replies"])))
                continue
            if h is None:
                check(False, "%s: expected session missing from smtpreply" % what)
                continue
            diff = first_difference(w["replies"], h["replies"])
            if diff is None and w["unanswered"] is not None and w["unanswered"] != h["unanswered"]:
                diff = "unanswered: expected %d, smtpreply %d" % (w["unanswered"], h["unanswered"])
            if (rel, key[0]) in XFAIL:
                xfail_seen.add((rel, key[0]))
                check(diff is not None, "%s: known difference still there (%s); %s" %
                      (what, XFAIL[(rel, key[0])], diff or "now passes: remove from XFAIL"))
                continue
            check(diff is None, "%s: pairing%s" % (what, ": " + diff if diff else ""))
        # A whole file whose pairing is right is one line; details only on failure.
for k in sorted(set(XFAIL) - xfail_seen):
    if os.path.isdir(dict(FOLDERS)[k[0].split("/")[0]]):
        check(False, "XFAIL entry %s %s matches no session" % k)
finish()
