#!/usr/bin/env python3
"""gen_capture.py OUT.pcap SESSIONS [CONCURRENCY] [SEED] - a synthetic SMTP
capture with known truth (OUT.pcap.truth.json), written directly as pcap
records (no scapy: fast enough for hundreds of MB).

Each session: handshake; greeting; EHLO with a multi-line reply;
MAIL + 1-5 RCPT + DATA pipelined in one segment; per-recipient 250 2.1.5,
550 5.1.1 or 450 4.2.1; 354 if any recipient was accepted, then a 2-12 KB
body in MSS-sized segments and 250 2.0.0 (or 554 5.5.1 with none); QUIT 221;
FIN both ways.  One session in 3 is IPv6.  Some server segments are
retransmitted and some pairs arrive out of order.  CONCURRENCY sessions
are interleaved packet by packet.  The truth is counted from what is
generated here, never from smtpreply."""
import json, os, random, struct, sys

# The tests' pcap writer (tests/lib/pcapgen.py), by its path in the tree.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import pcapgen  # noqa: E402

out, nsess = sys.argv[1], int(sys.argv[2])
conc = int(sys.argv[3]) if len(sys.argv) > 3 else 100
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
MSS = 1448
truth = {"sessions": 0, "replies": 0, "codes": {}, "classes": {"2": 0, "3": 0, "4": 0, "5": 0},
         "enhanced": {}}


def csum(data):
    return 0  # checksums are not verified by readers of captures


def frame(v6, src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                      5 << 4, flags, 65535, 0, 0) + payload
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + src + dst
        et = 0x86dd
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
        et = 0x0800
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + struct.pack("!H", et) + ip + tcp


def reply(code, esc, text):
    k = str(code)
    truth["replies"] += 1
    truth["codes"][k] = truth["codes"].get(k, 0) + 1
    truth["classes"][k[0]] += 1
    if esc:
        truth["enhanced"][esc] = truth["enhanced"].get(esc, 0) + 1
    return f"{code} {esc + ' ' if esc else ''}{text}\r\n".encode()


def session(i):
    """Yields (from_server, payload, flags) steps; the caller numbers them."""
    truth["sessions"] += 1
    yield ("c", b"", 0x02)
    yield ("s", b"", 0x12)
    yield ("s", reply(220, "", "mx.example.org ESMTP"), 0x18)
    yield ("c", b"EHLO client%d.example\r\n" % i, 0x18)
    ehlo = b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n"
    yield ("s", ehlo + reply(250, "", "8BITMIME"), 0x18)
    n = rng.randint(1, 5)
    cmds = b"MAIL FROM:<s%d@client.example>\r\n" % i
    cmds += b"".join(b"RCPT TO:<u%d@example.org>\r\n" % j for j in range(n)) + b"DATA\r\n"
    yield ("c", cmds, 0x18)
    rs = reply(250, "2.1.0", "Sender ok")
    ok = 0
    for _ in range(n):
        r = rng.random()
        if r < 0.8:
            rs += reply(250, "2.1.5", "Recipient ok"); ok += 1
        elif r < 0.92:
            rs += reply(550, "5.1.1", "User unknown")
        else:
            rs += reply(450, "4.2.1", "Mailbox busy")
    if ok:
        rs += reply(354, "", "End data with <CR><LF>.<CR><LF>")
        yield ("s", rs, 0x18)
        body = b"Subject: test %d\r\n\r\n" % i
        line = b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n"
        body += line * (rng.randint(2000, 12000) // len(line)) + b".\r\n"
        offs = list(range(0, len(body), MSS))
        for o in offs:
            # "r": may be delivered after the next body segment (reordered)
            yield ("c" if o == offs[-1] else "r", body[o:o + MSS], 0x18)
        yield ("s", reply(250, "2.0.0", "Ok: queued"), 0x18)
    else:
        rs += reply(554, "5.5.1", "No valid recipients")
        yield ("s", rs, 0x18)
    yield ("c", b"QUIT\r\n", 0x18)
    yield ("s", reply(221, "2.0.0", "Bye"), 0x18)
    yield ("c", b"", 0x11)
    yield ("s", b"", 0x11)


class Sess:
    def __init__(self, i):
        self.v6 = i % 3 == 2
        if self.v6:
            self.c = bytes.fromhex("20010db8000000000000000000000000")[:12] + struct.pack("!I", i)
            self.s = bytes.fromhex("20010db8000000000000000000000025")
        else:
            self.c = struct.pack("!I", 0x0a000000 + i % 0xffffff)
            self.s = bytes([192, 0, 2, 25])
        self.cp = 1024 + i % 60000
        self.cseq = rng.getrandbits(32)
        self.sseq = rng.getrandbits(32)
        self.steps = session(i)
        self.held = None  # a server segment delayed to arrive out of order


def main():
    f = open(out, "wb")
    f.write(pcapgen.pcap_header(pcapgen.LINKTYPE_ETHERNET, 65535))
    t = 1700000000.0
    next_id = 0
    active = []
    while next_id < nsess or active:
        while len(active) < conc and next_id < nsess:
            active.append(Sess(next_id)); next_id += 1
        s = active[rng.randrange(len(active))]
        step = next(s.steps, None)
        if step is None:
            if s.held:
                f.write(s.held)
            active.remove(s)
            continue
        who, payload, flags = step
        reorder = who == "r"
        who = "c" if reorder else who
        t += 0.0001
        if who == "c":
            pkt = frame(s.v6, s.c, s.s, s.cp, 25, s.cseq, s.sseq, flags, payload)
            s.cseq += len(payload) + (1 if flags & 0x03 else 0)
        else:
            pkt = frame(s.v6, s.s, s.c, 25, s.cp, s.sseq, s.cseq, flags, payload)
            s.sseq += len(payload) + (1 if flags & 0x03 else 0)
        rec = pcapgen.record(int(t) * 1000000 + int((t % 1) * 1e6), pkt)
        if reorder and s.held is None and rng.random() < 0.05:
            s.held = rec  # arrives after the next body segment: out of order
            continue
        if who == "s" and payload and rng.random() < 0.02:
            f.write(rec)  # a retransmission
        f.write(rec)
        if s.held is not None:
            f.write(s.held)
            s.held = None
    f.close()
    truth["codes"] = dict(sorted(truth["codes"].items()))
    truth["enhanced"] = dict(sorted(truth["enhanced"].items()))
    json.dump(truth, open(out + ".truth.json", "w"), indent=1)


main()
