#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen_damaged.py OUTDIR: a corpus of broken captures and what smtpreply
must make of each.

Every case is built here, byte by byte with struct, from the project's
own captures in captures/ (delivery-pipelining.pcap and .pcapng, ipv6.pcap,
any-sll2.pcap), so the corpus is deterministic and this file documents
exactly what is broken in each.  OUTDIR gets the case files and
OUTDIR/expect.json, a list of cases:

  name         the case's name
  args         what to pass to smtpreply (paths relative to OUTDIR)
  stdin        (optional) the file to feed on standard input (args: "-")
  status       the exit status the CLI documents for it (0, 1 or 2)
  stderr       one regex per line smtpreply must write on stderr, in any
               order ([] = stderr must be empty)
  files        path -> {"packets": N, "problems": [regexes]}: each input
               file's entry in files[] (packets: the records libpcap hands
               over; problems: one regex per problem, in order)
  sessions, replies   [min, max] for totals.sessions / totals.replies
  codes_max    a reply code may not be counted more often than this
  totals       exact values some totals must have (e.g. skipped packets)
  description  what is broken and what is expected, in words

The expectations are derived from the bytes written, never from running
smtpreply: a small model of libpcap's reader (pcap_model, pcapng_model
below, after libpcap 1.10's sf-pcap.c and sf-pcapng.c) says which records
libpcap delivers before it stops and whether it stops on an error; a small
decoder (in the manner of analyzer/decode.c) says which delivered packets
carry whole TCP headers and payloads; the replies are then bounded:
  * at least the replies whose final line lies wholly in the server's
    bytes delivered before the first server packet that was lost or cut,
  * at most the replies of the whole, undamaged capture (its truth file).
Exit statuses follow `smtpreply --help` and docs/contracts.md: 0 every input
read completely (packet-level skips, e.g. an undecoded link type or a
snaplen cut, are counted in the output and leave it 0); 1 some input
unreadable, not a capture, truncated or damaged; 2 nothing readable.

