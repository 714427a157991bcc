# SPDX-License-Identifier: MIT
"""The plugin says why a reply failed exactly as the CLI does.

1. Every capture in captures/ and in the shared data folder's captures*/
   folders (when present), read with `tshark -2`: per session, the
   plugin's replies (code, command, enhanced code, stage) equal the CLI's
   `smtpreply --replies`.  When the CLI's reply lines carry `reason`, each
   reply's (reason, reason_source, rcpt, meaning, text) must equal them.
   Otherwise (a CLI without those keys) each reply is rebuilt from the
   plugin's smtpreply.text lines and given to `smtpreply explain --json
   --command VERB` (the verb, "." for the end of data, "greeting"), and
   the plugin's reason, reason_source, meaning and text must equal
   explain's; the last text line must equal the CLI's `text`; and
   smtpreply.rcpt must equal the address in the RCPT TO line that
   Wireshark's own SMTP dissector shows in the request frame (where it
   decodes one).  A success has no reason, a reply to anything but RCPT
   no rcpt.
2. tests/quiz/replies.tsv: every row whose item is a plain reply, carried
   in a crafted capture (one session per row: greeting, the row's
   command, the reply; a row without a command gets the reply unprompted
   after the greeting) must get the row's code and reason.
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
import pcapgen  # noqa: E402
import srtshark as T  # noqa: E402
from checks import check, finish  # noqa: E402


def pairs_all(pairs, key):
    return [v for k, v in pairs if k == key]


def pairs_one(pairs, key):
    v = pairs_all(pairs, key)
    return v[-1] if v else None


def plugin_replies(path):
    """{frozenset(endpoints): [reply dict]} from tshark -2 -T json."""
    args = ("-r", path, "-2", "-Y", "smtpreply.reply", "-T", "json", "-J",
            "frame ip ipv6 tcp smtpreply")
    rc, out, err = T.tshark(*args, check=False)
    T.check_read(rc, err, args)
    sessions = collections.OrderedDict()
    for fr in json.loads(out or "[]", object_pairs_hook=lambda p: p):
        layers = pairs_one(pairs_one(fr, "_source"), "layers")
        ip = pairs_one(layers, "ip") or pairs_one(layers, "ipv6")
        tcp, sr = pairs_one(layers, "tcp"), pairs_one(layers, "smtpreply")
        if ip is None or tcp is None or sr is None:
            continue
        src = pairs_one(ip, "ip.src") or pairs_one(ip, "ipv6.src")
        dst = pairs_one(ip, "ip.dst") or pairs_one(ip, "ipv6.dst")
        key = frozenset([T.endpoint(src, pairs_one(tcp, "tcp.srcport")),
                         T.endpoint(dst, pairs_one(tcp, "tcp.dstport"))])
        for rep in pairs_all(sr, "smtpreply.reply"):
            sessions.setdefault(key, []).append({
                "frame": int(pairs_one(pairs_one(layers, "frame"), "frame.number")),
                "code": int(pairs_one(rep, "smtpreply.code")),
                "command": pairs_one(rep, "smtpreply.command"),
                "enhanced": pairs_one(rep, "smtpreply.esc"),
                "stage": pairs_one(rep, "smtpreply.stage"),
                "request_in": pairs_one(rep, "smtpreply.request_in"),
                "reason": pairs_one(rep, "smtpreply.reason"),
                "reason_source": pairs_one(rep, "smtpreply.reason_source"),
                "rcpt": pairs_one(rep, "smtpreply.rcpt"),
                "meaning": pairs_one(rep, "smtpreply.meaning"),
                "text": "\n".join(pairs_all(rep, "smtpreply.text")),
            })
    return sessions


def cli_replies(path):
    p = subprocess.run([T.CLI, "--replies", "-q", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, errors="replace", timeout=T.TIMEOUT)
    sessions = collections.OrderedDict()
    for line in p.stdout.splitlines():
        o = json.loads(line)
        sessions.setdefault(frozenset([o["client"], o["server"]]), []).append(o)
    return sessions


def rcpt_requests(path):
    """{frame: [RCPT parameters in order]} from Wireshark's SMTP dissector."""
    rows = T.fields(path, ["frame.number", "smtp.req.command", "smtp.req.parameter"],
                    display_filter='smtp.req.command == "RCPT" || smtp.req.command == "rcpt"')
    out = {}
    for r in rows:
        cmds, params = r["smtp.req.command"], r["smtp.req.parameter"]
        if len(cmds) == len(params):
            out[int(r["frame.number"][0])] = [p for c, p in zip(cmds, params)
                                              if c.upper() == "RCPT"]
    return out


def address(param):
    """The address of a RCPT parameter ("TO:<a@b> NOTIFY=..."), or None."""
    m = re.match(r"(?i)\s*to:\s*<([^>]*)>", param)
    return m.group(1) if m else None


