#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/commit-msg, the commit-message hook: messages of each kind go
through it as files (accepted or rejected, with the reason on stderr),
then through a real `git commit` in a scratch repository with the hook
installed as HACKING.md says.  Runs alone: python3 tests/cli/test_commit_msg.py"""
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from checks import check, finish  # noqa: E402

SRCDIR = os.environ.get("SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
HOOK = os.path.join(SRCDIR, "scripts", "commit-msg")

BODY = "Why it changes, what was measured, which tests ran.\n"


# The hook's own checks, loaded from the script (it has no .py suffix), so
# most messages need no new process; run_hook() runs it as git does.
_loader = importlib.machinery.SourceFileLoader("commit_msg", HOOK)
_spec = importlib.util.spec_from_loader("commit_msg", _loader)
commit_msg = importlib.util.module_from_spec(_spec)
_loader.exec_module(commit_msg)


def hook(text):
    """(exit status, stderr) as the script would give them, in-process."""
    found = commit_msg.problems(text)
    return (1 if found else 0), "".join(f"commit-msg: {p}\n" for p in found)


def run_hook(text):
    with tempfile.NamedTemporaryFile("w", suffix=".msg", delete=False, encoding="utf-8") as f:
        f.write(text)
        path = f.name
    try:
        p = subprocess.run([sys.executable, HOOK, path], capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(path)
    return p.returncode, p.stderr


def accepted(text, what):
    rc, err = hook(text)
    check(rc == 0 and err == "", f"accepted: {what}" + (f" (rc {rc}: {err.strip()})" if rc else ""))


def rejected(text, reason, what):
    rc, err = hook(text)
    check(rc == 1 and reason in err, f"rejected: {what}" + ("" if rc == 1 else f" (rc {rc})"))


check(os.access(HOOK, os.X_OK), "scripts/commit-msg is executable (a symlinked hook must be)")

# Accepted shapes.
accepted("docs: state the contracts\n\n" + BODY, "area, blank line, body")
accepted("reasm, session: end both paths with lose_tail\n\n" + BODY, "two areas")
accepted("tests/cli: add a hook test\n\n" + BODY, "an area with a slash")
accepted("a: " + "x" * 69 + "\n\n" + BODY, "a subject of exactly 72 characters")
accepted("docs: é" + "x" * 63 + "\n\n" + BODY, "72 characters, not bytes")
accepted("docs: fix\n\nline one\n\nparagraph two\n", "a body of two paragraphs")
accepted("# a comment git adds\ndocs: fix\n\n" + BODY + "# Please enter the commit message\n",
         "git's comment lines are ignored")
accepted("docs: fix\n\n" + BODY + "# ------------------------ >8 ------------------------\n"
         "diff --git a/x b/x\n" + "y" * 200 + "\n", "the diff below the scissors line is ignored")
accepted("\n\ndocs: fix\n\n" + BODY + "\n\n", "leading and trailing blank lines")
accepted("Merge branch 'selfcontained'\n", "a merge commit without a body")
accepted("Merge remote-tracking branch 'origin/main' into a branch whose name is long enough\n",
         "a merge commit with a long subject")
accepted("fixup! docs: state the contracts\n", "a fixup! subject")
accepted("squash! docs: state the contracts\n\nmore words\n", "a squash! subject")

# Rejected shapes, each for its own reason.
rejected("a: " + "x" * 70 + "\n\n" + BODY, "73 characters", "a subject of 73 characters")
rejected("reasm, session: the in-order and over-the-cap paths end with lose_tail alone instead"
         " of an if/else\n\n" + BODY, "characters", "a long subject")
rejected("Fix the contracts\n\n" + BODY, "area: ", "a subject without an area")
rejected("docs:fix\n\n" + BODY, "area: ", "no space after the colon")
rejected("docs fix: x\n\n" + BODY, "area: ", "a space inside the area")
rejected(": fix\n\n" + BODY, "area: ", "an empty area")
rejected("docs: fix\nthe second line\n\n" + BODY, "second line is not blank", "no blank second line")
rejected("docs: fix\n", "no body", "a subject alone")
rejected("docs: fix\n\n\n", "no body", "a subject and blank lines")
rejected("docs: fix\n\n# only a comment\n", "no body", "a body of comments only")
rejected("", "empty", "an empty message")
rejected("# only comments\n", "empty", "a message of comments only")
# As a process: the exit statuses and messages git shows.
rc, err = run_hook("docs: fix\n\n" + BODY)
check(rc == 0 and err == "", "as a process: a good message exits 0, silently")
rc, err = run_hook("Fix " + "x" * 70 + "\nnext\n")
check(rc == 1 and all(r in err for r in ("characters", "area: ", "second line")),
      "every problem is named (length, area, blank line)")
p = subprocess.run([sys.executable, HOOK], capture_output=True, text=True, timeout=30)
check(p.returncode == 2, "no argument: usage error, exit 2")

# End to end: the hook installed as HACKING.md says, in a scratch repository.
git = shutil.which("git")
if git:
    with tempfile.TemporaryDirectory() as repo:
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.test",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.test",
                   GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")

        def g(*args):
            return subprocess.run([git, "-C", repo, *args], capture_output=True, text=True,
                                  env=env, timeout=60)

        g("init", "-q")
        os.makedirs(os.path.join(repo, "scripts"))
        shutil.copy(HOOK, os.path.join(repo, "scripts", "commit-msg"))
        os.symlink("../../scripts/commit-msg", os.path.join(repo, ".git", "hooks", "commit-msg"))
        with open(os.path.join(repo, "f"), "w") as f:
            f.write("x\n")
        g("add", "f")
        bad = g("commit", "-q", "-m", "fix the thing")
        check(bad.returncode != 0 and "area: " in bad.stderr, "git commit: a bad message is refused")
        good = g("commit", "-q", "-m", "docs: fix the thing", "-m", "Because it was wrong.")
        check(good.returncode == 0, "git commit: a good message is taken" + (
            "" if good.returncode == 0 else f" ({good.stderr.strip()})"))
        log = g("log", "--format=%s")
        check(log.stdout == "docs: fix the thing\n", "git commit: exactly the good commit is recorded")
else:
    print("git not found: end-to-end checks skipped")

finish()
