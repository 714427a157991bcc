# SPDX-License-Identifier: MIT
"""pcapgen.py - the one writer (and small reader) of capture files for the
tests and the benchmark's generator.

Layers, from the bytes up:
  pcap files     pcap_header(), pcap_record()/record(), pcap_bytes(),
                 write(), write_packets() (scapy packets, any link type),
                 PcapFile (streams records to a file);
  pcapng files   pcapng_block(), pcapng_shb(), pcapng_idb(), epb(),
                 pcapng_epb(); the length fields can be given wrong on
                 purpose (tests/damaged/gen_damaged.py);
  reading        Record, read_pcap(), read_pcapng_blocks() for the
                 well-formed captures in captures/;
  frames         frame() (Ethernet, IPv4, TCP; checksums zero: smtpreply
                 does not check them), Conversation (one TCP connection
                 with its sequence numbers).

No scapy here: the scale tests write a million frames."""
import struct

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_LINUX_SLL, LINKTYPE_USER0, LINKTYPE_LINUX_SLL2 = 113, 147, 276
PCAP_MAGIC_US, PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
PCAPNG_BOM = 0x1A2B3C4D

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
ETH = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"


# ---------------------------------------------------------------------------
# pcap

def pcap_header(linktype=LINKTYPE_ETHERNET, snaplen=65535, endian="<", nano=False,
                version=(2, 4)):
    magic = PCAP_MAGIC_NS if nano else PCAP_MAGIC_US
    return struct.pack(endian + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)


PCAP_HEADER = pcap_header()


