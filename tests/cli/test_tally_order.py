#!/usr/bin/env python3
"""Session numbers follow each session's first packet: `--replies`'
`session` and the JSON summary's `id` number the run's sessions from 0 in
the order of their first packet (record order in a file, files in argument
order), whenever each is recognised as SMTP, and flows that never become
sessions leave no gap.

The captures are crafted so that the order in which sessions are
recognised differs from the order of their first packets: a session whose
first packet comes early is recognised last (its greeting comes late, or it
runs on a port that is not an SMTP port), a flow of another protocol and a
connection that never carries data come first of all.  Checked for one
file, for two files, with -j 2, with --replies joined to the summary on
session and id, and with so much output waiting for its number (behind a
connection that stays undecided to the end) that it goes to the temporary
file (--max-memory 1).

Environment: SMTPREPLY (the binary), SRCDIR (the source tree); run alone,
they default to this tree and its build/ directory."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from checks import check, finish  # noqa: E402
import pcapgen  # noqa: E402

SRCDIR = os.environ.get("SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
SMTPREPLY = os.environ.get("SMTPREPLY") or os.path.join(SRCDIR, "build", "analyzer", "smtpreply")
tmp = tempfile.mkdtemp()


def run(*args):
    p = subprocess.run([SMTPREPLY, *args], capture_output=True)
    check(p.returncode == 0, f"smtpreply {' '.join(args)[:90]}: exit {p.returncode} "
                             f"{p.stderr[:200]!r}")
    return p.stdout


class Capture:
    """Conversations whose packets are written in the order the script
    sends them, on one clock (100 us a packet)."""

    def __init__(self, t0):
        self.clock = t0
        self.records = []
        self.first = {}  # client port -> 1-based record of its first packet

    def conv(self, cport, sport=25, cli=b"\x7f\x00\x00\x01"):
        return pcapgen.Conversation(cport, sport=sport, cli=cli, srv=b"\x7f\x00\x00\x02")

    def send(self, cv, from_client, payload=b"", flags=pcapgen.ACK | pcapgen.PSH):
        cv.ts = self.clock
        cv.send(from_client, payload, flags=flags)
        self.clock = cv.ts
        self.records.append(cv.records[-1])
        self.first.setdefault(cv.cport, len(self.records))

    def open(self, cv):
        self.send(cv, True, flags=pcapgen.SYN)
        self.send(cv, False, flags=pcapgen.SYN | pcapgen.ACK)

    def dialogue(self, cv, n_rcpt=1, greet=True):
        if greet:
            self.send(cv, False, b"220 mx.example.org ESMTP\r\n")
        for c, r in [(b"EHLO c.example.com", b"250 mx.example.org")] + \
                    [(b"MAIL FROM:<a@example.com>", b"250 2.1.0 Ok")] + \
                    [(b"RCPT TO:<u%d@example.org>" % k, b"550 5.1.1 <u%d@example.org>: "
                      b"Recipient address rejected: User unknown" % k) for k in range(n_rcpt)] + \
                    [(b"QUIT", b"221 2.0.0 Bye")]:
            self.send(cv, True, c + b"\r\n")
            self.send(cv, False, r + b"\r\n")

    def close(self, cv):
        self.send(cv, True, flags=pcapgen.FIN | pcapgen.ACK)
        self.send(cv, False, flags=pcapgen.FIN | pcapgen.ACK)

    def write(self, path):
        pcapgen.write(path, self.records)


def small(path, base_port, t0):
    """Five flows: a SYN that is never answered, an HTTP connection, then
    B (port 25) and D (port 2525) open before A, which is recognised
    first; D's server greets last.  Sessions by first packet: B, D, A."""
    k = Capture(t0)
    e = k.conv(base_port + 9)
    k.send(e, True, flags=pcapgen.SYN)                   # never answered
    h = k.conv(base_port + 8, sport=80)
    k.open(h)
    b = k.conv(base_port + 2)
    k.open(b)
    d = k.conv(base_port + 4, sport=2525)
    k.open(d)
    a = k.conv(base_port + 1)
    k.open(a)
    k.send(h, True, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n")
    k.send(h, False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    k.dialogue(a, 2)
    k.close(a)
    k.dialogue(b, 1)
    k.close(h)
    k.dialogue(d, 3)
    k.close(b)
    k.close(d)
    k.write(path)
    return [base_port + 2, base_port + 4, base_port + 1]


def port(addr):
    return int(addr.rsplit(":", 1)[1])


def ids_by_port(doc):
    return {port(s["client"]): s["id"] for s in doc["sessions"]}


one = os.path.join(tmp, "one.pcap")
two = os.path.join(tmp, "two.pcap")
order1 = small(one, 40000, 1700000000_000000)
order2 = small(two, 41000, 1700000100_000000)

# ------------------------------------------------------------- one file
doc = json.loads(run("--json", one))
check(ids_by_port(doc) == {p: i for i, p in enumerate(order1)},
      f"one file: ids follow the first packets {order1} (got {ids_by_port(doc)})")
lines = [json.loads(x) for x in run("--replies", one).splitlines()]
check({port(r["client"]): r["session"] for r in lines} == {p: i for i, p in enumerate(order1)},
      "one file: --replies' session follows the first packets")
check([r["session"] for r in lines if r["command"] == "EHLO"] == [2, 0, 1],
      "one file: lines stay in the order of the replies (A's first)")
csv_rows = run("--replies", "--format", "csv", one).decode().splitlines()[1:]
check([int(row.split(",")[2]) for row in csv_rows] == [r["session"] for r in lines],
      "one file: the CSV rows carry the same session numbers as the JSON lines")

text = run(one, two).decode().splitlines()
rows = {int(ln.split()[1].rsplit(":", 1)[1]): int(ln.split()[0]) for ln in text
        if ln[:1].isdigit() and ":" in ln.split()[1]}
check(rows == {p: i for i, p in enumerate(order1 + order2)},
      f"text report: '#' is the session number of the JSON id (got {rows})")
check(run("-j", "2", one, two).decode().splitlines() == text, "text report: -j 2 equals -j 1")

# ------------------------------------------------- two files, and -j 2
both = json.loads(run("--json", one, two))
want = {p: i for i, p in enumerate(order1 + order2)}
check(ids_by_port(both) == want, f"two files: ids follow the files, then the first packets "
                                 f"(got {ids_by_port(both)})")
rl = [json.loads(x) for x in run("--replies", one, two).splitlines()]
check({port(r["client"]): r["session"] for r in rl} == want,
      "two files: --replies' session follows the files, then the first packets")
check(run("-j", "2", "--json", one, two) == run("--json", one, two),
      "two files: -j 2 gives the JSON summary of -j 1, byte for byte")
check(run("-j", "2", "--replies", one, two) == run("--replies", one, two),
      "two files: -j 2 gives the --replies lines of -j 1, byte for byte")
check(run("-j", "2", "--replies", "--format", "csv", two, one)
      == run("--replies", "--format", "csv", two, one),
      "two files (other order): -j 2 gives the CSV rows of -j 1")
rev = json.loads(run("-j", "2", "--json", two, one))
check(ids_by_port(rev) == {p: i for i, p in enumerate(order2 + order1)},
      "two files in the other order: the ids follow the argument order")

# ------------------------------------------- --replies joined on session/id
sess = {s["id"]: s for s in both["sessions"]}
check(sorted(sess) == list(range(len(both["sessions"]))), "the ids are 0..n-1, no gap")
check(all(r["session"] in sess and sess[r["session"]]["client"] == r["client"]
          and sess[r["session"]]["server"] == r["server"] for r in rl),
      "every reply line joins its session on session = id (same client and server)")
counts = {}
for r in rl:
    counts[r["session"]] = counts.get(r["session"], 0) + 1
check(all(counts.get(i, 0) == s["replies"] for i, s in sess.items()),
      "each session's replies count its --replies lines")
firsts = sorted(sess.values(), key=lambda s: s["id"])
check([s["start"] for s in firsts] == sorted(s["start"] for s in firsts),
      "in these captures (one clock) the ids also follow the start times")

# --------------------- many replies held behind a flow undecided to the end
k = Capture(1700000200_000000)
stuck = k.conv(39999)
k.send(stuck, True, flags=pcapgen.SYN)      # stays undecided: no reply, no data
expect, convs = [], []
for i in range(150):
    x, y = k.conv(42000 + 2 * i), k.conv(42001 + 2 * i)
    k.open(x)                               # x opens first ...
    k.open(y)
    k.dialogue(y, 3)                        # ... y is recognised first
    k.dialogue(x, 2)
    k.close(y)
    k.close(x)
    expect += [x.cport, y.cport]
big = os.path.join(tmp, "big.pcap")
k.write(big)
ref = run("--replies", big)
check(len(ref) > 64 << 10, f"the held lines ({len(ref)} bytes) are more than 1/16 of 1 MB")
check(run("--replies", "--max-memory", "1", big) == ref,
      "--max-memory 1: lines held past 64 KB go through the temporary file, same output")
bl = [json.loads(x) for x in ref.splitlines()]
check({port(r["client"]): r["session"] for r in bl} == {p: i for i, p in enumerate(expect)},
      "held lines get the numbers of the first packets")
frames = [r["frame"] for r in bl]
check(frames == sorted(frames), "held lines are written in the order of their replies")
bd = json.loads(run("--json", "--max-memory", "1", big))
check(ids_by_port(bd) == {p: i for i, p in enumerate(expect)},
      "JSON summary with --max-memory 1: ids follow the first packets")
check(run("--json", big) == run("--json", "--max-memory", "1", big),
      "JSON summary: the same with and without a small --max-memory")

finish()
