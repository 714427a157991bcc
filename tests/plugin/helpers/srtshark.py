# SPDX-License-Identifier: MIT
"""Run tshark with the freshly built smtpreply plugin, as an unprivileged user.

Wireshark loads no personal plugins (nor WIRESHARK_PLUGIN_DIR) for root,
so when the tests run as root tshark runs as uid/gid 65534 over a
world-readable temporary copy of the plugin and of the captures.
WIRESHARK_PLUGIN_DIR replaces the global plugin folder; Wireshark looks in
<dir>/<major>.<minor>/epan/ of its own version (SMTPREPLY_PLUGIN_SUBDIR, from
the build).  Every call has a timeout.  Same rules as lib.sh.
"""
import atexit
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import checks  # noqa: E402
import env  # noqa: E402

TIMEOUT = int(os.environ.get("TSHARK_TIMEOUT", "120"))
PLUGIN = env.plugin()
SRCDIR = env.SRCDIR
SHARED = env.SHARED
CLI = env.SMTPREPLY if os.path.isfile(env.SMTPREPLY) else None
SUBDIR = env.plugin_subdir()


def fail(msg):
    """The test cannot go on: one failure, then the closing line."""
    checks.fatal(msg)


env.need_program("tshark", "tshark")

TMP = tempfile.mkdtemp(prefix="smtpreply-plugin-test.")
atexit.register(shutil.rmtree, TMP, True)
os.chmod(TMP, 0o755)
PLUGIN_DIR = os.path.join(TMP, "plugins")
STAGED_PLUGIN = os.path.join(PLUGIN_DIR, SUBDIR, os.path.basename(PLUGIN))
os.makedirs(os.path.dirname(STAGED_PLUGIN))
os.makedirs(os.path.join(TMP, "captures"))
HOME = os.path.join(TMP, "home")
os.makedirs(HOME)
shutil.copy(PLUGIN, STAGED_PLUGIN)
for root, dirs, files in os.walk(TMP):
    for d in dirs:
        os.chmod(os.path.join(root, d), 0o755)
    for f in files:
        os.chmod(os.path.join(root, f), 0o644)
os.chmod(HOME, 0o777)


def tshark(*args, check=True):
    """Runs tshark ARGS with the plugin; returns (rc, stdout, stderr)."""
    cmd = []
    if os.geteuid() == 0:
        cmd += ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    cmd += ["env", "HOME=" + HOME, "WIRESHARK_PLUGIN_DIR=" + PLUGIN_DIR,
            "timeout", str(TIMEOUT), "tshark"] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, errors="replace")
    if p.returncode == 124:
        fail("tshark timed out: " + " ".join(args))
    if check and p.returncode != 0:
        fail("tshark %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p.returncode, p.stdout, p.stderr


# tshark's exit status when it stopped at a damaged or cut record after
# dissecting the records before it: 2 up to 4.4, WS_EXIT_READ_ERROR (14,
# include/ws_exit_codes.h) from 4.6.  Each comes with one of the read-error
# messages of cfile_read_failure_message() on stderr; a 2 or 14 without
# one is some other failure.
READ_STOPPED_STATUS = (2, 14)
READ_STOPPED_MESSAGE = re.compile(
    r"appears to be damaged or corrupt|appears to have been cut short|"
    r"may be damaged or corrupt")
_stopped_noted = set()


def read_stopped(rc, err):
    """True when tshark read a capture up to a damaged record and said so."""
    return rc in READ_STOPPED_STATUS and READ_STOPPED_MESSAGE.search(err or "") is not None


def check_read(rc, err, args):
    """Fails unless tshark read the whole capture (0) or stopped at a
    damaged record (read_stopped): what it dissected before that is what
    the truth of a damaged capture describes, so the checks compare it.
    Says once per capture that it stopped."""
    if rc == 0:
        return
    if not read_stopped(rc, err):
        fail("tshark %s exited %d: %s" % (" ".join(args), rc, err))
    cap = args[list(args).index("-r") + 1] if "-r" in args else "?"
    if cap not in _stopped_noted:
        _stopped_noted.add(cap)
        why = [l.strip() for l in err.splitlines() if l.strip()]
        print("note: tshark stopped at a damaged record of %s (exit %d, %s); "
              "what it read before is compared"
              % (os.path.basename(cap), rc, why[-1] if why else "no message"))


def require_plugin_loaded():
    """Fails loudly unless tshark -G plugins lists the plugin we copied."""
    _, out, err = tshark("-G", "plugins")
    for line in out.splitlines():
        if line.split("\t")[0].strip() == os.path.basename(PLUGIN) and STAGED_PLUGIN in line:
            return
    fail("tshark -G plugins does not list %s (is the test running as root "
         "without setpriv? is the plugin built for this Wireshark?)\n%s%s"
         % (STAGED_PLUGIN, out, err))


def stage(path):
    """A world-readable copy of a capture; returns its path."""
    dst = os.path.join(TMP, "captures", os.path.basename(path))
    shutil.copy(path, dst)
    os.chmod(dst, 0o644)
    return dst


def fields(capture, names, extra=(), display_filter="smtpreply"):
    """Frames matching the filter: a list of dicts field -> list of values."""
    args = ["-r", capture] + list(extra) + ["-T", "fields", "-E", "occurrence=a",
                                            "-E", "aggregator=\x1f"]
    if display_filter:
        args += ["-Y", display_filter]
    for n in names:
        args += ["-e", n]
    # A capture may end in a damaged record: tshark then prints what it
    # read and exits non-zero (check_read), which is what the truth counts.
    rc, out, err = tshark(*args, check=False)
    check_read(rc, err, args)
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(names) - len(cols))
        rows.append({n: (c.split("\x1f") if c else []) for n, c in zip(names, cols)})
    return rows


