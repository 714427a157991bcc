#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The project's TLS captures (captures/tls/, recorded by
captures/record-tls.sh), each with its key log (NAME.keylog, or the
pcapng's Decryption Secrets Block) and its truth (NAME.truth.json, from
the client's own transcript).  For every capture:

- the truth is consistent (codes and enhanced codes pair up, totals add
  up, before_tls within the replies);
- the key log parses as NSS key-log lines, and it holds secrets for the
  ClientHello random of exactly the sessions whose truth says keys;
- tshark, with the key log, decodes exactly the truth's reply codes per
  session (a session without keys: its replies before TLS only); skipped
  without tshark;
- the TLS module's replay driver (tls_replay), fed the TLS bytes of each
  session read from the capture, decrypts the server's replies to the
  truth's codes after TLS, or reports no keys;
- smtpreply tally without keys marks each session starttls or encrypted
  and counts exactly the replies the truth puts before TLS (a pcapng
  carries its keys: it is decrypted without --keylog, and read again
  without its Decryption Secrets Block for this check);
- smtpreply tally with the key log (--keylog, or the pcapng's own
  secrets) counts every reply of the truth per session, codes and
  enhanced codes, in order in --replies with "tls" true exactly after
  TLS, status the usual word, flags starttls or encrypted plus
  decrypted, a "tls" object (version, cipher, keys found, records, no
  errors), and totals tls_decrypted / tls_not_decrypted; a session whose
  keys are withheld stays as without keys, with "no-keys"; the client's
  own transcript (NAME.client.txt) lists the same replies after TLS (its
  "<~" lines), and tshark with the same key log reads the same codes per
  session."""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip, fatal  # noqa: E402

SMTPREPLY = env.smtpreply()
DIR = os.path.join(env.SRCDIR, "captures", "tls")
REPLAY = os.environ.get("TLS_REPLAY") or os.path.join(env.BUILDDIR, "tests", "tls_replay")
TSHARK = shutil.which("tshark")


def packets(path):
    """(link type, frame bytes) of a pcap or pcapng file, and the key-log
    text of its Decryption Secrets Blocks."""
    data = open(path, "rb").read()
    frames, secrets = [], ""
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        bo = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        links, p = [], 0
        while p + 12 <= len(data):
            btype, blen = struct.unpack(bo + "II", data[p:p + 8])
            body = data[p + 8:p + blen - 4]
            if btype == 1:
                links.append(struct.unpack(bo + "H", body[:2])[0])
            elif btype == 6:
                iface, _, _, caplen = struct.unpack(bo + "IIII", body[:16])
                frames.append((links[iface], body[20:20 + caplen]))
            elif btype == 10 and body[:4] == struct.pack(bo + "I", 0x544C534B):
                n = struct.unpack(bo + "I", body[4:8])[0]
                secrets += body[8:8 + n].decode("ascii", "replace")
            p += blen
    else:
        bo = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        link = struct.unpack(bo + "I", data[20:24])[0]
        p = 24
        while p + 16 <= len(data):
            caplen = struct.unpack(bo + "I", data[p + 8:p + 12])[0]
            frames.append((link, data[p + 16:p + 16 + caplen]))
            p += 16 + caplen
    return frames, secrets


def tcp_streams(path):
    """Per connection in SYN order: {client, server, bytes: [c2s, s2c]},
    each direction's payload in sequence order (loopback: no loss)."""
    frames, _ = packets(path)
    conns, order = {}, []
    for link, f in frames:
        if link != 1 or len(f) < 14:
            continue
        et = struct.unpack(">H", f[12:14])[0]
        if et == 0x0800:
            ihl = (f[14] & 15) * 4
            proto, src, dst = f[23], f[26:30], f[30:34]
            tcp = f[14 + ihl:14 + struct.unpack(">H", f[16:18])[0]]
            fmt = lambda a, port: "%s:%d" % (".".join(map(str, a)), port)
        elif et == 0x86DD:
            proto, src, dst = f[20], f[22:38], f[38:54]
            tcp = f[54:54 + struct.unpack(">H", f[18:20])[0]]
            fmt = lambda a, port: "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, a), port)
        else:
            continue
        if proto != 6:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        flags, payload = tcp[13], tcp[(tcp[12] >> 4) * 4:]
        a, b = fmt(src, sport), fmt(dst, dport)
        if flags & 0x12 == 0x02:
            conns[(a, b)] = {"client": a, "server": b, "segs": [{}, {}], "isn": [seq + 1, None],
                             "order": []}
            order.append((a, b))
            continue
        key, d = ((a, b), 0) if (a, b) in conns else ((b, a), 1)
        if key not in conns:
            continue
        c = conns[key]
        if flags & 0x12 == 0x12:
            c["isn"][1] = seq + 1
        elif payload and seq not in c["segs"][d]:
            c["segs"][d][seq] = payload
            c["order"].append((d, seq))
    out = []
    for k in order:
        c = conns[k]
        c["bytes"] = [b"".join(c["segs"][d][s] for s in sorted(c["segs"][d],
                                                               key=lambda s: (s - c["isn"][d]) % 2**32))
                      for d in (0, 1)]
        # Capture order: (direction, offset in that direction, payload).
        c["order"] = [(d, (q - c["isn"][d]) % 2**32, c["segs"][d][q]) for d, q in c["order"]]
        out.append(c)
    return out


def parse_keylog(text):
    """{client random hex: set of labels}; the lines that do not parse.
    Any label is taken (OpenSSL's s_client also logs the secrets after a
    KeyUpdate as CLIENT_TRAFFIC_SECRET_N and SERVER_TRAFFIC_SECRET_N); a
    secret is 32 or 48 bytes, and a CLIENT_RANDOM's 48."""
    randoms, bad = {}, []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r"^([A-Z_0-9]+) ([0-9a-fA-F]{64}) ([0-9a-fA-F]+)$", line.strip())
        if not m or len(m.group(3)) not in (64, 96) or (m.group(1) == "CLIENT_RANDOM" and len(m.group(3)) != 96):
            bad.append(line)
            continue
        randoms.setdefault(m.group(2).lower(), set()).add(m.group(1))
    return randoms, bad


