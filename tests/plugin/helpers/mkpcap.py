# SPDX-License-Identifier: MIT
"""A tiny pcap writer for crafted SMTP dialogues (Ethernet/IPv4/TCP, correct
sequence numbers and checksums), so the plugin tests know their answers by
construction, independent of any dissector.  The file is written by the
tests' pcap module (tests/lib/pcapgen.py)."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import pcapgen  # noqa: E402


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip(a):
    return bytes(int(x) for x in a.split("."))


class Flow:
    """One TCP connection between a client and a server."""

    def __init__(self, writer, client, cport, server, sport):
        self.w = writer
        self.ep = {"c": (_ip(client), cport), "s": (_ip(server), sport)}
        self.seq = {"c": 1000, "s": 50000}

    def _pkt(self, side, flags, payload=b"", seq=None):
        other = "s" if side == "c" else "c"
        (src, sp), (dst, dp) = self.ep[side], self.ep[other]
        seq = self.seq[side] if seq is None else seq
        ack = self.seq[other] if flags & 0x10 else 0
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp + payload)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0, 64,
                         6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
        self.w.add(eth + ip + tcp + payload)

    def open(self):
        self._pkt("c", 0x02)
        self.seq["c"] += 1
        self._pkt("s", 0x12)
        self.seq["s"] += 1
        self._pkt("c", 0x10)

    def send(self, side, data):
        """side "c" or "s" sends data in one segment."""
        self._pkt(side, 0x18, data)
        self.seq[side] += len(data)

    def retransmit(self, side, data):
        """data was already sent by side: send its bytes again."""
        self._pkt(side, 0x18, data, seq=self.seq[side] - len(data))

    def close(self):
        self._pkt("c", 0x11)
        self.seq["c"] += 1
        self._pkt("s", 0x11)
        self.seq["s"] += 1
        self._pkt("c", 0x10)


class Writer:
    def __init__(self):
        self.frames = []
        self.t = 1700000000.0

    def add(self, frame):
        self.t += 0.01
        self.frames.append((self.t, frame))

    def flow(self, client, cport, server, sport):
        return Flow(self, client, cport, server, sport)

    def save(self, path):
        pcapgen.write(path, [pcapgen.record(int(t) * 1000000
                                            + int(round((t % 1) * 1e6)) % 1000000, fr)
                             for t, fr in self.frames])
        return len(self.frames)


def crafted(path):
    """Writes the crafted capture; returns its truth: per-session codes,
    enhanced codes, commands answered, as built."""
    w = Writer()
    f = w.flow("10.1.0.1", 40000, "10.1.0.2", 2525)   # 2525: Wireshark's dissector ignores it
    f.open()
    f.send("s", b"220 mx.example ESMTP\r\n")
    f.send("c", b"EHLO client.example\r\n")
    # A multi-line reply split over two segments: one reply.
    f.send("s", b"250-mx.example\r\n250-PIPELINING\r\n")
    f.send("s", b"250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n")
    f.send("c", b"MAIL FROM:<a@client.example>\r\n")
    f.send("s", b"250 2.1.0 Ok\r\n")
    f.send("c", b"RCPT TO:<nobody@mx.example>\r\n")
    f.send("s", b"550 5.1.1 <nobody@mx.example>: Recipient address rejected\r\n")
    f.retransmit("s", b"550 5.1.1 <nobody@mx.example>: Recipient address rejected\r\n")
    f.send("c", b"RCPT TO:<busy@mx.example>\r\n")
    f.send("s", b"450 4.2.0 <busy@mx.example>: Mailbox busy\r\n")
    f.send("c", b"RCPT TO:<b@mx.example>\r\n")
    f.send("s", b"250 2.1.5 Ok\r\n")
    f.send("c", b"DATA\r\n")
    f.send("s", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    f.send("c", b"Subject: t\r\n\r\nhello\r\n.\r\n")
    f.send("s", b"250 2.0.0 Ok: queued\r\n")
    f.send("c", b"NOOP\r\n")
    f.send("s", b"250 2.0.0 Ok\n")                 # bare LF: an anomaly
    f.send("c", b"QUIT\r\n")                       # never answered
    f.close()
    w.save(path)
    return {
        "client": "10.1.0.1:40000", "server": "10.1.0.2:2525",
        "replies": [220, 250, 250, 550, 450, 250, 354, 250, 250],
        "enhanced": ["", "", "2.1.0", "5.1.1", "4.2.0", "2.1.5", "", "2.0.0", "2.0.0"],
        "commands": ["", "EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "DATA", "DATA", "NOOP"],
        "unanswered": ["QUIT"],
    }


def many(path, sessions):
    """A larger capture: `sessions` crafted dialogues one after another,
    each on its own client port (port 25).  Returns the number of frames."""
    w = Writer()
    for i in range(sessions):
        f = w.flow("10.2.%d.%d" % (i // 250 % 250, i % 250 + 1), 10000 + i % 50000,
                   "10.3.0.1", 25)
        f.open()
        f.send("s", b"220 mx.example ESMTP\r\n")
        f.send("c", b"EHLO client.example\r\n")
        f.send("s", b"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        f.send("c", b"MAIL FROM:<a@client.example>\r\nRCPT TO:<b@mx.example>\r\n"
                    b"RCPT TO:<nobody@mx.example>\r\nDATA\r\n")
        f.send("s", b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 Unknown user\r\n"
                    b"354 go ahead\r\n")
        for _ in range(4):
            f.send("c", b"X" * 1000 + b"\r\n")
        f.send("c", b".\r\n")
        f.send("s", b"250 2.0.0 Ok: queued\r\n")
        f.send("c", b"QUIT\r\n")
        f.send("s", b"221 2.0.0 Bye\r\n")
        f.close()
    return w.save(path)


def burst(path):
    """One session whose server answers in bursts: 7,500 replies in one
    segment, then 1,000 more to 1,000 pipelined NOOPs.  A frame's list of
    7,500 replies outgrows what the plugin's arena hands out from one
    piece (plugin/results-smtpreply.c).  Returns the number of frames."""
    w = Writer()
    f = w.flow("10.0.9.1", 40000, "10.0.9.2", 25)
    f.open()
    f.send("s", b"220 mx.example ESMTP\r\n")
    f.send("c", b"EHLO client.example\r\n")
    f.send("s", b"250 ok\r\n" * 7500)
    f.send("c", b"NOOP\r\n" * 1000)
    f.send("s", b"250 2.0.0 ok\r\n" * 1000)
    f.send("c", b"QUIT\r\n")
    f.send("s", b"221 2.0.0 bye\r\n")
    f.close()
    return w.save(path)