Inside a walked directory (docs/contracts.md): files without a capture magic are listed with
"skipped: not a capture", quietly; a FIFO, socket or device is listed
with "skipped: not a regular file" without being opened (so it cannot
hang the run); a file that cannot be opened (a dangling symlink) is a
problem "cannot read: <reason>" and makes the exit status 1.  We run as
root, so permission bits cannot make a file unreadable: the dangling
symlink and the FIFO stand in for unreadable files.
"""
import json
import os
import random
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
# The capture files are read and written by the tests' one pcap module.
from pcapgen import (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_USER0,  # noqa: E402
                     PCAP_MAGIC_NS, PCAP_MAGIC_US, PCAPNG_BOM, PCAPNG_EPB, PCAPNG_IDB,
                     PCAPNG_SHB, Record, epb_body, pcap_bytes, pcap_header, pcapng_block,
                     pcapng_epb, pcapng_idb, pcapng_shb, read_pcap, read_pcapng_blocks)
CAPTURES = os.path.join(HERE, "..", "..", "captures")

# ---------------------------------------------------------------------------
# libpcap's limits (pcap-int.h, pcap-common.c, sf-pcapng.c)

MAXIMUM_SNAPLEN = 262144            # max_snaplen_for_dlt() for every link type used here
# An EPB carrying a max-snaplen packet plus 128 KiB of options: libpcap
# refuses any block larger than this once it knows the link type.
PCAPNG_MAX_BLOCK = 8 + 20 + MAXIMUM_SNAPLEN + 131072 + 4
SHB_INSANE_MAX = 1024 * 1024
DLT_EN10MB, DLT_USER0, DLT_LINUX_SLL2 = LINKTYPE_ETHERNET, LINKTYPE_USER0, LINKTYPE_LINUX_SLL2

# decode.c's names for packet-level skips, as they appear in
# totals.skipped_packets.
SKIP_HDR_CUT = "headers cut by the snaplen"
SKIP_LINKTYPE = "unsupported link type"


# ---------------------------------------------------------------------------
# a model of libpcap's readers: which records does it hand over?

class Outcome:
    """What libpcap makes of a file: opened or not; the packets it
    delivers, as (bytes, caplen) in order; and whether reading ended on an
    error (damaged) rather than a clean end of file."""

    def __init__(self, opened, packets=(), damaged=False):
        self.opened, self.packets, self.damaged = opened, list(packets), damaged


def pcap_model(b):
    """sf-pcap.c: the 24-byte header must be whole, the magic known and
    the version 2.x (x <= 4).  Then each record: a 16-byte header (0 bytes
    left = clean end, 1-15 = truncated); caplen above the link type's
    maximum = error; caplen above the file's snaplen (but within the
    maximum) = the first snaplen bytes delivered, the rest skipped; data
    running past the end of the file = truncated."""
    if len(b) < 24:
        return Outcome(False)
    for endian in "<>":
        magic = struct.unpack(endian + "I", b[:4])[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        return Outcome(False)
    _m, vmaj, vmin, _tz, _sig, snaplen, _lt = struct.unpack(endian + "IHHiIII", b[:24])
    if not (vmaj == 2 and vmin <= 4):
        return Outcome(False)
    if snaplen == 0 or snaplen > MAXIMUM_SNAPLEN:      # pcap_adjust_snapshot()
        snaplen = MAXIMUM_SNAPLEN
    off, pk = 24, []
    while True:
        left = len(b) - off
        if left == 0:
            return Outcome(True, pk)
        if left < 16:
            return Outcome(True, pk, damaged=True)
        caplen = struct.unpack(endian + "I", b[off + 8:off + 12])[0]
        if caplen > MAXIMUM_SNAPLEN:
            return Outcome(True, pk, damaged=True)
        if left - 16 < caplen:
            return Outcome(True, pk, damaged=True)
        take = min(caplen, snaplen)
        pk.append((b[off + 16:off + 16 + take], take))
        off += 16 + caplen


def pcapng_model(b):
    """sf-pcapng.c: a Section Header Block (byte-order magic, version 1.0
    or 1.2, 28 bytes to 1 MiB) then, before any packet, an Interface
    Description Block (blocks of unknown type before it are skipped);
    every block has a length >= 12, a multiple of 4, no larger than the
    limit, and the same length in its trailer.  Unknown block types are
    skipped; an EPB must name a known interface and fit its caplen in the
    block.  A block cut by the end of the file is an error, as is a file
    ending before the first IDB."""
    if len(b) < 12 or struct.unpack("<I", b[:4])[0] != PCAPNG_SHB:
        return Outcome(False)
    for endian in "<>":
        if struct.unpack(endian + "I", b[8:12])[0] == PCAPNG_BOM:
            break
    else:
        return Outcome(False)

    def block(off, limit):
        """(type, body, next offset), or None at a clean end, or "error"."""
        left = len(b) - off
        if left == 0:
            return None
        if left < 8:
            return "error"
        btype, blen = struct.unpack(endian + "II", b[off:off + 8])
        if blen < 12 or blen % 4 or blen > limit or blen > left:
            return "error"
        if struct.unpack(endian + "I", b[off + blen - 4:off + blen])[0] != blen:
            return "error"
        return btype, b[off + 8:off + blen - 4], off + blen

    shb = block(0, SHB_INSANE_MAX)
    if shb in (None, "error") or len(shb[1]) < 16:
        return Outcome(False)
    vmaj, vmin = struct.unpack(endian + "HH", shb[1][4:8])
    if vmaj != 1 or vmin not in (0, 2):
        return Outcome(False)
    off, ifaces = shb[2], []
    while not ifaces:                  # pcap_ng_check_header(): find an IDB
        blk = block(off, 16 * 1024 * 1024)
        if blk in (None, "error") or blk[0] in (2, 3, PCAPNG_EPB):
            return Outcome(False)
        if blk[0] == PCAPNG_IDB:
            linktype, _r, snaplen = struct.unpack(endian + "HHI", blk[1][:8])
            ifaces.append(snaplen if 0 < snaplen <= MAXIMUM_SNAPLEN else MAXIMUM_SNAPLEN)
        off = blk[2]
    pk = []
    while True:
        blk = block(off, PCAPNG_MAX_BLOCK)
        if blk is None:
            return Outcome(True, pk)
        if blk == "error":
            return Outcome(True, pk, damaged=True)
        btype, body, off = blk
        if btype == PCAPNG_IDB:
            # more interfaces are fine as long as the link type is the same;
            # the cases here never add one.
            return Outcome(True, pk, damaged=True)
        if btype == PCAPNG_EPB:
            iface, _th, _tl, caplen, _wl = struct.unpack(endian + "IIIII", body[:20])
            if iface >= len(ifaces) or caplen > MAXIMUM_SNAPLEN:
                return Outcome(True, pk, damaged=True)
            take = min(caplen, ifaces[iface])     # cut to the snaplen first,
            if 20 + take > len(body):             # then it must fit the block
                return Outcome(True, pk, damaged=True)
            pk.append((body[20:20 + take], take))
        # any other block type: skipped


# ---------------------------------------------------------------------------
# a decoder for the bundled captures' frames, in the manner of decode.c

def decode(linktype, data, caplen):
    """Returns ("skip", reason) or ("tcp", sport, flags, seq, payload,
    cut): cut is true when the snaplen cut the payload."""
    if linktype == DLT_EN10MB:
        if caplen < 14:
            return ("skip", SKIP_HDR_CUT)
        etype, off = struct.unpack(">H", data[12:14])[0], 14
    elif linktype == DLT_LINUX_SLL2:
        if caplen < 20:
            return ("skip", SKIP_HDR_CUT)
        etype, off = struct.unpack(">H", data[0:2])[0], 20
    else:
        return ("skip", SKIP_LINKTYPE)
    ip = data[off:caplen]
    if etype == 0x0800:
        if len(ip) < 20:
            return ("skip", SKIP_HDR_CUT)
        ihl, total = (ip[0] & 15) * 4, struct.unpack(">H", ip[2:4])[0]
        assert ip[9] == 6, "the bundled captures hold TCP only"
        if len(ip) < ihl:
            return ("skip", SKIP_HDR_CUT)
        tcp, tcplen = ip[ihl:], total - ihl
    elif etype == 0x86DD:
        if len(ip) < 40:
            return ("skip", SKIP_HDR_CUT)
        assert ip[6] == 6, "no IPv6 extension headers in the bundled captures"
        tcp, tcplen = ip[40:], struct.unpack(">H", ip[4:6])[0]
    else:
        raise AssertionError("unexpected ethertype %#x" % etype)
    if len(tcp) < 20:
        return ("skip", SKIP_HDR_CUT)
    doff = (tcp[12] >> 4) * 4
    # A cut inside the options keeps the segment (its fixed header is all
    # decode.c reads); only its payload is lost.
    sport, _dport, seq = struct.unpack(">HHI", tcp[:8])
    want = tcplen - doff
    payload = tcp[doff:doff + want]
    return ("tcp", sport, tcp[13], seq, payload, len(payload) < want)


REPLY_END = re.compile(rb"^[0-9]{3}(?: [^\r\n]*)?$")


def final_reply_lines(stream):
    """Counts the reply-ending lines ("250 ok", not "250-...") that are
    complete (CRLF-terminated) in a server's byte stream."""
    lines = stream.split(b"\r\n")[:-1]       # the last piece has no CRLF yet
    return sum(1 for line in lines if REPLY_END.match(line))


