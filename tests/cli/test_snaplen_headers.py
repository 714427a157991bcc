#!/usr/bin/env python3
"""Captures whose snaplen leaves only the fixed 20-byte TCP header (the
options and every payload byte lost, as `tcpdump -s 54` records them, and
as zeek's truncated-header.pcap is): every segment is still a segment, so
each direction's start is known from its SYN and the bytes that were sent
but not captured are counted as missing.  A SYN carries the longest header
of its flow (MSS, SACK, timestamps, window scale), so a decoder that drops
segments whose options were cut loses exactly the SYNs and with them the
count of a whole direction.

Expected figures come from the uncut files' own headers: a direction that
has a SYN and a FIN sent FIN.seq - (SYN.seq + 1) bytes, all of them missing
here.  Every bundled pcap is cut this way; the public zeek capture is read
as it is when ../shared is present.  Midstream copies (no handshake) cut to
90 and 150 bytes must keep every SMTP connection whose kept bytes hold a
whole reply line.  Copies whose IPv4 total lengths are 0 (as captured
before TCP segmentation offload) give the same codes as the originals."""
import collections
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip  # noqa: E402
from pcapgen import LINKTYPE_ETHERNET as DLT_EN10MB  # noqa: E402
from pcapgen import LINKTYPE_LINUX_SLL2 as DLT_LINUX_SLL2  # noqa: E402
from pcapgen import pcap_bytes, read_pcap  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR
SHARED = env.SHARED_CAPTURES


def headers(linktype, data):
    """(IP offset, IP packet length, TCP offset) of a TCP frame, or None."""
    if linktype == DLT_EN10MB:
        etype, off = struct.unpack(">H", data[12:14])[0], 14
    elif linktype == DLT_LINUX_SLL2:
        etype, off = struct.unpack(">H", data[0:2])[0], 20
    else:
        raise AssertionError("link type %d" % linktype)
    if etype == 0x0800 and data[off + 9] == 6:
        return off, struct.unpack(">H", data[off + 2:off + 4])[0], off + (data[off] & 15) * 4
    if etype == 0x86DD and data[off + 6] == 6:
        return off, 40 + struct.unpack(">H", data[off + 4:off + 6])[0], off + 40
    return None


def fixed_header_end(linktype, data):
    """Offset just past the fixed TCP header, or None for a non-TCP frame."""
    h = headers(linktype, data)
    return None if h is None else h[2] + 20


def kept_payload(linktype, data, caplen):
    """The TCP payload bytes of an uncut frame that its first caplen bytes
    keep (b"" if not TCP)."""
    h = headers(linktype, data)
    if h is None:
        return b""
    ip, iplen, tcp = h
    start = tcp + (data[tcp + 12] >> 4) * 4
    return data[start:min(ip + iplen, caplen)]


def tcp_view(linktype, data):
    """(sport, dport, seq, flags) from a frame's fixed TCP header, or None."""
    end = fixed_header_end(linktype, data)
    if end is None or len(data) < end:
        return None
    sport, dport, seq = struct.unpack(">HHI", data[end - 20:end - 12])
    return sport, dport, seq, data[end - 7]


def sent_bytes(linktype, recs):
    """{(client port, server port): bytes sent in both directions}, for the
    connections where each direction has a SYN and a FIN."""
    syn, fin = {}, {}
    for r in recs:
        t = tcp_view(linktype, r.data)
        if t is None:
            continue
        sport, dport, seq, flags = t
        if flags & 0x02:
            syn.setdefault((sport, dport), seq)
        if flags & 0x01:
            fin.setdefault((sport, dport), seq)
    out = {}
    for (a, b), isn in syn.items():
        if (b, a) in syn and (a, b) in fin and (b, a) in fin and b in (25, 587, 2525):
            total = (fin[(a, b)] - isn - 1) % 2**32 + (fin[(b, a)] - syn[(b, a)] - 1) % 2**32
            out[(a, b)] = total
    return out


def run(path):
    p = subprocess.run([SMTPREPLY, "--json", "-q", path], capture_output=True, text=True)
    check(p.returncode == 0, "%s: exit %d %s" % (os.path.basename(path), p.returncode,
                                                  p.stderr.strip()))
    return json.loads(p.stdout) if p.returncode == 0 else None


def port(endpoint):
    return int(endpoint.rsplit(":", 1)[1])


def compare(name, path, linktype, recs):
    want = sent_bytes(linktype, recs)
    out = run(path)
    if out is None:
        return
    got = {(port(s["client"]), port(s["server"])): s for s in out["sessions"]}
    for key, total in sorted(want.items()):
        s = got.get(key)
        check(s is not None and s["missing_bytes"] == total and s["replies"] == 0,
              "%s %d->%d: %d bytes sent, all missing (got %s)"
              % (name, key[0], key[1], total, s and (s["missing_bytes"], s["replies"])))
    t = out["totals"]
    check(t["skipped_packets"] == {}, "%s: no packet skipped (%s)" % (name, t["skipped_packets"]))
    return len(want)