def record(ts_us, fr, endian="<"):
    """A pcap record of frame fr at ts_us microseconds, nothing cut."""
    return struct.pack(endian + "IIII", ts_us // 1000000, ts_us % 1000000, len(fr), len(fr)) + fr


class Record:
    """One packet record: time stamp (seconds, fraction in microseconds),
    captured length, wire length and the captured bytes.  caplen may
    differ from len(data) on purpose (a damaged record)."""

    def __init__(self, sec, frac, caplen, wirelen, data):
        self.sec, self.frac, self.caplen, self.wirelen, self.data = sec, frac, caplen, wirelen, data

    def copy(self, **kw):
        r = Record(self.sec, self.frac, self.caplen, self.wirelen, self.data)
        for k, v in kw.items():
            setattr(r, k, v)
        return r


def pcap_record(r, endian="<", nano=False):
    """The bytes of Record r (its fraction is in microseconds; a
    nanosecond file gets it times 1000)."""
    frac = r.frac * 1000 if nano else r.frac
    return struct.pack(endian + "IIII", r.sec, frac, r.caplen, r.wirelen) + r.data


def pcap_bytes(linktype, snaplen, recs, endian="<", nano=False):
    """A whole pcap file of Records."""
    return pcap_header(linktype, snaplen, endian, nano) + b"".join(
        pcap_record(r, endian, nano) for r in recs)


def write(path, records, linktype=LINKTYPE_ETHERNET, snaplen=65535):
    """A pcap file of already-packed records (record())."""
    with open(path, "wb") as f:
        f.write(pcap_header(linktype, snaplen))
        f.write(b"".join(records))


class PcapFile:
    """Streams records to a pcap file (for captures too large to hold):
    with PcapFile(path) as f: f.add(ts_us, frame) or f.raw(record)."""

    def __init__(self, path, linktype=LINKTYPE_ETHERNET, snaplen=65535):
        self.f = open(path, "wb")
        self.f.write(pcap_header(linktype, snaplen))

    def add(self, ts_us, fr):
        self.f.write(record(ts_us, fr))

    def raw(self, data):
        self.f.write(data)

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_packets(path, packets, linktype=LINKTYPE_ETHERNET, nano=False):
    """A pcap file of scapy packets (or anything with .time and bytes()),
    with the link type given: the time stamps split as scapy's own wrpcap
    splits them."""
    unit = 1000000000 if nano else 1000000
    with open(path, "wb") as f:
        f.write(pcap_header(linktype, 65535, nano=nano))
        for p in packets:
            data = bytes(p)
            sec = int(p.time)
            frac = int(round((p.time - sec) * unit))
            f.write(struct.pack("<IIII", sec, frac, len(data), len(data)) + data)


def read_pcap(path):
    """Parses a well-formed little-endian microsecond pcap (the bundled
    ones); returns (linktype, snaplen, records)."""
    b = open(path, "rb").read()
    magic, vmaj, vmin, _tz, _sig, snaplen, linktype = struct.unpack("<IHHiIII", b[:24])
    assert magic == PCAP_MAGIC_US and (vmaj, vmin) == (2, 4), path
    off, recs = 24, []
    while off < len(b):
        sec, frac, caplen, wirelen = struct.unpack("<IIII", b[off:off + 16])
        recs.append(Record(sec, frac, caplen, wirelen, b[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    assert off == len(b), path
    return linktype, snaplen, recs


# ---------------------------------------------------------------------------
# pcapng

def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def pcapng_block(btype, body, endian="<", length=None, trailer=None):
    """A block; length/trailer override the two length fields (to damage
    them), otherwise both are the true total length."""
    body = pad4(body)
    total = 12 + len(body)
    return (struct.pack(endian + "II", btype, total if length is None else length) + body
            + struct.pack(endian + "I", total if trailer is None else trailer))


def pcapng_shb(endian="<", version=(1, 0)):
    """A Section Header Block, section length unknown (-1)."""
    return pcapng_block(PCAPNG_SHB, struct.pack(endian + "IHHq", PCAPNG_BOM, version[0],
                                                version[1], -1), endian)


def pcapng_idb(linktype, snaplen, endian="<", tsresol=None):
    """An Interface Description Block; tsresol: the if_tsresol option's
    byte (default: no option, microseconds)."""
    body = struct.pack(endian + "HHI", linktype, 0, snaplen)
    if tsresol is not None:       # if_tsresol (9), one byte, then opt_endofopt
        body += struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
        body += struct.pack(endian + "HH", 0, 0)
    return pcapng_block(PCAPNG_IDB, body, endian)


def epb(ts, caplen, wirelen, data, endian="<", iface=0):
    """An Enhanced Packet Block; ts in the interface's units."""
    return pcapng_block(PCAPNG_EPB, struct.pack(endian + "IIIII", iface, ts >> 32,
                                                ts & 0xffffffff, caplen, wirelen) + data, endian)


def epb_body(r, endian="<", units_per_sec=10**6, iface=0, caplen=None):
    """The body of an EPB for Record r (to build a damaged block)."""
    ts = r.sec * units_per_sec + r.frac * (units_per_sec // 10**6)
    return struct.pack(endian + "IIIII", iface, ts >> 32, ts & 0xffffffff,
                       r.caplen if caplen is None else caplen, r.wirelen) + pad4(r.data)


def pcapng_epb(r, endian="<", units_per_sec=10**6, **kw):
    return pcapng_block(PCAPNG_EPB, epb_body(r, endian, units_per_sec, **kw), endian)


def read_pcapng_blocks(path):
    """Splits a well-formed little-endian pcapng into (type, body) blocks,
    body being what lies between the length fields."""
    b = open(path, "rb").read()
    off, blocks = 0, []
    while off < len(b):
        btype, blen = struct.unpack("<II", b[off:off + 8])
        assert struct.unpack("<I", b[off + blen - 4:off + blen])[0] == blen, path
        blocks.append((btype, b[off + 8:off + blen - 4]))
        off += blen
    return blocks


# ---------------------------------------------------------------------------
# frames and conversations

def frame(src, dst, sport, dport, seq, flags, payload=b""):
    """Ethernet + IPv4 + TCP; src/dst: 4-byte addresses."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 0x50, flags, 65535, 0, 0)
    return ETH + ip + tcp + payload


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
