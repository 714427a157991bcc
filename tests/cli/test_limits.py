#!/usr/bin/env python3
"""Every limit of `smtpreply tally`: each has an
option and a default; hitting it is counted in the session and in the totals,
and processing goes on; a bad value is a usage error.  (--max-sessions,
--idle-timeout and --max-memory are also exercised by test_tally.py, the
memory bounds by test_scale.py.)"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402
import pcapgen  # noqa: E402
from pcapgen import Conversation  # noqa: E402

SMTPREPLY = env.smtpreply()



def tally(*args):
    p = subprocess.run([SMTPREPLY, "-q", "--json", *args], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, (json.loads(p.stdout) if p.returncode in (0, 1) else None), p.stderr


def busy_session():
    """A session that stays under every default limit but crosses small
    ones: a 5-line EHLO reply, 7 pipelined commands, a 300-byte reply line,
    and a DATA whose body the client sends before the 354."""
    c = Conversation(40001)
    c.open()
    c.s(b"220 mx.example.test ESMTP\r\n")
    c.c(b"EHLO client.example.test\r\n")
    c.s(b"250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
        b"250 SMTPUTF8\r\n")
    c.c(b"MAIL FROM:<a@example.test>\r\n" +
        b"".join(b"RCPT TO:<r%d@example.test>\r\n" % i for i in range(6)))
    c.s(b"250 2.1.0 Ok\r\n" + b"250 2.1.5 Ok\r\n" * 6)
    c.c(b"NOOP\r\n")
    c.s(b"250 2.0.0 " + b"x" * 300 + b"\r\n")
    # The body follows DATA before the 354: held until the 354 decides.
    c.c(b"DATA\r\n" + b"Subject: t\r\n\r\n" + b"body line\r\n" * 200 + b".\r\n")
    c.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    c.s(b"250 2.0.0 Ok: queued\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close()
    return c.records


def out_of_order_session(ts_us=1700000100_000000):
    """The client's second segment (600 bytes) arrives before its first."""
    c = Conversation(40002, ts_us=ts_us)
    c.open()
    c.s(b"220 mx.example.test ESMTP\r\n")
    first = b"EHLO client.example.test\r\n"
    second = b"NOOP " + b"y" * 593 + b"\r\n"
    base = c.seq[True]
    c.c(second, seq=base + len(first))
    c.c(first, seq=base)
    c.seq[True] = base + len(first) + len(second)
    c.s(b"250 mx.example.test\r\n")
    c.s(b"250 2.0.0 Ok\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close()
    return c.records


def other_port_session():
    """SMTP on port 8025: found by content, the greeting in the first bytes."""
    c = Conversation(40003, sport=8025, ts_us=1700000200_000000)
    c.open()
    c.s(b"220 mx.example.test ESMTP\r\n")
    c.c(b"EHLO client.example.test\r\n")
    c.s(b"250 mx.example.test\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close()
    return c.records


with tempfile.TemporaryDirectory() as tmp:
    busy = os.path.join(tmp, "busy.pcap")
    pcapgen.write(busy, busy_session())
    ooo = os.path.join(tmp, "ooo.pcap")
    pcapgen.write(ooo, out_of_order_session())
    other = os.path.join(tmp, "other.pcap")
    pcapgen.write(other, other_port_session())

    code, d, err = tally(busy)
    s = d["sessions"][0]
    want_codes = {"220": 1, "221": 1, "250": 10, "354": 1}
    check(code == 0 and s["codes"] == want_codes, f"defaults: every reply counted ({s['codes']})")
    limit_anoms = ("line-over-limit", "reply-too-many-lines", "pending-queue-overflow",
                   "held-data-overflow")
    check(not any(a in s["anomalies"] for a in limit_anoms),
          f"defaults: no limit hit ({s['anomalies']})")

    def hit(option, value, anomaly, path=busy):
        code, d, err = tally(option, value, path)
        s = d["sessions"][0]
        check(code == 0 and s["anomalies"].get(anomaly, 0) >= 1 and
              d["totals"]["anomalies"].get(anomaly, 0) == s["anomalies"][anomaly],
              f"{option} {value}: '{anomaly}' counted in the session and the totals "
              f"({s['anomalies'].get(anomaly)})")
        return s

    s = hit("--max-line", "128", "line-over-limit")
    check(s["codes"] == want_codes, "--max-line 128: the cut line is still a reply")
    s = hit("--max-reply-lines", "2", "reply-too-many-lines")
    check(s["codes"] == want_codes, "--max-reply-lines 2: the long reply is still one reply")
    hit("--max-pending", "3", "pending-queue-overflow")
    s = hit("--max-held", "512", "held-data-overflow")
    check(s["replies"] == 13, f"--max-held 512: processing goes on ({s['replies']} replies)")

    code, d, err = tally(ooo)
    s = d["sessions"][0]
    check(code == 0 and s["reasm_overflow"] == 0 and s["codes"] == {"220": 1, "221": 1, "250": 2},
          "out-of-order segment reassembled by default")
    code, d, err = tally("--max-reasm", "100", ooo)
    s = d["sessions"][0]
    check(code == 0 and s["reasm_overflow"] >= 1 and
          d["totals"]["reasm_overflow"] == s["reasm_overflow"],
          f"--max-reasm 100: the segment over the cap counted ({s['reasm_overflow']})")
    check(s["replies"] >= 2 and "gaps" in s["flags"],
          f"--max-reasm 100: processing goes on, the session marked ({s['flags']})")

    code, d, err = tally(other)
    check(code == 0 and d["totals"]["sessions"] == 1, "port 8025: SMTP found by content")
    code, d, err = tally("--max-detect", "64", other)
    check(code == 0 and d["totals"]["sessions"] == 1, "--max-detect 64: still found")

    both = os.path.join(tmp, "both.pcap")
    # Interleaved in time (50 us apart), so both are open at once.
    records = busy_session() + out_of_order_session(1700000000_000050)
    pcapgen.write(both, sorted(records, key=lambda r: (int.from_bytes(r[0:4], "little"),
                                                        int.from_bytes(r[4:8], "little"))))
    code, d, err = tally("--max-sessions", "1", both)
    check(code == 0 and d["totals"]["evicted_flows"] >= 1, "--max-sessions 1: evictions counted")

    # Every limit option: a value outside its range is a usage error.
    for option, bad in (("--max-line", "10"), ("--max-pending", "0"),
                        ("--max-reply-lines", "0"), ("--max-held", "1"),
                        ("--max-detect", "1"), ("--max-reasm", "-5"),
                        ("--max-sessions", "0"), ("--idle-timeout", "0"),
                        ("--max-memory", "0"), ("--max-line", "12x"), ("-j", "2000")):
        code, d, err = tally(option, bad, busy)
        check(code == 2 and option in err and d is None,
              f"{option} {bad}: usage error ({err.strip()})")
    help_text = subprocess.run([SMTPREPLY, "tally", "--help"], capture_output=True,
                               text=True).stdout
    for option in ("--max-line", "--max-pending", "--max-reply-lines", "--max-held",
                   "--max-detect", "--max-reasm", "--max-sessions", "--idle-timeout",
                   "--max-memory", "--jobs"):
        check(option in help_text and "default" in help_text.split(option, 1)[1][:200],
              f"--help documents {option} with its default")

finish()
