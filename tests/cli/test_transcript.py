#!/usr/bin/env python3
"""test_transcript.py - `smtpreply transcript` on the dialogues in
tests/transcripts/: RFC examples (RFC 5321 App. D, RFC 2920, RFC 3030,
RFC 3207, RFC 4954), project-written anomaly cases and real swaks output.
Each NAME.txt has NAME.expected, written from the RFC (one line per reply:
`COMMAND|- CODE ENHANCED|- STAGE [anomaly,...]`, then `unanswered: VERBS`,
then `warning: line N NAME` for each skipped line that looks like dialogue).
Also: the JSON contract keys, text output, stdin, and errors."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR
TDIR = os.path.join(SRCDIR, "tests", "transcripts")


def run(args, stdin=None):
    return subprocess.run([SMTPREPLY, "transcript"] + args, input=stdin,
                          capture_output=True, text=True, timeout=60)


def compact(doc):
    out = []
    for r in doc["replies"]:
        line = "%s %03d %s %s" % (r["command"] or "-", r["code"], r["enhanced"] or "-", r["stage"])
        if r["anomalies"]:
            line += " " + ",".join(sorted(r["anomalies"]))
        out.append(line)
    out.append(("unanswered: " + " ".join(doc["unanswered"])).rstrip())
    for w in doc.get("warnings", []):
        out.append("warning: line %d %s" % (w["line"], w["warning"]))
    return out


def normalise_expected(text):
    lines = []
    for l in text.splitlines():
        parts = l.split(" ")
        if not l.startswith("unanswered:") and len(parts) == 5:
            parts[4] = ",".join(sorted(parts[4].split(",")))
            l = " ".join(parts)
        lines.append(l.rstrip())
    return lines


names = sorted(f[:-4] for f in os.listdir(TDIR) if f.endswith(".txt"))
check(len(names) >= 20, "at least 20 dialogues (found %d)" % len(names))
for name in names:
    exp_path = os.path.join(TDIR, name + ".expected")
    if not check(os.path.exists(exp_path), "%s: has a .expected file" % name):
        continue
    p = run(["--json", os.path.join(TDIR, name + ".txt")])
    if not check(p.returncode == 0, "%s: exit %d %s" % (name, p.returncode, p.stderr.strip())):
        continue
    doc = json.loads(p.stdout)
    # The contract: an object with replies[] and unanswered[]; each reply has
    # these keys; command is a string or null; enhanced a string or null.
    problems = []
    for key in ("replies", "unanswered"):
        if key not in doc:
            problems.append("JSON lacks %s" % key)
    for r in doc["replies"]:
        for key in ("command", "code", "enhanced", "class", "meaning", "anomalies", "stage"):
            if key not in r:
                problems.append("reply lacks %s" % key)
        if r["class"] != r["code"] // 100:
            problems.append("class %r for code %r" % (r["class"], r["code"]))
        if not isinstance(r["meaning"], str) or not r["meaning"]:
            problems.append("empty meaning for %r" % r["code"])
        if (r["command"] is None) != (r["stage"] in ("greeting", "unsolicited")):
            problems.append("command %r with stage %s" % (r["command"], r["stage"]))
    check(not problems, "%s: the JSON contract (%d replies)%s"
          % (name, len(doc["replies"]), "".join("\n  " + x for x in problems)))
    got = compact(doc)
    want = normalise_expected(open(exp_path).read())
    check(got == want, "%s: replies as expected%s" % (name, "" if got == want else
          "\n  expected:\n    %s\n  got:\n    %s" % ("\n    ".join(want), "\n    ".join(got))))

# Stand-alone anomalies and the text output of one dialogue.
p = run(["--json", os.path.join(TDIR, "anomalies.txt")])
doc = json.loads(p.stdout)
check(any(a["anomaly"] == "malformed-reply-line" and a["side"] == "server"
          for a in doc["anomalies"]), "anomalies.txt: malformed-reply-line reported")
p = run([os.path.join(TDIR, "rfc2920-pipelining-errors.txt")])
check(p.returncode == 0, "text output: exit %d" % p.returncode)
text = p.stdout
i_rcpt = text.find("C: RCPT TO:<ned@innosoft.com>")
i_550 = text.find("S: 550 remote mail to <ned@innosoft.com> not allowed")
i_dan = text.find("C: RCPT TO:<dan@innosoft.com>")
check(0 <= i_rcpt < i_550 < i_dan, "text output: the 550 is shown under the RCPT it answers"
      + ("" if 0 <= i_rcpt < i_550 < i_dan else ":\n" + text))
check("class 5" in text, "text output: the class shown")

# Commands held behind a refused STARTTLS: each reply names the line of its
# own command, and the command's own anomaly is in the top-level list.
p = run(["--json", os.path.join(TDIR, "starttls-refused-pipelined.txt")])
doc = json.loads(p.stdout)
lines = {r["command"]: r.get("command_line") for r in doc["replies"] if r["command"]}
check(lines.get("MAIL") == 5 and lines.get("RCPT") == 6,
      "held commands: command_line %r (want MAIL 5, RCPT 6)" % lines)
check({"anomaly": "pipelining-command-not-last", "side": "client", "line": 5,
       "command": "MAIL"} in doc["anomalies"],
      "held commands: the command anomaly in the JSON: %r" % doc["anomalies"])
# A command over 512 octets: its anomaly reaches the JSON too.
p = run(["--json", "-"], stdin="S: 220 x\nC: HELO " + "a" * 600 + "\nS: 500 too long\n")
doc = json.loads(p.stdout)
check([a["anomaly"] for a in doc["anomalies"]] == ["command-line-too-long"],
      "long command: %r" % doc["anomalies"])
# Aligned columns: extra blanks after "C:" and "S:" are not part of the line.
p = run(["--json", "-"], stdin="S:  220 x\nC:   QUIT\nS:  221 bye\n")
check(compact(json.loads(p.stdout)) == ["- 220 - greeting", "QUIT 221 - reply", "unanswered:"],
      "aligned columns: %r" % p.stdout)

# A file with CRLF line ends reads the same.
src = open(os.path.join(TDIR, "rfc5321-d1-typical.txt")).read()
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, newline="") as f:
    f.write(src.replace("\n", "\r\n"))
p = run(["--json", f.name])
os.unlink(f.name)
want = normalise_expected(open(os.path.join(TDIR, "rfc5321-d1-typical.expected")).read())
check(p.returncode == 0 and compact(json.loads(p.stdout)) == want,
      "CRLF file: %r" % p.stdout[:200])

# stdin, errors, help.
p = run(["--json", "-"], stdin="S: 220 x\r\nC: QUIT\r\nS: 221 bye\r\n")
check(p.returncode == 0 and compact(json.loads(p.stdout)) == ["- 220 - greeting",
                                                               "QUIT 221 - reply",
                                                               "unanswered:"],
      "stdin: %r %r" % (p.returncode, p.stdout))
p = run(["/nonexistent/dialogue.txt"])
check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
      and "nonexistent" in p.stderr,
      "missing file: exit %d, stderr %r" % (p.returncode, p.stderr))
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    f.write("just prose, no dialogue\n")
p = run([f.name])
os.unlink(f.name)
check(p.returncode == 2, "no dialogue: exit %d" % p.returncode)
p = run(["--help"])
check(p.returncode == 0 and "transcript" in p.stdout, "--help")
p = run([])
check(p.returncode == 2, "no argument: exit %d" % p.returncode)
p = run(["--bogus", "x"])
check(p.returncode == 2, "bad option: exit %d" % p.returncode)

print("%d dialogues" % len(names))
finish()
