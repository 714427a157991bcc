#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The benchmark's smoke run: a small generated capture (600 sessions,
retransmissions, out-of-order segments, IPv4 and IPv6) through the same
script as the real measurement, bench/run.sh.  It checks correctness only
(run.sh fails unless smtpreply's totals equal the generator's truth);
timings here mean nothing."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402

env.smtpreply()
p = subprocess.run([os.path.join(env.SRCDIR, "bench", "run.sh"), "--sessions", "600",
                    "--runs", "1", "--no-tshark"],
                   env=dict(os.environ, BUILD=env.BUILDDIR,
                            BENCH_DATA=os.path.join(env.BUILDDIR, "bench-data")),
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
print(p.stdout, end="")
check(p.returncode == 0, "bench/run.sh --sessions 600: exit %d (the totals equal the "
      "generator's truth)" % p.returncode)
finish()
