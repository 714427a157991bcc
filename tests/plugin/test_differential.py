# SPDX-License-Identifier: MIT
"""The plugin and the CLI never disagree.

Input: every capture in captures/ and in the shared data folder's
captures*/ folders (when present), one generated here (mkpcap.burst:
thousands of replies a frame), and damaged variants of each, made
here with a seeded generator: frames removed (SYNs, greetings, and at
random positions), duplicated, reordered, cut by a snaplen (pcap and
pcapng), started midstream, ports swapped.  The variants of one kind of
damage are merged into one file per link type (every capture gets its own
addresses and a time slot after the previous one, so no two sessions
collide), so a whole kind costs one tshark run and one CLI run.

For every session (keyed by its two endpoints) the plugin's replies, read
from `tshark -2 -T json` (codes, the commands they answer, enhanced codes,
each reply's anomalies, in order) must equal the CLI's
(`smtpreply --replies`), and the anomaly names the plugin shows anywhere
in the session must equal those the CLI's session summary counts
(`smtpreply --format json`).  Any difference fails and names the file,
the kind of damage, the source capture and the session.

DIFF_SEED changes the seed, DIFF_VARIANTS the number of random-position
variants per kind (a longer sweep outside CI: DIFF_VARIANTS=10 DIFF_SEED=n),
DIFF_ONLY keeps only the captures whose name contains it, and DIFF_KEEP
names a folder that receives the merged files (to replay a failure).
"""
import collections
import glob
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mkpcap  # noqa: E402
import srtshark as T  # noqa: E402
from checks import check, finish  # noqa: E402

SEED = int(os.environ.get("DIFF_SEED", "1"))
RANDOM_VARIANTS = int(os.environ.get("DIFF_VARIANTS", "3"))
ONLY = os.environ.get("DIFF_ONLY", "")
KEEP = os.environ.get("DIFF_KEEP", "")

PCAP_US, PCAP_NS = 0xA1B2C3D4, 0xA1B23C4D


# ---------------------------------------------------------------------------
# reading: any capture editcap can write as pcap, into (linktype, records)

class Rec:
    __slots__ = ("ts", "wire", "data")

    def __init__(self, ts, wire, data):
        self.ts, self.wire, self.data = ts, wire, data   # ts in microseconds


