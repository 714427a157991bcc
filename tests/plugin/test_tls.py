# SPDX-License-Identifier: MIT
"""SMTP inside TLS that Wireshark decrypted (issue 14, the plugin part).

For every capture in captures/tls/ with its truth, tshark runs with the
capture's key log (-o tls.keylog_file:F; the .pcapng carries its secrets
in a Decryption Secrets Block and needs no option), in one pass and in
two (-2):
- per session (its two endpoints), the replies the plugin shows (code,
  command, enhanced code, anomalies, in order) are the same in one pass
  and in two: each reply is shown once;
- the codes and enhanced codes equal the truth's: every reply of a session
  whose keys are in the log, the replies before STARTTLS of one whose
  keys are not;
- the replies read inside TLS, and only they, carry smtpreply.tls;
- the statistics tree (-z smtpreply,tree, one pass) counts each reply
  once: its total and per-code counts equal the truth's;
- when the CLI reads key logs (`smtpreply tally --help` names --keylog),
  the plugin's replies and session anomalies equal the CLI's with the
  same key log.
Damaged copies (editcap -E, the link/IP/TCP headers kept) read with their
key logs, Wireshark told to pass on records whose MAC failed too, end
normally, with no dissector bug or malformed-packet error of ours.
Without keys (no option; the .pcapng's Decryption Secrets Block removed), the
plugin shows what it showed before TLS support: the replies before TLS,
none marked smtpreply.tls, the same in one pass and in two, equal to the
CLI's without --keylog.

"""
import collections
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import srtshark as T  # noqa: E402
from checks import check, finish, skip  # noqa: E402
from pcapgen import pcapng_block, read_pcapng_blocks  # noqa: E402

PCAPNG_DSB = 0x0000000A

TLS_DIR = os.path.join(T.SRCDIR, "captures", "tls")