def explain_arg(stage, command):
    if stage == "greeting":
        return "greeting"
    if stage == "data-end":
        return "."
    if stage in ("unsolicited",) or not command:
        return None
    return command


def rstrip_lines(text):
    return "\n".join(x.rstrip(" \t") for x in text.split("\n"))


def rebuild(code, text):
    lines = text.split("\n")
    return "\n".join("%03d%s%s" % (code, "-" if i < len(lines) - 1 else " ", t)
                     for i, t in enumerate(lines))


def run_explain(cmd, replies):
    """explain's JSON objects, one per reply, or None if it refused."""
    args = [T.CLI, "explain", "--json"] + (["--command", cmd] if cmd else [])
    p = subprocess.run(args + replies, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=T.TIMEOUT)
    if p.returncode != 0 or not p.stdout.strip():
        return None
    got = json.loads(p.stdout)
    got = [got] if isinstance(got, dict) else got
    return got if len(got) == len(replies) else None


def explain_all(items):
    """[(command or None, reply text)] -> [explain's JSON object]."""
    out = [None] * len(items)
    groups = collections.OrderedDict()
    for i, (cmd, reply) in enumerate(items):
        groups.setdefault(cmd, []).append(i)
    for cmd, idx in groups.items():
        for k in range(0, len(idx), 200):
            part = idx[k:k + 200]
            got = run_explain(cmd, [items[i][1] for i in part])
            if got is None and cmd:
                # A verb explain does not know (the client's "HELLO"): the
                # core answers it as no known command, as explain does
                # without --command.
                got = run_explain(None, [items[i][1] for i in part])
            for i, o in zip(part, got or []):
                out[i] = o
    return out


def compare_capture(path):
    name = os.path.basename(path)
    plug, cli = plugin_replies(path), cli_replies(path)
    bad = []
    n = fails = rcpts = 0
    rcpt_ref = None
    to_explain = []
    for key in list(cli) + [k for k in plug if k not in cli]:
        p, c = plug.get(key, []), cli.get(key, [])
        where = "%s session %s" % (name, " <-> ".join(sorted(key)))
        if [(r["code"], r["command"], r["enhanced"], r["stage"]) for r in p] != \
           [(o["code"], o["command"], o["enhanced"], o["stage"]) for o in c]:
            bad.append("%s: reply sequences differ (plugin %d, CLI %d replies)"
                       % (where, len(p), len(c)))
            continue
        for i, (r, o) in enumerate(zip(p, c)):
            n += 1
            at = "%s reply %d (frame %d, %d)" % (where, i + 1, r["frame"], r["code"])
            if "reason" in o:
                mine = (r["reason"], r["reason_source"], r["rcpt"], r["meaning"], r["text"])
                theirs = (o["reason"], o["reason_source"], o["rcpt"], o["meaning"], o["text"])
                if mine != theirs:
                    bad.append("%s: plugin %r, CLI --replies %r" % (at, mine, theirs))
                fails += r["reason"] is not None
                rcpts += r["rcpt"] is not None
                continue
            # A CLI whose --replies has only the last line's text.
            if r["text"].split("\n")[-1] != o["text"]:
                bad.append("%s: last text line %r, CLI %r" % (at, r["text"].split("\n")[-1],
                                                               o["text"]))
            failure = 400 <= r["code"] < 600
            if failure != (r["reason"] is not None) or (r["reason"] is None) != \
               (r["reason_source"] is None):
                bad.append("%s: reason %r/%r on a %d" % (at, r["reason"], r["reason_source"],
                                                        r["code"]))
            fails += failure
            to_explain.append((at, r, explain_arg(r["stage"], r["command"])))
            if r["command"] == "RCPT" and r["stage"] == "reply":
                if rcpt_ref is None:
                    rcpt_ref = rcpt_requests(path)
                params = rcpt_ref.get(int(r["request_in"] or 0))
                earlier = sum(1 for q in p[:i] if q["request_in"] == r["request_in"]
                              and q["command"] == "RCPT")
                if params is not None and earlier < len(params):
                    want = address(params[earlier])
                    if want is not None:
                        rcpts += 1
                        if r["rcpt"] != want:
                            bad.append("%s: rcpt %r, RCPT line says %r" % (at, r["rcpt"], want))
            elif r["rcpt"] is not None and r["stage"] != "prdr-rcpt":
                bad.append("%s: rcpt %r on a reply to %s" % (at, r["rcpt"], r["command"]))
    if to_explain:
        got = explain_all([(cmd, rebuild(r["code"], r["text"])) for _, r, cmd in to_explain])
        for (at, r, cmd), o in zip(to_explain, got):
            if o is None:
                bad.append("%s: explain gave nothing" % at)
                continue
            # explain drops the spaces that end a pasted line.
            mine = (r["reason"], r["reason_source"], r["meaning"], rstrip_lines(r["text"]))
            theirs = (o.get("reason"), o.get("reason_source"), o.get("meaning"),
                      rstrip_lines(o.get("text") or ""))
            if mine != theirs:
                bad.append("%s: plugin %r, explain --command %s %r" % (at, mine, cmd, theirs))
    for b in bad[:10]:
        check(False, b)
    how = "--replies" if any("reason" in o for s in cli.values() for o in s) else \
        "explain and the RCPT lines"
    check(not bad and (n > 0 or not cli),
          "%s: %d replies (%d failures, %d recipients) equal the CLI's (%s)"
          % (name, n, fails, rcpts, how))
    return n


