#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CLI tests for `smtpreply explain`: text and JSON, the RFC answers, bad
input and exit statuses (docs/contracts.md, `smtpreply explain`)."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip  # noqa: E402

SMTPREPLY = env.smtpreply()
SHARED = env.SHARED


def run(*args):
    p = subprocess.run([SMTPREPLY, "explain", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def explain_json(*args):
    rc, out, err = run("--json", *args)
    return rc, (json.loads(out) if out.strip() else None), err


KEYS = {"code", "class", "category", "status", "meaning", "rfc", "commands", "notes", "enhanced"}
STATUSES = {"standard", "registry", "historic", "non-standard", "invalid", "unassigned"}
ESC_KEYS = {"code", "class", "subject", "detail", "meaning", "rfc", "status"}


def check_shape(o, what):
    check(KEYS <= set(o), f"{what}: keys {sorted(KEYS - set(o))} missing")
    check(o["status"] in STATUSES, f"{what}: status {o['status']}")
    for k in ("rfc", "commands", "notes"):
        check(isinstance(o[k], list) and all(isinstance(x, str) for x in o[k]), f"{what}: {k} list")
    check(isinstance(o["class"], int) and isinstance(o["category"], int), f"{what}: numbers")
    check(o["code"] is None or isinstance(o["code"], int), f"{what}: code type")
    if o["enhanced"] is not None:
        check(ESC_KEYS <= set(o["enhanced"]), f"{what}: enhanced keys")


# --- the RFC answers (RFC 4954 §6, RFC 7504, RFC 5321 §4.1.1.11, RFC 876) ---
rc, o, _ = explain_json("534")
check(rc == 0, "534 exit 0")
check_shape(o, "534")
check(o["code"] == 534 and o["class"] == 5 and o["category"] == 3, "534 digits")
check(o["status"] == "standard" and "too weak" in o["meaning"].lower(), "534 meaning is AUTH too weak")
check(any("RFC 4954" in r for r in o["rfc"]), "534 RFC 4954")
check("AUTH" in o["commands"], "534 AUTH")
check(any("5.3.4" in n and "Exchange" in n for n in o["notes"]), "534 folklore note names Exchange 5.3.4")
check("too big" not in o["meaning"].lower(), "534 folklore is not the meaning")

rc, o, _ = explain_json("535")
check("credentials invalid" in o["meaning"].lower(), "535 credentials invalid")
rc, o, _ = explain_json("432")
check("password transition" in o["meaning"].lower() and o["status"] == "standard", "432 AUTH")
check(any(c["command"] == "AUTH" and "password" in c["meaning"].lower() for c in o["contexts"]), "432 AUTH context")
rc, o, _ = explain_json("454")
cmds = {c["command"]: c["meaning"] for c in o["contexts"]}
check("TLS" in cmds.get("STARTTLS", "") and "authentication" in cmds.get("AUTH", "").lower(), "454 contexts")
rc, o, _ = explain_json("521")
check(any("RFC 7504" in r for r in o["rfc"]) and "CONNECT" in o["commands"], "521 RFC 7504 greeting")
rc, o, _ = explain_json("555")
check(any("RFC 5321 §4.1.1.11" in r for r in o["rfc"]), "555 RFC 5321 §4.1.1.11")
rc, o, _ = explain_json("556")
check(any("RFC 7504" in r for r in o["rfc"]) and o["commands"] == ["RCPT"], "556 RFC 7504 RCPT")
rc, o, _ = explain_json("200")
check(o["status"] == "non-standard" and o["rfc"] == [], "200 non-standard")
rc, o, _ = explain_json("523")
check(o["status"] == "registry", "523 registry")
for code in ("101", "471", "571", "600", "999", "000"):
    rc, o, _ = explain_json(code)
    check(rc == 0 and o["status"] == "invalid" and o["code"] == int(code), f"{code} invalid, exit 0")
rc, o, _ = explain_json("259")
check(o["status"] == "unassigned" and o["class"] == 2 and o["category"] == 5, "259 unassigned")
rc, o, _ = explain_json("500")
check(o["commands"][0] == "ANY", "500 any command")

# --- enhanced code alone: code null, class/status/meaning its own ---
rc, o, _ = explain_json("5.1.1")
check(rc == 0, "5.1.1 exit 0")
check_shape(o, "5.1.1")
check(o["code"] is None and o["class"] == 5 and o["status"] == "standard", "5.1.1 top level")
check(o["meaning"] == "Bad destination mailbox address", "5.1.1 meaning")
e = o["enhanced"]
check(e["code"] == "5.1.1" and e["class"] == 5 and e["subject"] == 1 and e["detail"] == 1, "5.1.1 enhanced")
rc, o, _ = explain_json("4.1.99")
check(o["status"] == "unassigned" and o["enhanced"]["status"] == "unassigned", "4.1.99 unassigned")
check(o["meaning"] == "Addressing Status", "4.1.99 falls back to the subject")

# --- whole reply lines, both separators; mismatch pointed out ---
rc, o, _ = explain_json("550 5.1.1 <bob@example.org>: Recipient address rejected")
check(rc == 0 and o["code"] == 550 and o["enhanced"]["code"] == "5.1.1", "reply line")
check(not any("Mismatch" in n for n in o["notes"]), "550 5.1.1 agrees")
rc, o, _ = explain_json("550-5.1.1 first line")
check(rc == 0 and o["code"] == 550 and o["enhanced"]["code"] == "5.1.1", "continuation line")
rc, o, _ = explain_json("450 5.1.1 mismatch")
check(any("Mismatch" in n for n in o["notes"]), "450 5.1.1 mismatch noted")
rc, o, _ = explain_json("250 ok")
check(rc == 0 and o["code"] == 250 and o["enhanced"] is None, "line without enhanced code")

# --- several ARGs: an array; bad ones on stderr, exit 2, good ones kept ---
rc, o, err = explain_json("550", "5.01.1", "5.7.1")
check(rc == 2, "mixed args exit 2")
check(isinstance(o, list) and [x["code"] for x in o] == [550, None], "good args still printed")
check(len([l for l in err.splitlines() if l.strip()]) == 1 and "5.01.1" in err, "one-line error")
for bad in ("5.01.1", "6.1.1", "5.1.1000", "hello", "1234", "55", ""):
    rc, out, err = run(bad)
    check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1, f"bad {bad!r}: exit 2, one line")
rc, out, err = run()
check(rc == 2, "no args: usage error")
rc, out, err = run("--bogus", "550")
check(rc == 2, "unknown option")

# --- text output for a person ---
rc, out, _ = run("550 5.1.1 <bob@example.org>: Recipient address rejected")
for word in ("class:", "category:", "status:", "standard", "RFC 5321", "commands:", "RCPT",
             "retry:", "enhanced:", "Bad destination mailbox address"):
    check(word in out, f"text output has {word!r}")
rc, out, _ = run("450 5.1.1 x")
check("Mismatch" in out, "text: mismatch")
rc, out, _ = run("534")
check("Exchange" in out and "5.3.4" in out and "AUTH" in out, "text: 534 folklore note")
rc, out, _ = run("--help")
check(rc == 0 and "Usage: smtpreply explain" in out, "--help")
rc, out, _ = run("--version")
check(rc == 0 and re.match(r"smtpreply \d+\.\d+", out), "--version")

# --- every code a seed names: explained, right digits, never unassigned ---
seeds = os.path.join(SHARED, "seeds") if SHARED else ""
if seeds and os.path.isdir(seeds):
    codes = set()
    for name in sorted(os.listdir(seeds)):
        with open(os.path.join(seeds, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"^[\s|\-]*(\d{3})(?!\d)(?! Codes)", line)
                if m:
                    codes.add(m.group(1))
    check(len(codes) >= 60, f"seed parse found {len(codes)} codes")
    rc, arr, _ = explain_json(*sorted(codes))
    check(rc == 0 and len(arr) == len(codes), "all seed codes explained")
    for o in arr:
        c = o["code"]
        valid = 2 <= c // 100 <= 5 and c // 10 % 10 <= 5
        check(o["class"] == c // 100 and o["category"] == c // 10 % 10, f"{c} digits")
        check(o["status"] != "unassigned", f"{c} is in the table")
        check((o["status"] == "invalid") == (not valid), f"{c} invalid iff ABNF says so")
        if o["status"] in ("standard", "historic", "registry"):
            check(o["rfc"] and all(r.startswith("RFC ") for r in o["rfc"]), f"{c} names its RFC")
else:
    skip("the seed checks (%s not present)" % seeds)

finish()