def analyse(linktype, outcome, server_port):
    """From the packets libpcap delivers: the lower bound on replies (see
    the module's docstring), the packet-level skips decode.c will count,
    and the number of packets whose payload the snaplen cut.

    The server's stream is followed by sequence number from its SYN-ACK:
    a server segment that was lost (not delivered, or skipped because its
    headers were cut) shows as a jump, a cut one as cut; the stream used
    for the lower bound ends before either."""
    stream, broken, skips, cut = b"", False, {}, 0
    next_seq, any_server_data, any_tcp = None, False, False
    for data, caplen in outcome.packets:
        d = decode(linktype, data, caplen)
        if d[0] == "skip":
            skips[d[1]] = skips.get(d[1], 0) + 1
            continue
        _, sport, flags, seq, payload, is_cut = d
        cut += is_cut
        any_tcp = True
        any_server_data = any_server_data or (sport == server_port and bool(payload))
        if sport != server_port or broken:
            continue
        if flags & 0x02:                         # SYN: the stream starts after it
            next_seq = (seq + 1) & 0xffffffff
            continue
        if not payload:
            continue
        if next_seq is None or seq != next_seq or is_cut:
            broken = True                        # SYN-ACK lost, a gap, or a cut
            continue
        stream += payload
        next_seq = (seq + len(payload)) & 0xffffffff
    return final_reply_lines(stream), skips, cut, any_server_data, any_tcp


# ---------------------------------------------------------------------------
# the corpus

class Corpus:
    def __init__(self, outdir):
        self.outdir = outdir
        self.cases = []
        self.names = set()

    def path(self, rel):
        return os.path.join(self.outdir, rel)

    def write(self, rel, data):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    def add(self, name, description, status, args, inputs, totals=None):
        """args: what to name on the command line (files or directories);
        inputs: list of (path, file expectation), one per file smtpreply
        should list in files[], where the expectation is a dict with
        packets, problems, stderr (regexes, without the "smtpreply: PATH: "
        prefix), replies [lo, hi], sessions [lo, hi] and codes_max."""
        assert name not in self.names, name
        self.names.add(name)
        files, stderr = {}, []
        lo = hi = slo = shi = 0
        codes_max = {}
        for p, e in inputs:
            files[p] = {"packets": e["packets"], "problems": e["problems"]}
            stderr += ["^smtpreply: %s: %s" % (re.escape(p), m) for m in e["stderr"]]
            lo += e["replies"][0]
            hi += e["replies"][1]
            slo += e["sessions"][0]
            shi += e["sessions"][1]
            for code, n in e["codes_max"].items():
                codes_max[code] = codes_max.get(code, 0) + n
        self.cases.append({
            "name": name, "description": description, "args": args, "status": status,
            "stderr": stderr, "files": files, "sessions": [slo, shi], "replies": [lo, hi],
            "codes_max": codes_max, "totals": totals or {},
        })