# ---------------------------------------------------------------------------
# the quiz

def unescape(s):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}
                  .get(m.group(1), m.group(0)), s)


def quiz_rows():
    rows = []
    with open(os.path.join(T.SRCDIR, "tests", "quiz", "replies.tsv")) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            reason, code, _esc, command, named, item = line.rstrip("\n").split("\t")[:6]
            lines = unescape(item).replace("\r\n", "\n").split("\n")
            if named == "no" and all(re.match(r"\d{3}([ -]|$)", x) for x in lines):
                rows.append((reason, int(code), command, lines))
    return rows


COMMAND_LINES = {
    "RCPT": [b"RCPT TO:<someone@example.org>"], "MAIL": [b"MAIL FROM:<sender@example.com>"],
    "AUTH": [b"AUTH PLAIN AHVzZXIAcGFzcw=="], "DATA": [b"DATA"],
    "EHLO": [b"EHLO client.example.com"], "HELO": [b"HELO client.example.com"],
    "VRFY": [b"VRFY someone"], "BURL": [b"BURL imap://example.com/INBOX;UIDVALIDITY=1/;uid=1 LAST"],
}


def quiz_capture(rows, path):
    recs = []
    for n, (_reason, _code, command, lines) in enumerate(rows):
        conv = pcapgen.Conversation(20000 + n, ts_us=1700000000_000000 + n * 10_000_000)
        reply = "".join(x + "\r\n" for x in lines).encode("utf-8", "surrogateescape")
        conv.open()
        if command == "greeting":
            conv.s(reply)
        else:
            conv.s(b"220 mx.example.org ESMTP\r\n")
            if command == ".":
                conv.c(b"DATA\r\n")
                conv.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                conv.c(b"Subject: test\r\n\r\nHello.\r\n.\r\n")
            elif command != "-":
                for c in COMMAND_LINES.get(command, [command.encode()]):
                    conv.c(c + b"\r\n")
            conv.s(reply)
        conv.c(b"QUIT\r\n")
        conv.s(b"221 2.0.0 Bye\r\n")
        conv.close()
        recs += conv.records
    with open(path, "wb") as f:
        f.write(pcapgen.PCAP_HEADER + b"".join(recs))
    os.chmod(path, 0o644)


def check_quiz():
    rows = quiz_rows()
    path = os.path.join(T.TMP, "captures", "quiz.pcap")
    quiz_capture(rows, path)
    got = collections.defaultdict(list)
    for r in T.fields(path, ["tcp.srcport", "tcp.dstport", "smtpreply.code", "smtpreply.reason",
                             "smtpreply.stage"], display_filter="smtpreply.reply"):
        port = int(r["tcp.dstport"][0]) if r["tcp.srcport"] == ["25"] else \
            int(r["tcp.srcport"][0])
        for code, stage in zip(r["smtpreply.code"], r["smtpreply.stage"]):
            got[port].append((int(code), stage))
        got[port, "reasons"] += r["smtpreply.reason"]
    bad = 0
    for n, (reason, code, command, lines) in enumerate(rows):
        port = 20000 + n
        codes = [c for c, _ in got[port]]
        reasons = got[port, "reasons"]
        # The row's reply is the session's only failure (the greeting and
        # the final 221 succeed), so it is the one reason there.
        if code not in codes or reasons != [reason]:
            bad += 1
            check(False, "quiz row %d (%s %s, command %s): plugin codes %s, reasons %s, want %s"
                  % (n + 1, code, lines[-1][:60], command, codes, reasons, reason))
    check(bad == 0 and len(rows) >= 100,
          "quiz: %d plain-reply rows, each with the quiz's reason in the plugin" % len(rows))


def inputs():
    pats = [os.path.join(T.SRCDIR, "captures", "*.pcap*")]
    for d in sorted(glob.glob(os.path.join(T.SHARED, "captures*"))):
        pats.append(os.path.join(d, "*.pcap*"))
    files = []
    for pat in pats:
        files += sorted(f for f in glob.glob(pat) if not f.endswith(".json"))
    return files


def main():
    if not T.CLI:
        T.fail("SMTPREPLY (path of the built smtpreply) is not set")
    T.require_plugin_loaded()
    check_quiz()
    only = os.environ.get("REASONS_ONLY", "")
    total = 0
    for path in inputs():
        if only in os.path.basename(path):
            total += compare_capture(T.stage(path))
    print("%d replies compared" % total)
    finish()


main()
