#!/usr/bin/env python3
"""Options of `explain`, `codes` and `merge` as CONTRACTS.md and GNU habits
have them: `--format FORMAT` and `--format=FORMAT` (`--json`, `--csv` are
its aliases), a bad format named with the choices and exit 2, `--` ending
the options; `explain` with no code says so in one line; a code with
blanks before it is read like one with blanks after it."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

SMTPREPLY = env.smtpreply()


def run(*args):
    p = subprocess.run([SMTPREPLY, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


# --- explain --format ---
rc, as_json, _ = run("explain", "--json", "550", "5.1.1")
check(rc == 0 and isinstance(json.loads(as_json), list), "explain --json: an array")
rc, as_text, _ = run("explain", "550", "5.1.1")
check(rc == 0 and as_text.startswith("reason: ") and "\n550  " in as_text,
      "explain: text by default, the reason first")
for args, want in ((["--format", "json"], as_json), (["--format=json"], as_json),
                   (["--format", "text"], as_text), (["--format=text"], as_text),
                   (["--json", "--format", "text"], as_text),
                   (["--format", "text", "--json"], as_json)):
    rc, out, err = run("explain", *args, "550", "5.1.1")
    check(rc == 0 and out == want and err == "", f"explain {' '.join(args)}: same as the alias")
for args in (["--format", "xml"], ["--format=xml"], ["--format="]):
    rc, out, err = run("explain", *args, "550")
    val = args[-1].split("=")[-1] if "=" in args[-1] else args[-1]
    check(rc == 2 and out == ""
          and err == f"smtpreply explain: unknown format '{val}' (text, json)\n",
          f"explain {' '.join(args)}: unknown format, exit 2 ({err!r})")
rc, out, err = run("explain", "550", "--format")
check(rc == 2 and out == "" and len(err.splitlines()) == 1 and "--format needs a value" in err,
      f"explain --format without a value: one line, exit 2 ({err!r})")
rc, out, err = run("explain", "--format", "json", "--", "550")
check(rc == 0 and json.loads(out)["code"] == 550, "explain --format json -- 550")
rc, out, err = run("explain", "--", "--json")
check(rc == 2 and out == "" and "--json: neither" in err, "explain -- --json: --json is an ARG")

# --- explain with nothing to explain: one line, not the whole help ---
for args in ([], ["--json"], ["--format", "json"], ["--"]):
    rc, out, err = run("explain", *args)
    check(rc == 2 and out == ""
          and err == "smtpreply explain: no code given (see smtpreply explain --help)\n",
          f"explain {' '.join(args)} with no code: one line, exit 2 ({err!r})")

# --- blanks around a code ---
rc, plain, _ = run("explain", "--json", "550")
for arg in (" 550", "  550", "\t550"):
    rc, out, err = run("explain", "--json", arg)
    check(rc == 0 and out == plain, f"explain {arg!r}: read as 550 ({err.strip()})")
rc, out, err = run("explain", "--json", "550 ")
check(rc == 0 and json.loads(out)["code"] == 550, "explain '550 ': still accepted")
rc, out, err = run("explain", "--json", " 5.1.1")
check(rc == 0 and json.loads(out)["enhanced"]["code"] == "5.1.1", "explain ' 5.1.1'")
rc, out, err = run("explain", "--json", "  550 5.1.1 no such user")
o = json.loads(out) if rc == 0 else {}
check(o.get("code") == 550 and o.get("line") == "550 5.1.1 no such user",
      "explain '  550 5.1.1 ...': the line without the blanks before it")
for bad in (" ", " 1234", " hello"):
    rc, out, err = run("explain", bad)
    check(rc == 2 and out == "" and len(err.splitlines()) == 1 and repr(bad)[1:-1] in err,
          f"explain {bad!r}: one-line error naming it as given, exit 2 ({err!r})")

# --- codes --format ---
outputs = {}
for fmt, alias in (("json", ["--json"]), ("csv", ["--csv"]), ("text", [])):
    rc, want, _ = run("codes", *alias)
    check(rc == 0 and want, f"codes {' '.join(alias) or '(text)'}")
    for args in (["--format", fmt], [f"--format={fmt}"]):
        rc, out, err = run("codes", *args)
        check(rc == 0 and out == want and err == "", f"codes {' '.join(args)}: same as the alias")
    outputs[fmt] = want
check(len(set(outputs.values())) == 3, "codes: three different formats")
check(run("codes", "--csv", "--format", "json")[1] == outputs["json"], "codes: the last one wins")
for args in (["--format", "xml"], ["--format=yaml"]):
    rc, out, err = run("codes", *args)
    val = args[-1].split("=")[-1]
    check(rc == 2 and out == ""
          and err == f"smtpreply codes: unknown format '{val}' (text, json, csv)\n",
          f"codes {' '.join(args)}: unknown format, exit 2 ({err!r})")
rc, out, err = run("codes", "--format")
check(rc == 2 and out == "" and "--format needs a value" in err, "codes --format without a value")
rc, out, err = run("codes", "--json", "--")
check(rc == 0 and out == outputs["json"], "codes --json --: the end of options")
rc, out, err = run("codes", "--", "x")
check(rc == 2 and out == "" and "x" in err, "codes -- x: no arguments taken, exit 2")

# --- merge -- ---
with tempfile.TemporaryDirectory() as tmp:
    capture = os.path.join(env.SRCDIR, "captures", "delivery-pipelining.pcap")
    rc, _, err = run("-q", "--json", "-o", os.path.join(tmp, "-part.json"), capture)
    check(rc == 0, f"a summary named -part.json ({err!r})")
    p = subprocess.run([SMTPREPLY, "merge", "--", "-part.json"], cwd=tmp, capture_output=True,
                       text=True)
    check(p.returncode == 0 and json.loads(p.stdout)["totals"]["sessions"] > 0,
          f"merge -- -part.json: a file, not an option ({p.stderr!r})")
    p = subprocess.run([SMTPREPLY, "merge", "-part.json"], cwd=tmp, capture_output=True,
                       text=True)
    check(p.returncode == 2 and "unknown option '-part.json'" in p.stderr,
          "merge -part.json without --: an unknown option")

# --- the tally and transcript take the same spellings ---
cap = os.path.join(env.SRCDIR, "captures", "auth-plain.pcap")
rc, want, _ = run("-q", "--json", cap)
for args in (["--format=json"], ["--format", "json", "--"], ["--json", "--jobs=1"]):
    rc, out, err = run("-q", *args, cap)
    check(rc == 0 and out.replace(" ", "") == want.replace(" ", ""), f"tally {' '.join(args)}")
rc, out, err = run("--format", "xml", cap)
check(rc == 2 and err == "smtpreply: unknown format 'xml' (text, json, csv)\n", f"tally bad format: {err!r}")
rc, out, err = run("--max-line", "10", cap)
check(rc == 2 and "from 64 to" in err, f"a bad limit names its range: {err!r}")
rc, out, err = run("transcript", "--format", "xml", cap)
check(rc == 2 and "unknown format 'xml' (text, json)" in err, f"transcript bad format: {err!r}")
rc, out, err = run("transcript")
check(rc == 2 and len(err.splitlines()) == 1, f"transcript with no dialogue: one line ({err!r})")
# --- a mistyped command is named as such ---
rc, out, err = run("explian", "550")
check(rc == 2 and err.startswith("smtpreply: unknown command 'explian'") and out == "",
      f"mistyped command: {err!r}")

# --- merge takes --json / --format json (its output is always JSON) ---
with tempfile.TemporaryDirectory() as tmp:
    summ = os.path.join(tmp, "a.json")
    with open(summ, "w") as f:
        f.write(run("-q", "--json", cap)[1])
    rc, base, _ = run("merge", summ)
    for args in (["--json"], ["--format", "json"], ["--format=json"]):
        rc, out, err = run("merge", *args, summ)
        check(rc == 0 and out == base, f"merge {' '.join(args)}: accepted")
    rc, out, err = run("merge", "--format", "csv", summ)
    check(rc == 2 and err == "smtpreply merge: unknown format 'csv' (json)\n", f"merge --format csv: {err!r}")

finish()
