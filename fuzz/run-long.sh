#!/usr/bin/env bash
# run-long.sh SECONDS WORKDIR [TARGET...] - the long fuzz runs (outside CI).
# Without TARGETs: every target in build-fuzz/fuzz/ (scripts/test.sh builds
# them), one after the other.
# The per-input timeout is long (FUZZ_TIMEOUT, 600 s) so that pausing the
# fuzzers with SIGSTOP while a benchmark runs is not taken for a hang.
# Runs each libFuzzer target (a path to build-fuzz/fuzz/fuzz_<name>) for
# SECONDS over a corpus kept in WORKDIR/corpus/<name> (seeded from the
# committed one), so time accumulates across runs, and appends one line per
# run to WORKDIR/summary.tsv: date, target, seconds, execs, coverage edges,
# features, corpus files, result.  Crash inputs stay in WORKDIR/<name>/.
# To fold new inputs back into the repo afterwards:
#   fuzz_<name> -merge=1 fuzz/corpus/<name> WORKDIR/corpus/<name>
set -uo pipefail
secs=$1 work=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
  set -- "$here"/../build-fuzz/fuzz/fuzz_*
  [ -x "$1" ] || { echo "run-long.sh: no targets in build-fuzz/fuzz (run scripts/test.sh first)" >&2; exit 2; }
fi
mkdir -p "$work"
[ -f "$work/summary.tsv" ] || printf 'date\ttarget\tseconds\texecs\tcov\tft\tcorpus\tresult\n' >"$work/summary.tsv"
for target in "$@"; do
  # A wrong path is the caller's mistake, not a fuzzing result: no row.
  [ -x "$target" ] || { echo "run-long.sh: $target: not an executable fuzz target" >&2; exit 2; }
  target=$(realpath "$target")
  name=$(basename "$target"); name=${name#fuzz_}
  corpus=$work/corpus/$name
  if [ ! -d "$corpus" ]; then mkdir -p "$corpus"; cp -r "$here/corpus/$name"/. "$corpus/" 2>/dev/null || true; fi
  dict=$here/dict/$name.dict; [ -f "$dict" ] || dict=$here/dict/smtp.dict
  mkdir -p "$work/$name"
  log=$work/$name/$(date +%Y%m%dT%H%M%S).log
  start=$(date +%s)
  (cd "$work/$name" && "$target" -dict="$dict" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-600}" \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$corpus" >"$log" 2>&1)
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  result=clean; [ $rc -eq 0 ] || result="FAILED rc=$rc ($log)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" "$took" "${execs:-?}" \
      "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)" "$result" >>"$work/summary.tsv"
done
