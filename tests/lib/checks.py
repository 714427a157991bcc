"""checks.py - the pass/fail bookkeeping the CLI tests share: check() prints
one line per check, finish() prints the count and exits non-zero on any
failure."""
import sys

_passes = 0
_failures = 0


def check(cond, what):
    global _passes, _failures
    if cond:
        _passes += 1
        print(f"ok   {what}")
    else:
        _failures += 1
        print(f"FAIL {what}")
    return bool(cond)


def finish():
    print(f"{_passes} passed, {_failures} failed")
    sys.exit(1 if _failures else 0)