def cli_keylog():
    """Does the CLI read key logs?"""
    if not T.CLI:
        return False
    p = subprocess.run([T.CLI, "tally", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return "--keylog" in p.stdout


# ---- tshark -T json, read as lists of pairs (a layer may repeat) --------

def new_session():
    return {"replies": [], "tls": [], "anomalies": set()}


def plugin_sessions(cap, opts, two_pass):
    """{frozenset(endpoints): {"replies": [(code, command, esc, anomalies)],
    "tls": [bool per reply], "anomalies": set}}."""
    args = ["-r", cap] + opts + (["-2"] if two_pass else [])
    rc, out, err = T.tshark(*args, "-Y", "smtpreply", "-T", "json", "-J",
                            "ip ipv6 tcp smtpreply", check=False)
    if rc not in (0, 2):
        T.fail("tshark %s exited %d: %s" % (" ".join(args), rc, err))
    sessions = collections.OrderedDict()
    for fr in json.loads(out or "[]", object_pairs_hook=lambda p: p):
        layers = T.pairs_one(T.pairs_one(fr, "_source"), "layers")
        ip = T.pairs_one(layers, "ip") or T.pairs_one(layers, "ipv6")
        tcp = T.pairs_one(layers, "tcp")
        sr = T.pairs_one(layers, "smtpreply")
        if ip is None or tcp is None or sr is None:
            continue
        src = T.pairs_one(ip, "ip.src") or T.pairs_one(ip, "ipv6.src")
        dst = T.pairs_one(ip, "ip.dst") or T.pairs_one(ip, "ipv6.dst")
        key = frozenset([T.endpoint(src, T.pairs_one(tcp, "tcp.srcport")),
                         T.endpoint(dst, T.pairs_one(tcp, "tcp.dstport"))])
        s = sessions.setdefault(key, new_session())
        for rep in T.pairs_all(sr, "smtpreply.reply"):
            an = []
            T.anomalies_in(rep, an)
            s["replies"].append((int(T.pairs_one(rep, "smtpreply.code")),
                                 T.pairs_one(rep, "smtpreply.command"),
                                 T.pairs_one(rep, "smtpreply.esc"), tuple(sorted(an))))
            s["tls"].append(T.pairs_one(rep, "smtpreply.tls") in ("1", "True", "true"))
        an = []
        T.anomalies_in(sr, an)
        s["anomalies"] |= set(an)
    return sessions


def cli_sessions(path, keylog):
    """The same from the CLI (`--replies` and the JSON summary)."""
    extra = ["--keylog", keylog] if keylog else []
    p = subprocess.run([T.CLI, "--replies", "-q"] + extra + [path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    sessions = collections.OrderedDict()
    for line in p.stdout.splitlines():
        o = json.loads(line)
        s = sessions.setdefault(frozenset([o["client"], o["server"]]), new_session())
        s["replies"].append((o["code"], o["command"], o["enhanced"],
                             tuple(sorted(o["anomalies"]))))
        s["tls"].append(bool(o.get("tls", False)))
    p = subprocess.run([T.CLI, "--format", "json", "-q"] + extra + [path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for o in json.loads(p.stdout).get("sessions", []):
        key = frozenset([o["client"], o["server"]])
        names = {k for k, v in o["anomalies"].items() if v}
        if names or key in sessions:
            sessions.setdefault(key, new_session())["anomalies"] |= names
    return sessions


LINE = re.compile(r"^( *)(\S.*?)\s{2,}(\d+)\s")


def tree_counts(cap, opts):
    """(total, Counter(code)) of "Replies by class and code", one pass."""
    _, out, _ = T.tshark("-r", cap, *opts, "-q", "-z", "smtpreply,tree", check=False)
    total, codes, section = None, collections.Counter(), None
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        depth, name, count = len(m.group(1)), m.group(2), int(m.group(3))
        if depth == 0:
            section = name
            if name == "Replies by class and code":
                total = count
        elif section == "Replies by class and code" and depth == 2:
            codes[int(name[:3])] += count
    return total, codes


def expected(truth, keys):
    """{frozenset(endpoints): (codes, enhanced, n_inside)} from the truth."""
    out = {}
    for s in truth["sessions"]:
        n = len(s["replies"]) if (keys and s.get("keys")) else s.get("before_tls", 0)
        out[frozenset([s["client"], s["server"]])] = (
            s["replies"][:n], [e or None for e in s["enhanced"][:n]],
            n - s.get("before_tls", 0))
    return out


def codes_of(sess):
    return [r[0] for r in sess["replies"]]


def check_against(name, label, got, want):
    """Codes, enhanced codes and smtpreply.tls per session against want."""
    for key, (codes, esc, inside) in want.items():
        s = got.get(key, new_session())
        eps = " <-> ".join(sorted(key))
        check(codes_of(s) == codes, "%s [%s] %s: codes %s, truth %s"
              % (name, label, eps, codes_of(s), codes))
        check([r[2] for r in s["replies"]] == esc, "%s [%s] %s: enhanced codes equal the truth's"
              % (name, label, eps))
        want_tls = [False] * (len(codes) - inside) + [True] * inside
        check(s["tls"] == want_tls, "%s [%s] %s: smtpreply.tls on the %d replies read inside "
              "TLS only (got %s)" % (name, label, eps, inside, s["tls"]))
    for key, s in got.items():
        check(key in want or not s["replies"], "%s [%s]: session %s in the truth"
              % (name, label, sorted(key)))


def same_as_cli(name, label, plug, cli):
    for key in list(plug) + [k for k in cli if k not in plug]:
        p, c = plug.get(key, new_session()), cli.get(key, new_session())
        if not (p["replies"] or c["replies"] or p["anomalies"] or c["anomalies"]):
            continue
        eps = " <-> ".join(sorted(key))
        check(p["replies"] == c["replies"], "%s [%s] %s: replies equal the CLI's (plugin %s, "
              "CLI %s)" % (name, label, eps, codes_of(p), codes_of(c)))
        check(p["anomalies"] == c["anomalies"], "%s [%s] %s: anomalies equal the CLI's "
              "(plugin %s, CLI %s)" % (name, label, eps, sorted(p["anomalies"]),
                                       sorted(c["anomalies"])))
        check(p["tls"] == c["tls"], "%s [%s] %s: smtpreply.tls equals the CLI's tls"
              % (name, label, eps))


def without_secrets(cap):
    """A copy of a pcapng without its Decryption Secrets Blocks (type 10),
    every other block kept as it is; a pcap as it is."""
    if not cap.endswith(".pcapng"):
        return cap
    blocks = read_pcapng_blocks(cap)
    dst = cap[: -len(".pcapng")] + ".nosecrets.pcapng"
    with open(dst, "wb") as f:
        for btype, body in blocks:
            if btype != PCAPNG_DSB:
                f.write(pcapng_block(btype, body))
    os.chmod(dst, 0o644)
    check(len(blocks) > sum(1 for b, _ in blocks if b != PCAPNG_DSB),
          "%s carries a Decryption Secrets Block (removed for the run without keys)"
          % os.path.basename(cap))
    return dst


def check_damaged(src, keylog):
    """Damaged copies read with the key log: tshark -V -2 ends normally and
    reports nothing malformed in smtpreply.  With the MAC check off, CBC
    records whose bytes were changed are decrypted to garbage and fed."""
    name = os.path.basename(src)
    for rate, seed in (("0.02", 1), ("0.1", 2)):
        dst = os.path.join(T.TMP, "captures", "damaged-%s-%d-%s" % (rate, seed, name))
        p = subprocess.run(["editcap", "-E", rate, "--seed", str(seed), "-o", "66", src, dst],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            skip("%s: editcap -E --seed failed: %s" % (name, p.stdout.strip()))
            return
        os.chmod(dst, 0o644)
        rc, out, err = T.tshark("-r", dst, "-o", "tls.keylog_file:" + keylog, "-o",
                                "tls.ignore_ssl_mac_failed:TRUE", "-2", "-V", check=False)
        bad = [ln for ln in (out + err).splitlines()
               if "SMTPREPLY" in ln and ("Malformed" in ln or "Dissector bug" in ln)]
        check(rc in (0, 2) and not bad, "%s damaged at %s (seed %d), with keys: tshark exits "
              "%d, %s" % (name, rate, seed, rc, bad[:1] or "nothing malformed in smtpreply"))


def main():
    T.require_plugin_loaded()
    cli_keys = cli_keylog()
    if not cli_keys:
        skip("the CLI with --keylog: `smtpreply tally --help` names no --keylog (or no CLI)")
    truths = sorted(glob.glob(os.path.join(TLS_DIR, "*.truth.json")))
    if not truths:
        T.fail("no truth files in %s" % TLS_DIR)
    inside_total = 0
    for t in truths:
        with open(t) as f:
            truth = json.load(f)
        base = t[: -len(".truth.json")]
        src = base + ".pcap" if os.path.exists(base + ".pcap") else base + ".pcapng"
        name = os.path.basename(src)
        cap = T.stage(src)
        keylog = T.stage(base + ".keylog") if os.path.exists(base + ".keylog") else None
        opts = ["-o", "tls.keylog_file:" + keylog] if keylog else []

        # With keys.
        one = plugin_sessions(cap, opts, False)
        two = plugin_sessions(cap, opts, True)
        check(one == two, "%s [keys]: one pass and two passes show the same replies" % name)
        want = expected(truth, True)
        check_against(name, "keys", two, want)
        inside_total += sum(w[2] for w in want.values())
        total, codes = tree_counts(cap, opts)
        all_codes = collections.Counter(c for w in want.values() for c in w[0])
        check(total == sum(all_codes.values()) and codes == all_codes,
              "%s [keys]: the statistics tree counts each reply once (%s replies, "
              "truth %d)" % (name, total, sum(all_codes.values())))
        if cli_keys:
            same_as_cli(name, "keys", two, cli_sessions(src, keylog or None))

        if keylog:
            check_damaged(src, keylog)

        # Without keys: as before TLS support.
        bare = without_secrets(cap)
        one_n = plugin_sessions(bare, [], False)
        two_n = plugin_sessions(bare, [], True)
        check(one_n == two_n, "%s [no keys]: one pass and two passes show the same replies"
              % name)
        check_against(name, "no keys", two_n, expected(truth, False))
        if T.CLI:
            same_as_cli(name, "no keys", two_n, cli_sessions(bare, None))
    check(inside_total > 0, "replies inside TLS were compared (%d)" % inside_total)
    print("%d captures" % len(truths))
    finish()


main()
