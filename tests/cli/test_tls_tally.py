#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtpreply tally --keylog on the TLS captures (captures/tls/), beyond
what test_tls_captures.py checks per capture:

- -j 2 over the whole folder gives byte for byte the output of -j 1
  (summary and --replies);
- an empty key log gives byte for byte the output of no key log;
- a wrong key (every secret of the log altered) gives "bad-mac" and a
  key log of other sessions "no-keys", per session, with exactly the
  replies read before TLS and status starttls/encrypted;
- damaged copies: a server segment inside TLS lost (the replies read
  before it are kept, the session has gaps, decryption resumes on a
  later record or stops with "gap"), the capture cut inside a TLS record
  ("truncated-record", the replies before it kept);
- --max-keys 1 with two sessions' key logs decrypts the first only and
  says so on stderr;
- -F keeps its meaning (a filter that leaves out the server's port finds
  nothing to decrypt); --max-held bounds what an implicit-TLS client's
  first bytes may take; --max-memory 1 holds the TLS state;
- --replies --format csv keeps its header, one row per JSON reply;
- merge adds tls_decrypted and tls_not_decrypted, and counts them as 0 in
  a summary that lacks them."""
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, fatal  # noqa: E402

SMTPREPLY = env.smtpreply()
DIR = os.path.join(env.SRCDIR, "captures", "tls")
CSV_HEADER = "ts,file,session,frame,client,server,command,rcpt,code,enhanced,reason,text"


def run(args, **kw):
    p = subprocess.run([SMTPREPLY] + args, capture_output=True, timeout=120, **kw)
    check(p.returncode in (0, 1) and p.returncode >= 0, "smtpreply %s: exit %d" % (" ".join(args[-3:]), p.returncode))
    return p


def summary(args):
    p = run(["tally", "--json"] + args)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"sessions": [], "totals": {}}


def replies(args):
    p = run(["tally", "--replies"] + args)
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]


def truth(stem):
    return json.load(open(os.path.join(DIR, stem + ".truth.json")))["sessions"]


# ---- pcap surgery (little-endian microsecond pcap, Ethernet, IPv4) ----

def read_pcap(path):
    data = open(path, "rb").read()
    head, p, recs = data[:24], 24, []
    while p + 16 <= len(data):
        sec, usec, caplen, wirelen = struct.unpack("<IIII", data[p:p + 16])
        recs.append([sec, usec, data[p + 16:p + 16 + caplen]])
        p += 16 + caplen
    return head, recs


def write_pcap(path, head, recs):
    with open(path, "wb") as f:
        f.write(head)
        for sec, usec, frame in recs:
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


def tcp_of(frame):
    """(source port, payload offset, payload) of an Ethernet/IPv4/TCP frame."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 15) * 4
    tcp = 14 + ihl
    off = tcp + (frame[tcp + 12] >> 4) * 4
    total = struct.unpack(">H", frame[16:18])[0]
    return struct.unpack(">H", frame[tcp:tcp + 2])[0], off, frame[off:14 + total]


def cut_payload(frame, keep):
    """The frame with only the first `keep` payload bytes, IP length fixed."""
    _, off, _ = tcp_of(frame)
    b = bytearray(frame[:off + keep])
    b[16:18] = struct.pack(">H", len(b) - 14)
    return bytes(b)


def app_segments(recs, server_port):
    """Indexes of the server's segments carrying TLS application data."""
    out = []
    for i, (_, _, fr) in enumerate(recs):
        t = tcp_of(fr)
        if t and t[0] == server_port and t[2][:3] == b"\x17\x03\x03":
            out.append(i)
    return out


