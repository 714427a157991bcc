#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seeds for fuzz_conn_tls from captures/tls/: each capture's TCP data
segments as the target's records (see fuzz_conn_tls.c), the server (port
25 or 465) as B.  Also a copy with a lost server segment inside TLS, one
fed plugin style, and one cut.  Usage: gen_conn_tls_seeds.py OUTDIR"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPS = os.path.join(HERE, "..", "captures", "tls")


def records(path):
    data = open(path, "rb").read()
    p, out = 24, []
    while p + 16 <= len(data):
        caplen = struct.unpack("<I", data[p + 8:p + 12])[0]
        f = data[p + 16:p + 16 + caplen]
        p += 16 + caplen
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 15) * 4
        tcp = 14 + ihl
        total = struct.unpack(">H", f[16:18])[0]
        payload = f[tcp + (f[tcp + 12] >> 4) * 4:14 + total]
        sport = struct.unpack(">H", f[tcp:tcp + 2])[0]
        fl = f[tcp + 13]
        if payload or fl & 0x05:
            out.append((sport in (25, 465), fl, payload))
    return out


def seed(recs, conf, lose=None, cut=None):
    b = bytes([conf])
    for i, (srv, fl, payload) in enumerate(recs):
        ctl = int(srv) | (2 if fl & 1 else 0) | (4 if fl & 4 else 0)
        if i == lose:
            ctl |= 8
        if i == cut:
            ctl |= 16
        b += struct.pack(">BH", ctl, len(payload)) + payload
    return b


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for cap, conf in (("starttls-tls13.pcap", 0x09), ("starttls-tls12-gcm.pcap", 0x09),
                      ("implicit-465.pcap", 0x0a)):
        recs = records(os.path.join(CAPS, cap))
        stem = cap.rsplit(".", 1)[0]
        open(os.path.join(out, stem), "wb").write(seed(recs, conf))
        apps = [i for i, r in enumerate(recs) if r[0] and r[2][:1] == b"\x17"]
        if len(apps) > 4:
            open(os.path.join(out, stem + "-lost"), "wb").write(seed(recs, conf, lose=apps[3]))
            open(os.path.join(out, stem + "-cut"), "wb").write(seed(recs[:apps[4] + 1], conf, cut=apps[4]))
        open(os.path.join(out, stem + "-outside"), "wb").write(seed(recs, conf | 0x10))


main()
