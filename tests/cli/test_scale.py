#!/usr/bin/env python3
"""Memory bounds of `smtpreply tally`, measured as peak RSS.

- The same concurrency in a 10x larger capture (250 MB) takes about the same memory:
  sessions are written as they end, nothing grows with the file.
- 1 million SYN-only flows (half to port 25, so SMTP by port; half to other
  ports) stay within the flow cap: the oldest flows are evicted and counted.
- A session that never sends CRLF (32 MB on one line, from the client and
  from the server) keeps at most --max-line bytes of it.

Captures are generated here with struct (no scapy: a million packets).
The stated bounds are in the README ("Memory").
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish, skip  # noqa: E402
from pcapgen import ACK, FIN, PCAP_HEADER, PSH, SYN, frame, record  # noqa: E402

SMTPREPLY = env.smtpreply()
SRCDIR = env.SRCDIR
PY = sys.executable
# Under AddressSanitizer memory figures mean nothing (shadow memory, the
# quarantine): the bounds are checked in the normal build, the rest in both.
with open(SMTPREPLY, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def check_rss(cond, what):
    if SANITIZED:
        skip(f"{what} (sanitizer build)")
    else:
        check(cond, what)



def run_rss(args, out_path, sessions=True):
    """Runs smtpreply with its output to a file, under /usr/bin/time (a small
    parent, so the peak RSS is smtpreply's own and not inherited from this
    process).  Returns (exit status, JSON, stderr, peak RSS in MB).  With
    sessions=False only the totals are parsed (the last key of the
    document), to keep this process small on a million sessions."""
    rss_path = out_path + ".rss"
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_path, SMTPREPLY, "-q",
                        "-o", out_path, *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    with open(rss_path) as f:
        rss_mb = int(f.read().split()[-1]) / 1024.0
    data = None
    if p.returncode in (0, 1):
        if sessions:
            with open(out_path) as f:
                data = json.load(f)
        else:
            with open(out_path, "rb") as f:
                f.seek(max(0, os.path.getsize(out_path) - 8192))
                tail = f.read().decode()
            data = json.loads("{" + tail[tail.index('"totals"'):])
    return p.returncode, data, p.stderr, rss_mb


# ---------------------------------------------------------------- frames

def write_syn_flood(path, n):
    """n SYN-only flows from distinct (address, port): even ones to port 25,
    odd ones to ports 3000-22999 (nothing SMTP-like, no payload)."""
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        chunk = []
        dst = b"\xc0\x00\x02\x01"
        for i in range(n):
            src = struct.pack("!I", 0x0A000000 + (i >> 15))
            sport = 30000 + (i & 0x7FFF)
            dport = 25 if i % 2 == 0 else 3000 + (i % 20000)
            chunk.append(record(1700000000_000000 + i * 100, frame(src, dst, sport, dport, i, SYN)))
            if len(chunk) == 65536:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def write_no_crlf(path, megabytes):
    """Two sessions on port 25 that stop sending CRLF after the greeting
    exchange: one from the client, one from the server."""
    cli, srv = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"
    ts = 1700000000_000000
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        for n, (endless_from_client) in enumerate((True, False)):
            cport = 40000 + n
            cseq, sseq = 1000, 5000
            out = []

            def seg(from_client, payload, flags=ACK | PSH):
                nonlocal cseq, sseq, ts
                ts += 100
                if from_client:
                    out.append(record(ts, frame(cli, srv, cport, 25, cseq, flags, payload)))
                    cseq += len(payload) + (1 if flags & (SYN | FIN) else 0)
                else:
                    out.append(record(ts, frame(srv, cli, 25, cport, sseq, flags, payload)))
                    sseq += len(payload) + (1 if flags & (SYN | FIN) else 0)

            seg(True, b"", SYN)
            seg(False, b"", SYN | ACK)
            seg(False, b"220 mx.example.test ESMTP\r\n")
            seg(True, b"EHLO client.example.test\r\n")
            seg(False, b"250 mx.example.test\r\n")
            block = (b"A" if endless_from_client else b"B") * 1400
            for _ in range(megabytes * 1024 * 1024 // 1400):
                seg(endless_from_client, block)
                if len(out) >= 4096:
                    f.write(b"".join(out))
                    out.clear()
            seg(True, b"", FIN | ACK)
            seg(False, b"", FIN | ACK)
            f.write(b"".join(out))


# ---------------------------------------------------------------- tests

with tempfile.TemporaryDirectory() as tmp:
    # 1. Memory does not grow with the file: 3,000 vs 30,000 sessions (25 and
    #    250 MB) at the same concurrency (100), from the benchmark's generator.
    rss = {}
    for sessions in (3000, 30000):
        cap = os.path.join(tmp, f"gen{sessions}.pcap")
        subprocess.run([PY, os.path.join(SRCDIR, "bench", "gen_capture.py"), cap,
                        str(sessions), "100", "11"], check=True, stdout=subprocess.DEVNULL)
        with open(cap + ".truth.json") as f:
            truth = json.load(f)
        code, data, err, rss[sessions] = run_rss(["--json", cap], os.path.join(tmp, "out.json"))
        check(code == 0 and data["totals"]["sessions"] == truth["sessions"] ==
              len(data["sessions"]) and data["totals"]["codes"] == truth["codes"],
              f"{sessions} sessions at concurrency 100: totals equal the generator's truth")
        print(f"     peak RSS {rss[sessions]:.1f} MB, file {os.path.getsize(cap) >> 20} MB")
        os.unlink(cap)
    check_rss(rss[30000] - rss[3000] < 6,
          f"10x the file, same concurrency: RSS grows by {rss[30000] - rss[3000]:.1f} MB (< 6)")

    # 2. One million SYN-only flows.
    flood = os.path.join(tmp, "syn-flood.pcap")
    write_syn_flood(flood, 1000000)
    code, data, err, mb = run_rss(["--json", flood], os.path.join(tmp, "flood.json"),
                                  sessions=False)
    t = data["totals"] if data else {}
    print(f"     1M SYN flows: peak RSS {mb:.1f} MB, core memory peak "
          f"{t.get('core_memory_peak', 0) / 1e6:.1f} MB")
    check(code == 0, "1M SYN flows: exit 0")
    check(t.get("sessions") == 0 and t.get("empty_connections") == 500000,
          f"the 500,000 SYN-only flows to port 25 are counted as empty connections, not "
          f"sessions ({t.get('sessions')}, {t.get('empty_connections')})")
    check(t.get("evicted_flows") == 900000,
          f"the default cap of 100,000 flows evicted 900,000 ({t.get('evicted_flows')})")
    check_rss(mb < 128, f"1M SYN flows within 128 MB ({mb:.1f} MB)")
    code, data, err, mb_small = run_rss(["--json", "--max-sessions", "1000", flood],
                                        os.path.join(tmp, "flood.json"), sessions=False)
    check(code == 0 and data["totals"]["evicted_flows"] == 999000,
          "--max-sessions 1000: 999,000 evicted")
    check_rss(mb_small < mb, f"--max-sessions 1000: less memory ({mb_small:.1f} MB)")
    os.unlink(flood)

    # 3. Sessions that never send CRLF.
    endless = os.path.join(tmp, "no-crlf.pcap")
    write_no_crlf(endless, 32)
    code, data, err, mb = run_rss(["--json", endless], os.path.join(tmp, "endless.json"))
    print(f"     2 x 32 MB without CRLF: peak RSS {mb:.1f} MB")
    check(code == 0 and data["totals"]["sessions"] == 2, "no-CRLF sessions: exit 0, 2 sessions")
    check_rss(mb < 40, f"no-CRLF sessions within 40 MB ({mb:.1f} MB)")
    if data:
        s_client, s_server = data["sessions"][0], data["sessions"][1]
        check(s_client["codes"] == {"220": 1, "250": 1} and s_server["codes"] == {"220": 1, "250": 1},
              "the replies before the endless line are counted")
        check(s_client["anomalies"].get("line-over-limit", 0) >= 1 and
              s_client["anomalies"].get("command-line-too-long", 0) >= 1,
              f"client's endless line counted as over the limit ({s_client['anomalies']})")
        check(s_server["anomalies"].get("line-over-limit", 0) >= 1,
              f"server's endless line counted as over the limit ({s_server['anomalies']})")
    code, data, err, mb = run_rss(["--json", "--max-line", "65536", endless],
                                  os.path.join(tmp, "endless.json"))
    check(code == 0, "--max-line 65536: exit 0")
    check_rss(mb < 40, f"--max-line 65536: still bounded ({mb:.1f} MB)")

finish()
