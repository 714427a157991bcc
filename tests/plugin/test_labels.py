# SPDX-License-Identifier: MIT
"""Every label the plugin writes says what its item's fields say.  On
Wireshark 4.0 to 4.4 the plugin writes labels itself where it can
(reply-smtpreply.c, "labels written directly"), elsewhere Wireshark
formats them; either way, in tshark -T pdml:
  - the protocol item: "SMTP Reply Analysis: 250, 550" (the frame's codes);
  - a command: "Command VERB (#N of its session)";
  - a reply: "Reply CODE[ ESC][ REASON][ to VERB]: MEANING";
  - "Reply code: CODE (MEANING)", "Enhanced status code: ESC (MEANING)",
    "Subject: N (...)", "Failure reason: REASON (...)".
Field names come from tshark -G fields, values from the items' children."""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
import mkpcap  # noqa: E402
import srtshark as T  # noqa: E402
from checks import check, finish  # noqa: E402

PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


def field_names():
    _, out, _ = T.tshark("-G", "fields")
    names = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) > 2 and cols[0] == "F" and cols[2].startswith("smtpreply"):
            names[cols[2]] = cols[1]
    return names


def children(node, name):
    return [c for c in node if c.tag == "field" and c.get("name") == name]


def show(node, name):
    """The show value of node's first child field `name`, or None."""
    c = children(node, name)
    return c[0].get("show") if c else None


class Labels:
    def __init__(self, names):
        self.names = names
        self.checked = 0
        self.skipped = 0

    def expect(self, where, node, want):
        got = node.get("showname")
        if not PRINTABLE.match(want) or len(want) >= 240:
            # Wireshark escapes or cuts such a label: not written directly.
            self.skipped += 1
            return
        self.checked += 1
        check(got == want, "%s: label %r, fields say %r" % (where, got, want))

    def named(self, where, node, text):
        self.expect(where, node, "%s: %s" % (self.names[node.get("name")], text))

    def reply(self, where, rp):
        code, meaning = show(rp, "smtpreply.code"), show(rp, "smtpreply.meaning")
        esc, reason = show(rp, "smtpreply.esc"), show(rp, "smtpreply.reason")
        verb = show(rp, "smtpreply.command")
        head = code + (" " + esc if esc else "") + (" " + reason if reason else "")
        # "to VERB" where the reply answers a command (its request link).
        to = " to " + (verb or "") if children(rp, "smtpreply.request_in") else ""
        self.expect(where, rp, "Reply %s%s: %s" % (head, to, meaning))
        self.named(where, children(rp, "smtpreply.code")[0], "%s (%s)" % (code, meaning))
        for e in children(rp, "smtpreply.esc"):
            self.named(where, e, "%s (%s)" % (esc, show(e, "smtpreply.esc.meaning")))
            sub = children(e, "smtpreply.esc.subject")[0]
            name = self.names["smtpreply.esc.subject"]
            got = sub.get("showname") or ""
            self.checked += 1
            check(got.startswith("%s: %s (" % (name, sub.get("show"))) and got.endswith(")"),
                  "%s: subject label %r" % (where, got))
        for r in children(rp, "smtpreply.reason"):
            got = r.get("showname") or ""
            self.checked += 1
            check(got.startswith("%s: %s (" % (self.names["smtpreply.reason"], reason))
                  and got.endswith(")"), "%s: reason label %r" % (where, got))

    def capture(self, path, extra=()):
        args = ["-r", path, "-T", "pdml"] + list(extra)
        rc, out, err = T.tshark(*args, check=False)
        T.check_read(rc, err, args)
        root = ET.fromstring(out)
        nreplies = 0
        for pkt in root.iter("packet"):
            num = next((f.get("show") for p in pkt.iter("proto") if p.get("name") == "frame"
                        for f in p if f.get("name") == "frame.number"), "?")
            for proto in pkt.iter("proto"):
                if proto.get("name") != "smtpreply":
                    continue
                where = "%s frame %s" % (os.path.basename(path), num)
                replies = children(proto, "smtpreply.reply")
                codes = [show(rp, "smtpreply.code") for rp in replies]
                self.expect(where, proto, "SMTP Reply Analysis" +
                            (": " + ", ".join(codes) if codes else ""))
                for rq in children(proto, "smtpreply.request"):
                    verb = show(rq, "smtpreply.request.command") or ""
                    m = re.match(r"^Command (.*) \(#(\d+) of its session\)$",
                                 rq.get("showname") or "")
                    self.checked += 1
                    check(m is not None and m.group(1) == (verb or "?"),
                          "%s: command label %r, command %r" % (where, rq.get("showname"), verb))
                for rp in replies:
                    self.reply(where, rp)
                nreplies += len(replies)
        return nreplies


def main():
    T.require_plugin_loaded()
    labels = Labels(field_names())
    crafted = os.path.join(T.TMP, "captures", "crafted.pcap")
    mkpcap.crafted(crafted)
    os.chmod(crafted, 0o644)
    n = labels.capture(crafted)
    check(n > 0, "crafted.pcap: %d replies drawn" % n)
    n = labels.capture(crafted, ["-2"])
    check(n > 0, "crafted.pcap, two passes: %d replies drawn" % n)
    caps = glob.glob(os.path.join(T.SRCDIR, "captures", "*.pcap"))
    caps += glob.glob(os.path.join(T.SRCDIR, "captures", "*.pcapng"))
    for path in sorted(caps):
        n = labels.capture(T.stage(path))
        check(n > 0, "%s: %d replies drawn" % (os.path.basename(path), n))
    check(labels.checked > 100, "%d labels checked" % labels.checked)
    print("labels: %d checked, %d left to Wireshark's escaping" % (labels.checked,
                                                                    labels.skipped))
    finish()


if __name__ == "__main__":
    main()
