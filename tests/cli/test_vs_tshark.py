#!/usr/bin/env python3
"""Our totals against Wireshark's own SMTP dissector (smtp.response.code),
on the project's captures and the public ones.  Where they differ, the
difference must be one truth.json documents (tshark_disagrees: a
multi-line reply split over segments counted twice, replies dropped as
'spurious retransmissions', SMTP on ports Wireshark does not dissect), and
tshark's count must be the one truth.json recorded for it with tshark 4.0
(with another version: between that count and ours, code by code).  On our own
captures (standard ports, no such trouble) they must agree."""
import collections, glob, json, os, re, subprocess, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip  # noqa: E402

smtpreply = env.smtpreply()
env.need_program("tshark", "tshark")


def tshark_counts(path):
    p = subprocess.run(["timeout", "120", "tshark", "-n", "-r", path, "-T", "fields",
                        "-e", "smtp.response.code"], capture_output=True, text=True)
    c = collections.Counter()
    for line in p.stdout.splitlines():
        for code in filter(None, line.split(",")):
            c[code] += 1
    return dict(c)


# truth.json recorded tshark 4.0's counts (Debian 12): with that version
# they must be met exactly.
TSHARK_VERSION = (re.findall(r"\b(\d+\.\d+\.\d+)", subprocess.run(
    ["tshark", "--version"], capture_output=True, text=True).stdout) or ["unknown"])[0]
RECORDED_WITH = TSHARK_VERSION.startswith("4.0.")


def ours(path):
    p = subprocess.run([smtpreply, "--json", "-q", path], capture_output=True, text=True)
    return json.loads(p.stdout)["totals"]["codes"]


documented = 0
for cap in sorted(f for f in glob.glob(os.path.join(env.CAPTURES, "*"))
                  if f.endswith((".pcap", ".pcapng"))):
    a, b = ours(cap), tshark_counts(cap)
    check(a == b, f"{os.path.basename(cap)}: ours {a} tshark {b}")

truth_path = os.path.join(env.SHARED_CAPTURES, "truth.json")
if os.path.exists(truth_path):
    truth = json.load(open(truth_path))
    for name, t in sorted(truth.items()):
        path = os.path.join(os.path.dirname(truth_path), name)
        a, b = ours(path), tshark_counts(path)
        if a == b:
            check(True, f"{name}: ours and tshark's {a}")
            continue
        # tshark's own view, as truth.json recorded it per session
        builtin = collections.Counter()
        for s in t["sessions"]:
            for c in s.get("tshark_builtin", s["replies"]):
                builtin[str(c)] += 1
        said = t.get("tshark_disagrees", "no").startswith("yes")
        if RECORDED_WITH:
            ok = said and dict(builtin) == b
        else:
            # Another Wireshark's TCP analysis may drop or double fewer
            # replies than 4.0's did: each code's count must lie between
            # what 4.0 gave and ours, and differ from ours as documented.
            ok = said and all(min(builtin[c], a.get(c, 0)) <= b.get(c, 0) <=
                              max(builtin[c], a.get(c, 0)) for c in set(builtin) | set(a) | set(b))
            if ok and dict(builtin) != b:
                print(f"note: {name}: tshark {TSHARK_VERSION} gives {b}, 4.0 gave {dict(builtin)}")
        documented += ok
        check(ok, f"{name}: differs as documented: {t['tshark_disagrees'][:110]}" if ok else
              f"{name}: ours {a} tshark {b} (truth.json says: {t.get('tshark_disagrees')})")
else:
    skip(f"the public captures ({truth_path} absent)")
print(f"{documented} documented differences")
finish()
