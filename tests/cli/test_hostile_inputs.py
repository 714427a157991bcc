#!/usr/bin/env python3
"""Inputs shaped to make the tally misbehave rather than to look broken
(found in review):
- a directory with symlinks back to itself: each directory is read once,
  and the walk ends (two such links used to make it exponential);
- many files with -j under a low open-file limit: -j keeps a bounded
  number of spools open, so the output is still that of -j 1;
- pcapng timestamps past what a 64-bit nanosecond count holds: no
  overflow (UBSan would report it in the sanitizer build), and the session
  stays one session."""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402
import pcapgen  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR
CAPTURE = os.path.join(SRCDIR, "captures", "delivery-pipelining.pcap")



def run(args, nofile=None):
    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    try:
        return subprocess.run([SMTPREPLY, "-q", *args], capture_output=True, timeout=60,
                              preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return None


with tempfile.TemporaryDirectory() as tmp:
    # 1. Symlink loops.
    d = os.path.join(tmp, "loops")
    os.makedirs(os.path.join(d, "sub"))
    shutil.copy(CAPTURE, os.path.join(d, "a.pcap"))
    shutil.copy(CAPTURE, os.path.join(d, "sub", "b.pcap"))
    os.symlink(".", os.path.join(d, "self1"))
    os.symlink(".", os.path.join(d, "self2"))
    os.symlink("..", os.path.join(d, "sub", "parent"))
    p = run(["--json", d])
    check(p is not None, "two self-links and a parent link: the walk ends")
    if p:
        out = json.loads(p.stdout)
        check(p.returncode == 0 and out["totals"]["sessions"] == 2,
              f"each capture read once (exit {p.returncode}, "
              f"{out['totals']['sessions']} sessions)")
        skipped = [f["path"] for f in out["files"]
                   if any(pr.startswith("skipped: directory already read") for pr in f["problems"])]
        check(len(skipped) == 3, f"the three links listed as skipped: {skipped}")

    # 2. Many files, -j, a low open-file limit.
    many = os.path.join(tmp, "many")
    os.makedirs(many)
    for i in range(60):
        shutil.copy(CAPTURE, os.path.join(many, f"c{i:02d}.pcap"))
    one = run(["--json", many], nofile=32)
    for jobs in ("2", "4"):
        par = run(["--json", "-j", jobs, many], nofile=32)
        check(one is not None and par is not None and one.returncode == 0 and
              (par.returncode, par.stdout, par.stderr) == (one.returncode, one.stdout, one.stderr),
              f"60 files, open-file limit 32: -j {jobs} equals -j 1 "
              f"(exit {par.returncode if par else 'hung'})")

    # 3. Timestamps beyond year 2255 in pcapng (64-bit, microseconds).
    linktype, _snaplen, recs = pcapgen.read_pcap(CAPTURE)
    blocks = [pcapgen.pcapng_shb(), pcapgen.pcapng_idb(linktype, 262144)]
    base = 0xF0000000 << 32   # about 1.15e13 seconds
    for k, r in enumerate(recs):
        ts = base + k * 1000   # 1 ms apart
        blocks.append(pcapgen.epb(ts, r.caplen, r.wirelen, r.data))
    far = os.path.join(tmp, "far-future.pcapng")
    with open(far, "wb") as f:
        f.write(b"".join(blocks))
    p = run(["--json", far])
    check(p is not None and p.returncode == 0, "far-future timestamps: exit 0, no crash")
    if p and p.returncode == 0:
        out = json.loads(p.stdout)
        check(out["totals"]["sessions"] == 1 and out["totals"]["replies"] == 10 and
              out["totals"]["evicted_flows"] == 0,
              f"one session with its 10 replies, nothing evicted ({out['totals']['sessions']} "
              f"sessions, {out['totals']['replies']} replies)")
        s = out["sessions"][0]
        check(s["start"] > 0 and s["end"] >= s["start"],
              f"times held at the limit, not wrapped negative ({s['start']}, {s['end']})")
        check(not p.stderr, f"nothing on stderr ({p.stderr[:200]!r})")

finish()
