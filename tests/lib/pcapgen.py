"""pcapgen.py - tiny pcap writer for tests that need many packets or exact
bytes (scapy is too slow for a million frames).  Ethernet + IPv4 + TCP,
checksums left zero (smtpreply does not check them)."""
import struct

ETH = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def frame(src, dst, sport, dport, seq, flags, payload=b""):
    """src/dst: 4-byte addresses."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 0x50, flags, 65535, 0, 0)
    return ETH + ip + tcp + payload


def record(ts_us, fr):
    return struct.pack("<IIII", ts_us // 1000000, ts_us % 1000000, len(fr), len(fr)) + fr


class Conversation:
    """One TCP connection, client -> server:port; collects pcap records.
    c(...) sends from the client, s(...) from the server; seq numbers
    advance unless the caller gives one (to craft out-of-order segments)."""

    def __init__(self, cport, sport=25, cli=b"\x0a\x00\x00\x01", srv=b"\x0a\x00\x00\x02",
                 ts_us=1700000000_000000):
        self.cli, self.srv, self.cport, self.sport = cli, srv, cport, sport
        self.seq = {True: 1000, False: 5000}
        self.ts = ts_us
        self.records = []

    def send(self, from_client, payload=b"", flags=ACK | PSH, seq=None, advance=True):
        self.ts += 100
        s = self.seq[from_client] if seq is None else seq
        if from_client:
            fr = frame(self.cli, self.srv, self.cport, self.sport, s, flags, payload)
        else:
            fr = frame(self.srv, self.cli, self.sport, self.cport, s, flags, payload)
        self.records.append(record(self.ts, fr))
        if advance and seq is None:
            self.seq[from_client] += len(payload) + (1 if flags & (SYN | FIN) else 0)

    def c(self, payload=b"", **kw):
        self.send(True, payload, **kw)

    def s(self, payload=b"", **kw):
        self.send(False, payload, **kw)

    def open(self):
        self.c(flags=SYN)
        self.s(flags=SYN | ACK)

    def close(self):
        self.c(flags=FIN | ACK)
        self.s(flags=FIN | ACK)


def write(path, records):
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        f.write(b"".join(records))
