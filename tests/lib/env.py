# SPDX-License-Identifier: MIT
"""env.py - where the tests find the tree, the build and the shared data.

Every Python test imports this module instead of reading os.environ, so it
runs alone from a plain build (`python3 tests/cli/test_codes.py`) as well as
under ctest, which sets the same variables (tests/CMakeLists.txt).  Each
value comes from the environment when set, else from its default:

  SRCDIR            the source tree: two folders above this file
  BUILDDIR          SRCDIR/build
  SMTPREPLY         BUILDDIR/analyzer/smtpreply
  SMTPREPLY_PLUGIN  BUILDDIR/plugin/smtpreply.so (plugin tests only)
  SHARED            SRCDIR/../shared (public captures with truth, seeds);
                    tests skip what needs it when it is absent

The values are written back to os.environ, so the scripts and programs a
test starts (bench/run.sh, tests/damaged/gen_damaged.py) see them too.
"""
import importlib.util
import os
import shutil
import subprocess
import sys

_here = os.path.dirname(os.path.abspath(__file__))


def _get(name, default):
    value = os.environ.get(name) or default
    os.environ[name] = value
    return value


SRCDIR = _get("SRCDIR", os.path.normpath(os.path.join(_here, "..", "..")))
BUILDDIR = _get("BUILDDIR", os.path.join(SRCDIR, "build"))
SMTPREPLY = _get("SMTPREPLY", os.path.join(BUILDDIR, "analyzer", "smtpreply"))
SMTPREPLY_PLUGIN = _get("SMTPREPLY_PLUGIN", os.path.join(BUILDDIR, "plugin", "smtpreply.so"))
SHARED = _get("SHARED", os.path.normpath(os.path.join(SRCDIR, "..", "shared")))
CAPTURES = os.path.join(SRCDIR, "captures")
SHARED_CAPTURES = os.path.join(SHARED, "captures")
# Debian's interpreter: python3-scapy installs there, not into a pyenv.
SYSTEM_PYTHON = "/usr/bin/python3"


def _give_up(message):
    """A test that cannot start: one line saying why, then the closing
    line of the result format (tests/lib/checks.py), exit 1."""
    print("FAIL " + message)
    print("0 passed, 1 failed")
    sys.exit(1)


def smtpreply():
    """The analyzer's path; ends the test with a clear message when it is
    not built."""
    if not (os.path.isfile(SMTPREPLY) and os.access(SMTPREPLY, os.X_OK)):
        _give_up("no smtpreply binary at %s: build it first (cmake -S . -B build && "
                 "cmake --build build) or set SMTPREPLY" % SMTPREPLY)
    return SMTPREPLY


def plugin():
    """The built Wireshark plugin's path; ends the test when it is absent."""
    if not os.path.isfile(SMTPREPLY_PLUGIN):
        _give_up("no plugin at %s: configure with -DSMTPREPLY_PLUGIN=ON and build, or set "
                 "SMTPREPLY_PLUGIN" % SMTPREPLY_PLUGIN)
    return SMTPREPLY_PLUGIN


def need_program(name, package):
    """Ends the test with a message naming the package when NAME is not
    on the PATH."""
    if shutil.which(name) is None:
        _give_up("%s is not installed (apt-get install %s)" % (name, package))


def need_scapy():
    """Makes `import scapy` work: when this interpreter lacks it but the
    system one has it (python3-scapy), the test starts again under the
    system interpreter; otherwise it ends with a message."""
    if importlib.util.find_spec("scapy") is not None:
        return
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and os.path.exists(SYSTEM_PYTHON)
            and subprocess.run([SYSTEM_PYTHON, "-c", "import scapy"],
                               stderr=subprocess.DEVNULL).returncode == 0):
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    _give_up("scapy is not installed (apt-get install python3-scapy)")


def shared_present():
    return os.path.isdir(SHARED_CAPTURES)


def plugin_subdir():
    """The plugin folder below a plugin directory, "<major>.<minor>/epan",
    for the tshark on the PATH (SMTPREPLY_PLUGIN_SUBDIR overrides; the
    build passes the one of the Wireshark it compiled against)."""
    sub = os.environ.get("SMTPREPLY_PLUGIN_SUBDIR")
    if sub:
        return sub
    import re
    import subprocess
    try:
        out = subprocess.run(["tshark", "--version"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    m = re.search(r"\b(\d+)\.(\d+)\.\d+", out)
    if not m:
        _give_up("cannot tell the Wireshark version from tshark --version; set "
                 "SMTPREPLY_PLUGIN_SUBDIR (e.g. 4.0/epan)")
    return "%s.%s/epan" % (m.group(1), m.group(2))