def hello_random(stream):
    """The ClientHello's random (hex) at the start of a TLS byte stream."""
    if len(stream) < 43 or stream[0] != 22 or stream[5] != 1:
        return None
    return stream[11:43].hex()


def tls_parts(conn, mode):
    """Each direction's bytes from where TLS starts: after the client's
    STARTTLS line and after the server's last plaintext line, where its
    first TLS record (a handshake, 0x16 0x03) starts; all for implicit."""
    c, s = conn["bytes"]
    if mode == "implicit":
        return c, s
    i = c.upper().find(b"STARTTLS\r\n")
    m = re.search(rb"\r\n(?=\x16\x03[\x01-\x04])", s)
    if i < 0 or not m:
        return None, None
    return c[i + 10:], s[m.end():]


def codes_of(text):
    """Reply codes in a server's plaintext, a multi-line reply once."""
    out = []
    for line in text.decode("latin-1").split("\r\n"):
        m = re.match(r"^(\d{3})([ -]?)", line)
        if m and m.group(2) != "-":
            out.append(int(m.group(1)))
    return out


def tshark_codes(capture, keylog):
    args = [TSHARK, "-r", capture, "-Y", "smtp.response", "-T", "fields",
            "-e", "tcp.stream", "-e", "smtp.response.code"]
    if keylog:
        args[1:1] = ["-o", "tls.keylog_file:" + keylog]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    per = {}
    for line in p.stdout.splitlines():
        stream, _, codes = line.partition("\t")
        for code in codes.split(","):
            if code:
                per.setdefault(int(stream), []).append(int(code))
    return p.returncode, per


def strip_dsb(data):
    """A pcapng without its Decryption Secrets Blocks."""
    bo = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    out, p = b"", 0
    while p + 12 <= len(data):
        btype, blen = struct.unpack(bo + "II", data[p:p + 8])
        if btype != 10:
            out += data[p:p + blen]
        p += blen
    return out