def read_any(path):
    """(linktype, [Rec]) or None (a file editcap cannot write as one pcap,
    such as a pcapng with several link types)."""
    tmp = os.path.join(T.TMP, "norm.pcap")
    p = subprocess.run(["editcap", "-F", "pcap", path, tmp], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0 or not os.path.exists(tmp):
        return None
    b = open(tmp, "rb").read()
    os.unlink(tmp)
    if len(b) < 24:
        return None
    for e in "<>":
        magic = struct.unpack(e + "I", b[:4])[0]
        if magic in (PCAP_US, PCAP_NS):
            break
    else:
        return None
    linktype = struct.unpack(e + "I", b[20:24])[0] & 0x0FFFFFFF
    div = 1000 if magic == PCAP_NS else 1
    off, recs = 24, []
    while off + 16 <= len(b):
        sec, frac, caplen, wire = struct.unpack(e + "IIII", b[off:off + 16])
        recs.append(Rec(sec * 1000000 + frac // div, wire, b[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return linktype, recs


# ---------------------------------------------------------------------------
# finding IP and TCP headers (only to rewrite addresses and ports)

def ip_offset(linktype, d):
    if linktype == 1:
        off, typ = 12, None
        while off + 2 <= len(d):
            typ = struct.unpack(">H", d[off:off + 2])[0]
            if typ in (0x8100, 0x88A8, 0x9100):
                off += 4
                continue
            break
        return off + 2 if typ in (0x0800, 0x86DD) else None
    return {0: 4, 108: 4, 113: 16, 276: 20, 101: 0, 12: 0, 14: 0, 228: 0, 229: 0}.get(linktype)


def headers(linktype, d):
    """(ip offset, version, tcp offset or None) or None."""
    off = ip_offset(linktype, d)
    if off is None or off >= len(d):
        return None
    v = d[off] >> 4
    if v == 4 and off + 20 <= len(d):
        ihl = (d[off] & 15) * 4
        tcp = off + ihl if d[off + 9] == 6 and off + ihl + 20 <= len(d) else None
        return off, 4, tcp
    if v == 6 and off + 40 <= len(d):
        tcp = off + 40 if d[off + 6] == 6 and off + 60 <= len(d) else None
        return off, 6, tcp
    return None


def tcp_info(linktype, r):
    """(flags, payload length captured, src, dst, sport, dport) or None."""
    h = headers(linktype, r.data)
    if not h or h[2] is None:
        return None
    ip, v, tcp = h
    d = r.data
    doff = (d[tcp + 12] >> 4) * 4
    alen = 4 if v == 4 else 16
    src = d[ip + 12:ip + 12 + alen] if v == 4 else d[ip + 8:ip + 24]
    dst = d[ip + 16:ip + 16 + alen] if v == 4 else d[ip + 24:ip + 40]
    sport, dport = struct.unpack(">HH", d[tcp:tcp + 4])
    return d[tcp + 13], max(0, len(d) - tcp - doff), src, dst, sport, dport


def rewrite(linktype, recs, index):
    """Gives capture `index` addresses of its own: 10.<index>.x.y and
    fd00::<index>:x, one per distinct address, in order of appearance."""
    amap = {}
    out = []
    for r in recs:
        h = headers(linktype, r.data)
        if not h:
            out.append(r)
            continue
        ip, v, _ = h
        d = bytearray(r.data)
        spans = [(ip + 12, 4), (ip + 16, 4)] if v == 4 else [(ip + 8, 16), (ip + 24, 16)]
        for at, n in spans:
            old = bytes(d[at:at + n])
            if old not in amap:
                j = len(amap) + 1
                amap[old] = (bytes([10, index & 255, j >> 8, j & 255]) if n == 4 else
                             bytes([0xFD] + [0] * 11 + [index >> 8, index & 255, j >> 8, j & 255]))
            d[at:at + n] = amap[old]
        out.append(Rec(r.ts, r.wire, bytes(d)))
    return out


# ---------------------------------------------------------------------------
# the kinds of damage: (name, function(linktype, recs, rng) -> recs, format)

def flows(linktype, recs):
    """{unordered flow: [record indexes]} and per index its tcp_info."""
    info = [tcp_info(linktype, r) for r in recs]
    fl = collections.OrderedDict()
    for i, t in enumerate(info):
        if t:
            fl.setdefault(frozenset([(t[2], t[4]), (t[3], t[5])]), []).append(i)
    return fl, info


def drop(recs, gone):
    return [r for i, r in enumerate(recs) if i not in gone]


def d_original(lt, recs, rng):
    return recs


def d_no_syn(lt, recs, rng):
    _, info = flows(lt, recs)
    return drop(recs, {i for i, t in enumerate(info) if t and t[0] & 0x02})


def d_no_greeting(lt, recs, rng):
    """Removes each flow's first payload frame that starts with a greeting
    code (and, in half the flows, its SYN/ACK too)."""
    fl, info = flows(lt, recs)
    gone = set()
    for idx in fl.values():
        for i in idx:
            t = info[i]
            if t[1] >= 4 and recs[i].data[len(recs[i].data) - t[1]:][:3] in (b"220", b"421",
                                                                          b"554", b"521"):
                gone.add(i)
                break
        if rng.random() < 0.5:
            gone |= {i for i in idx if info[i][0] & 0x12 == 0x12}
    return drop(recs, gone)


def d_drop_random(lt, recs, rng):
    """Removes one to three payload frames at random positions."""
    pay = [i for i, r in enumerate(recs) if (tcp_info(lt, r) or (0, 0))[1] > 0]
    if not pay:
        return recs
    return drop(recs, set(rng.sample(pay, min(len(pay), rng.randint(1, 3)))))


def d_duplicate(lt, recs, rng):
    out = []
    dup = set(rng.sample(range(len(recs)), min(len(recs), max(1, len(recs) // 8))))
    late = []
    for i, r in enumerate(recs):
        out.append(r)
        if i in dup:
            (out if rng.random() < 0.5 else late).append(r)
        if late and rng.random() < 0.3:
            out.append(late.pop(0))
    return out + late


def d_reorder(lt, recs, rng):
    out = list(recs)
    for _ in range(max(1, len(out) // 6)):
        if len(out) < 3:
            break
        i = rng.randrange(len(out) - 1)
        k = min(len(out) - 1, i + rng.randint(1, 3))
        out.insert(k, out.pop(i))
    return out


def snap(lt, recs, rng):
    s = rng.choice([60, 74, 90, 128, 200, 400])
    return [Rec(r.ts, r.wire, r.data[:s]) for r in recs]


def d_midstream(lt, recs, rng):
    fl, _ = flows(lt, recs)
    gone = set()
    for idx in fl.values():
        gone |= set(idx[:rng.randint(2, max(2, len(idx) // 3))])
    return drop(recs, gone)


def d_ports_swapped(lt, recs, rng):
    out = []
    for r in recs:
        h = headers(lt, r.data)
        if not h or h[2] is None:
            out.append(r)
            continue
        d = bytearray(r.data)
        t = h[2]
        d[t:t + 4] = d[t + 2:t + 4] + d[t:t + 2]   # the checksum sum is unchanged
        out.append(Rec(r.ts, r.wire, bytes(d)))
    return out


KINDS = [("original", d_original, "pcap"), ("no-syn", d_no_syn, "pcap"),
         ("no-greeting", d_no_greeting, "pcap")]
KINDS += [("drop-%d" % k, d_drop_random, "pcap") for k in range(RANDOM_VARIANTS)]
KINDS += [("duplicate", d_duplicate, "pcap"), ("reorder", d_reorder, "pcap"),
          ("snaplen-pcap", snap, "pcap"), ("snaplen-pcapng", snap, "pcapng"),
          ("midstream", d_midstream, "pcap"), ("ports-swapped", d_ports_swapped, "pcap")]


# ---------------------------------------------------------------------------
# writing the merged files

def write_pcap(path, linktype, recs):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_US, 2, 4, 0, 0, 65535, linktype))
        for r in recs:
            f.write(struct.pack("<IIII", r.ts // 1000000, r.ts % 1000000, len(r.data),
                                max(r.wire, len(r.data))) + r.data)


def block(btype, body):
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def write_pcapng(path, linktype, recs):
    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(1, struct.pack("<HHI", linktype, 0, 65535)))
        for r in recs:
            f.write(block(6, struct.pack("<IIIII", 0, r.ts >> 32, r.ts & 0xFFFFFFFF,
                                         len(r.data), max(r.wire, len(r.data))) + r.data))


# ---------------------------------------------------------------------------
# the two faces

def plugin_sessions(path):
    """{frozenset(endpoints): {"replies": [...], "anomalies": set}} from
    tshark -2."""
    args = ("-r", path, "-2", "-Y", "smtpreply", "-T", "json", "-J", "ip ipv6 tcp smtpreply")
    rc, out, err = T.tshark(*args, check=False)
    T.check_read(rc, err, args)
    frames = json.loads(out or "[]", object_pairs_hook=lambda p: p)
    sessions = collections.OrderedDict()
    for fr in frames:
        layers = T.pairs_one(T.pairs_one(fr, "_source"), "layers")
        ip = T.pairs_one(layers, "ip") or T.pairs_one(layers, "ipv6")
        tcp = T.pairs_one(layers, "tcp")
        sr = T.pairs_one(layers, "smtpreply")
        if ip is None or tcp is None or sr is None:
            continue
        src = T.pairs_one(ip, "ip.src") or T.pairs_one(ip, "ipv6.src")
        dst = T.pairs_one(ip, "ip.dst") or T.pairs_one(ip, "ipv6.dst")
        key = frozenset([T.endpoint(src, T.pairs_one(tcp, "tcp.srcport")),
                         T.endpoint(dst, T.pairs_one(tcp, "tcp.dstport"))])
        s = sessions.setdefault(key, {"replies": [], "anomalies": set()})
        for rep in T.pairs_all(sr, "smtpreply.reply"):
            an = []
            T.anomalies_in(rep, an)
            s["replies"].append((int(T.pairs_one(rep, "smtpreply.code")),
                                 T.pairs_one(rep, "smtpreply.command"),
                                 T.pairs_one(rep, "smtpreply.esc"), tuple(sorted(an))))
        an = []
        T.anomalies_in(sr, an)
        s["anomalies"] |= set(an)
    return sessions


def cli_sessions(path):
    p = subprocess.run([T.CLI, "--replies", "-q", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    sessions = collections.OrderedDict()
    for line in p.stdout.splitlines():
        o = json.loads(line)
        s = sessions.setdefault(frozenset([o["client"], o["server"]]),
                                {"replies": [], "anomalies": set()})
        s["replies"].append((o["code"], o["command"], o["enhanced"],
                             tuple(sorted(o["anomalies"]))))
    p = subprocess.run([T.CLI, "--format", "json", "-q", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    for o in json.loads(p.stdout).get("sessions", []):
        key = frozenset([o["client"], o["server"]])
        names = {k for k, v in o["anomalies"].items() if v}
        if names or key in sessions:
            sessions.setdefault(key, {"replies": [], "anomalies": set()})["anomalies"] |= names
    return sessions


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "reply %d: plugin %s, CLI %s" % (i + 1, x, y)
    return "plugin %d replies, CLI %d (next: %s)" % (
        len(a), len(b), (a[len(b):] or b[len(a):])[:1])


def compare(path, label, origin):
    plug, cli = plugin_sessions(path), cli_sessions(path)
    bad = 0
    for key in list(plug) + [k for k in cli if k not in plug]:
        p = plug.get(key, {"replies": [], "anomalies": set()})
        c = cli.get(key, {"replies": [], "anomalies": set()})
        if not p["replies"] and not c["replies"] and not p["anomalies"] and not c["anomalies"]:
            continue
        src = origin.get(sorted(key)[0].rsplit(":", 1)[0].strip("[]"), "?")
        name = "%s [%s] from %s, session %s" % (os.path.basename(path), label, src,
                                                " <-> ".join(sorted(key)))
        if p["replies"] != c["replies"]:
            check(False, "%s: replies differ: %s" % (name, first_difference(p["replies"],
                                                                              c["replies"])))
            bad += 1
        elif p["anomalies"] != c["anomalies"]:
            check(False, "%s: anomalies differ: plugin only %s, CLI only %s"
                  % (name, sorted(p["anomalies"] - c["anomalies"]),
                     sorted(c["anomalies"] - p["anomalies"])))
            bad += 1
    n = sum(len(s["replies"]) for s in cli.values())
    check(bad == 0 and (n > 0 or label != "original"),
          "%s [%s]: %d sessions, %d replies, plugin equals CLI"
          % (os.path.basename(path), label, len(cli), n))
    return n


def inputs():
    pats = [os.path.join(T.SRCDIR, "captures", "*.pcap*")]
    for d in sorted(glob.glob(os.path.join(T.SHARED, "captures*"))):
        pats.append(os.path.join(d, "*.pcap*"))
    files = []
    for pat in pats:
        files += sorted(f for f in glob.glob(pat)
                        if not f.endswith(".json") and ONLY in os.path.basename(f))
    # Generated: replies in bursts of thousands a frame.
    burst = os.path.join(T.TMP, "captures", "burst.pcap")
    if ONLY in os.path.basename(burst):
        mkpcap.burst(burst)
        os.chmod(burst, 0o644)
        files.append(burst)
    return files


def main():
    if not T.CLI:
        T.fail("SMTPREPLY (path of the built smtpreply) is not set")
    T.require_plugin_loaded()
    t0 = time.time()
    caps = []
    for i, path in enumerate(inputs()):
        got = read_any(path)
        if got is None:
            # Not expressible as one pcap (several link types): compared
            # as it is.
            compare(T.stage(path), "as is", {})
            continue
        caps.append((path, got[0], got[1]))
    print("%d captures read" % len(caps))
    total = 0
    outdir = os.path.join(T.TMP, "captures")
    for k, (kind, fn, fmt) in enumerate(KINDS):
        groups = collections.OrderedDict()   # linktype -> ([recs], origin map)
        rng = random.Random("%d/%s" % (SEED, kind))
        for index, (path, lt, recs) in enumerate(caps, start=1):
            damaged = fn(lt, recs, rng)
            damaged = rewrite(lt, damaged, index)
            g = groups.setdefault(lt, ([], {}))
            base = (g[0][-1].ts + 3600 * 1000000) if g[0] else 0
            start = min((r.ts for r in damaged), default=0)
            g[0].extend(Rec(r.ts - start + base, r.wire, r.data) for r in damaged)
            g[1]["10.%d." % index] = os.path.basename(path)
            g[1]["fd00::%x:" % index] = os.path.basename(path)
        for lt, (recs, origin) in groups.items():
            out = os.path.join(outdir, "diff-%s-lt%d.%s" % (kind, lt, fmt))
            (write_pcapng if fmt == "pcapng" else write_pcap)(out, lt, recs)
            os.chmod(out, 0o644)
            if KEEP:
                shutil.copy(out, KEEP)
            prefixes = {}
            for pre, name in origin.items():
                prefixes[pre] = name
            total += compare(out, kind, _Origin(prefixes))
    elapsed = time.time() - t0
    print("%d replies compared over %d kinds of damage, %d captures, in %.0f s"
          % (total, len(KINDS), len(caps), elapsed))
    finish()


class _Origin(dict):
    """Address -> the capture it came from, by the prefix rewrite() gave."""

    def get(self, addr, default=None):
        for pre, name in self.items():
            if addr.startswith(pre):
                return name
        return default


main()
