#!/usr/bin/env bash
# bench/run.sh [--quick|--large] [--runs N] [--no-tshark] - one command for
# the analyzer benchmark.  On the same generated capture, in the same run,
# it times:
#   floor      a bare libpcap pcap_next_ex loop (bench/pcap_floor.c)
#   smtpreply  smtpreply --format json
#   tshark     tshark -T fields -e smtp.response.code (Wireshark's dissector)
# Each runs N times (default 3).  It reports the median wall time, the ratio
# to the floor, peak RSS (/usr/bin/time -v) and packets/s and sessions/s,
# and fails if smtpreply's totals differ from the generator's truth.
# Sizes: --quick about 50 MB (6k sessions), --large about 840 MB (100k).
# --jobs also measures -j scaling: N = nproc copies of the capture (equal
# sizes) read with -j 1 and with -j N; reports the speed-up and checks that
# both outputs are byte for byte the same.
set -euo pipefail
cd "$(dirname "$0")/.."
size=quick runs=3 tshark=1 sessions= jobs=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) size=quick ;;
    --large) size=large ;;
    --sessions) sessions=$2; shift ;;
    --runs) runs=$2; shift ;;
    --no-tshark) tshark=0 ;;
    --jobs) jobs=1 ;;
    *) echo "usage: bench/run.sh [--quick|--large|--sessions N] [--runs N] [--no-tshark] [--jobs]" >&2; exit 2 ;;
  esac
  shift
done
case $size in quick) n=${sessions:-6000} conc=500 ;; large) n=${sessions:-100000} conc=10000 ;; esac
[ -n "$sessions" ] && [ "$size" = quick ] && conc=$(( sessions < 500 ? sessions : 500 ))
build=${BUILD:-build}
[ -x "$build/analyzer/smtpreply" ] && [ -x "$build/bench/pcap_floor" ] || {
  cmake -S . -B "$build" >/dev/null && cmake --build "$build" -j "$(nproc)" >/dev/null; }
data=${BENCH_DATA:-bench/data}
mkdir -p "$data"
cap=$data/smtp-$n-$conc.pcap
[ -f "$cap" ] && [ -f "$cap.truth.json" ] || /usr/bin/python3 bench/gen_capture.py "$cap" "$n" "$conc" 1

# time_it NAME CMD...: median wall seconds and max RSS (KB) over $runs runs
declare -A wall rss
time_it() {
  local name=$1; shift
  local ts=() peak=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -v -o /tmp/bench.time "$@" > /tmp/bench.out 2>/dev/null
    ts+=("$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' /tmp/bench.time)")
    local r; r=$(awk -F': ' '/Maximum resident/{print $2}' /tmp/bench.time)
    [ "$r" -gt "$peak" ] && peak=$r
  done
  wall[$name]=$(printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  rss[$name]=$peak
}

# Read the file once first: every tool then reads from the page cache (this
# VM's memory reclaim evicts cold files, which made single floor runs 5x
# slower).
cat "$cap" > /dev/null
time_it floor "$build/bench/pcap_floor" "$cap"
packets=$(awk '{print $1}' /tmp/bench.out)
time_it smtpreply "$build/analyzer/smtpreply" --format json -q "$cap"
cp /tmp/bench.out /tmp/bench.smtpreply.json
/usr/bin/python3 - "$cap.truth.json" /tmp/bench.smtpreply.json <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); o = json.load(open(sys.argv[2]))["totals"]
bad = [k for k in ("sessions", "replies", "codes", "classes", "enhanced") if o[k] != t[k]]
if bad:
    print("bench: smtpreply's totals differ from the truth in", bad, file=sys.stderr); sys.exit(1)
print(f"correct: {o['sessions']} sessions, {o['replies']} replies equal the generator's truth")
PY
[ "$tshark" = 1 ] && command -v tshark >/dev/null && time_it tshark tshark -n -r "$cap" -T fields -e smtp.response.code

bytes=$(stat -c %s "$cap")
cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
echo
echo "Capture: $cap, $((bytes / 1000000)) MB, $packets packets, $n sessions ($conc concurrent); median of $runs runs"
echo "Machine: $(nproc) cores, $cpu, $(free -g | awk '/Mem:/{print $2}') GB RAM"
echo
echo "| tool | wall (s) | × floor | peak RSS (MB) | packets/s | sessions/s |"
echo "|---|---|---|---|---|---|"
for name in floor smtpreply tshark; do
  [ -n "${wall[$name]:-}" ] || continue
  awk -v n="$name" -v w="${wall[$name]}" -v f="${wall[floor]}" -v r="${rss[$name]}" -v p="$packets" -v s="$n" \
    'BEGIN{ if (w <= 0) w = 0.001; printf "| %s | %.2f | %.1f | %.0f | %.0f | %.0f |\n", n, w, w/f, r/1024, p/w, s/w }'
done

if [ "$jobs" = 1 ]; then
  ncpu=$(nproc)
  copies=()
  for i in $(seq "$ncpu"); do
    ln -f "$cap" "$data/jobs-copy-$i.pcap"; copies+=("$data/jobs-copy-$i.pcap")
  done
  time_it j1 "$build/analyzer/smtpreply" --format json -q -j 1 "${copies[@]}"
  cp /tmp/bench.out /tmp/bench.j1.json
  time_it jn "$build/analyzer/smtpreply" --format json -q -j "$ncpu" "${copies[@]}"
  cmp -s /tmp/bench.j1.json /tmp/bench.out || { echo "bench: -j $ncpu output differs from -j 1" >&2; exit 1; }
  rm -f "${copies[@]}"
  echo
  echo "-j scaling: $ncpu files of $((bytes / 1000000)) MB; outputs identical"
  echo
  echo "| run | wall (s) | speed-up | efficiency (speed-up / N) | peak RSS (MB) |"
  echo "|---|---|---|---|---|"
  awk -v w1="${wall[j1]}" -v wn="${wall[jn]}" -v n="$ncpu" -v r1="${rss[j1]}" -v rn="${rss[jn]}" 'BEGIN{
    printf "| -j 1 | %.2f | 1.00 | 1.00 | %.0f |\n", w1, r1/1024;
    printf "| -j %d | %.2f | %.2f | %.2f | %.0f |\n", n, wn, w1/wn, w1/wn/n, rn/1024 }'
fi
