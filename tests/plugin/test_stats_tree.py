# SPDX-License-Identifier: MIT
"""`tshark -q -z smtpreply,tree` counts equal the truth totals (per class,
per code), in one pass and in two passes, and its "by command" half adds
up to the same totals.  Its response-time branch (stats_tree average
nodes) gives per command the count, minimum and maximum of the CLI's
rt_ms, and its by-server branch the CLI's replies per server.  Its
"by reason" branch counts every 4xx and 5xx reply once, under the reason
its smtpreply.reason field gives."""
import collections
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
import mkpcap  # noqa: E402
import srtshark as T  # noqa: E402

LINE = re.compile(r"^( *)(\S.*?)\s{2,}(\d+)\s")


def parse(out):
    """{"total", "classes", "codes", "by_command"} from the tree output."""
    res = {"total": None, "classes": collections.Counter(), "codes": collections.Counter(),
           "by_command": collections.Counter(), "command_total": None,
           "by_server": collections.Counter(), "rt": {},
           "reasons": collections.Counter(), "reason_total": 0, "reason_codes": 0}
    section = None
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        depth, name, count = len(m.group(1)), m.group(2), int(m.group(3))
        if depth == 0:
            section = name
            if name == "Replies by class and code":
                res["total"] = count
            elif name == "Replies by command":
                res["command_total"] = count
            elif name == "Failures by reason":
                res["reason_total"] = count
            continue
        if section == "Replies by class and code":
            if depth == 1:
                res["classes"][name[0]] += count
            elif depth == 2:
                res["codes"][int(name[:3])] += count
        elif section == "Replies by command" and depth == 2:
            res["by_command"][int(name[:3])] += count
        elif section == "Failures by reason" and depth == 1:
            res["reasons"][name] += count
        elif section == "Failures by reason" and depth == 2:
            res["reason_codes"] += count
        elif section == "Replies by server" and depth == 1:
            res["by_server"][name] += count
        elif section == "Response time by command (ms)" and depth == 1:
            m = RT.match(line)
            if m:
                res["rt"][name] = (count, float(m.group(2)), float(m.group(3)))
    return res


RT = re.compile(r"^ (\S.*?)\s{2,}\d+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)\s")


def cli_expected(path):
    """({command: (count, min, max)}, Counter(server)) from smtpreply --replies."""
    p = subprocess.run([T.CLI, "--replies", "-q", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    rts, servers = collections.defaultdict(list), collections.Counter()
    for line in p.stdout.splitlines():
        o = json.loads(line)
        servers[o["server"]] += 1
        if o["rt_ms"] is not None:
            # A timed reply to a command line without a verb: "?" in the tree.
            verb = "DATA (end of data)" if o["stage"] == "data-end" else o["command"] or "?"
            rts[verb].append(o["rt_ms"])
    return {k: (len(v), min(v), max(v)) for k, v in rts.items()}, servers


def same_rt(got, want):
    if set(got) != set(want):
        return False
    for k, (n, lo, hi) in want.items():
        g = got[k]
        if g[0] != n or abs(g[1] - lo) > 0.01 + lo * 1e-5 or abs(g[2] - hi) > 0.01 + hi * 1e-5:
            return False
    return True


def main():
    T.require_plugin_loaded()
    sets = [(p, t["totals"]) for p, t in T.truth_sets() if "totals" in t]
    crafted = os.path.join(T.TMP, "captures", "crafted.pcap")
    built = mkpcap.crafted(crafted)
    os.chmod(crafted, 0o644)
    sets.append((crafted, collections.Counter(str(c) for c in built["replies"])))
    problems = []
    for path, totals in sets:
        name = os.path.basename(path)
        cap = crafted if path == crafted else T.stage(path)
        want_codes = collections.Counter({int(k): v for k, v in totals.items()})
        want_classes = collections.Counter()
        for k, v in want_codes.items():
            want_classes[str(k // 100)] += v
        n = sum(want_codes.values())
        failures = sum(v for k, v in want_codes.items() if 400 <= k < 600)
        want_reasons = collections.Counter()
        for row in T.fields(cap, ["smtpreply.reason"], ["-2"], "smtpreply.reason"):
            want_reasons.update(row["smtpreply.reason"])
        for extra in ([], ["-2"]):
            rc, out, err = T.tshark("-r", cap, "-q", "-z", "smtpreply,tree", *extra,
                                    check=False)
            if (rc != 0 and not T.read_stopped(rc, err)) or "SMTP Reply Codes" not in out:
                problems.append("%s %s: no tree (rc %d): %s" % (name, extra, rc, err))
                continue
            got = parse(out)
            mode = "two passes" if extra else "one pass"
            if (got["total"] or 0) != n:
                problems.append("%s (%s): total %s, truth %d" % (name, mode, got["total"], n))
            if got["classes"] != want_classes:
                problems.append("%s (%s): classes %s, truth %s"
                                % (name, mode, dict(got["classes"]), dict(want_classes)))
            if got["codes"] != want_codes:
                problems.append("%s (%s): codes %s, truth %s"
                                % (name, mode, dict(got["codes"]), dict(want_codes)))
            if n and (got["command_total"] != n or got["by_command"] != want_codes):
                problems.append("%s (%s): by command %s (total %s), truth %s"
                                % (name, mode, dict(got["by_command"]), got["command_total"],
                                   dict(want_codes)))
            if (got["reason_total"] != failures or got["reason_codes"] != failures or
                    got["reasons"] != want_reasons):
                problems.append("%s (%s): by reason %s (total %s), fields %s, %d failures"
                                % (name, mode, dict(got["reasons"]), got["reason_total"],
                                   dict(want_reasons), failures))
    rt_checked = 0
    for path, _ in sets:
        if not T.CLI:
            break
        cap = crafted if path == crafted else T.stage(path)
        rt_want, server_want = cli_expected(cap)
        for extra in ([], ["-2"]):
            _, out, _ = T.tshark("-r", cap, "-q", "-z", "smtpreply,tree", *extra, check=False)
            got = parse(out)
            if not same_rt(got["rt"], rt_want):
                problems.append("%s %s: response times %s, CLI %s"
                                % (os.path.basename(path), extra, got["rt"], rt_want))
            if got["by_server"] != server_want:
                problems.append("%s %s: by server %s, CLI %s"
                                % (os.path.basename(path), extra, dict(got["by_server"]),
                                   dict(server_want)))
        rt_checked += sum(n for n, _, _ in rt_want.values())
    if T.CLI and rt_checked == 0:
        problems.append("no timed reply anywhere: the response-time branch was not compared")
    if problems:
        T.fail("%d problems:\n  %s" % (len(problems), "\n  ".join(problems)))
    print("OK: %d captures, one and two passes; %d timed replies compared" % (len(sets),
                                                                        rt_checked))


main()