def client_transcript_after_tls(stem):
    """Per "# session" block of NAME.client.txt: the reply codes the
    client read inside TLS ("<~" lines, a multi-line reply once)."""
    path = os.path.join(DIR, stem + ".client.txt")
    if not os.path.exists(path):
        return None
    blocks = []
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("# session"):
            blocks.append([])
        m = re.match(r"^<~\s*(\d{3})([ -]?)", line)
        if m and m.group(2) != "-":
            if not blocks:
                blocks.append([])
            blocks[-1].append(int(m.group(1)))
    return blocks


def tally(args):
    p = subprocess.run([SMTPREPLY, "tally"] + args, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout


def check_with_keys(cap, path, kpath, sessions):
    keyargs = ["--keylog", kpath] if kpath else []
    rc, out = tally(["--json"] + keyargs + [path])
    try:
        doc = json.loads(out)
        got = doc["sessions"]
    except (ValueError, KeyError):
        doc, got = {}, []
    check(rc == 0 and len(got) == len(sessions), "%s: with keys, %d sessions (rc %d)"
          % (cap, len(sessions), rc))
    rc, lines = tally(["--replies"] + keyargs + [path])
    replies = [json.loads(l) for l in lines.splitlines() if l.strip()]
    want_dec = 0
    transcript = client_transcript_after_tls(cap.rsplit(".", 1)[0])
    for i, (g, s) in enumerate(zip(got, sessions)):
        mine = [r for r in replies if r["session"] == g["id"]]
        codes = [r["code"] for r in mine]
        enh = [r["enhanced"] or "" for r in mine]
        tls = [r["tls"] for r in mine]
        t = g.get("tls") or {}
        word = "encrypted" if s["tls"] == "implicit" else "starttls"
        if s["keys"]:
            want_dec += 1
            counted = {}
            for r in s["replies"]:
                counted[str(r)] = counted.get(str(r), 0) + 1
            check(codes == s["replies"] and enh == s["enhanced"],
                  "%s %s: with keys, every reply in order as the truth (%s)" % (cap, s["client"], codes))
            check(tls == [k >= s["before_tls"] for k in range(len(s["replies"]))],
                  "%s %s: tls true exactly for the replies after TLS" % (cap, s["client"]))
            check(g["codes"] == counted and g["replies"] == len(s["replies"]),
                  "%s %s: session codes equal the truth's" % (cap, s["client"]))
            check(g["status"] == "complete" and g["flags"] == [word, "decrypted"],
                  "%s %s: status complete, flags %s+decrypted (%s %s)"
                  % (cap, s["client"], word, g["status"], g["flags"]))
            check(t.get("decrypted") is True and t.get("keys") == "found" and t.get("errors") == []
                  and t.get("version") in ("1.2", "1.3") and t.get("cipher", "").startswith("TLS_")
                  and t.get("records", 0) > 4,
                  "%s %s: tls object decrypted, keys found, no errors (%s)" % (cap, s["client"], t))
            if transcript is not None and i < len(transcript):
                check(transcript[i] == codes[s["before_tls"]:],
                      "%s %s: the client's transcript read the same replies inside TLS (%s)"
                      % (cap, s["client"], transcript[i]))
        else:
            check(codes == s["replies"][:s["before_tls"]] and g["status"] == word
                  and g["flags"] == [word] and not any(tls),
                  "%s %s: withheld keys: as without keys (%s, %s)" % (cap, s["client"], codes, g["status"]))
            check(t.get("decrypted") is False and t.get("keys") == "missing"
                  and t.get("errors") == ["no-keys"],
                  "%s %s: withheld keys: tls object says no-keys (%s)" % (cap, s["client"], t))
    mine_all = [[r["code"] for r in replies if r["session"] == g["id"]] for g in got]
    tot = doc.get("totals", {})
    check(tot.get("tls_decrypted") == want_dec and tot.get("tls_not_decrypted") == len(sessions) - want_dec,
          "%s: totals tls_decrypted %d, tls_not_decrypted %d" % (cap, want_dec, len(sessions) - want_dec))
    return mine_all


def main():
    if not os.path.isdir(DIR):
        fatal("no captures/tls/ folder")
    caps = sorted(f for f in os.listdir(DIR) if f.endswith((".pcap", ".pcapng")))
    check(len(caps) >= 10, "captures/tls/ holds %d captures (at least 10)" % len(caps))
    if not TSHARK:
        skip("tshark absent: no cross-check against tshark's decryption")
    have_replay = os.access(REPLAY, os.X_OK)
    if not have_replay:
        skip("tls_replay not built (%s): no replay through the TLS module" % REPLAY)
    work = tempfile.mkdtemp(prefix="tls-captures-")
    seen = {"implicit": 0, "starttls": 0, "nokeys": 0, "dsb": 0}
    try:
        for cap in caps:
            stem = cap.rsplit(".", 1)[0]
            path = os.path.join(DIR, cap)
            tpath = os.path.join(DIR, stem + ".truth.json")
            if not os.path.exists(tpath):
                check(False, "%s: has a truth file" % cap)
                continue
            truth = json.load(open(tpath))
            sessions = truth["sessions"]
            check(truth["file"] == cap and sessions, "%s: truth names it and has sessions" % cap)
            totals = {}
            for s in sessions:
                check(len(s["replies"]) == len(s["enhanced"]) and 0 <= s["before_tls"] <= len(s["replies"])
                      and s["tls"] in ("starttls", "implicit"),
                      "%s %s: truth consistent" % (cap, s["client"]))
                check((s["before_tls"] == 0) == (s["tls"] == "implicit"),
                      "%s %s: replies before TLS only under STARTTLS" % (cap, s["client"]))
                for r in s["replies"]:
                    totals[str(r)] = totals.get(str(r), 0) + 1
                seen[s["tls"]] += 1
                seen["nokeys"] += not s["keys"]
            check(totals == truth["totals"], "%s: truth totals add up" % cap)

            # The key log, beside it or embedded.
            kpath = os.path.join(DIR, stem + ".keylog")
            _, dsb = packets(path)
            if os.path.exists(kpath):
                ktext = open(kpath, encoding="ascii", errors="replace").read()
            else:
                check(bool(dsb), "%s: no NAME.keylog, so a Decryption Secrets Block" % cap)
                ktext = dsb
                seen["dsb"] += 1
                kpath = os.path.join(work, stem + ".dsb.keylog")
                open(kpath, "w").write(ktext)
            randoms, bad = parse_keylog(ktext)
            check(not bad and randoms, "%s: key log parses (%d client randoms, %d bad lines)"
                  % (cap, len(randoms), len(bad)))
            conns = tcp_streams(path)
            ends = [(c["client"], c["server"]) for c in conns]
            check(ends == [(s["client"], s["server"]) for s in sessions],
                  "%s: one connection per truth session, same endpoints (%s)" % (cap, ends))
            for conn, s in zip(conns, sessions):
                c2s, s2c = tls_parts(conn, s["tls"])
                rnd = hello_random(c2s or b"")
                check(rnd is not None, "%s %s: a ClientHello where TLS starts" % (cap, s["client"]))
                if rnd is None:
                    continue
                labels = randoms.get(rnd, set())
                want = {"CLIENT_RANDOM"} if "CLIENT_RANDOM" in labels else {
                    "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}
                check(want <= labels if s["keys"] else not labels,
                      "%s %s: key log %s this session's secrets" % (cap, s["client"],
                                                                    "has" if s["keys"] else "lacks"))
                plain = codes_of(conn["bytes"][1][:len(conn["bytes"][1]) - len(s2c)])
                check(plain == s["replies"][:s["before_tls"]],
                      "%s %s: plaintext replies before TLS are the truth's %s"
                      % (cap, s["client"], s["replies"][:s["before_tls"]]))
                if have_replay:
                    # The TLS bytes in capture order, as the driver wants.
                    start = [len(conn["bytes"][0]) - len(c2s), len(conn["bytes"][1]) - len(s2c)]
                    chunks = b""
                    for d, off, seg in conn["order"]:
                        seg = seg[max(0, start[d] - off):]
                        if seg:
                            chunks += struct.pack(">BI", d, len(seg)) + seg
                    cp, o0, o1 = (os.path.join(work, stem + x) for x in (".chunks", ".out0", ".out1"))
                    open(cp, "wb").write(chunks)
                    # A pcapng's own secrets: the driver reads its DSBs.
                    src = path if cap.endswith(".pcapng") else kpath
                    r = subprocess.run([REPLAY, src, cp, o0, o1], capture_output=True, text=True,
                                       timeout=60)
                    try:
                        st = json.loads(r.stdout)
                    except ValueError:
                        st = {}
                    if s["keys"]:
                        got = codes_of(open(o1, "rb").read())
                        check(r.returncode == 0 and st.get("decrypted") and not st.get("errors")
                              and got == s["replies"][s["before_tls"]:],
                              "%s %s: tls_replay decrypts %s %s to the truth's replies after TLS (%s %s)"
                              % (cap, s["client"], st.get("version"), st.get("cipher"), got,
                                 st.get("errors")))
                    else:
                        check(st.get("keys") == "missing" and "no-keys" in st.get("errors", []),
                              "%s %s: tls_replay reports no keys" % (cap, s["client"]))

            # smtpreply with the keys.
            ours = check_with_keys(cap, path, None if cap.endswith(".pcapng") else kpath, sessions)

            # tshark with the key log: the truth's codes per session.
            if TSHARK:
                rc, per = tshark_codes(path, None if cap.endswith(".pcapng") else kpath)
                want = {i: (s["replies"] if s["keys"] else s["replies"][:s["before_tls"]])
                        for i, s in enumerate(sessions)}
                want = {i: w for i, w in want.items() if w}
                check(rc == 0 and per == want, "%s: tshark decrypts the truth's codes per session%s"
                      % (cap, "" if per == want else " (tshark %s, truth %s)" % (per, want)))
                mine = {i: c for i, c in enumerate(ours) if c}
                check(mine == per, "%s: smtpreply --keylog reads tshark's codes per session%s"
                      % (cap, "" if mine == per else " (smtpreply %s, tshark %s)" % (mine, per)))

            # smtpreply without keys (a pcapng's own secrets removed).
            nokeys = path
            if cap.endswith(".pcapng"):
                nokeys = os.path.join(work, stem + ".nodsb.pcapng")
                open(nokeys, "wb").write(strip_dsb(open(path, "rb").read()))
            p = subprocess.run([SMTPREPLY, "tally", "--json", nokeys], capture_output=True, text=True,
                               timeout=60)
            try:
                got = json.loads(p.stdout)["sessions"]
            except (ValueError, KeyError):
                got = []
            check(len(got) == len(sessions), "%s: smtpreply finds %d sessions" % (cap, len(sessions)))
            for g, s in zip(got, sessions):
                want_status = "encrypted" if s["tls"] == "implicit" else "starttls"
                codes = {}
                for r in s["replies"][:s["before_tls"]]:
                    codes[str(r)] = codes.get(str(r), 0) + 1
                check(g["client"] == s["client"] and g["status"] == want_status
                      and g["codes"] == codes and g["replies"] == s["before_tls"],
                      "%s %s: smtpreply without keys: %s, %d replies before TLS (%s, %s)"
                      % (cap, s["client"], want_status, s["before_tls"], g["status"], g["codes"]))
        check(seen["implicit"] >= 1 and seen["starttls"] >= 1 and seen["nokeys"] >= 1 and seen["dsb"] >= 1,
              "the captures cover STARTTLS, implicit TLS, withheld keys and a DSB (%s)" % seen)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finish()


main()
