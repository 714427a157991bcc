#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-format.sh - check every C file against .clang-format (and
# plugin/.clang-format) with clang-format 14, without changing anything.
#   scripts/check-format.sh [FILE...]    default: every tracked .c and .h
# The .def tables are not C statements and are left as written.
# Exit status: 0 all formatted; 1 some file differs (clang-format names each
# place); 2 clang-format-14 is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format-14}
command -v "$cf" >/dev/null || { echo "check-format: $cf not found (apt-get install clang-format-14)" >&2; exit 2; }
if [ $# -gt 0 ]; then
    files=("$@")
else
    mapfile -t files < <(git ls-files '*.c' '*.h')
fi
[ ${#files[@]} -gt 0 ] || { echo "check-format: no C files" >&2; exit 0; }
status=0
for f in "${files[@]}"; do
    case $f in *.def) continue ;; esac
    "$cf" --style=file --dry-run -Werror "$f" || status=1
done
if [ $status -ne 0 ]; then
    echo "check-format: some files differ; '$cf -i FILE' formats one" >&2
fi
exit $status
