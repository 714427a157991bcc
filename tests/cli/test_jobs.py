#!/usr/bin/env python3
"""`smtpreply -j N`: N files read at once give exactly the output
of -j 1: the same bytes on stdout and stderr, the same exit status, in every
format and with --replies; on our captures, the public ones when present,
generated ones of equal size, and with unreadable inputs mixed in."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR
SHARED = env.SHARED



def run(args):
    p = subprocess.run([SMTPREPLY, "-q", *args], capture_output=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    # Four generated captures of equal size (the benchmark's generator), so
    # workers finish out of order and the replay order matters.
    gen = []
    for seed in range(4):
        path = os.path.join(tmp, f"gen{seed}.pcap")
        subprocess.run([sys.executable, os.path.join(SRCDIR, "bench", "gen_capture.py"), path,
                        str(300 + 100 * seed), "50", str(seed)], check=True,
                       stdout=subprocess.DEVNULL)
        gen.append(path)
    inputs = [os.path.join(SRCDIR, "captures")] + gen
    shared = os.path.join(SHARED, "captures")
    if SHARED and os.path.isdir(shared):
        inputs.append(shared)
    else:
        print("note: ../shared/captures absent, our captures and generated ones only")
    missing = os.path.join(tmp, "no-such-file.pcap")
    garbage = os.path.join(tmp, "garbage.pcap")
    with open(garbage, "wb") as f:
        f.write(b"not a capture at all\n" * 10)
    mixed = [gen[0], missing, garbage, os.path.join(SRCDIR, "captures"), gen[1]]

    for name, files in (("all captures", inputs), ("with unreadable inputs", mixed)):
        for fmt in (["--format", "json"], ["--format", "text"], ["--format", "csv"],
                    ["--replies"]):
            want = run(fmt + files)
            for jobs in ("2", "3", "0"):
                got = run(["-j", jobs] + fmt + files)
                check(got == want,
                      f"{name}, {' '.join(fmt)}: -j {jobs} equals -j 1 "
                      f"(exit {got[0]} vs {want[0]}, {len(got[1])} vs {len(want[1])} bytes)")
    check(run(["-j", "2", "--json"] + mixed)[0] == 1, "unreadable inputs: exit 1 with -j 2 too")
    check(run(["-j2", "--json", gen[0], gen[1]]) == run(["--json", gen[0], gen[1]]),
          "-j2 (attached value) accepted")
    for bad in ("-1", "x", "", "1025"):
        code, out, err = run(["-j", bad, gen[0]])
        check(code == 2 and b"-j" in err and out == b"", f"-j '{bad}': usage error")
    # -j with one file, and the same file twice: nothing shared between jobs.
    check(run(["-j", "4", "--json", gen[2]]) == run(["--json", gen[2]]), "-j 4 with one file")
    check(run(["-j", "2", "--json", gen[2], gen[2]]) == run(["--json", gen[2], gen[2]]),
          "-j 2 with the same file twice")

finish()
