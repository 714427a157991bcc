#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pair.py - a small pairer, independent of smtpreply, that proposes the
expected pairing of one capture from the streams read_streams.py
reassembles.  It only proposes: every session where it and smtpreply
differ is read by hand, and the decision is written into the expected file
with its reason (tests/pairing/README.md).

Rules, from the RFCs and nothing else:
  - RFC 5321 §3.1: the server speaks first; when the capture holds the
    connection's start (a SYN), the first reply is the greeting, even if an
    eager client already sent a command.
  - RFC 5321 §4.2 / RFC 2920 §3: replies come in the order of the commands;
    each command gets one reply.  A reply that was complete before a
    command was sent cannot answer it (it is unsolicited).
  - DATA: 354 opens the body up to the line "."; the end of data gets its
    own reply (stage data-end).  Any other reply to DATA: no body.
  - PRDR (draft-hall-prdr-00 §3, Exim): if EHLO listed PRDR and MAIL FROM
    carried the PRDR parameter, the end of data may be answered by 353,
    then one reply per recipient accepted in the transaction, then the
    final reply.
  - BDAT (RFC 3030 §2): a size of 1-19 digits up to 2^63-1 (0 too); the
    chunk of that many octets follows the line at once.  Any other argument:
    no chunk.  A valid size whose reply was complete before the chunk's
    first byte was sent, and whose next bytes start a command verb: no
    chunk (the server refused the command line itself).
  - AUTH (RFC 4954 §4): each 334 is followed by one client line (a SASL
    response); the first reply other than 334 ends the exchange.
  - STARTTLS (RFC 3207 §4.2): after a 2xx, bytes 0x16 0x03 on the client
    side start TLS: nothing after is read.
Output: the expected-file body (tests/pairing/README.md) on stdout.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import read_streams as RS  # noqa: E402

VERBS = {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "VRFY", "EXPN", "HELP", "NOOP",
         "QUIT", "TURN", "ETRN", "ATRN", "BDAT", "AUTH", "STARTTLS", "SEND", "SOML", "SAML",
         "XCLIENT", "XFORWARD"}
REPLY = re.compile(rb"^(\d\d\d)([ -]|\r?\n|$)")


class Reply:
    def __init__(self, code, frame):
        self.code, self.frame = code, frame
        self.cmd = None      # verb it answers
        self.stage = None


def replies(chunks):
    out, cur = [], None
    for frame, x in RS.lines(chunks):
        if isinstance(x, int):
            cur = None
            out.append(("gap", frame))
            continue
        m = REPLY.match(x)
        if not m:
            continue
        code, sep = int(m.group(1)), m.group(2)
        if sep == b"-":
            if cur is None:
                cur = code
            continue
        out.append(Reply(code, frame))
        cur = None
    return out