class Source:
    """A bundled capture and what its truth file says."""

    def __init__(self, name):
        self.name = name
        path = os.path.join(CAPTURES, name)
        truth_path = path + ".truth.json" if name.endswith(".pcapng") else \
            path[:-len(".pcap")] + ".truth.json"
        truth = json.load(open(truth_path))
        assert len(truth["sessions"]) == 1, "one session per bundled capture"
        self.codes = {str(k): v for k, v in truth["totals"].items()}
        self.replies = sum(self.codes.values())
        self.server_port = int(truth["sessions"][0]["server"].rsplit(":", 1)[1])
        if name.endswith(".pcapng"):
            self.blocks = read_pcapng_blocks(path)
            idb = next(body for t, body in self.blocks if t == PCAPNG_IDB)
            self.linktype = struct.unpack("<H", idb[:2])[0]
            self.bytes = open(path, "rb").read()
        else:
            self.linktype, self.snaplen, self.recs = read_pcap(path)
            self.bytes = pcap_bytes(self.linktype, self.snaplen, self.recs)
            assert self.bytes == open(path, "rb").read()
        # The analysis must find every reply in the intact capture, or the
        # lower bounds below would mean nothing.
        full = self.expect(self.bytes)
        assert full["replies"] == [self.replies, self.replies], (name, full)

    def expect(self, data, linktype=None):
        """What a file holding `data` (a variant of this capture) should
        give: an expectation for Corpus.add, plus the Outcome."""
        pcapng = data[:4] == struct.pack("<I", PCAPNG_SHB)
        out = (pcapng_model if pcapng else pcap_model)(data)
        lt = self.linktype if linktype is None else linktype
        e = {"codes_max": self.codes, "outcome": out}
        if not out.opened:
            e.update(packets=0, problems=["^cannot read: .+$"],
                     stderr=["cannot read: .+$"], replies=[0, 0], sessions=[0, 0])
            return e
        lo, skips, cut, server_data, tcp = analyse(lt, out, self.server_port)
        n = len(out.packets)
        # Upper bounds: the whole capture's replies, none if not one byte
        # from the server was delivered; no session without a TCP packet.
        e.update(packets=n, problems=[], stderr=[],
                 replies=[lo, self.replies if server_data else 0],
                 sessions=[1 if lo else 0, 1 if tcp else 0], skips=skips, cut=cut)
        if lt != self.linktype:
            # Not decoded: the file is read, its packets counted as skipped.
            # "link type NAME (N)", or "link type N" when libpcap has no name
            msg = r"link type (\S+ \(%d\)|%d) not decoded: its packets are skipped$" % (lt, lt)
            e.update(problems=["^" + msg], stderr=[msg], replies=[0, 0], sessions=[0, 0])
        if out.damaged:
            msg = "damaged after packet %d: .+$" % n
            e["problems"] = e["problems"] + ["^" + msg]
            e["stderr"] = e["stderr"] + [msg]
        return e


def status_of(expectations):
    """The documented exit status for a run over these inputs."""
    opened = [e for e in expectations if e["outcome"].opened]
    if not opened:
        return 2
    return 1 if any(e["outcome"].damaged or not e["outcome"].opened
                    for e in expectations) else 0


