#!/usr/bin/env python3
"""The sub-commands' shared option parser (analyzer/cli.c) and their
option tables: every option that --help lists is accepted in each of its
spellings, long options take --name=VALUE and short ones do not, only -j
takes its value attached (-j4), a missing value is named as it was spelled,
each command words an unknown option as it always has, and exit status 2
for every usage error.

Environment: SMTPREPLY (the binary), SRCDIR (the source tree); run alone,
SRCDIR defaults to the tree this file is in and SMTPREPLY to
SRCDIR/build/analyzer/smtpreply."""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from checks import check, finish  # noqa: E402

SRCDIR = os.environ.get("SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
SMTPREPLY = os.environ.get("SMTPREPLY") or os.path.join(
    os.environ.get("BUILDDIR") or os.path.join(SRCDIR, "build"), "analyzer", "smtpreply")
CAP = os.path.join(SRCDIR, "captures", "auth-plain.pcap")
DIALOGUE = os.path.join(SRCDIR, "captures", "auth-plain.swaks.txt")


def run(*args, cwd=None):
    p = subprocess.run([SMTPREPLY, *args], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


# A value each option accepts, and an argument that makes the run valid.
VALUES = {"--format": "json", "FMT": "json", "FORMAT": "json", "text|json": "json",
          "json": "json", "FILE": os.devnull, "EXPR": "tcp", "N": "1000", "S": "300",
          "MB": "1024", "VERB": "RCPT"}
RUNS = {"tally": [CAP], "explain": ["550"], "codes": [], "transcript": [DIALOGUE],
        "merge": None}


def help_options(cmd):
    """(spellings, metavar) of every option line of `cmd --help`."""
    rc, out, _ = run(cmd, "--help")
    check(rc == 0 and out.startswith("Usage: smtpreply"), f"{cmd} --help")
    found = []
    for line in out.splitlines():
        m = re.match(r"^  (-[-\w]*(?:, -[-\w]+)?)(?: (\S+))?(?:\s|$)", line)
        if m and m.group(1) != "--":
            found.append((m.group(1).split(", "), m.group(2)))
    return found


with tempfile.TemporaryDirectory() as tmp:
    summary = os.path.join(tmp, "s.json")
    rc, _, err = run("-q", "--json", "-o", summary, CAP)
    check(rc == 0, f"a summary to merge ({err!r})")
    RUNS["merge"] = [summary]

    # Every option the help lists is parsed, in every spelling it shows;
    # long ones also as --name=VALUE.
    for cmd, rest in RUNS.items():
        opts = help_options(cmd)
        check(len(opts) >= 3, f"{cmd} --help lists its options ({len(opts)})")
        for spellings, metavar in opts:
            for s in spellings:
                if s in ("-h", "--help", "--version"):
                    rc, out, err = run(cmd, s)
                    check(rc == 0 and out and err == "", f"{cmd} {s}")
                    continue
                value = [VALUES.get(metavar, metavar)] if metavar else []
                forms = [[s, *value]]
                if value and s.startswith("--"):
                    forms.append([f"{s}={value[0]}"])
                for form in forms:
                    if "-o" in form or "--output" in form or form[0].startswith("--output="):
                        form = [f.replace(os.devnull, os.path.join(tmp, "out")) for f in form]
                    rc, out, err = run(cmd, *form, *rest)
                    check(rc == 0 and "unknown" not in err,
                          f"{cmd} {' '.join(form)}: accepted (exit {rc}, {err.strip()!r})")

# Values: "=" only after long names; only -j takes one attached.
for args, want_rc, want_err in (
        (["-j2", CAP, CAP], 0, ""),
        (["-j2x", CAP], 2, "smtpreply: bad value for -j: '2x' (a whole number from 0 to 1024)\n"),
        (["-j", "x", CAP], 2,
         "smtpreply: bad value for --jobs: 'x' (a whole number from 0 to 1024)\n"),
        (["--jobs=", CAP], 2,
         "smtpreply: bad value for --jobs: '' (a whole number from 0 to 1024)\n"),
        (["-jx", CAP], 2, "smtpreply: unknown option '-jx' (see --help)\n"),
        (["-o=out", CAP], 2, "smtpreply: unknown option '-o=out' (see --help)\n"),
        (["-oout", CAP], 2, "smtpreply: unknown option '-oout' (see --help)\n"),
        (["-Ftcp", CAP], 2, "smtpreply: unknown option '-Ftcp' (see --help)\n"),
        (["--json=1", CAP], 2, "smtpreply: unknown option '--json=1' (see --help)\n"),
        (["--formatx", CAP], 2, "smtpreply: unknown option '--formatx' (see --help)\n"),
        (["-qq", CAP], 2, "smtpreply: unknown option '-qq' (see --help)\n"),
        (["-o"], 2, "smtpreply: -o needs a value (see --help)\n"),
        (["--output"], 2, "smtpreply: --output needs a value (see --help)\n"),
        (["-j"], 2, "smtpreply: -j needs a value (see --help)\n"),
        (["--port", "0", CAP], 2,
         "smtpreply: bad value for --port: '0' (a whole number from 1 to 65535)\n"),
        (["--", "-q"], 2, "smtpreply: -q: cannot read: No such file or directory\n"),
        ([], 2, "smtpreply: no capture given (see --help)\n")):
    rc, out, err = run("tally", *args)
    check(rc == want_rc and err == want_err,
          f"tally {' '.join(a if a != CAP else 'CAP' for a in args)}: exit {rc}, {err!r}")

# Each command's wording of an unknown option, unchanged.
for args, want in (
        (["explain", "--bogus", "550"], "smtpreply explain: unknown option --bogus (see --help)\n"),
        (["codes", "--bogus"], "smtpreply codes: unknown argument --bogus (see --help)\n"),
        (["codes", "x"], "smtpreply codes: unknown argument x (see --help)\n"),
        (["codes", "-"], "smtpreply codes: unknown argument - (see --help)\n"),
        (["transcript", "--bogus"], "smtpreply transcript: unknown option --bogus (try --help)\n"),
        (["merge", "--bogus"], "smtpreply merge: unknown option '--bogus' (see --help)\n"),
        (["merge", "-o=x"], "smtpreply merge: unknown option '-o=x' (see --help)\n"),
        (["merge", "-o"], "smtpreply merge: -o needs a value (see --help)\n"),
        (["transcript", "--format"], "smtpreply transcript: --format needs a value (see --help)\n"),
        (["--bogus", CAP], "smtpreply: unknown option '--bogus' (see --help)\n")):
    rc, out, err = run(*args)
    check(rc == 2 and out == "" and err == want, f"{' '.join(args)}: {err!r}")

# Arguments and options interleave in the order given.
rc, _, err = run("transcript", "a", "b", "--bogus")
check(rc == 2 and err == "smtpreply transcript: one dialogue at a time (got a and b)\n",
      f"transcript a b --bogus: the second dialogue first ({err!r})")
rc, _, err = run("transcript", "a", "--bogus", "b")
check(rc == 2 and err == "smtpreply transcript: unknown option --bogus (try --help)\n",
      f"transcript a --bogus b: the option first ({err!r})")
rc, _, err = run("merge", "nonexistent.json", "--bogus")
check(rc == 2 and err.startswith("smtpreply merge: nonexistent.json: "),
      f"merge reads a summary before the option after it ({err!r})")
rc, out, err = run("explain", "--", "-h")
check(rc == 2 and out == "" and err.startswith("smtpreply explain: -h: neither"),
      f"explain -- -h: an argument after -- ({err!r})")
finish()