def main():
    if not os.path.isdir(DIR):
        fatal("no captures/tls/ folder")
    work = tempfile.mkdtemp(prefix="tls-tally-")
    try:
        keys = os.path.join(work, "all.keylog")
        with open(keys, "w") as f:
            for k in sorted(os.listdir(DIR)):
                if k.endswith(".keylog"):
                    f.write(open(os.path.join(DIR, k)).read())

        # -j 2 = -j 1, summary and replies.
        for fmt in (["--json"], ["--replies"], []):
            a = run(["tally", "-j", "1", "--keylog", keys] + fmt + [DIR]).stdout
            b = run(["tally", "-j", "2", "--keylog", keys] + fmt + [DIR]).stdout
            check(a == b and len(a) > 1000, "-j 2 gives the output of -j 1 (%s)" % (fmt or "text"))
        doc = summary(["--keylog", keys, DIR])
        t = doc["totals"]
        check(t.get("tls_decrypted") == 11 and t.get("tls_not_decrypted") == 1,
              "the folder: 11 sessions decrypted, 1 not (%s, %s)"
              % (t.get("tls_decrypted"), t.get("tls_not_decrypted")))

        # An empty key log changes nothing.
        empty = os.path.join(work, "empty.keylog")
        open(empty, "w").close()
        for cap in ("starttls-tls13.pcap", "implicit-465.pcap"):
            path = os.path.join(DIR, cap)
            for fmt in (["--json"], ["--replies"], []):
                a = run(["tally"] + fmt + [path]).stdout
                b = run(["tally", "--keylog", empty] + fmt + [path]).stdout
                check(a == b, "%s: an empty key log gives the output of none (%s)" % (cap, fmt or "text"))

        # Wrong keys: every secret altered (bad-mac), or other sessions' (no-keys).
        for cap, word in (("starttls-tls13.pcap", "starttls"), ("starttls-tls12-gcm.pcap", "starttls"),
                          ("starttls-tls12-cbc-etm.pcap", "starttls"), ("implicit-465.pcap", "encrypted")):
            stem = cap.rsplit(".", 1)[0]
            lines = []
            for line in open(os.path.join(DIR, stem + ".keylog")):
                parts = line.split()
                if len(parts) == 3:
                    s = parts[2]
                    parts[2] = ("0" if s[0] != "0" else "1") + s[1:]
                    line = " ".join(parts) + "\n"
                lines.append(line)
            bad = os.path.join(work, stem + ".bad.keylog")
            open(bad, "w").writelines(lines)
            other = os.path.join(DIR, "exim-gnutls.keylog")
            tr = truth(stem)[0]
            for kl, err in ((bad, "bad-mac"), (other, "no-keys")):
                d = summary(["--keylog", kl, os.path.join(DIR, cap)])
                s = (d["sessions"] or [{}])[0]
                n = sum(s.get("codes", {}).values())
                tls = s.get("tls") or {}
                check(s.get("status") == word and n == tr["before_tls"] and err in tls.get("errors", [])
                      and tls.get("decrypted") is False,
                      "%s with %s keys: %s, %d replies before TLS, '%s' (%s %d %s)"
                      % (cap, "altered" if kl == bad else "other sessions'", word, tr["before_tls"], err,
                         s.get("status"), n, tls))

        # Damaged copies.
        for cap in ("starttls-tls13.pcap", "starttls-tls12-gcm.pcap", "starttls-tls12-cbc-noetm.pcap"):
            stem = cap.rsplit(".", 1)[0]
            kl = os.path.join(DIR, stem + ".keylog")
            head, recs = read_pcap(os.path.join(DIR, cap))
            whole = replies(["--keylog", kl, os.path.join(DIR, cap)])
            apps = app_segments(recs, 25)
            check(len(apps) >= 6, "%s: %d server application-data segments" % (cap, len(apps)))
            if len(apps) < 6:
                continue
            # A lost server segment in the middle.
            lost = apps[3]
            frame_no = lost + 1
            gap = os.path.join(work, stem + ".gap.pcap")
            write_pcap(gap, head, recs[:lost] + recs[lost + 1:])
            got = replies(["--keylog", kl, gap])
            before = [(r["code"], r["text"]) for r in whole if r["frame"] < frame_no]
            got_before = [(r["code"], r["text"]) for r in got if r["frame"] < frame_no]
            d = summary(["--keylog", kl, gap])
            s = (d["sessions"] or [{}])[0]
            tls = s.get("tls") or {}
            check(got_before == before and len(got) < len(whole) and "gaps" in s.get("flags", [])
                  and tls.get("decrypted") is True and set(tls.get("errors", [])) <= {"gap"},
                  "%s, server segment %d lost: the %d replies before it kept, %d in all, gaps, %s"
                  % (cap, frame_no, len(before), len(got), tls.get("errors")))
            # Renumbered frames after the lost one: replies after it are a
            # subset of the whole run's, by code and text.
            after = [(r["code"], r["text"]) for r in got if r["frame"] >= frame_no]
            rest = [(r["code"], r["text"]) for r in whole if r["frame"] > frame_no]
            check(all(a in rest for a in after),
                  "%s, segment lost: every reply after it is one of the capture's (%s)" % (cap, after))
            # Cut inside a record: the capture ends in the middle of one.
            cut_at = apps[4]
            _, _, payload = tcp_of(recs[cut_at][2])
            cut = os.path.join(work, stem + ".cut.pcap")
            write_pcap(cut, head, recs[:cut_at] + [[recs[cut_at][0], recs[cut_at][1],
                                                    cut_payload(recs[cut_at][2], len(payload) // 2)]])
            got = replies(["--keylog", kl, cut])
            before = [(r["code"], r["text"]) for r in whole if r["frame"] <= cut_at]
            d = summary(["--keylog", kl, cut])
            s = (d["sessions"] or [{}])[0]
            tls = s.get("tls") or {}
            check([(r["code"], r["text"]) for r in got] == before
                  and "truncated-record" in tls.get("errors", []) and tls.get("decrypted") is True,
                  "%s, cut inside a record at frame %d: the %d replies before it, truncated-record (%s)"
                  % (cap, cut_at + 1, len(before), tls.get("errors")))

        # --max-keys 1: the first key log's session only.
        two = [os.path.join(DIR, "starttls-tls13.keylog"), os.path.join(DIR, "starttls-tls12-gcm.keylog")]
        caps = [os.path.join(DIR, "starttls-tls13.pcap"), os.path.join(DIR, "starttls-tls12-gcm.pcap")]
        p = run(["tally", "--json", "--max-keys", "1", "--keylog", two[0], "--keylog", two[1]] + caps)
        d = json.loads(p.stdout)
        dec = [bool((s.get("tls") or {}).get("decrypted")) for s in d["sessions"]]
        check(dec == [True, False] and b"--max-keys" in p.stderr,
              "--max-keys 1: the first session decrypted, the second not, said (%s, %s)"
              % (dec, p.stderr.decode().strip()))
        p = subprocess.run([SMTPREPLY, "tally", "--max-keys", "0", caps[0]], capture_output=True, timeout=60)
        check(p.returncode == 2 and b"--max-keys" in p.stderr, "--max-keys 0 is a usage error")

        # -F: the server's port filtered out, nothing to decrypt.
        path = os.path.join(DIR, "implicit-465.pcap")
        kl = os.path.join(DIR, "implicit-465.keylog")
        d = summary(["--keylog", kl, "-F", "tcp port 25", path])
        check(d["sessions"] == [] and d["totals"].get("tls_decrypted") == 0, "-F 'tcp port 25' on port 465: nothing")
        d = summary(["--keylog", kl, "-F", "tcp port 465", path])
        check(len(d["sessions"]) == 1 and d["sessions"][0]["tls"]["decrypted"], "-F 'tcp port 465': decrypted")

        # --max-held bounds the implicit-TLS client bytes kept until the
        # server speaks: a ClientHello longer than 512 bytes is lost.
        d = summary(["--keylog", kl, "--max-held", "512", path])
        s = (d["sessions"] or [{}])[0]
        check(s.get("status") == "encrypted" and s.get("tls", {}).get("errors") == ["no-handshake"],
              "--max-held 512 on implicit TLS: the ClientHello does not fit, no-handshake (%s)"
              % s.get("tls"))
        d = summary(["--keylog", keys, "--max-memory", "1", DIR])
        check(d["totals"].get("tls_decrypted") == 11, "--max-memory 1: the TLS state fits one MB")

        # CSV replies: header unchanged, a row per reply.
        p = run(["tally", "--replies", "--format", "csv", "--keylog", kl, path])
        rows = list(csv.reader(io.StringIO(p.stdout.decode())))
        check(",".join(rows[0]) == CSV_HEADER and p.stdout.decode().startswith(CSV_HEADER + "\n") and len(rows) - 1 == len(replies(["--keylog", kl, path])),
              "--replies --format csv with --keylog: the same header, one row per reply")

        # merge: adds the counts; a summary without them counts 0.
        a = os.path.join(work, "a.json")
        b = os.path.join(work, "b.json")
        open(a, "wb").write(run(["tally", "--json", "--keylog", keys, os.path.join(DIR, "keys-withheld.pcap")]).stdout)
        old = json.loads(run(["tally", "--json", os.path.join(DIR, "starttls-tls13.pcap")]).stdout)
        for k in ("tls_decrypted", "tls_not_decrypted"):
            old["totals"].pop(k, None)
        for s in old["sessions"]:
            s.pop("tls", None)
        json.dump(old, open(b, "w"))
        m = json.loads(run(["merge", a, a, b]).stdout)
        check(m["totals"].get("tls_decrypted") == 2 and m["totals"].get("tls_not_decrypted") == 2,
              "merge adds tls_decrypted and tls_not_decrypted (%s, %s)"
              % (m["totals"].get("tls_decrypted"), m["totals"].get("tls_not_decrypted")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finish()


main()