def pair(c):
    sv, cl = c.server(), c.client
    R = [r for r in replies(c.dirs[sv].out) if not isinstance(r, tuple)]
    notes = []
    # The client's bytes with the frame each byte arrived in.
    data, frames, gaps = bytearray(), [], []
    for frame, x in c.dirs[cl].out:
        if isinstance(x, int):
            gaps.append((len(data), x))
            notes.append("client gap of %d bytes at offset %d" % (x, len(data)))
            continue
        data += x
        frames += [frame] * len(x)
    if any(isinstance(r, tuple) for r in replies(c.dirs[sv].out)):
        notes.append("server gap")
    ri = 0
    out = []          # replies in order, with their pairing
    unanswered = []
    full = c.why == "client by SYN" or c.why == "client by SYN-ACK"
    first_cmd = frames[0] if frames else None
    if full and R and (R[0].code in (220, 421, 521, 554) or first_cmd is None
                       or R[0].frame < first_cmd):
        # RFC 5321 §3.1: the first reply is the greeting, unless it cannot
        # be one (another code) while a command already waits for it.
        R[0].stage = "greeting"
        out.append(R[0])
        ri = 1
    if data[:2] == b"\x16\x03":
        notes.append("the client opens with a TLS record: no commands")
        data, frames = bytearray(), []

    def take(verb, stage, frame):
        nonlocal ri
        while ri < len(R) and R[ri].frame < frame:
            R[ri].stage = "unsolicited"
            out.append(R[ri])
            ri += 1
        if ri >= len(R):
            unanswered.append(verb)
            return None
        r = R[ri]
        ri += 1
        r.cmd, r.stage = verb, stage
        out.append(r)
        return r

    pos = 0
    sdata = b"".join(x for _, x in c.dirs[sv].out if isinstance(x, bytes))
    ehlo_prdr = bool(re.search(rb"(?mi)^250[ -]PRDR", sdata))
    mail_prdr = False
    accepted = 0

    def line():
        nonlocal pos
        i = data.find(b"\n", pos)
        if i < 0:
            ln, end = bytes(data[pos:]), len(data)
        else:
            ln, end = bytes(data[pos:i + 1]), i + 1
        frame = frames[end - 1] if end > pos else None
        pos = end
        return ln, frame

    started = full
    while pos < len(data):
        ln, frame = line()
        text = ln.rstrip(b"\r\n").lstrip(b" \t")
        verb = re.match(rb"[A-Za-z0-9-]*", text).group(0)[:15].upper().decode()
        if len(verb) < len(text) and text[len(verb):len(verb) + 1] != b" ":
            if verb not in VERBS:
                pass
        verb = verb or "-"
        if not started:
            if verb not in VERBS:
                continue
            started = True
        if verb == "DATA":
            r = take(verb, "data-start", frame)
            if r is None:
                break  # what follows depends on a reply that never came
            if r.code != 354:
                continue
            while pos < len(data):
                ln, frame = line()
                if ln.rstrip(b"\r\n") == b".":
                    break
            else:
                notes.append("body without its end")
                continue
            r = take("DATA", "data-end", frame)
            if r and r.code == 353 and ehlo_prdr and mail_prdr:
                r.stage = "prdr-start"
                for _ in range(accepted):
                    take("DATA", "prdr-rcpt", frame)
                take("DATA", "data-end", frame)
            accepted, mail_prdr = 0, False
        elif verb == "BDAT":
            args = text.split(b" ")[1:]
            args = [a for a in args if a]
            size = None
            if args and re.fullmatch(rb"\d{1,19}", args[0]) and int(args[0]) <= 2**63 - 1 \
                    and (len(args) == 1 or (len(args) == 2 and args[1].upper() == b"LAST")):
                size = int(args[0])
            if size is not None and size > 0 and ri < len(R) and pos < len(data) \
                    and R[ri].frame < frames[pos] \
                    and data[pos:pos + 4].upper().decode("latin-1") in {v[:4] for v in VERBS}:
                notes.append("BDAT %d refused before its chunk: no chunk" % size)
                size = None
            if size:
                pos = min(len(data), pos + size)
                frame = frames[pos - 1]
            take(verb, "bdat", frame)
        elif verb == "AUTH":
            r = take(verb, "auth-final", frame)
            if r is None:
                break  # what follows depends on a reply that never came
            while r is not None and r.code == 334:
                r.stage = "auth-challenge"
                if pos >= len(data):
                    unanswered.append("AUTH")  # the exchange never ended
                    break
                ln, frame = line()
                r = take("AUTH", "auth-final", frame)
        elif verb == "STARTTLS":
            r = take(verb, "reply", frame)
            if r is not None and r.code // 100 == 2 and data[pos:pos + 2] == b"\x16\x03":
                notes.append("TLS after STARTTLS")
                break
        else:
            r = take(verb, "reply", frame)
            if verb == "MAIL":
                mail_prdr = b" PRDR" in text.upper()
                accepted = 0
            if verb == "RCPT" and r is not None and r.code // 100 == 2:
                accepted += 1
            if verb == "RSET":
                accepted, mail_prdr = 0, False
    for r in R[ri:]:
        r.stage = "unsolicited"
        out.append(r)
    return out, unanswered, notes


def main(argv):
    path = argv[1]
    for c in RS.read(path):
        if not RS.looks_smtp(c):
            continue
        out, unanswered, notes = pair(c)
        print("session %s %s" % (c.client, c.server()))
        for n in notes:
            print("# pair.py: %s" % n)
        for r in out:
            print("%s %s %03d" % (r.cmd or "-", r.stage, r.code))
        print("unanswered %d%s" % (len(unanswered),
                                   (" # " + " ".join(unanswered)) if unanswered else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