with tempfile.TemporaryDirectory() as tmp:
    caps = sorted(f for f in os.listdir(os.path.join(SRCDIR, "captures")) if f.endswith(".pcap"))
    complete = 0
    for name in caps:
        linktype, _snaplen, recs = read_pcap(os.path.join(SRCDIR, "captures", name))
        cut = []
        for r in recs:
            end = fixed_header_end(linktype, r.data)
            keep = r.caplen if end is None else min(r.caplen, end)
            cut.append(r.copy(caplen=keep, data=r.data[:keep]))
        # The cut really lands inside a SYN's options, or the test proves nothing.
        syn_cut = any(t and t[3] & 0x02 and c.caplen < o.caplen
                      for c, o in zip(cut, recs) for t in [tcp_view(linktype, c.data)])
        check(syn_cut, "%s: the cut falls inside a SYN's options" % name)
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(pcap_bytes(linktype, 65535, cut))
        complete += compare(name + " (fixed TCP header only)", path, linktype, recs) or 0
    # starttls.pcap ends without both FINs; the others are whole connections.
    check(complete >= 5, "connections with a SYN and a FIN both ways checked: %d" % complete)

    # Midstream and cut: the capture starts after the handshake (no SYN)
    # and keeps 90 or 150 bytes a frame.  Every SMTP-port connection whose
    # kept bytes still hold a whole reply line from the server must stay a
    # session: a cut client command that comes before any server byte must
    # not make it "not SMTP".
    for name in caps:
        linktype, _snaplen, recs = read_pcap(os.path.join(SRCDIR, "captures", name))
        for first in range(3, min(len(recs) - 2, 40)):
            for snap in (90, 150):
                rest = recs[first:]
                cut = [r.copy(caplen=min(r.caplen, snap), data=r.data[:snap]) for r in rest]
                want, data = set(), set()
                for r, c in zip(rest, cut):
                    t = tcp_view(linktype, r.data)
                    if t is None:
                        continue
                    kept = kept_payload(linktype, r.data, len(r.data))
                    if kept and 25 in t[:2]:
                        data.add(frozenset(t[:2]))
                    if t[0] == 25 and re.match(rb"[0-9]{3}[ -][^\r\n]*\r\n",
                                               kept_payload(linktype, r.data, c.caplen)):
                        want.add(frozenset(t[:2]))
                path = os.path.join(tmp, "mid-%d-%d-%s" % (first, snap, name))
                with open(path, "wb") as f:
                    f.write(pcap_bytes(linktype, snap, cut))
                out = run(path)
                if out is None:
                    continue
                got = {frozenset((port(s["client"]), port(s["server"]))) for s in out["sessions"]}
                check(want <= got <= data, "%s from frame %d, snaplen %d: sessions %s (want %s)"
                      % (name, first + 1, snap, sorted(map(sorted, got)), sorted(map(sorted, want))))

    # Whatever a cut copy counts, the uncut capture says too: each (client,
    # code) of its replies appears at least as often in the whole slice.
    # Reply lines cut by a gap count once their code arrived, so this is
    # the check that a cut never invents a reply.
    def reply_codes(path):
        p = subprocess.run([SMTPREPLY, "--replies", "-q", path], capture_output=True, text=True)
        return collections.Counter((json.loads(x)["client"], json.loads(x)["code"])
                                   for x in p.stdout.splitlines())
    counted = 0
    for name in caps:
        linktype, _snaplen, recs = read_pcap(os.path.join(SRCDIR, "captures", name))
        for first in (0, 6, 12):
            whole = os.path.join(tmp, "whole-%d-%s" % (first, name))
            with open(whole, "wb") as f:
                f.write(pcap_bytes(linktype, 65535, recs[first:]))
            uncut = reply_codes(whole)
            for snap in (60, 90, 150):
                cut = [r.copy(caplen=min(r.caplen, snap), data=r.data[:snap]) for r in recs[first:]]
                path = os.path.join(tmp, "sub-%d-%d-%s" % (first, snap, name))
                with open(path, "wb") as f:
                    f.write(pcap_bytes(linktype, snap, cut))
                got = reply_codes(path)
                counted += sum(got.values())
                check(not (got - uncut), "%s from frame %d, snaplen %d: replies the whole "
                      "capture lacks: %s" % (name, first + 1, snap, dict(got - uncut)))
    check(counted > 0, "the cut copies counted replies (%d)" % counted)

    # Captured before TCP segmentation offload: the IPv4 total length is 0
    # (the NIC fills it in); the frame as captured is the packet, so the
    # replies are those of the same capture with its lengths intact.
    for name in caps:
        linktype, _snaplen, recs = read_pcap(os.path.join(SRCDIR, "captures", name))
        tso = []
        for r in recs:
            h = headers(linktype, r.data)
            if h and r.data[h[0]] >> 4 == 4:
                r = r.copy(data=r.data[:h[0] + 2] + b"\0\0" + r.data[h[0] + 4:])
            tso.append(r)
        if all(a.data == b.data for a, b in zip(tso, recs)):
            continue
        path = os.path.join(tmp, "tso-" + name)
        with open(path, "wb") as f:
            f.write(pcap_bytes(linktype, 65535, tso))
        whole, zeroed = run(os.path.join(SRCDIR, "captures", name)), run(path)
        if whole and zeroed:
            check(zeroed["totals"]["codes"] == whole["totals"]["codes"] and
                  zeroed["totals"]["skipped_packets"] == {},
                  "%s with IPv4 total length 0: codes %s (whole %s), skipped %s"
                  % (name, zeroed["totals"]["codes"], whole["totals"]["codes"],
                     zeroed["totals"]["skipped_packets"]))

    zeek = os.path.join(SHARED, "zeek-truncated-header.pcap")
    if os.path.exists(zeek):
        linktype, _snaplen, recs = read_pcap(zeek)
        compare("zeek-truncated-header.pcap", zeek, linktype, recs)
    else:
        skip("the public zeek capture (%s not present)" % SHARED)

finish()
