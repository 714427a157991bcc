#!/usr/bin/env python3
"""gen_damaged.py OUTDIR [SOURCE.pcap SOURCE.pcapng] - the damaged-capture
corpus (issue 8): broken variants of one of our own recordings, each with
what smtpreply must do with it, written to OUTDIR/expect.json.

Every expectation comes from the bytes written here, never from running
smtpreply:
  status      the exit status (0 read completely, 1 damaged or unreadable
              but results for the rest, 2 nothing readable at all)
  packets     records libpcap can hand out (the complete ones)
  same_as     a clean file with exactly the packets the damaged one still
              holds: its results must be identical (damage loses nothing
              that was readable)
  replies     the number of replies, where it is known outright
  stderr      a regex every stderr line must match ("" = no output)
  problems    how many problem strings files[] must list for it

Plain struct, no scapy: the damage is byte-exact and deterministic.
"""
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.join(HERE, "..", "..", "captures")


def read_pcap(path):
    """(global header bytes, endianness prefix, [(header16, data)])."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    recs, off = [], 24
    while off + 16 <= len(raw):
        caplen = struct.unpack(end + "I", raw[off + 8:off + 12])[0]
        recs.append((raw[off:off + 16], raw[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return raw[:24], end, recs


def pcap_bytes(header, recs):
    return header + b"".join(h + d for h, d in recs)


def read_pcapng_blocks(path):
    with open(path, "rb") as f:
        raw = f.read()
    blocks, off = [], 0
    while off + 12 <= len(raw):
        btype, blen = struct.unpack("<II", raw[off:off + 8])
        blocks.append((btype, raw[off:off + blen]))
        off += blen
    return blocks


def main():
    out = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) > 2 else os.path.join(SRC_DIR, "delivery-pipelining.pcap")
    src_ng = sys.argv[3] if len(sys.argv) > 3 else os.path.join(SRC_DIR,
                                                                "delivery-pipelining.pcapng")
    os.makedirs(out, exist_ok=True)
    header, end, recs = read_pcap(src)
    with open(src.replace(".pcap", ".truth.json")) as f:
        truth = json.load(f)
    full_replies = sum(len(s["replies"]) for s in truth["sessions"])
    cases = []
    line = r"^smtpreply: .+: .+$"   # one line per problem, naming the file

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        return name

    def clean_prefix(k):
        """A clean file with the first k records (what a damaged file that
        loses everything from record k on must still yield)."""
        return write(f"clean-prefix-{k}.pcap", pcap_bytes(header, recs[:k]))

    def case(name, desc, **expect):
        expect.setdefault("stderr", line)
        cases.append(dict(file=name, description=desc, **expect))

    # The original, and the same packets in other pcap dialects.
    case(write("original.pcap", pcap_bytes(header, recs)), "undamaged", status=0,
         packets=len(recs), replies=full_replies, stderr="", problems=0)
    swapped = struct.pack(">IHHiIII", *struct.unpack(end + "IHHiIII", header))
    be_recs = [(struct.pack(">IIII", *struct.unpack(end + "IIII", h)), d) for h, d in recs]
    case(write("big-endian.pcap", pcap_bytes(swapped, be_recs)), "big-endian pcap",
         status=0, packets=len(recs), replies=full_replies, stderr="", problems=0,
         same_as="original.pcap")
    nano_hdr = struct.pack(end + "I", 0xA1B23C4D) + header[4:]
    nano_recs = [(h[:4] + struct.pack(end + "I", struct.unpack(end + "I", h[4:8])[0] * 1000) +
                  h[8:], d) for h, d in recs]
    case(write("nanosecond.pcap", pcap_bytes(nano_hdr, nano_recs)), "nanosecond pcap",
         status=0, packets=len(recs), replies=full_replies, stderr="", problems=0)

    # Truncated at many offsets: inside the global header, inside record
    # headers, inside record data, and exactly at record boundaries.
    full = pcap_bytes(header, recs)
    boundaries = [24]
    for h, d in recs:
        boundaries.append(boundaries[-1] + 16 + len(d))
    offsets = sorted(set([0, 1, 3, 4, 12, 23, 24] +
                         [b + k for b in boundaries[:-1] for k in (1, 8, 15, 16, 17)] +
                         list(range(30, len(full), 97)) + boundaries[1:-1]))
    for off in offsets:
        if off >= len(full):
            continue
        name = write(f"truncated-at-{off}.pcap", full[:off])
        complete = sum(1 for b in boundaries[1:] if b <= off)
        if off < 24:
            case(name, f"cut at byte {off}, inside the 24-byte file header", status=2,
                 packets=0, replies=0, problems=1)
        elif off in boundaries:
            case(name, f"cut at byte {off}, exactly after record {complete}", status=0,
                 packets=complete, same_as=clean_prefix(complete), stderr="", problems=0)
        else:
            where = "record header" if off - boundaries[complete] < 16 else "record data"
            case(name, f"cut at byte {off}, inside the {where} of record {complete + 1}",
                 status=1, packets=complete, same_as=clean_prefix(complete), problems=1)

    # Packets cut by a small snaplen (caplen < len): packet-level, exit 0.
    for snap in (40, 60, 100):
        hdr = header[:16] + struct.pack(end + "I", snap) + header[20:]
        cut = [(h[:8] + struct.pack(end + "I", min(snap, len(d))) + h[12:], d[:snap])
               for h, d in recs]
        case(write(f"snaplen-{snap}.pcap", pcap_bytes(hdr, cut)),
             f"every packet cut to {snap} bytes", status=0, packets=len(recs), stderr="",
             problems=0, replies_at_most=full_replies)

    # A zero-length record in the middle: a legal, empty packet.
    mid = len(recs) // 2
    zero = (recs[mid][0][:8] + struct.pack(end + "II", 0, 0), b"")
    case(write("zero-length-record.pcap", pcap_bytes(header, recs[:mid] + [zero] + recs[mid:])),
         "an empty record in the middle", status=0, packets=len(recs) + 1,
         replies=full_replies, stderr="", problems=0)
    # A huge declared length in the middle: libpcap stops there.
    for huge in (0x7FFFFFFF, 0x00100000):
        bad = (recs[mid][0][:8] + struct.pack(end + "II", huge, huge), b"x" * 64)
        case(write(f"huge-length-{huge:x}.pcap", pcap_bytes(header, recs[:mid] + [bad] +
                                                           recs[mid:])),
             f"a record declaring {huge} bytes in the middle", status=1, packets=mid,
             same_as=clean_prefix(mid), problems=1)

    # A link type smtpreply does not decode (DLT_USER0 = 147): every packet
    # skipped and counted, the file still read completely (exit 0).
    user0 = header[:20] + struct.pack(end + "I", 147)
    case(write("unknown-linktype.pcap", pcap_bytes(user0, recs)), "link type USER0 (147)",
         status=0, packets=len(recs), replies=0, skipped_linktype=len(recs), problems=1)

    # pcapng: an unknown block type in the middle (skipped by libpcap), a
    # block with a bad length, and the file cut inside a block.
    blocks = read_pcapng_blocks(src_ng)
    epbs = [i for i, (t, _) in enumerate(blocks) if t == 6]
    ng_mid = epbs[len(epbs) // 2]
    unknown_body = b"smtpreply test: an unknown block type"
    unknown_body += b"\0" * (-len(unknown_body) % 4)
    blen = 12 + len(unknown_body)
    unknown = struct.pack("<II", 0x00000BAD, blen) + unknown_body + struct.pack("<I", blen)
    ng = [b for _, b in blocks]
    case(write("pcapng-unknown-block.pcapng", b"".join(ng[:ng_mid] + [unknown] + ng[ng_mid:])),
         "pcapng with an unknown block type in the middle", status=0, packets=len(epbs),
         replies=full_replies, stderr="", problems=0)
    before = sum(1 for i in epbs if i < ng_mid)
    badlen = bytearray(ng[ng_mid])
    struct.pack_into("<I", badlen, 4, 13)   # shorter than a block can be, not a multiple of 4
    case(write("pcapng-bad-block-length.pcapng", b"".join(ng[:ng_mid] + [bytes(badlen)] +
                                                           ng[ng_mid + 1:])),
         "pcapng block with an impossible length", status=1, packets=before,
         same_as=clean_prefix(before), problems=1)
    trail = bytearray(ng[ng_mid])
    struct.pack_into("<I", trail, len(trail) - 4, len(trail) + 8)  # trailer disagrees
    case(write("pcapng-trailer-mismatch.pcapng", b"".join(ng[:ng_mid] + [bytes(trail)] +
                                                           ng[ng_mid + 1:])),
         "pcapng block whose trailing length disagrees", status=1, packets=before,
         same_as=clean_prefix(before), problems=1)
    cut_ng = b"".join(ng[:ng_mid]) + ng[ng_mid][:len(ng[ng_mid]) // 2]
    case(write("pcapng-truncated.pcapng", cut_ng), "pcapng cut inside a packet block",
         status=1, packets=before, same_as=clean_prefix(before), problems=1)

    # Garbage, empty, magic only.
    rng = random.Random(8)
    case(write("garbage.bin", bytes(rng.randrange(256) for _ in range(4096))),
         "4 KB of random bytes", status=2, packets=0, problems=1)
    junk = bytes(rng.randrange(256) for _ in range(4096))
    # The first record header's caplen must be impossible for the
    # expectation below to hold (it is, for this seed; checked here).
    assert struct.unpack(end + "I", junk[8:12])[0] > 262144
    case(write("garbage-after-header.pcap", header + junk),
         "a valid file header, then random bytes", status=1, packets=0, replies=0,
         problems=1)
    case(write("empty.pcap", b""), "an empty file", status=2, packets=0, problems=1)
    case(write("magic-only.pcap", header[:4]), "only the magic number", status=2, packets=0,
         problems=1)

    # A directory: a good capture, a non-capture text file, an empty file
    # (not a capture: skipped quietly), a FIFO (never opened: it would
    # block), a dangling symlink (unreadable: exit 1), and a truncated
    # capture in a subdirectory.
    d = os.path.join(out, "directory")
    os.makedirs(os.path.join(d, "sub"), exist_ok=True)
    write("directory/good.pcap", full)
    write("directory/notes.txt", b"not a capture\n")
    write("directory/empty", b"")
    write("directory/sub/cut.pcap", full[:boundaries[mid] + 20])
    fifo = os.path.join(d, "pipe")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    link = os.path.join(d, "dangling.pcap")
    if not os.path.lexists(link):
        os.symlink("no-such-target.pcap", link)
    cases.append(dict(
        file="directory", description="a directory with good, damaged, non-capture, "
        "empty, FIFO and dangling-symlink entries",
        status=1, stderr=line,
        dir_files={"good.pcap": {"problems": 0, "packets": len(recs)},
                   "notes.txt": {"problems": ["skipped: not a capture"]},
                   "empty": {"problems": ["skipped: not a capture"]},
                   "pipe": {"problems": ["skipped: not a regular file"]},
                   "dangling.pcap": {"problems": ["cannot read: "]},
                   "sub/cut.pcap": {"problems": 1, "packets": mid}},
        # good.pcap in full plus what the cut one holds
        replies_at_least=full_replies, stderr_lines=2))
    with open(os.path.join(out, "expect.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(f"{len(cases)} cases in {out}")


if __name__ == "__main__":
    main()
