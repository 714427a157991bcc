# SPDX-License-Identifier: MIT
"""Per-session reply codes from smtpreply.code in two passes equal the
truth files (and the analyzer's JSON); the reply-side fields of one pass
equal those of two passes, but for a greeting detection held until the
client spoke, which one pass cannot show (docs/plugin.md); snaplen-cut
copies of the bundled pcaps give the same codes and pairings in the
plugin as in the analyzer."""
import collections
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers"))
import srtshark as T  # noqa: E402
from checks import check, finish, skip  # noqa: E402
from pcapgen import pcap_bytes, read_pcap  # noqa: E402

REPLY_FIELDS = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport",
                "ip.dst", "ipv6.dst", "tcp.dstport", "smtpreply.code", "smtpreply.class",
                "smtpreply.category", "smtpreply.meaning", "smtpreply.status",
                "smtpreply.esc", "smtpreply.esc.meaning", "smtpreply.command",
                "smtpreply.request_in", "smtpreply.time", "smtpreply.stage",
                "smtpreply.anomaly", "smtpreply.request.command"]


def reply_side(rows):
    """What one pass must show exactly as two passes do: the frames with
    replies and their reply fields.  Command frames learn response_in,
    unanswered flags (and commands the engine held back) only later, so
    command-side fields are left out; a frame holding both a reply and a
    command keeps only the anomalies of two passes that one pass had."""
    return [dict(r) for r in rows if r["smtpreply.code"]]


def same_reply_side(one, two):
    # A greeting the engine could only place once the client spoke (a port
    # that is not a known SMTP port) shows on its own frame in two passes
    # and on no frame in one pass (docs/plugin.md).
    seen = {r["frame.number"][0] for r in one}
    two = [r for r in two if r["frame.number"][0] in seen or r["smtpreply.stage"] != ["greeting"]]
    if len(one) != len(two):
        return False
    for a, b in zip(one, two):
        if a["smtpreply.request.command"] or b["smtpreply.request.command"]:
            if not set(a["smtpreply.anomaly"]) <= set(b["smtpreply.anomaly"]):
                return False
            a, b = dict(a), dict(b)
            for k in ("smtpreply.anomaly", "smtpreply.request.command"):
                del a[k], b[k]
        if a != b:
            return False
    return True


def streams(rows):
    """{tcp.stream: (set of endpoints, [codes])} for frames with replies."""
    out = collections.OrderedDict()
    for r in rows:
        if not r["smtpreply.code"]:
            continue
        src = (r["ip.src"] or r["ipv6.src"])[-1]
        dst = (r["ip.dst"] or r["ipv6.dst"])[-1]
        eps = frozenset([T.endpoint(src, r["tcp.srcport"][-1]),
                         T.endpoint(dst, r["tcp.dstport"][-1])])
        s = out.setdefault(int(r["tcp.stream"][-1]), (eps, []))
        s[1].extend(int(c) for c in r["smtpreply.code"])
    return out


