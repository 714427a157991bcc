# SPDX-License-Identifier: MIT
"""checks.py - the result format every test prints (tests/lib/checks.sh is
the same for shell tests):

  ok   WHAT         a check that held
  FAIL WHAT         a check that did not
  skip WHAT         a check that could not run here (no ../shared, a
                    sanitizer build): counted, never a pass
  N passed, N failed[, N skipped]     the last line

finish() prints the last line and exits 1 on any failure, else 0.
fatal() is for a test that cannot go on: it counts one failure and
finishes at once."""
import sys

_passes = 0
_failures = 0
_skips = 0


def check(cond, what):
    """Counts and prints one check; returns whether it held."""
    global _passes, _failures
    if cond:
        _passes += 1
        print(f"ok   {what}")
    else:
        _failures += 1
        print(f"FAIL {what}")
    sys.stdout.flush()
    return bool(cond)


def skip(what):
    global _skips
    _skips += 1
    print(f"skip {what}")


def note(what):
    """A line of information, not a check."""
    print(f"     {what}")


def counts():
    """(passed, failed, skipped) so far."""
    return _passes, _failures, _skips


def finish():
    line = f"{_passes} passed, {_failures} failed"
    if _skips:
        line += f", {_skips} skipped"
    print(line)
    sys.stdout.flush()
    sys.exit(1 if _failures else 0)


def fatal(what):
    check(False, what)
    finish()
