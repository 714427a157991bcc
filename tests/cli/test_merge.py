#!/usr/bin/env python3
"""smtpreply merge: summaries of parts merge to exactly the single run's
summary, in any grouping (associativity); the README's GNU parallel recipe
(`parallel -S :`, one summary per file, then merge) gives the same answer;
bad input is refused with exit 2."""
import glob, json, os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

smtpreply = env.smtpreply()
caps = sorted(f for f in glob.glob(os.path.join(env.SRCDIR, "captures", "*"))
              if f.endswith((".pcap", ".pcapng")))
shared = os.path.join(env.SHARED, "captures")
caps += sorted(glob.glob(os.path.join(shared, "zeek-*.pcap")))[:6]
tmp = tempfile.mkdtemp()


def summary(paths, name):
    out = os.path.join(tmp, name + ".json")
    p = subprocess.run([smtpreply, "--json", "-q", "-o", out, *paths], capture_output=True)
    check(p.returncode == 0, f"tally {name}: {p.stderr}")
    return out


def merge(*paths):
    p = subprocess.run([smtpreply, "merge", *paths], capture_output=True, text=True)
    check(p.returncode == 0, f"merge {paths}: {p.stderr}")
    return json.loads(p.stdout) if p.returncode == 0 else None


whole = json.load(open(summary(caps, "whole")))
third = len(caps) // 3
a, b, c = summary(caps[:third], "a"), summary(caps[third:2 * third], "b"), summary(caps[2 * third:], "c")
abc = merge(a, b, c)
check(abc == whole, "merge(a, b, c) equals the single run")
ab = os.path.join(tmp, "ab.json")
json.dump(merge(a, b), open(ab, "w"))
bc = os.path.join(tmp, "bc.json")
json.dump(merge(b, c), open(bc, "w"))
check(merge(ab, c) == whole and merge(a, bc) == whole, "associative: (a+b)+c == a+(b+c)")
check(whole["totals"]["replies"] > 0 and whole["totals"]["sessions"] > 5, "a non-trivial total")

# The README's recipe for many machines, with this machine as the only one.
if shutil.which("parallel"):
    outdir = os.path.join(tmp, "par")
    os.makedirs(outdir)
    listing = "\n".join(caps) + "\n"
    p = subprocess.run(["parallel", "-S", ":", "--will-cite", "-k",
                        f"{smtpreply} --json -q {{}} > {outdir}/{{#}}.json"],
                       input=listing, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"parallel: {p.stderr}")
    parts = sorted(glob.glob(os.path.join(outdir, "*.json")),
                   key=lambda x: int(os.path.basename(x).split(".")[0]))
    check(merge(*parts) == whole, "parallel -S : then merge equals the single run")
else:
    check(False, "GNU parallel is not installed (apt-get install parallel)")

# Bad input.
bad = os.path.join(tmp, "bad.json")
open(bad, "w").write('{"files": []}')
p = subprocess.run([smtpreply, "merge", a, bad], capture_output=True, text=True)
check(p.returncode == 2 and "bad.json" in p.stderr, "not a summary: exit 2 naming the file")
p = subprocess.run([smtpreply, "merge"], capture_output=True, text=True)
check(p.returncode == 2, "no input: exit 2")
finish()
