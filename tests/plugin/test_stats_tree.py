# SPDX-License-Identifier: MIT
"""`tshark -q -z smtpreply,tree` counts equal the truth totals (per class,
per code), in one pass and in two passes, its "by command" half adds
up to the same totals, and its "by reason" half counts every 4xx and 5xx
reply once, under the reason its smtpreply.reason field gives."""
import collections
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
import mkpcap  # noqa: E402
import srtshark as T  # noqa: E402
from checks import check, finish  # noqa: E402

LINE = re.compile(r"^( *)(\S.*?)\s{2,}(\d+)\s")


def parse(out):
    """{"total", "classes", "codes", "by_command"} from the tree output."""
    res = {"total": None, "classes": collections.Counter(), "codes": collections.Counter(),
           "by_command": collections.Counter(), "command_total": None,
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
    return res


def main():
    T.require_plugin_loaded()
    sets = [(p, t["totals"]) for p, t in T.truth_sets() if "totals" in t]
    crafted = os.path.join(T.TMP, "captures", "crafted.pcap")
    built = mkpcap.crafted(crafted)
    os.chmod(crafted, 0o644)
    sets.append((crafted, collections.Counter(str(c) for c in built["replies"])))
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
            mode = "two passes" if extra else "one pass"
            if not check(rc in (0, 2) and "SMTP Reply Codes" in out,
                         "%s (%s): a tree (rc %d) %s" % (name, mode, rc, err.strip())):
                continue
            got = parse(out)
            check((got["total"] or 0) == n, "%s (%s): total %s, truth %d"
                  % (name, mode, got["total"], n))
            check(got["classes"] == want_classes, "%s (%s): classes %s, truth %s"
                  % (name, mode, dict(got["classes"]), dict(want_classes)))
            check(got["codes"] == want_codes, "%s (%s): codes %s, truth %s"
                  % (name, mode, dict(got["codes"]), dict(want_codes)))
            if n:
                check(got["command_total"] == n and got["by_command"] == want_codes,
                      "%s (%s): by command %s (total %s), truth %s"
                      % (name, mode, dict(got["by_command"]), got["command_total"],
                         dict(want_codes)))
            check(got["reason_total"] == failures and got["reason_codes"] == failures and
                  got["reasons"] == want_reasons,
                  "%s (%s): by reason %s (total %s), fields %s, %d failures"
                  % (name, mode, dict(got["reasons"]), got["reason_total"],
                     dict(want_reasons), failures))
    print("%d captures, one and two passes" % len(sets))
    finish()


main()