def gen(outdir):
    os.makedirs(outdir, exist_ok=True)
    c = Corpus(outdir)
    dp = Source("delivery-pipelining.pcap")
    ng = Source("delivery-pipelining.pcapng")
    v6 = Source("ipv6.pcap")
    sll2 = Source("any-sll2.pcap")

    def one(name, src, data, description, ext=".pcap", totals=None, linktype=None):
        """A case of one file holding `data`."""
        rel = name + ext
        c.write(rel, data)
        e = src.expect(data, linktype)
        st = status_of([e])
        # the description ends with what the model derived, in words
        description += " [expected: exit %d, %d packets read, %d..%d replies]" % (
            st, e["packets"], e["replies"][0], e["replies"][1])
        c.add(name, description, st, [rel], [(rel, e)], totals=totals)
        return e

    # --- truncations of the pcap: inside the header, inside record
    # headers, inside record data, and exactly at record boundaries (which
    # libpcap cannot tell from a complete file: exit 0, fewer packets).
    b = dp.bytes
    starts = [24]
    for r in dp.recs:
        starts.append(starts[-1] + 16 + r.caplen)
    offsets = {1, 3, 4, 10, 20, 23, 24}
    for i, s in enumerate(starts[:-1]):
        offsets.add(s + 1 + (i * 5) % 15)                      # inside the record header
        offsets.add(s + 16 + 1 + (i * 37) % dp.recs[i].caplen)  # inside the record data
    offsets.update(starts[1::4])                                # at record boundaries
    offsets.add(len(b) - 1)
    for off in sorted(offsets):
        where = ("the 24-byte file header" if off < 24 else
                 "nothing after the header" if off == 24 else
                 "a record boundary" if off in starts else
                 "a record header" if any(0 < off - s < 16 for s in starts) else
                 "a record's data")
        one("trunc-pcap-%05d" % off, dp, b[:off],
            "delivery-pipelining.pcap cut at byte %d of %d (%s): the records "
            "wholly before the cut are read and their replies counted; a cut "
            "inside the header leaves nothing readable (2), inside a record is "
            "damage (1), at a boundary is a complete, shorter capture (0)"
            % (off, len(b), where))

    # --- the same for the pcapng: inside the SHB, between SHB and IDB (no
    # interface yet: nothing readable), inside the IDB, inside EPBs, at
    # block boundaries.
    nb = ng.bytes
    bstarts = [0]
    for t, body in ng.blocks:
        bstarts.append(bstarts[-1] + 12 + len(body))
    noffs = {2, 6, 10, 50, bstarts[1] - 1, bstarts[1], bstarts[1] + 8, bstarts[2]}
    for i in range(2, len(ng.blocks)):
        s, end = bstarts[i], bstarts[i + 1]
        noffs.add(s + 4 + i % 4)                     # inside the block header
        noffs.add(s + 8 + (i * 29) % (end - s - 8))  # inside its body or trailer
    noffs.update(bstarts[3::5])
    for off in sorted(noffs):
        one("trunc-pcapng-%05d" % off, ng, nb[:off],
            "delivery-pipelining.pcapng cut at byte %d of %d: packets in the "
            "blocks wholly before the cut are read; before the first IDB "
            "nothing is readable (2), inside a block is damage (1), at a block "
            "boundary after the IDB a complete, shorter capture (0)" % (off, len(nb)),
            ext=".pcapng")

    # --- a few cuts of other link types and of IPv6
    for src, tag in ((v6, "ipv6"), (sll2, "sll2")):
        st = [24]
        for r in src.recs:
            st.append(st[-1] + 16 + r.caplen)
        k = len(src.recs) // 2
        for off in (st[k] + 7, st[k] + 16 + src.recs[k].caplen // 2, st[k + 3]):
            one("trunc-%s-%05d" % (tag, off), src, src.bytes[:off],
                "%s cut at byte %d of %d" % (src.name, off, len(src.bytes)))

    # --- the snaplen: every record cut to 60, 100, 200 bytes (tcpdump -s N).
    # 60 cuts into every TCP header's options (14+20+32 bytes): the fixed
    # 20 bytes are there, so every segment is kept with its payload lost
    # (counted as cut, the holes as missing bytes), exit 0.  100 and 200
    # keep the headers and cut payloads: those packets are counted as cut
    # and the replies in the bytes before the first cut server packet still
    # counted.
    for snap in (60, 100, 200):
        recs = [r.copy(caplen=min(r.caplen, snap), data=r.data[:snap]) for r in dp.recs]
        data = pcap_bytes(dp.linktype, snap, recs)
        e = dp.expect(data)
        one("snaplen-%d" % snap, dp, data,
            "delivery-pipelining.pcap as if captured with -s %d: caplen = min(len, %d), "
            "len kept; %d packets with headers cut (skipped), %d with payload cut; "
            "exit 0 (packet-level)" % (snap, snap, e["skips"].get(SKIP_HDR_CUT, 0), e["cut"]),
            totals={"skipped_packets": e["skips"], "snaplen_cut_packets": e["cut"]})
    recs = [r.copy(caplen=min(r.caplen, 80), data=r.data[:80]) for r in v6.recs]
    data = pcap_bytes(v6.linktype, 80, recs)
    e = v6.expect(data)
    one("snaplen-ipv6-80", v6, data,
        "ipv6.pcap with caplen cut to 80 (14+40 IPv6 + 26 of a 32-byte TCP header): "
        "every segment kept (the fixed TCP header is whole), its payload lost, exit 0",
        totals={"skipped_packets": e["skips"], "snaplen_cut_packets": e["cut"]})

    # --- odd record lengths in the middle of the file
    mid = len(dp.recs) // 2
    zero = Record(dp.recs[mid].sec, dp.recs[mid].frac, 0, 0, b"")
    recs = dp.recs[:mid] + [zero] + dp.recs[mid:]
    one("caplen-zero", dp, pcap_bytes(dp.linktype, dp.snaplen, recs),
        "an extra record with caplen 0 and len 0 inserted after record %d: read, "
        "counted as skipped (headers cut), every reply still counted, exit 0" % mid,
        totals={"skipped_packets": {SKIP_HDR_CUT: 1}, "snaplen_cut_packets": 0})
    zero60 = zero.copy(wirelen=60)
    recs = dp.recs[:mid] + [zero60] + dp.recs[mid:]
    one("caplen-zero-len-60", dp, pcap_bytes(dp.linktype, dp.snaplen, recs),
        "an extra record with caplen 0 but len 60 after record %d: skipped, exit 0" % mid,
        totals={"skipped_packets": {SKIP_HDR_CUT: 1}})
    recs = [r.copy(wirelen=0) if i == mid else r for i, r in enumerate(dp.recs)]
    one("wirelen-zero", dp, pcap_bytes(dp.linktype, dp.snaplen, recs),
        "record %d declares a wire length of 0 (less than its caplen): libpcap "
        "does not check it and the decoder uses the IP length; all read, exit 0" % mid,
        totals={"skipped_packets": {}, "snaplen_cut_packets": 0})
    recs = [r.copy(wirelen=0xFFFFFFFF) if i == mid else r for i, r in enumerate(dp.recs)]
    one("wirelen-huge", dp, pcap_bytes(dp.linktype, dp.snaplen, recs),
        "record %d declares a wire length of 0xffffffff: not a caplen, nothing "
        "is read past the record; all read, exit 0" % mid,
        totals={"skipped_packets": {}, "snaplen_cut_packets": 0})
    for tag, cl in (("7fffffff", 0x7FFFFFFF), ("ffffffff", 0xFFFFFFFF),
                    ("max-plus-1", MAXIMUM_SNAPLEN + 1)):
        recs = [r.copy(caplen=cl) if i == mid else r for i, r in enumerate(dp.recs)]
        one("caplen-huge-%s" % tag, dp, pcap_bytes(dp.linktype, dp.snaplen, recs),
            "record %d declares caplen %#x, above libpcap's %d maximum (and the "
            "file's snaplen): reading stops with an error after %d packets; "
            "their replies are counted, exit 1" % (mid, cl, MAXIMUM_SNAPLEN, mid))
    recs = [r.copy(caplen=r.caplen + 5000) if i == mid else r for i, r in enumerate(dp.recs)]
    one("caplen-past-eof", dp, pcap_bytes(dp.linktype, dp.snaplen, recs),
        "record %d declares 5000 bytes more than it holds (within the maximum): "
        "its data runs into the following records and past the end of the file: "
        "truncated, exit 1" % mid)
    # caplen above the file's snaplen but within the maximum: libpcap reads
    # the first snaplen bytes and skips the rest (sf-pcap.c, "BUFMOD" note),
    # so it is a snaplen cut, packet-level: exit 0.
    snap = sorted(r.caplen for r in dp.recs)[-3] - 1
    data = pcap_bytes(dp.linktype, snap, dp.recs)
    e = dp.expect(data)
    one("caplen-over-snaplen", dp, data,
        "the header's snaplen says %d but %d records hold more (up to %d): libpcap "
        "delivers their first %d bytes; counted as cut packets, exit 0"
        % (snap, sum(r.caplen > snap for r in dp.recs), max(r.caplen for r in dp.recs), snap),
        totals={"snaplen_cut_packets": e["cut"]})

    # --- link types: one that is not decoded (USER0) in pcap and pcapng
    one("linktype-user0", dp, pcap_bytes(DLT_USER0, dp.snaplen, dp.recs),
        "delivery-pipelining.pcap relabelled as link type 147 (USER0): read completely, "
        "every packet counted as skipped (unsupported link type), one line saying so, "
        "no session, exit 0 (packet-level skip)", linktype=DLT_USER0,
        totals={"skipped_packets": {SKIP_LINKTYPE: len(dp.recs)}})
    blocks = [pcapng_idb(DLT_USER0, 262144) if t == PCAPNG_IDB else pcapng_block(t, body)
              for t, body in ng.blocks]
    one("linktype-user0-pcapng", ng, b"".join(blocks),
        "the pcapng with its IDB's link type set to 147 (USER0): as above, exit 0",
        ext=".pcapng", linktype=DLT_USER0,
        totals={"skipped_packets": {SKIP_LINKTYPE: len(dp.recs)}})

    # --- byte orders and time stamp units: all read completely, exit 0
    for endian, nano, tag in (("<", True, "le-nsec"), (">", False, "be-usec"),
                              (">", True, "be-nsec")):
        data = pcap_bytes(dp.linktype, dp.snaplen, dp.recs, endian, nano)
        one("variant-pcap-%s" % tag, dp, data,
            "delivery-pipelining.pcap rewritten %s-endian with %s time stamps: "
            "every reply counted, exit 0" % ("big" if endian == ">" else "little",
                                            "nanosecond" if nano else "microsecond"),
            totals={"skipped_packets": {}, "snaplen_cut_packets": 0})
    be = pcap_bytes(dp.linktype, dp.snaplen, dp.recs, ">", True)
    for off in (starts[5] + 9, starts[9] + 40):
        one("trunc-pcap-be-nsec-%05d" % off, dp, be[:off],
            "the big-endian nanosecond variant cut at byte %d: damaged, exit 1" % off)
    ngrecs = dp.recs
    for endian, tsres, tag in ((">", None, "be"), ("<", 9, "le-nsec"), (">", 9, "be-nsec")):
        ups = 10**9 if tsres == 9 else 10**6
        data = (pcapng_shb(endian) + pcapng_idb(dp.linktype, 262144, endian, tsres)
                + b"".join(pcapng_epb(r, endian, ups) for r in ngrecs))
        one("variant-pcapng-%s" % tag, ng, data,
            "the packets of delivery-pipelining.pcap as a %s-endian pcapng%s: "
            "every reply counted, exit 0" % ("big" if endian == ">" else "little",
                                            " with if_tsresol 9 (ns)" if tsres else ""),
            ext=".pcapng", totals={"skipped_packets": {}, "snaplen_cut_packets": 0})

    # --- pcapng blocks: unknown types are skipped by libpcap; bad lengths
    # and impossible EPBs stop it with an error.
    def ng_with(at, new_blocks):
        """The bundled pcapng with blocks inserted before block index `at`
        (new_blocks: raw bytes) or, when at < 0, block -at replaced."""
        raw = [pcapng_block(t, body) for t, body in ng.blocks]
        assert b"".join(raw) == ng.bytes
        if at >= 0:
            return b"".join(raw[:at] + new_blocks + raw[at:])
        return b"".join(raw[:-at] + new_blocks + raw[-at + 1:])

    nmid = 2 + len(dp.recs) // 2          # an EPB in the middle (SHB, IDB first)
    one("pcapng-unknown-block", ng,
        ng_with(nmid, [pcapng_block(0x0BAD0001, b"unknown block type, skip me" * 3)]),
        "an unknown block type (0x0bad0001) with a sound length in the middle: "
        "libpcap skips it, every packet read, exit 0", ext=".pcapng",
        totals={"skipped_packets": {}})
    one("pcapng-unknown-blocks-many", ng,
        ng_with(nmid, [pcapng_block(0x40000000 + i, bytes(range(i * 4))) for i in range(8)]
                + [pcapng_block(0x00000BAD, b"custom block, no PEN")]),
        "nine unknown/custom blocks in a row (one with an empty body) in the "
        "middle: all skipped, every packet read, exit 0", ext=".pcapng")
    one("pcapng-unknown-before-idb", ng,
        ng_with(1, [pcapng_block(0x0BAD0002, b"before the interface")]),
        "an unknown block between the SHB and the IDB: skipped while looking "
        "for the interface, exit 0", ext=".pcapng")
    t, body = ng.blocks[nmid]
    bad = [
        ("len-not-mult4", "a length that is not a multiple of 4 (+2)",
         pcapng_block(t, body, length=12 + len(body) + 2, trailer=12 + len(body) + 2)),
        ("len-too-small", "a length of 8 (< 12)", pcapng_block(t, body, length=8)),
        ("len-zero", "a length of 0", pcapng_block(t, body, length=0)),
        ("len-huge", "a length of 0x7ffffffc (past libpcap's limit)",
         pcapng_block(t, body, length=0x7FFFFFFC)),
        ("len-past-eof", "a length running 4 KiB past the end of the file",
         pcapng_block(t, body, length=len(nb) + 4096)),
        ("trailer-mismatch", "a trailer length that differs from the header's",
         pcapng_block(t, body, trailer=12 + len(body) + 4)),
        ("epb-caplen-past-block", "an EPB whose caplen (0x7fffffff) exceeds its block",
         pcapng_block(t, epb_body(Record(0, 0, 0, 0, b""), caplen=0x7FFFFFFF)
                      + body[20:])),
        ("epb-bad-interface", "an EPB naming interface 5 (only 0 exists)",
         pcapng_block(t, struct.pack("<I", 5) + body[4:])),
    ]
    for tag, what, blk in bad:
        one("pcapng-%s" % tag, ng, ng_with(-nmid, [blk]),
            "block %d (an EPB) given %s: libpcap stops with an error after %d "
            "packets, their replies counted, exit 1" % (nmid, what, nmid - 2),
            ext=".pcapng")
    one("pcapng-shb-bad-version", ng,
        pcapng_shb(version=(2, 0)) + b"".join(pcapng_block(t, b) for t, b in ng.blocks[1:]),
        "a pcapng whose SHB says version 2.0: not readable, exit 2", ext=".pcapng")
    one("pcapng-no-idb", ng, pcapng_shb() + b"".join(
        pcapng_block(t, b) for t, b in ng.blocks[2:]),
        "a pcapng with its IDB removed: a packet before any interface, not "
        "readable, exit 2", ext=".pcapng")

    # --- garbage: random bytes (seeded) without any magic; random bytes
    # after a pcap or pcapng magic; a good header followed by random records
    rnd = random.Random(8)
    g = bytes(rnd.getrandbits(8) for _ in range(4096))
    assert not pcap_model(g).opened and g[:4] != struct.pack("<I", PCAPNG_SHB)
    one("garbage-random", dp, g, "4 KiB of random bytes: no magic, nothing readable, exit 2",
        ext=".bin")
    g2 = struct.pack("<I", PCAP_MAGIC_US) + bytes(rnd.getrandbits(8) for _ in range(4092))
    one("garbage-after-pcap-magic", dp, g2,
        "a pcap magic then random bytes: the version is not 2.x, not readable, exit 2")
    g3 = struct.pack("<I", PCAPNG_SHB) + bytes(rnd.getrandbits(8) for _ in range(4092))
    one("garbage-after-pcapng-magic", ng, g3,
        "a pcapng SHB type then random bytes: no byte-order magic, not readable, exit 2",
        ext=".pcapng")
    g4 = pcap_header(dp.linktype, dp.snaplen) + bytes(rnd.getrandbits(8) for _ in range(4096))
    one("garbage-after-pcap-header", dp, g4,
        "a sound pcap header then random bytes as records: the first record's "
        "caplen is impossible or runs past the end; damaged, exit 1")
    # random bytes after some good records: the packets before are read
    g5 = dp.bytes[:starts[7]] + bytes(rnd.getrandbits(8) for _ in range(600))
    one("garbage-after-records", dp, g5,
        "7 good records then 600 random bytes: 7 packets read, their replies "
        "counted, then damaged, exit 1")
    one("empty", dp, b"", "an empty file named as input: nothing readable, exit 2")
    one("magic-only", dp, struct.pack("<I", PCAP_MAGIC_US),
        "only a pcap magic number (4 bytes): nothing readable, exit 2")
    one("magic-only-pcapng", ng, struct.pack("<I", PCAPNG_SHB),
        "only the pcapng SHB block type (4 bytes): nothing readable, exit 2",
        ext=".pcapng")
    one("header-only", dp, pcap_header(dp.linktype, dp.snaplen),
        "a sound 24-byte pcap header and no records: a complete empty capture, exit 0")

    # --- several inputs: one unreadable beside a good one is 1, not 2
    e_g = dp.expect(g)
    e_ok = dp.expect(dp.bytes)
    c.write("multi/garbage.bin", g)
    c.write("multi/good.pcap", dp.bytes)
    c.add("multi-garbage-and-good",
          "garbage and a good capture named on the command line: the good one is "
          "counted, the garbage reported on one line, exit 1 (something was readable)",
          status_of([e_g, e_ok]), ["multi/garbage.bin", "multi/good.pcap"],
          [("multi/garbage.bin", e_g), ("multi/good.pcap", e_ok)])

    # --- the same damage read from standard input ("-"): libpcap reads a
    # stream the same way, so the same statuses, with the path "-".
    for name, src, data, ext in (
            ("stdin-truncated", dp, dp.bytes[:starts[9] + 5], ".pcap"),
            ("stdin-garbage", dp, g, ".bin"),
            ("stdin-empty", dp, b"", ".pcap"),
            ("stdin-pcapng-bad-block", ng, ng_with(-nmid, [bad[0][2]]), ".pcapng"),
            ("stdin-pcapng-unknown-block", ng, ng_with(nmid, [pcapng_block(0x0BAD0003, b"x")]),
             ".pcapng")):
        rel = name + ext
        c.write(rel, data)
        e = src.expect(data)
        c.add(name, "%s fed on standard input: as for the file, exit %d"
              % (rel, status_of([e])), status_of([e]), ["-"], [("-", e)])
        c.cases[-1]["stdin"] = rel

    # --- directories.  dir-unreadable: a good capture, a text file, an
    # empty file (no magic: skipped quietly), a FIFO (not a regular file:
    # skipped without opening it; opening it would block for ever) and a
    # dangling symlink (cannot be opened: a problem, exit 1).
    def skipped(why):
        return {"packets": 0, "problems": ["^skipped: %s$" % why], "stderr": [],
                "replies": [0, 0], "sessions": [0, 0], "codes_max": {},
                "outcome": Outcome(True)}

    def dangling():
        return {"packets": 0, "problems": ["^cannot read: .+$"], "stderr": ["cannot read: .+$"],
                "replies": [0, 0], "sessions": [0, 0], "codes_max": {},
                "outcome": Outcome(False)}

    d = "dir-unreadable"
    c.write(d + "/a-good.pcap", dp.bytes)
    c.write(d + "/b-notes.txt", b"not a capture, just notes\n")
    c.write(d + "/c-empty.pcap", b"")
    os.mkfifo(c.path(d + "/d-fifo.pcap"))
    os.symlink("no-such-target.pcap", c.path(d + "/e-dangling.pcap"))
    c.add(d, "a directory with a good capture, a text file and an empty file "
          "(no magic: listed as skipped, quietly), a FIFO (skipped as not a regular "
          "file, never opened, no hang) and a dangling symlink (cannot read: one "
          "line, exit 1); the good capture's replies all counted",
          1, [d], [(d + "/a-good.pcap", e_ok), (d + "/b-notes.txt", skipped("not a capture")),
              (d + "/c-empty.pcap", skipped("not a capture")),
              (d + "/d-fifo.pcap", skipped("not a regular file")),
              (d + "/e-dangling.pcap", dangling())])
    d = "dir-dangling"
    c.write(d + "/a-good.pcap", dp.bytes)
    os.symlink("no-such-target.pcap", c.path(d + "/b-dangling.pcap"))
    c.add(d, "a directory with a good capture and a dangling symlink: the symlink "
          "cannot be opened (cannot read: one line, exit 1), the capture is counted",
          1, [d], [(d + "/a-good.pcap", e_ok), (d + "/b-dangling.pcap", dangling())])
    d = "dir-fifo"
    c.write(d + "/a-good.pcap", dp.bytes)
    c.write(d + "/b-empty", b"")
    os.mkfifo(c.path(d + "/c-fifo"))
    c.add(d, "a directory with a good capture, an empty file and a FIFO: nothing "
          "unreadable, so exit 0; the FIFO is listed as skipped and never opened",
          0, [d], [(d + "/a-good.pcap", e_ok), (d + "/b-empty", skipped("not a capture")),
              (d + "/c-fifo", skipped("not a regular file"))])
    d = "dir-damaged"
    e_tr = dp.expect(dp.bytes[:starts[9] + 30])
    e_mo = dp.expect(struct.pack("<I", PCAP_MAGIC_US))
    e_ng = ng.expect(ng_with(-nmid, [bad[0][2]]))
    c.write(d + "/a-good.pcap", dp.bytes)
    c.write(d + "/b-truncated.pcap", dp.bytes[:starts[9] + 30])
    c.write(d + "/c-magic-only.pcap", struct.pack("<I", PCAP_MAGIC_US))
    c.write(d + "/sub/d-bad-block.pcapng", ng_with(-nmid, [bad[0][2]]))
    c.add(d, "a directory (with a subdirectory) holding a good capture, a truncated "
          "one, a pcap magic alone and a pcapng with a bad block length: one line "
          "per damaged file, partial results from each, exit 1",
          1, [d], [(d + "/a-good.pcap", e_ok), (d + "/b-truncated.pcap", e_tr),
              (d + "/c-magic-only.pcap", e_mo), (d + "/sub/d-bad-block.pcapng", e_ng)])
    d = "dir-empty"
    os.makedirs(c.path(d))
    c.add(d, "an empty directory: no capture at all, nothing readable, exit 2; "
          "at most one line on stderr", 2, [d], [])
    # Whether "no capture found" gets a line of its own is not documented.
    c.cases[-1]["stderr"] = ["^smtpreply: .+$"]
    c.cases[-1]["stderr_optional"] = True

    with open(c.path("expect.json"), "w") as f:
        json.dump({"cases": c.cases}, f, indent=1, sort_keys=True)
        f.write("\n")
    return c.cases


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print(__doc__.split("\n\n", 1)[0] if sys.argv[1:] in (["-h"], ["--help"])
              else "usage: gen_damaged.py OUTDIR", file=sys.stderr)
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    cases = gen(sys.argv[1])
    print("%d cases written to %s" % (len(cases), sys.argv[1]))
