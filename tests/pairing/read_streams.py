#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""read_streams.py - an independent reader of the TCP streams in a capture,
for writing the expected pairings by reading the bytes.

It shares nothing with smtpreply: scapy decodes the frames, and a small
reassembler here puts each direction's bytes in sequence order.  Every
stream is printed as a dialogue, one line per CRLF- (or LF-) ended line,
in the order the line's last byte was captured, with its frame number:

    == 192.0.2.1:41414 -> 192.0.2.2:25  (client by SYN)
       4 S: 220 mail.example.com ESMTP\\r\\n
       6 C: EHLO x\\r\\n

A partial line at a segment boundary is shown when its line completes;
bytes lost to the capture are shown as `C: [gap N bytes]` where the hole
was given up (when the peer acknowledged bytes past it, or at the end).

Reassembly rules (kept simple and stated, since they decide what "the
bytes" are): a direction starts at its SYN's sequence number + 1, or at
the first data segment's when the SYN is missing; a byte already received
is kept (the first copy wins over a conflicting retransmission); a SYN
(without ACK) on a 4-tuple whose previous connection closed, or with a
new initial sequence number, starts a new connection.

Usage: read_streams.py CAPTURE [--all] [--width N]
  --all    print every TCP stream (default: those with payload on port
           25/465/587/2525, or whose first server line has a reply code,
           or whose client says HELO/EHLO)
"""
import re
import sys

from scapy.all import IP, IPv6, TCP, PcapReader  # noqa: E402
from scapy.utils import PcapNgReader  # noqa: E402

SMTP_PORTS = {25, 465, 587, 2525}


def endpoint(addr, port):
    return "[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port)


class Direction:
    def __init__(self):
        self.isn = None        # sequence number of the first data byte
        self.segs = {}         # relative offset -> (bytes, frame)
        self.next = 0          # next relative offset to deliver
        self.out = []          # (frame, bytes or int gap length)
        self.fin = False

    def rel(self, seq):
        d = (seq - self.isn) & 0xffffffff
        return d - (1 << 32) if d >= (1 << 31) else d

    def add(self, seq, data, frame):
        if self.isn is None:
            self.isn = seq
        off = self.rel(seq)
        end = off + len(data)
        if end <= self.next:
            return  # all old: a retransmission
        if off < self.next:
            data = data[self.next - off:]
            off = self.next
        old = self.segs.get(off)
        if old is None or len(old[0]) < len(data):
            self.segs[off] = (data, frame)
        self.drain(frame)

    def drain(self, frame):
        while True:
            best = None
            for off, (data, _) in self.segs.items():
                if off <= self.next < off + len(data):
                    if best is None or off + len(data) > best[0] + len(best[1]):
                        best = (off, data)
            for off in [o for o, (d, _) in self.segs.items() if o + len(d) <= self.next]:
                del self.segs[off]
            if best is None:
                return
            off, data = best
            self.out.append((frame, data[self.next - off:]))
            self.next = off + len(data)

    def give_up_to(self, limit, frame):
        """The peer acknowledged up to `limit` (relative): a hole below it
        was received by the peer but not captured."""
        while self.segs:
            first = min(self.segs)
            if first >= limit or first <= self.next:
                if first <= self.next:
                    self.drain(frame)
                    continue
                return
            self.out.append((frame, first - self.next))
            self.next = first
            self.drain(frame)

    def finish(self, frame):
        while self.segs:
            first = min(self.segs)
            if first > self.next:
                self.out.append((frame, first - self.next))
                self.next = first
            self.drain(frame)
            self.segs = {o: v for o, v in self.segs.items() if o + len(v[0]) > self.next}


class Conn:
    def __init__(self, a, b):
        self.ends = (a, b)        # a = first packet's source
        self.dirs = {a: Direction(), b: Direction()}
        self.client = None
        self.why = ""
        self.closed = False
        self.syn_isn = None
        self.first_frame = None

    def server(self):
        a, b = self.ends
        return b if self.client == a else a


def packets(path):
    with open(path, "rb") as f:
        magic = f.read(4)
    reader = PcapNgReader if magic == b"\x0a\x0d\x0d\x0a" else PcapReader
    with reader(path) as r:
        for frame, pkt in enumerate(r, 1):
            yield frame, pkt


def read(path):
    """Returns the connections, each with .client, .server() and per
    direction .dirs[endpoint].out = [(frame, bytes | gap length)]."""
    conns = []
    by_tuple = {}
    frame = 0
    for frame, pkt in packets(path):
        ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        tcp = pkt.getlayer(TCP)
        if ip is None or tcp is None:
            continue
        src = endpoint(ip.src, tcp.sport)
        dst = endpoint(ip.dst, tcp.dport)
        key = frozenset((src, dst))
        flags = int(tcp.flags)
        syn, ack, fin, rst = flags & 2, flags & 16, flags & 1, flags & 4
        payload = bytes(tcp.payload)
        if isinstance(ip, IP):
            # The IP total length bounds the payload (Ethernet padding).
            maxlen = ip.len - ip.ihl * 4 - tcp.dataofs * 4
            if ip.len and 0 <= maxlen < len(payload):
                payload = payload[:maxlen]
        c = by_tuple.get(key)
        if syn and not ack and c is not None and (c.closed or c.syn_isn not in (None, tcp.seq)):
            c = None
        if c is None:
            c = Conn(src, dst)
            c.first_frame = frame
            by_tuple[key] = c
            conns.append(c)
        d = c.dirs[src]
        if syn:
            if not ack:
                c.client, c.why = src, "client by SYN"
                c.syn_isn = tcp.seq
            elif c.client is None:
                c.client, c.why = dst, "client by SYN-ACK"
            if d.isn is None or not d.out:
                d.isn = (tcp.seq + 1) & 0xffffffff
        if payload:
            d.add(tcp.seq, payload, frame)
        if fin:
            d.fin = True
        if rst or (c.dirs[src].fin and c.dirs[dst].fin):
            c.closed = True
        peer = c.dirs[dst]
        if ack and peer.isn is not None and peer.segs:
            peer.give_up_to(peer.rel(tcp.ack), frame)
    for c in conns:
        for d in c.dirs.values():
            d.finish(frame)
        if c.client is None:
            a, b = c.ends
            pa, pb = int(a.rsplit(":", 1)[1]), int(b.rsplit(":", 1)[1])
            first_a = next((x for _, x in c.dirs[a].out if isinstance(x, bytes)), b"")
            first_b = next((x for _, x in c.dirs[b].out if isinstance(x, bytes)), b"")
            if pb in SMTP_PORTS and pa not in SMTP_PORTS:
                c.client, c.why = a, "client by port"
            elif pa in SMTP_PORTS and pb not in SMTP_PORTS:
                c.client, c.why = b, "client by port"
            elif re.match(rb"\d\d\d[- \r]", first_a):
                c.client, c.why = b, "client by reply code"
            elif re.match(rb"\d\d\d[- \r]", first_b):
                c.client, c.why = a, "client by reply code"
            else:
                c.client, c.why = (a, "client by port") if pa > pb else (b, "client by port")
    return conns


def lines(chunks):
    """[(frame, bytes|gap)] -> [(frame, line bytes incl. its ending | gap
    length)]; a last line without LF is returned as is."""
    out, cur = [], b""
    for frame, x in chunks:
        if isinstance(x, int):
            if cur:
                out.append((frame, cur))
                cur = b""
            out.append((frame, x))
            continue
        cur += x
        while b"\n" in cur:
            i = cur.index(b"\n") + 1
            out.append((frame, cur[:i]))
            cur = cur[i:]
    if cur:
        out.append((frame, cur))
    return out


def dialogue(c):
    """Both directions' lines in capture order: [(frame, 'C'|'S', line|gap)]."""
    out = []
    for side, ep in (("C", c.client), ("S", c.server())):
        for i, (frame, x) in enumerate(lines(c.dirs[ep].out)):
            out.append((frame, 0 if side == "S" else 1, i, side, x))
    out.sort(key=lambda t: (t[0], t[1], t[2]))
    return [(f, s, x) for f, _, _, s, x in out]


def looks_smtp(c):
    cl, sv = c.client, c.server()
    port = lambda ep: int(ep.rsplit(":", 1)[1])  # noqa: E731
    sdata = b"".join(x for _, x in c.dirs[sv].out if isinstance(x, bytes))
    cdata = b"".join(x for _, x in c.dirs[cl].out if isinstance(x, bytes))
    if not sdata and not cdata:
        return False
    if port(sv) in SMTP_PORTS:
        return True
    return bool(re.search(rb"(^|\n)(220|421|554|521)[ -]", sdata[:4096]) or
                re.search(rb"(?i)(^|\n)(HELO|EHLO)[ \r\n]", cdata[:4096]))


def show(x, width):
    if isinstance(x, int):
        return "[gap %d bytes]" % x
    s = "".join(chr(b) if 32 <= b < 127 and b != 92 else
                {13: "\\r", 10: "\\n", 9: "\\t", 92: "\\\\"}.get(b, "\\x%02x" % b) for b in x)
    if width and len(s) > width:
        s = s[:width] + "...(%d bytes)" % len(x)
    return s


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    width = 160
    if "--width" in argv:
        width = int(argv[argv.index("--width") + 1])
        args.remove(str(width))
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    for c in read(args[0]):
        if "--all" not in argv and not looks_smtp(c):
            continue
        print("== %s -> %s  (%s, first frame %d)" % (c.client, c.server(), c.why, c.first_frame))
        for frame, side, x in dialogue(c):
            print("%6d %s: %s" % (frame, side, show(x, width)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
