#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test of the TLS module on real TLS: Python's ssl module
(OpenSSL) runs a client and a server in this process over memory BIOs,
carrying an SMTP-like dialogue, with SSLContext.keylog_filename writing
the client's key log.  Every byte each side sends is recorded in order;
the module's replay driver (TLS_REPLAY) must give back exactly the
plaintext of each direction, for TLS 1.3 with its three suites and TLS
1.2 with AES-GCM, ChaCha20-Poly1305 and AES-CBC (HMAC-SHA1, -SHA256,
-SHA384) with and without encrypt-then-MAC.  Then damaged copies: a lost
stretch of server bytes (decryption resumes after it), a flipped bit
("bad-mac"), a cut last record ("truncated-record"), the key log read
from a pcapng Decryption Secrets Block (editcap --inject-secrets), a key
log without the connection ("no-keys").  And a TLS 1.3 session between
`openssl s_server` and `s_client` through a recording relay, with a
HelloRetryRequest and a KeyUpdate each way (their interactive K
command).  Artefacts stay under BUILDDIR."""
import json
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPLAY = os.environ["TLS_REPLAY"]
WORK = tempfile.mkdtemp(prefix="tls_loopback.", dir=os.environ.get("BUILDDIR"))
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}")


def make_cert():
    key, crt = os.path.join(WORK, "key.pem"), os.path.join(WORK, "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=mail.example.test"],
                   check=True, capture_output=True, timeout=120)
    return crt, key


def session(name, crt, key, tls12_cipher=None, no_etm=False, lines=40):
    """Runs one session; returns (keylog path, chunks, client plaintext, server plaintext)."""
    keylog = os.path.join(WORK, name + ".keys")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(crt, key)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.keylog_filename = keylog
    if tls12_cipher:
        for ctx in (sctx, cctx):
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(tls12_cipher)
    if no_etm:
        # SSL_OP_NO_ENCRYPT_THEN_MAC: the client does not offer RFC 7366.
        cctx.options |= 0x00080000
    bio = [ssl.MemoryBIO() for _ in range(4)]  # c_in, c_out, s_in, s_out
    c = cctx.wrap_bio(bio[0], bio[1], server_side=False)
    s = sctx.wrap_bio(bio[2], bio[3], server_side=True)
    chunks = []

    def pump():
        moved = True
        while moved:
            moved = False
            out = bio[1].read()
            if out:
                chunks.append((0, out))
                bio[2].write(out)
                moved = True
            out = bio[3].read()
            if out:
                chunks.append((1, out))
                bio[0].write(out)
                moved = True

    def step(obj):
        try:
            obj.do_handshake()
            return True
        except ssl.SSLWantReadError:
            return False

    done_c = done_s = False
    for _ in range(20):
        if not done_c:
            done_c = step(c)
        pump()
        if not done_s:
            done_s = step(s)
        pump()
        if done_c and done_s:
            break
    assert done_c and done_s, "handshake did not finish"
    sent = {0: b"", 1: b""}

    def say(dir_, text):
        data = text.encode()
        (c if dir_ == 0 else s).write(data)
        sent[dir_] += data
        pump()
        peer = s if dir_ == 0 else c
        got = b""
        while len(got) < len(data):
            got += peer.read(65536)
            pump()
        assert got == data

    say(1, "220 mail.example.test ESMTP\r\n")
    say(0, "EHLO client.example.test\r\n")
    say(1, "250-mail.example.test\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
    say(0, "MAIL FROM:<a@example.test>\r\n")
    say(1, "250 2.1.0 Ok\r\n")
    for i in range(lines):
        say(0, f"RCPT TO:<user{i}@example.test>\r\n")
        say(1, f"550 5.1.1 <user{i}@example.test>: Recipient address rejected\r\n"
            if i % 3 == 0 else "250 2.1.5 Ok\r\n")
    say(0, "DATA\r\n")
    say(1, "354 End data with <CR><LF>.<CR><LF>\r\n")
    say(0, "Subject: test\r\n\r\n" + "x" * 20000 + "\r\n.\r\n")  # several records
    say(1, "250 2.0.0 Ok: queued as 12345\r\n")
    say(0, "QUIT\r\n")
    say(1, "221 2.0.0 Bye\r\n")
    try:
        c.unwrap()
    except (ssl.SSLWantReadError, ssl.SSLError):
        pass
    pump()
    return keylog, chunks, sent[0], sent[1]


def write_chunks(path, chunks):
    with open(path, "wb") as f:
        for kind, data in chunks:
            if kind >= 2:
                f.write(struct.pack(">BI", kind, data))
            else:
                f.write(struct.pack(">BI", kind, len(data)) + data)


def replay(name, keylog, chunks, piece=None):
    cpath = os.path.join(WORK, name + ".chunks")
    write_chunks(cpath, chunks)
    o0, o1 = os.path.join(WORK, name + ".out0"), os.path.join(WORK, name + ".out1")
    extra = [str(piece)] if piece else []
    p = subprocess.run([REPLAY, keylog, cpath, o0, o1] + extra, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        return None, b"", b""
    return json.loads(p.stdout), open(o0, "rb").read(), open(o1, "rb").read()


def split_records(data):
    recs, p = [], 0
    while p + 5 <= len(data):
        n = 5 + struct.unpack(">H", data[p + 3:p + 5])[0]
        recs.append(data[p:p + n])
        p += n
    return recs


def one_config(name, crt, key, want_version, want_cipher, tls12_cipher=None, no_etm=False,
               want_etm=False, damage=False):
    keylog, chunks, pc, ps = session(name, crt, key, tls12_cipher, no_etm)
    st, o0, o1 = replay(name, keylog, chunks)
    check(st is not None, f"{name}: replay ran")
    if st is None:
        return
    check(st["version"] == want_version, f"{name}: version {st['version']}")
    check(st["cipher"] == want_cipher, f"{name}: cipher {st['cipher']} != {want_cipher}")
    check(st["decrypted"] and st["keys"] == "found", f"{name}: decrypted {st}")
    check(st["errors"] == [], f"{name}: errors {st['errors']}")
    check(st["etm"] == want_etm, f"{name}: etm {st['etm']} != {want_etm}")
    check(o0 == pc, f"{name}: client plaintext differs ({len(o0)} of {len(pc)} bytes)")
    check(o1 == ps, f"{name}: server plaintext differs ({len(o1)} of {len(ps)} bytes)")
    # The same bytes in pieces of 7: records split across feeds everywhere.
    st7, o0, o1 = replay(name + ".piece7", keylog, chunks, piece=7)
    check(st7 == st and o0 == pc and o1 == ps, f"{name}: in 7-byte pieces: {st7}")
    if not damage:
        return
    # Lost: part of a server record in the middle of the dialogue and the
    # whole next one.  Replies before and after it decrypt; the lost ones
    # are missing; no "gap" error (the stream resynchronised).
    srv = [i for i, (d, _) in enumerate(chunks) if d == 1]
    mid = srv[len(srv) // 2]
    data = chunks[mid][1]
    recs = split_records(data)
    keep = len(recs[0]) // 2
    nxt = srv[len(srv) // 2 + 1]
    cut = chunks[:mid] + [(1, data[:keep]), (3, len(data) - keep + len(chunks[nxt][1]))] + \
        [ch for i, ch in enumerate(chunks) if i > mid and i != nxt]
    st, o0, o1 = replay(name + ".gap", keylog, cut)
    check(st is not None and st["errors"] == [], f"{name}: after a gap: errors {st and st['errors']}")
    check(o0 == pc, f"{name}: after a server gap, the client side is whole")
    check(len(o1) < len(ps) and ps.startswith(o1[:200]) and ps.endswith(o1[-200:]),
          f"{name}: after a gap, the server side resumes ({len(o1)} of {len(ps)} bytes)")
    # A flipped bit in the last client record but one: bad-mac, the rest of
    # that side lost, the server side whole.
    cli = [i for i, (d, _) in enumerate(chunks) if d == 0]
    k = cli[-3]
    bad = bytearray(chunks[k][1])
    bad[-5] ^= 0x10
    flipped = chunks[:k] + [(0, bytes(bad))] + chunks[k + 1:]
    st, o0, o1 = replay(name + ".badmac", keylog, flipped)
    check(st is not None and st["errors"] == ["bad-mac"], f"{name}: bad-mac: {st and st['errors']}")
    check(pc.startswith(o0) and len(o0) < len(pc), f"{name}: bad-mac keeps what came before")
    check(o1 == ps, f"{name}: bad-mac on the client side leaves the server side")
    # The last server chunk cut short: truncated-record.
    last = max(i for i, (d, _) in enumerate(chunks) if d == 1)
    trunc = chunks[:last] + [(1, chunks[last][1][:-3])]
    st, o0, o1 = replay(name + ".cut", keylog, trunc)
    check(st is not None and "truncated-record" in st["errors"], f"{name}: cut: {st}")
    # The key log inside a pcapng Decryption Secrets Block, written by
    # editcap --inject-secrets into a copy of a project capture.
    png = os.path.join(WORK, name + ".dsb.pcapng")
    src = os.path.join(os.environ["SRCDIR"], "captures", "auth-plain.pcap")
    e = subprocess.run(["editcap", "-F", "pcapng", "--inject-secrets", "tls," + keylog, src, png],
                       capture_output=True, text=True, timeout=60)
    check(e.returncode == 0, f"{name}: editcap --inject-secrets: {e.stderr.strip()}")
    st, o0, o1 = replay(name + ".dsb", png, chunks)
    check(st is not None and st["errors"] == [] and o0 == pc and o1 == ps,
          f"{name}: keys from a pcapng DSB: {st}")
    # Another session's key log: no keys.
    other = os.path.join(WORK, name + ".otherkeys")
    with open(other, "w") as f:
        f.write("CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48 + "\n")
    st, o0, o1 = replay(name + ".nokeys", other, chunks)
    check(st is not None and st["errors"] == ["no-keys"] and st["keys"] == "missing"
          and not st["decrypted"] and o0 == b"" and o1 == b"", f"{name}: no keys: {st}")


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def keyupdate_session(crt, key):
    """openssl s_server and s_client through a relay that records each
    direction; each side sends a KeyUpdate (K) mid-dialogue.  The server
    takes only P-384 key shares, so the client's X25519 share earns a
    HelloRetryRequest first (RFC 8446 section 4.1.4)."""
    keylog = os.path.join(WORK, "keyupdate.keys")
    sport, pport = free_port(), free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{sport}", "-cert", crt,
                            "-key", key, "-tls1_3", "-naccept", "1", "-groups", "secp384r1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", pport))
    lsock.listen(1)
    chunks = []

    def relay():
        a, _ = lsock.accept()
        for _ in range(50):
            try:
                b = socket.create_connection(("127.0.0.1", sport))
                break
            except OSError:
                time.sleep(0.1)
        peer = {a: (b, 0), b: (a, 1)}
        while True:
            r, _, _ = select.select(list(peer), [], [], 10)
            if not r:
                return
            for x in r:
                d = x.recv(65536)
                if not d:
                    return
                y, dr = peer[x]
                chunks.append((dr, d))
                y.sendall(d)

    th = threading.Thread(target=relay, daemon=True)
    th.start()
    time.sleep(0.5)
    cli = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{pport}", "-tls1_3",
                            "-keylogfile", keylog],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sent = {0: b"", 1: b""}

    def say(proc, text, dir_=None):
        proc.stdin.write(text.encode())
        proc.stdin.flush()
        if dir_ is not None:
            sent[dir_] += text.encode()
        time.sleep(0.4)

    time.sleep(0.8)
    # Client lines must not start with s_client's command letters (Q, R, K, ...).
    say(srv, "220 mail.example.test ESMTP\n", 1)
    say(cli, "EHLO client.example.test\n", 0)
    say(cli, "K\n")
    say(cli, "MAIL FROM:<a@example.test>\n", 0)
    say(srv, "250 2.1.0 Ok\n", 1)
    say(srv, "K\n")
    say(srv, "250 after the server's key update\n", 1)
    say(cli, "DATA\n", 0)
    say(srv, "354 go ahead\n", 1)
    time.sleep(0.5)
    for proc in (cli, srv):
        proc.terminate()
    out = b"".join(proc.communicate(timeout=30)[0] for proc in (cli, srv))
    th.join(timeout=15)
    lsock.close()
    return keylog, chunks, sent[0], sent[1], out


def main():
    crt, key = make_cert()
    tls13 = [("TLS_AES_128_GCM_SHA256"), ("TLS_AES_256_GCM_SHA384"),
             ("TLS_CHACHA20_POLY1305_SHA256")]
    if len(sys.argv) > 2 and sys.argv[1] == "--tls13-child":
        # Run under an OPENSSL_CONF that narrows TLS 1.3 to one suite.
        one_config("tls13_" + sys.argv[2], crt, key, "1.3", sys.argv[2], damage=True)
        print(f"{checks - failures} passed, {failures} failed")
        if not failures:
            shutil.rmtree(WORK, ignore_errors=True)
        sys.exit(1 if failures else 0)
    for suite in tls13:
        conf = os.path.join(WORK, suite + ".cnf")
        with open(conf, "w") as f:
            f.write("openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\n"
                    "system_default = sys\n[sys]\nCiphersuites = " + suite + "\n")
        env = dict(os.environ, OPENSSL_CONF=conf)
        p = subprocess.run([sys.executable, __file__, "--tls13-child", suite], env=env,
                           capture_output=True, text=True, timeout=300)
        sys.stdout.write(p.stdout)
        check(p.returncode == 0, f"TLS 1.3 {suite}: {p.stderr.strip()[-500:]}")
    tls12 = [
        ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", False, False),
        ("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", False, False),
        ("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", False, False),
        ("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", False, True),
        ("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", True, False),
        ("ECDHE-RSA-AES256-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", False, True),
        ("ECDHE-RSA-AES256-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", True, False),
        ("AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256", True, False),
    ]
    keylog, chunks, pc, ps, out = keyupdate_session(crt, key)
    # s_client says KEYUPDATE, s_server the handshake call that sends it.
    check(b"KEYUPDATE" in out and b"SSL_do_handshake -> 1" in out,
          f"openssl sent a KeyUpdate each way: {out[-600:]!r}")
    hrr = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    check(any(d == 1 and hrr in x for d, x in chunks), "the server sent a HelloRetryRequest")
    st, o0, o1 = replay("keyupdate", keylog, chunks)
    check(st is not None and st["version"] == "1.3" and st["errors"] == [],
          f"keyupdate: status {st}")
    check(o0 == pc, f"keyupdate: client plaintext {o0!r} != {pc!r}")
    check(o1 == ps, f"keyupdate: server plaintext {o1!r} != {ps!r}")
    for ossl, iana, no_etm, want_etm in tls12:
        name = "tls12_" + ossl + ("_noetm" if no_etm else "")
        one_config(name, crt, key, "1.2", iana, tls12_cipher=ossl, no_etm=no_etm,
                   want_etm=want_etm, damage=True)
    print(f"{checks - failures} passed, {failures} failed")
    if not failures:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(1 if failures else 0)


main()