def cli_sessions(path):
    """{frozenset(client, server): Counter(codes)} from the analyzer, or None."""
    if not T.CLI:
        return None
    p = subprocess.run([T.CLI, "--format", "json", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        return None
    out = {}
    for s in doc.get("sessions", []):
        key = frozenset([s["client"], s["server"]])
        out[key] = collections.Counter({int(k): v for k, v in s.get("codes", {}).items()})
    return out


def cut_copies():
    """Copies of the bundled pcaps as a small snaplen would have recorded
    them (every frame cut to 90 or 200 bytes, wire lengths kept)."""
    out = []
    for path in sorted(glob.glob(os.path.join(T.SRCDIR, "captures", "*.pcap"))):
        linktype, _snaplen, recs = read_pcap(path)
        for snap in (90, 200):
            cut = [r.copy(caplen=min(r.caplen, snap), data=r.data[:snap]) for r in recs]
            dst = os.path.join(T.TMP, "captures", "cut%d-%s" % (snap, os.path.basename(path)))
            with open(dst, "wb") as f:
                f.write(pcap_bytes(linktype, snap, cut))
            os.chmod(dst, 0o644)
            out.append(dst)
    return out


def cli_commands(path):
    """Counter of the commands the analyzer paired replies with."""
    p = subprocess.run([T.CLI, "--replies", "-q", path], stdout=subprocess.PIPE, text=True)
    return collections.Counter(json.loads(line)["command"] for line in p.stdout.splitlines()
                               if json.loads(line)["command"])


def check_cut():
    """A frame the snaplen cut gives its kept bytes and the rest counts as
    lost, in the plugin as in the analyzer: same codes per session, and
    the same commands paired with them."""
    total = 0
    for cap in cut_copies():
        name = os.path.basename(cap)
        rows = T.fields(cap, ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst",
                              "ipv6.dst", "tcp.dstport", "smtpreply.code", "smtpreply.command"])
        got = streams(rows)
        cli = cli_sessions(cap) or {}
        for k, (eps, codes) in got.items():
            check(cli.get(eps) == collections.Counter(codes),
                  "%s: stream %d: plugin %s, analyzer %s"
                  % (name, k, dict(collections.Counter(codes)), cli.get(eps)))
        n = sum(len(c) for _, c in got.values())
        check(n == sum(sum(c.values()) for c in cli.values()),
              "%s: plugin and analyzer count the same replies (%d, snaplen-cut copy)" % (name, n))
        commands = collections.Counter(c for r in rows if r["smtpreply.code"]
                                       for c in r["smtpreply.command"])
        check(commands == cli_commands(cap), "%s: paired commands: plugin %s, analyzer %s"
              % (name, dict(commands), dict(cli_commands(cap))))
        total += n
    check(total > 0, "the snaplen-cut copies gave replies to compare (%d)" % total)


def main():
    T.require_plugin_loaded()
    sets = T.truth_sets()
    if not sets:
        T.fail("no captures with truth found (neither $SHARED/captures nor captures/)")
    cli_checked = 0
    for path, truth in sets:
        name = os.path.basename(path)
        cap = T.stage(path)
        one = T.fields(cap, REPLY_FIELDS)
        two = T.fields(cap, REPLY_FIELDS, extra=["-2"])
        one_r, two_r = reply_side(one), reply_side(two)
        same = same_reply_side(one_r, two_r)
        diff = [] if same else [(a, b) for a, b in zip(one_r, two_r) if a != b][:3]
        check(same, "%s: one pass and two passes agree (%d vs %d frames with replies) %s"
              % (name, len(one_r), len(two_r), diff or ""))
        # Two passes show every reply on its frame; one pass may miss a
        # greeting held by detection (compared above).
        got = streams(two)
        expected = [s for s in truth["sessions"] if s["replies"]]
        matched = set()
        for s in expected:
            key = frozenset([s["client"], s["server"]])
            hit = [k for k, (eps, _) in got.items() if eps == key and k not in matched]
            if not check(hit, "%s: session %s -> %s (%d replies) found"
                         % (name, s["client"], s["server"], len(s["replies"]))):
                continue
            matched.add(hit[0])
            codes = got[hit[0]][1]
            check(codes == s["replies"], "%s: session %s: codes %s, truth %s"
                  % (name, s["client"], codes, s["replies"]))
        for k, (eps, codes) in got.items():
            check(k in matched, "%s: tcp.stream %d %s: replies %s listed in the truth"
                  % (name, k, sorted(eps), codes))

        cli = cli_sessions(path)
        if cli is not None:
            cli_checked += 1
            for k, (eps, codes) in got.items():
                check(cli.get(eps) == collections.Counter(codes),
                      "%s: stream %d: plugin %s, analyzer %s"
                      % (name, k, dict(collections.Counter(codes)), cli.get(eps)))
            for eps, counter in cli.items():
                if sum(counter.values()):
                    check(eps in [e for e, _ in got.values()],
                          "%s: analyzer session %s in the plugin's output" % (name, sorted(eps)))
        print("%-50s %3d frames with replies, %d sessions" % (name, len(one), len(got)))
    if T.CLI:
        check_cut()
    if cli_checked == 0:
        skip("the comparison with the analyzer: no smtpreply binary, or its JSON gives no "
             "sessions; the truth comparison done")
    print("%d captures" % len(sets))
    finish()


main()
