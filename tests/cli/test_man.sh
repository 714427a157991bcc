#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The man page smtpreply(1): groff formats it with the man(7) macros
# without a single warning (-ww), man -l renders it when man-db is there,
# and it describes every sub-command and every long option that
# `smtpreply COMMAND --help` lists.
# (grep reads here-strings: `echo | grep -q` under pipefail fails when grep
# stops reading early.)
set -euo pipefail
: "${SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${SMTPREPLY:=$SRCDIR/build/analyzer/smtpreply}"
. "$SRCDIR/tests/lib/checks.sh"
[ -x "$SMTPREPLY" ] || fail "no smtpreply at $SMTPREPLY (build first, or set SMTPREPLY)"
page=$SRCDIR/man/smtpreply.1
[ -f "$page" ] || fail "no $page"
command -v groff >/dev/null || fail "groff is not installed (apt-get install groff-base)"

warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1) || fail "groff failed: $warnings"
[ -z "$warnings" ] || fail "groff warns about $page:
$warnings"
pass "groff -man -ww formats the page without a warning"
text=$(LC_ALL=C groff -man -Tascii -P-cbou "$page" 2>/dev/null)
for section in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" "SEE ALSO"; do
    grep -qx -- "$section" <<<"$text" || fail "no section $section"
    pass "section $section"
done
if command -v man >/dev/null; then
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>&1 >/dev/null) || fail "man -l failed: $out"
    [ -z "$out" ] || fail "man -l warns: $out"
    pass "man -l renders it"
fi

# Every command `smtpreply --help` lists has its subsection, and every long
# option of its --help is in the page.
commands=$("$SMTPREPLY" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
[ -n "$commands" ] || fail "smtpreply --help lists no commands"
n=0
for c in $commands; do
    grep -q -- "^   smtpreply $c " <<<"$text" || fail "no subsection for 'smtpreply $c'"
    pass "subsection for smtpreply $c"
    for opt in $("$SMTPREPLY" "$c" --help | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u); do
        grep -q -- "$opt" <<<"$text" || fail "option $opt of '$c' is not in the man page"
        pass "$c $opt described"
        n=$((n + 1))
    done
done
echo "smtpreply(1): $(echo $commands | wc -w) commands and $n options described"
finish
