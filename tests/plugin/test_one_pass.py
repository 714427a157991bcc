# SPDX-License-Identifier: MIT
"""One pass against two, on a port no dissector knows, with default
preferences and the packet list's columns.

A session on port 3025: the core is sure it is SMTP only at the client's
EHLO (a 220 alone could be FTP), so in one pass the greeting's frame is
already printed when the engine learns what it was.  Then:
- one pass: the greeting shows on no frame, but the statistics tree
  counts it (the deciding frame taps it); every later reply shows on its
  own frame;
- two passes (and any re-dissection in the GUI): the greeting shows on
  its own frame;
- the packet list names the session's frames SMTP, with the replies and
  commands in the Info column, without any preference set;
- on port 25 Wireshark's own SMTP dissector keeps its Info text.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import srtshark as T  # noqa: E402
import pcapgen as P  # noqa: E402
from checks import check, finish  # noqa: E402


def capture(port):
    c = P.Conversation(50123, sport=port)
    c.open()
    c.s(b"220 mx.example.test ESMTP ready\r\n")           # frame 3
    c.c(b"EHLO client.example\r\n")                       # frame 4: decides
    c.s(b"250-mx.example.test\r\n250 PIPELINING\r\n")     # frame 5
    c.c(b"MAIL FROM:<a@example.test>\r\n")
    c.s(b"250 2.1.0 Ok\r\n")                              # frame 7
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")                             # frame 9
    c.close()
    path = os.path.join(T.TMP, "captures", "port%d.pcap" % port)
    P.write(path, c.records)
    os.chmod(path, 0o644)
    return path


def codes_by_frame(path, extra=()):
    rows = T.fields(path, ["frame.number", "smtpreply.code", "smtpreply.stage"], extra,
                    display_filter=None)
    return {int(r["frame.number"][0]): list(zip(r["smtpreply.code"], r["smtpreply.stage"]))
            for r in rows if r["smtpreply.code"]}


# The packet list's columns as the GUI and tshark's summary lines show
# them: number, protocol, info, tab-separated.  Not the _ws.col.* fields of
# -T fields: from 4.2 on those are tree items that the frame dissector adds
# (col_dissect in packet-frame.c) before it calls the postdissectors, so
# they never show what a postdissector wrote; 4.0 read them from the
# finished columns.
COLUMNS = 'gui.column.format:"No.","%m","Protocol","%p","Info","%i"'


def columns(path, extra=()):
    """{frame: (protocol, info)} from the packet list's columns."""
    _, out, _ = T.tshark("-r", path, *extra, "-o", COLUMNS, "-T", "tabs")
    cols = {}
    for line in out.splitlines():
        parts = line.strip(" ").split("\t")
        if len(parts) == 3:
            cols[int(parts[0])] = (parts[1], parts[2])
    return cols


def tree_count(path, code):
    _, out, _ = T.tshark("-r", path, "-q", "-z", "smtpreply,tree")
    m = re.search(r"^\s+%d [^\n]*?\s+(\d+)\s" % code, out, re.M)
    return int(m.group(1)) if m else 0


def main():
    T.require_plugin_loaded()
    odd = capture(3025)
    one = codes_by_frame(odd)
    two = codes_by_frame(odd, ["-2"])
    check(3 not in one, "one pass: the greeting's frame 3 shows no reply (%s)" % one.get(3))
    check(one.get(5) == [("250", "reply")] and one.get(7) == [("250", "reply")]
          and one.get(9) == [("221", "reply")],
          "one pass: the replies after the decision show on their own frames (%s)" % one)
    check(two.get(3) == [("220", "greeting")],
          "two passes: the greeting shows on its own frame 3 (%s)" % two.get(3))
    check({k: v for k, v in two.items() if k != 3} == one,
          "two passes show what one pass shows, plus the greeting")
    check(tree_count(odd, 220) == 1, "one pass: the stats tree counts the greeting once")

    for label, extra in (("one pass", ()), ("two passes", ("-2",))):
        cols = columns(odd, extra)
        check(all(cols.get(f, ("", ""))[0] == "SMTP" for f in range(4, 10)),
              "%s, default columns: frames 4-9 on port 3025 are SMTP (%s)"
              % (label, [cols.get(f) for f in range(3, 10)]))
        check(cols.get(5, ("", ""))[1] == "S: 250" and cols.get(4, ("", ""))[1] == "C: EHLO"
              and cols.get(7, ("", ""))[1] == "S: 250 2.1.0",
              "%s: the Info column holds the replies and commands (%s)"
              % (label, [cols.get(f) for f in (4, 5, 7)]))
        check(cols.get(1, ("", ""))[0] == "TCP", "%s: the SYN stays TCP" % label)
    check(columns(odd, ("-2",)).get(3, ("", ""))[0] == "SMTP",
          "two passes: the greeting's frame is SMTP too")

    std = capture(25)
    cols = columns(std)
    check(cols.get(5, ("", ""))[0] == "SMTP" and "mx.example.test" in cols.get(5, ("", ""))[1],
          "port 25: Wireshark's own SMTP Info text stays (%s)" % (cols.get(5),))
    check(codes_by_frame(std).get(3) == [("220", "greeting")],
          "port 25: the greeting shows on its frame in one pass")
    finish()


main()
