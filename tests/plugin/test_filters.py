# SPDX-License-Identifier: MIT
"""Display filters select exactly the frames whose smtpreply fields say so,
and the counts behind them equal what was built into a crafted capture and
the public truth: smtpreply.class == 5, smtpreply.esc == "5.1.1",
smtpreply.command == "RCPT", smtpreply.anomaly.  Also: request/response
links, unanswered commands (two passes), expert info."""
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
import mkpcap  # noqa: E402
import srtshark as T  # noqa: E402
from checks import check, finish  # noqa: E402

ROWS = ["frame.number", "smtpreply.code", "smtpreply.class", "smtpreply.esc",
        "smtpreply.command", "smtpreply.anomaly", "smtpreply.request_in"]


def frames(cap, flt):
    return {int(r["frame.number"][0]) for r in T.fields(cap, ["frame.number"], display_filter=flt)}


def check_filters(cap, name, truth_totals=None, truth_esc=None):
    rows = T.fields(cap, ROWS)
    want = {
        "smtpreply.class == 5": {int(r["frame.number"][0]) for r in rows
                                 if "5" in r["smtpreply.class"]},
        'smtpreply.esc == "5.1.1"': {int(r["frame.number"][0]) for r in rows
                                     if "5.1.1" in r["smtpreply.esc"]},
        'smtpreply.command == "RCPT"': {int(r["frame.number"][0]) for r in rows
                                        if "RCPT" in r["smtpreply.command"]},
        "smtpreply.anomaly": {int(r["frame.number"][0]) for r in rows if r["smtpreply.anomaly"]},
    }
    got = {flt: frames(cap, flt) for flt in want}
    for flt in want:
        check(got[flt] == want[flt], "%s: -Y '%s' selects %s, fields say %s"
              % (name, flt, sorted(got[flt]), sorted(want[flt])))
    codes = collections.Counter(int(c) for r in rows for c in r["smtpreply.code"])
    escs = collections.Counter(e for r in rows for e in r["smtpreply.esc"])
    if truth_totals is not None:
        n5 = sum(v for k, v in truth_totals.items() if str(k).startswith("5"))
        check(sum(v for k, v in codes.items() if k // 100 == 5) == n5,
              "%s: %d 5xx replies, truth %d" % (name, sum(v for k, v in codes.items()
                                                          if k // 100 == 5), n5))
    if truth_esc is not None:
        check(escs == truth_esc, "%s: enhanced codes %s, truth %s" % (name, dict(escs),
                                                                      dict(truth_esc)))
    return {flt: len(v) for flt, v in got.items()}


def crafted():
    path = os.path.join(T.TMP, "captures", "crafted.pcap")
    truth = mkpcap.crafted(path)
    os.chmod(path, 0o644)
    name = "crafted.pcap"
    counts = check_filters(path, name, collections.Counter(truth["replies"]),
                           collections.Counter(e for e in truth["enhanced"] if e))

    rows = T.fields(path, ROWS + ["smtpreply.request.command", "smtpreply.response_in",
                                  "smtpreply.unanswered"], extra=["-2"],
                    display_filter="smtpreply")
    replies = [(int(c), e, m) for r in rows
               for c, e, m in zip(r["smtpreply.code"],
                                  # esc and command are absent for some replies:
                                  # rebuild them per reply from the -T fields order
                                  _pad(r, "smtpreply.esc"), _pad(r, "smtpreply.command"))]
    check([c for c, _, _ in replies] == truth["replies"],
          "%s: codes %s, built %s" % (name, [c for c, _, _ in replies], truth["replies"]))
    # Each reply frame carries one reply here, so fields line up.
    got_cmds = [r["smtpreply.command"][0] if r["smtpreply.command"] else ""
                for r in rows if r["smtpreply.code"]]
    check(got_cmds == truth["commands"], "%s: commands %s, built %s"
          % (name, got_cmds, truth["commands"]))
    got_esc = [r["smtpreply.esc"][0] if r["smtpreply.esc"] else "" for r in rows
               if r["smtpreply.code"]]
    check(got_esc == truth["enhanced"], "%s: enhanced %s, built %s"
          % (name, got_esc, truth["enhanced"]))
    # request_in points at the frame holding the command, and that frame
    # points back (response_in) at the reply: two passes.
    by_frame = {int(r["frame.number"][0]): r for r in rows}
    linked = 0
    for fr, r in by_frame.items():
        for req in r["smtpreply.request_in"]:
            q = by_frame.get(int(req))
            linked += 1
            check(q is not None and str(fr) in q["smtpreply.response_in"],
                  "%s: reply in %d names request %s, which does not name it back"
                  % (name, fr, req))
    check(linked == len(truth["replies"]) - 1, "%s: %d replies linked to requests, built %d"
          % (name, linked, len(truth["replies"]) - 1))
    unanswered = [r["smtpreply.request.command"] for r in rows if r["smtpreply.unanswered"]]
    check(unanswered == [truth["unanswered"]], "%s: unanswered %s, built %s"
          % (name, unanswered, truth["unanswered"]))
    check(frames(path, "smtpreply.anomaly == \"bare-lf\""), "%s: bare-lf not flagged" % name)
    check(counts['smtpreply.command == "RCPT"'] == 3, "%s: %d RCPT replies, built 3"
          % (name, counts['smtpreply.command == "RCPT"']))

    _, out, _ = T.tshark("-r", path, "-q", "-z", "expert,note")
    errors = [l for l in out.splitlines() if "SMTPREPLY" in l and "Permanent failure" in l]
    warns = [l for l in out.splitlines() if "SMTPREPLY" in l and "Transient failure" in l]
    check(len(errors) == 1 and "550 5.1.1" in errors[0],
          "%s: expert errors %s, want the 550 5.1.1" % (name, errors))
    check(len(warns) == 1 and "450 4.2.0" in warns[0],
          "%s: expert warnings %s, want the 450 4.2.0" % (name, warns))
    check(any("SMTPREPLY" in l and "bare-lf" in l for l in out.splitlines()),
          "%s: no expert info for the bare-lf anomaly" % name)
    return counts


def _pad(row, field):
    """-T fields drops empty occurrences; with one reply per frame a
    missing value is the empty string."""
    vals = row[field]
    return vals + [""] * (len(row["smtpreply.code"]) - len(vals))


def main():
    T.require_plugin_loaded()
    totals = collections.Counter(crafted())
    for path, truth in T.truth_sets():
        esc = collections.Counter(e for s in truth["sessions"] for e in s.get("enhanced", [])
                                  if e)
        totals.update(check_filters(T.stage(path), os.path.basename(path),
                                    truth.get("totals", {}), esc))
    for flt, n in totals.items():
        check(n > 0, "%d frames over all captures match %s (none: the check proves nothing)"
              % (n, flt))
    finish()


main()
