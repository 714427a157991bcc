#!/usr/bin/env bash
# run-one.sh TARGET CORPUS_DIR SECONDS - run one libFuzzer target for a
# bounded time over a scratch copy of its committed corpus (new inputs do
# not dirty the checkout), with its dictionary when one exists.  Fails on
# any crash, leak or sanitizer report.
set -euo pipefail
target=$1 corpus=$2 secs=$3
name=$(basename "$target"); name=${name#fuzz_}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$corpus" ] && cp -r "$corpus"/. "$work/corpus/" 2>/dev/null || true
dict=()
[ -f "$here/dict/$name.dict" ] && dict=(-dict="$here/dict/$name.dict")
[ -f "$here/dict/smtp.dict" ] && [ ${#dict[@]} -eq 0 ] && dict=(-dict="$here/dict/smtp.dict")
cd "$work"
"$target" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 25
