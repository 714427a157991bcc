#!/usr/bin/env bash
# The benchmark's smoke run: a small generated capture (600 sessions,
# retransmissions, out-of-order segments, IPv4 and IPv6) through the same
# script as the real measurement.  It checks correctness only (smtpreply's
# totals equal the generator's truth); timings here mean nothing.
set -euo pipefail
BUILD=$BUILDDIR BENCH_DATA=$BUILDDIR/bench-data "$SRCDIR/bench/run.sh" \
  --sessions 600 --runs 1 --no-tshark
