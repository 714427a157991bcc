#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CLI tests for `smtpreply codes`: text, JSON and CSV list the same
knowledge base; CSV is properly quoted; bad arguments exit 2."""
import csv
import io
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

SMTPREPLY = env.smtpreply()


def run(*args):
    p = subprocess.run([SMTPREPLY, "codes", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


rc, out, _ = run("--json")
check(rc == 0, "--json exit 0")
kb = json.loads(out)
codes = [o["code"] for o in kb["codes"]]
check(codes == sorted(set(codes)), "codes sorted, unique")
check(len(kb["enhanced"]) == 81, "81 registry rows")
check(len(kb["subjects"]) == 8, "8 subjects")
by = {o["code"]: o for o in kb["codes"]}
for c in (250, 354, 421, 534, 535, 556, 200, 523, 101, 471):
    check(c in by, f"{c} listed")
check(by[534]["status"] == "standard" and by[200]["status"] == "non-standard", "statuses")
check(by[471]["status"] == "invalid" and by[523]["status"] == "registry", "statuses 2")
for o in kb["codes"]:
    check({"code", "class", "category", "status", "meaning", "rfc", "commands", "notes", "enhanced"} <= set(o),
          f"{o.get('code')} keys")
esc = {e["code"]: e for e in kb["enhanced"]}
check(esc["X.1.1"]["meaning"] == "Bad destination mailbox address", "X.1.1")
check("X.7.30" in esc and "X.6.10" in esc, "registry ends")

rc, out, _ = run("--csv")
check(rc == 0, "--csv exit 0")
rows = list(csv.reader(io.StringIO(out)))
check(rows[0] == ["kind", "code", "class", "category", "status", "meaning", "rfc", "commands", "notes"], "csv header")
check(all(len(r) == 9 for r in rows), "every csv row has 9 fields (quoting works)")
basic = [r for r in rows[1:] if r[0] == "basic"]
enh = [r for r in rows[1:] if r[0] == "enhanced"]
check(len(basic) == len(kb["codes"]) and len(enh) == 81, "csv has the same rows as json")
row550 = next(r for r in basic if r[1] == "550")
check(row550[5] == by[550]["meaning"], "csv meaning with commas round-trips")
check(any('"' in r[8] for r in basic), "a note with quotes survives")

rc, out, _ = run()
check(rc == 0 and "534" in out and "X.7.30" in out, "text lists both tables")
rc, out, _ = run("--help")
check(rc == 0 and "Usage: smtpreply codes" in out, "--help")
rc, out, _ = run("--version")
check(rc == 0 and out.startswith("smtpreply "), "--version")
rc, out, err = run("--xml")
check(rc == 2 and err.strip(), "bad option exit 2")

finish()
