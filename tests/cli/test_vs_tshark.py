#!/usr/bin/env python3
"""Our totals against Wireshark's own SMTP dissector (smtp.response.code),
on the project's captures and the public ones.  Where they differ, the
difference must be one truth.json documents (tshark_disagrees: a
multi-line reply split over segments counted twice, replies dropped as
'spurious retransmissions', SMTP on ports Wireshark does not dissect), and
tshark's count must be the one truth.json recorded for it.  On our own
captures (standard ports, no such trouble) they must agree."""
import collections, glob, json, os, shutil, subprocess, sys

smtpreply = os.environ["SMTPREPLY"]
if not shutil.which("tshark"):
    print("FAIL: tshark not installed (apt-get install tshark)")
    sys.exit(1)


def tshark_counts(path):
    p = subprocess.run(["timeout", "120", "tshark", "-n", "-r", path, "-T", "fields",
                        "-e", "smtp.response.code"], capture_output=True, text=True)
    c = collections.Counter()
    for line in p.stdout.splitlines():
        for code in filter(None, line.split(",")):
            c[code] += 1
    return dict(c)


def ours(path):
    p = subprocess.run([smtpreply, "--json", "-q", path], capture_output=True, text=True)
    return json.loads(p.stdout)["totals"]["codes"]


passed = failed = documented = 0
for cap in sorted(f for f in glob.glob(os.path.join(os.environ["SRCDIR"], "captures", "*"))
                  if f.endswith((".pcap", ".pcapng"))):
    a, b = ours(cap), tshark_counts(cap)
    if a == b:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {os.path.basename(cap)}: ours {a} tshark {b}")

truth_path = os.path.join(os.environ.get("SHARED", ""), "captures", "truth.json")
if os.path.exists(truth_path):
    truth = json.load(open(truth_path))
    for name, t in sorted(truth.items()):
        path = os.path.join(os.path.dirname(truth_path), name)
        a, b = ours(path), tshark_counts(path)
        if a == b:
            passed += 1
            continue
        # tshark's own view, as truth.json recorded it per session
        builtin = collections.Counter()
        for s in t["sessions"]:
            for c in s.get("tshark_builtin", s["replies"]):
                builtin[str(c)] += 1
        if t.get("tshark_disagrees", "no").startswith("yes") and dict(builtin) == b:
            documented += 1
            print(f"differs as documented, {name}: {t['tshark_disagrees'][:110]}")
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name}: ours {a} tshark {b} (truth.json says: {t.get('tshark_disagrees')})")
print(f"{documented} documented differences")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
