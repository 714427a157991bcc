# SPDX-License-Identifier: MIT
"""The plugin pairs replies as the bytes say: per session, the ordered
(smtpreply.command, smtpreply.stage, smtpreply.code) of every reply equals
tests/pairing/expected/ (written from the bytes, tests/pairing/README.md),
in two passes; and each reply's smtpreply.request_in links to a frame whose
command has that verb (request.command), earlier than the reply, while a
greeting or unsolicited reply has no link.  Runs on the repo's captures and
on peer captures with the cases pairing once got wrong (BDAT sizes, a
greeting glued to the EHLO answer, a client-side gap, an unterminated last
line), when ../shared is present."""
import collections
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers"))
import srtshark as T  # noqa: E402
from checks import check, finish, skip  # noqa: E402

sys.path.insert(0, os.path.join(T.SRCDIR, "tests", "cli"))
EXPECTED = os.path.join(T.SRCDIR, "tests", "pairing", "expected")
PEERS = ["sv-smtp-bdat-bad-tail-reply-queue.pcap", "sv-smtp-bdat-bad-tail-next-mail.pcap",
         "zeek-smtp-bdat-cmd-chunk-size-overflow.pcap", "sv-detect-email-received.pcap",
         "sv-smtp-bug-6053.pcap", "zeek-smtp-bdat-gap.pcap", "sv-smtp-rset.pcap",
         "sv-smtp-bdat-pipelined-next-mail.pcap", "ark-ntlm_synthetic.pcap"]
SHARED = ["suricata-verify-smtperr.pcap", "zeek-smtp-bdat-cmd-invalid.pcapng"]


def parse_expected(path):
    out = collections.OrderedDict()
    cur = None
    for raw in open(path, encoding="utf-8"):
        parts = raw.split("#", 1)[0].split()
        if not parts:
            continue
        if parts[0] == "session":
            cur = out.setdefault(frozenset(parts[1:3]), [])
        elif parts[0] != "unanswered":
            cur.append((None if parts[0] == "-" else parts[0], parts[1], int(parts[2])))
    return out


def plugin_replies(cap):
    """({endpoints: [(command, stage, code, request_in, frame)]},
    {frame: [request.command verbs]}) from a two-pass PDML dissection."""
    args = ("-r", cap, "-2", "-T", "pdml", "-Y", "smtpreply")
    rc, out, err = T.tshark(*args, check=False)
    T.check_read(rc, err, args)
    replies = collections.OrderedDict()
    commands = collections.defaultdict(list)
    for pkt in ET.fromstring(out).iter("packet"):
        f = {}
        for field in pkt.iter("field"):
            name = field.get("name")
            if name in ("frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
                        "tcp.srcport", "tcp.dstport") and name not in f:
                f[name] = field.get("show")
        frame = int(f["frame.number"])
        eps = frozenset([T.endpoint(f.get("ip.src") or f.get("ipv6.src"), f["tcp.srcport"]),
                         T.endpoint(f.get("ip.dst") or f.get("ipv6.dst"), f["tcp.dstport"])])
        for field in pkt.iter("field"):
            if field.get("name") == "smtpreply.request.command":
                commands[frame].append(field.get("show"))
            if field.get("name") != "smtpreply.reply":
                continue
            sub = {c.get("name"): c.get("show") for c in field.findall("field")}
            replies.setdefault(eps, []).append(
                (sub.get("smtpreply.command"), sub.get("smtpreply.stage"),
                 int(sub["smtpreply.code"]),
                 int(sub["smtpreply.request_in"]) if "smtpreply.request_in" in sub else None,
                 frame))
    return replies, commands


def main():
    T.require_plugin_loaded()
    caps = [("repo", os.path.join(T.SRCDIR, "captures", n))
            for n in sorted(os.listdir(os.path.join(T.SRCDIR, "captures")))
            if n.endswith((".pcap", ".pcapng"))]
    for tag, folder, names in (("peers", "captures-peers", PEERS), ("shared", "captures", SHARED)):
        d = os.path.join(T.SHARED, folder)
        if os.path.isdir(d):
            caps += [(tag, os.path.join(d, n)) for n in names]
        else:
            skip("%s absent: its captures not compared" % d)
    checked = 0
    for tag, path in caps:
        name = os.path.basename(path)
        want = parse_expected(os.path.join(EXPECTED, tag, name + ".pairs"))
        have, commands = plugin_replies(T.stage(path))
        for eps in list(want) + [k for k in have if k not in want]:
            w = want.get(eps, [])
            h = have.get(eps, [])
            # A command with no verb (binary junk) shows as ""; the
            # expected files, like --replies, write it "-".
            got = [(c or None, s, code) for c, s, code, _, _ in h]
            what = "%s %s" % (name, " ".join(sorted(eps)))
            if got != w:
                i = next((i for i, (a, b) in enumerate(zip(w, got)) if a != b),
                         min(len(w), len(got)))
                check(False, "%s: reply %d: expected %s, plugin %s" % (
                    what, i + 1, w[i] if i < len(w) else "none",
                    got[i] if i < len(got) else "none"))
                continue
            links = []
            for c, s, code, req, frame in h:
                if c is None:
                    # No verb: the greeting and an unsolicited reply link
                    # nowhere; a reply to a verbless command (binary junk,
                    # "-" in the expected files, null in --replies) links
                    # to an earlier frame, with no verb to compare.
                    if s in ("greeting", "unsolicited") and req is not None:
                        links.append("frame %d: %03u %s links to frame %d" % (frame, code, s, req))
                    elif req is not None and req >= frame:
                        links.append("frame %d: %03u %s links to a later frame %d" %
                                     (frame, code, s, req))
                elif c == "":
                    continue  # a command with no verb: linked, nothing to compare
                elif req is None or req >= frame:
                    links.append("frame %d: %03u %s answers %s but request_in is %s" %
                                 (frame, code, s, c, req))
                elif c not in commands.get(req, []) and s not in ("data-end", "prdr-start",
                                                                  "prdr-rcpt"):
                    links.append("frame %d: request_in %d holds %s, not %s" %
                                 (frame, req, commands.get(req), c))
            check(not links, "%s: %d replies pair as expected%s" %
                  (what, len(h), "; " + "; ".join(links) if links else ""))
            checked += len(h)
    check(checked > 0, "replies compared: %d" % checked)
    finish()


main()