def truth_sets():
    """[(capture path, {file: truth})] for the shared captures and captures/."""
    sets = []
    shared = os.path.join(SHARED, "captures", "truth.json")
    if os.path.exists(shared):
        with open(shared) as f:
            truth = json.load(f)
        sets += [(os.path.join(SHARED, "captures", k), v) for k, v in sorted(truth.items())]
    else:
        print("note: %s not present: shared captures skipped" % shared)
    own = os.path.join(SRCDIR, "captures")
    for t in sorted(glob.glob(os.path.join(own, "*.truth.json"))):
        with open(t) as f:
            truth = json.load(f)
        cap = t[: -len(".truth.json")]
        for ext in ("", ".pcap", ".pcapng"):
            if os.path.exists(cap + ext) and not (cap + ext).endswith(".json"):
                sets.append((cap + ext, truth))
                break
    return sets


def per_stream_codes(capture, extra=()):
    """{tcp.stream: [codes in order]} from smtpreply.code."""
    out = collections.OrderedDict()
    for row in fields(capture, ["tcp.stream", "smtpreply.code"], extra):
        if not row["smtpreply.code"]:
            continue
        stream = int(row["tcp.stream"][0])
        out.setdefault(stream, []).extend(int(c) for c in row["smtpreply.code"])
    return out


# ---- reading tshark -T json (parsed with object_pairs_hook=lambda p: p)


def endpoint(addr, port):
    return "[%s]:%s" % (addr, port) if ":" in addr else "%s:%s" % (addr, port)


def is_object(node):
    """A JSON object as object_pairs_hook gives it: a list of pairs
    (an empty object is an empty list)."""
    return isinstance(node, list) and all(isinstance(x, tuple) for x in node)


def pairs_all(pairs, key):
    """Every value of key in an object; a JSON array (tshark writes one for
    a layer that occurs twice, e.g. an ICMP error quoting IP and TCP) gives
    its elements."""
    out = []
    if not is_object(pairs):
        return out
    for k, v in pairs:
        if k == key:
            out.extend(v if isinstance(v, list) and v and not is_object(v) else [v])
    return out


def pairs_one(pairs, key):
    v = pairs_all(pairs, key)
    return v[-1] if v else None


def anomalies_in(node, out):
    """Every smtpreply.anomaly value below a JSON node (pairs lists)."""
    if isinstance(node, list) and not is_object(node):
        for v in node:
            anomalies_in(v, out)
    elif isinstance(node, list):
        for k, v in node:
            if k == "smtpreply.anomaly":
                out.append(v)
            elif k == "smtpreply.unanswered":
                out.append("command-unanswered")   # the flag stands for this anomaly
            anomalies_in(v, out)
