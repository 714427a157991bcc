#!/usr/bin/env python3
"""smtpreply tally: the output contract (docs/contracts.md) and the exit
statuses, on captures built here with scapy (so the test needs nothing
but itself) plus, when present, the shared captures."""
import csv, io, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import env  # noqa: E402
from checks import check, finish  # noqa: E402
import pcapgen  # noqa: E402
from pcapgen import write_packets  # noqa: E402

smtpreply = env.smtpreply()
shared = os.path.join(env.SHARED, "captures")


def run(*args, stdin=None):
    return subprocess.run([smtpreply, *args], capture_output=True, timeout=120,
                          input=stdin)


# scapy builds the packets; pcapgen writes the files.
env.need_scapy()
from scapy.all import Ether, IP, IPv6, TCP, Raw, Dot1Q, CookedLinux  # noqa: E402

tmp = tempfile.mkdtemp()


def dialogue(src, dst, sport, dport, steps, l2=lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p, v6=False):
    """steps: list of (from_client, bytes).  Returns packets with a full
    handshake and close, sequence numbers consistent."""
    ipc = (lambda: IPv6(src=src, dst=dst)) if v6 else (lambda: IP(src=src, dst=dst))
    ips = (lambda: IPv6(src=dst, dst=src)) if v6 else (lambda: IP(src=dst, dst=src))
    cseq, sseq = 1000, 5000
    pk = [l2(ipc() / TCP(sport=sport, dport=dport, flags="S", seq=cseq)),
          l2(ips() / TCP(sport=dport, dport=sport, flags="SA", seq=sseq, ack=cseq + 1))]
    cseq += 1
    sseq += 1
    for from_client, data in steps:
        if from_client:
            pk.append(l2(ipc() / TCP(sport=sport, dport=dport, flags="PA", seq=cseq, ack=sseq) / Raw(data)))
            cseq += len(data)
        else:
            pk.append(l2(ips() / TCP(sport=dport, dport=sport, flags="PA", seq=sseq, ack=cseq) / Raw(data)))
            sseq += len(data)
    pk.append(l2(ipc() / TCP(sport=sport, dport=dport, flags="FA", seq=cseq, ack=sseq)))
    pk.append(l2(ips() / TCP(sport=dport, dport=sport, flags="FA", seq=sseq, ack=cseq + 1)))
    for i, p in enumerate(pk):
        p.time = 1700000000 + i * 0.01
    return pk


steps = [(False, b"220 mx.example.org ESMTP\r\n"), (True, b"EHLO c\r\n"),
         (False, b"250-mx\r\n250 PIPELINING\r\n"),
         (True, b"MAIL FROM:<a@c>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<x@example.org>\r\n"),
         (False, b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 <x@example.org>: \"no\", user\r\n"),
         (True, b"QUIT\r\n"), (False, b"221 2.0.0 bye\r\n")]
v4 = os.path.join(tmp, "v4.pcap")
write_packets(v4, dialogue("192.0.2.1", "192.0.2.25", 40000, 25, steps))
vlan = os.path.join(tmp, "vlan.pcap")
write_packets(vlan, dialogue("192.0.2.1", "192.0.2.25", 40001, 25, steps,
                             l2=lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=10) / Dot1Q(vlan=20) / p))
v6 = os.path.join(tmp, "v6.pcap")
write_packets(v6, dialogue("2001:db8::1", "2001:db8::25", 40002, 587, steps, v6=True))
sll = os.path.join(tmp, "sll.pcap")
write_packets(sll, dialogue("192.0.2.1", "192.0.2.25", 40003, 2525, steps,
                            l2=lambda p: CookedLinux(proto=0x0800) / p),
              linktype=pcapgen.LINKTYPE_LINUX_SLL)
odd = os.path.join(tmp, "odd-port.pcap")
write_packets(odd, dialogue("192.0.2.1", "192.0.2.25", 40004, 10025, steps))

want_codes = {"220": 1, "250": 3, "550": 1, "221": 1}

# JSON contract, per link type
for path, client, server in [(v4, "192.0.2.1:40000", "192.0.2.25:25"),
                             (vlan, "192.0.2.1:40001", "192.0.2.25:25"),
                             (v6, "[2001:db8::1]:40002", "[2001:db8::25]:587"),
                             (sll, "192.0.2.1:40003", "192.0.2.25:2525"),
                             (odd, "192.0.2.1:40004", "192.0.2.25:10025")]:
    p = run("--format", "json", path)
    check(p.returncode == 0, f"{path}: exit {p.returncode} {p.stderr}")
    d = json.loads(p.stdout)
    check(set(d) >= {"files", "sessions", "totals"}, "top-level keys")
    check(set(d["files"][0]) >= {"path", "packets", "bytes", "problems"}, "file keys")
    check(len(d["sessions"]) == 1, f"{path}: one session, got {len(d['sessions'])}")
    s = d["sessions"][0]
    for k in ["client", "server", "file", "start", "end", "status", "flags", "replies",
              "commands", "codes", "enhanced", "anomalies", "rt_ms"]:
        check(k in s, f"session key {k}")
    check(s["client"] == client and s["server"] == server, f"{path}: endpoints {s['client']} {s['server']}")
    check(s["codes"] == want_codes, f"{path}: codes {s['codes']}")
    check(s["enhanced"] == {"2.1.0": 1, "2.1.5": 1, "5.1.1": 1, "2.0.0": 1}, f"enhanced {s['enhanced']}")
    check(s["status"] == "complete", f"{path}: status {s['status']} {s['flags']}")
    check(s["replies"] == 6 and s["commands"] == 5, f"counts {s['replies']} {s['commands']}")
    check(isinstance(s["start"], (int, float)) and s["end"] >= s["start"], "start/end numbers")
    check(set(s["rt_ms"]) == {"min", "median", "max"}, "rt_ms keys")
    t = d["totals"]
    check(set(t) >= {"sessions", "replies", "codes", "classes", "enhanced", "anomalies"}, "totals keys")
    check(t["classes"] == {"2": 5, "3": 0, "4": 0, "5": 1}, f"classes {t['classes']}")

# --json alias, -o, CSV with quoting, --replies
p = run("--json", "-o", os.path.join(tmp, "out.json"), v4)
check(p.returncode == 0 and json.load(open(os.path.join(tmp, "out.json")))["totals"]["replies"] == 6, "-o FILE")
p = run("--format", "csv", v4)
rows = list(csv.reader(io.StringIO(p.stdout.decode())))
check(rows[0] == ["file", "client", "server", "status", "code", "count", "meaning"], f"csv header {rows[0]}")
check(sorted((r[4], int(r[5])) for r in rows[1:]) == sorted(want_codes.items()), "csv rows")
check(all(len(r) == 7 for r in rows), "csv fields quoted")
p = run("--replies", v4)
lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
check(len(lines) == 6, f"--replies lines {len(lines)}")
for k in ["ts", "file", "client", "server", "command", "code", "enhanced", "class", "rt_ms", "anomalies"]:
    check(all(k in l for l in lines), f"--replies key {k}")
check(all(l["client"] == "192.0.2.1:40000" and l["server"] == "192.0.2.25:25" for l in lines),
      "--replies names the endpoints")
check([l["command"] for l in lines] == [None, "EHLO", "MAIL", "RCPT", "RCPT", "QUIT"], "commands answered")
check(lines[4]["text"] == '5.1.1 <x@example.org>: "no", user', "reply text kept")

# stdin, several files and directories add up
p = run("--json", "-", stdin=open(v4, "rb").read())
check(p.returncode == 0 and json.loads(p.stdout)["totals"]["replies"] == 6, "stdin")
d = os.path.join(tmp, "dir")
os.makedirs(os.path.join(d, "sub"))
os.link(v4, os.path.join(d, "a.pcap"))
os.link(v6, os.path.join(d, "sub", "b.pcap"))
open(os.path.join(d, "notes.txt"), "w").write("not a capture")
p = run("--json", d)
j = json.loads(p.stdout)
check(p.returncode == 0, f"directory walk exit {p.returncode}")
check(j["totals"]["sessions"] == 2 and j["totals"]["replies"] == 12, "directory totals")

# errors: exit statuses and one-line messages naming the file
p = run(os.path.join(tmp, "missing.pcap"))
check(p.returncode == 2 and b"missing.pcap" in p.stderr, f"missing file: {p.returncode}")
garbage = os.path.join(tmp, "garbage.pcap")
open(garbage, "wb").write(b"this is not a capture at all\n" * 10)
p = run(garbage)
check(p.returncode == 2 and b"garbage.pcap" in p.stderr and len(p.stderr.splitlines()) == 1, "garbage")
trunc = os.path.join(tmp, "trunc.pcap")
open(trunc, "wb").write(open(v4, "rb").read()[:-30])
p = run("--json", trunc, v6)
check(p.returncode == 1 and b"trunc.pcap" in p.stderr, f"truncated exit {p.returncode}")
check(json.loads(p.stdout)["totals"]["sessions"] == 2, "results for the readable part")
p = run("--bogus", v4)
check(p.returncode == 2, "unknown option")
p = run("-F", "tcp port 9", "--json", v4)
check(p.returncode == 0 and json.loads(p.stdout)["totals"]["sessions"] == 0, "BPF filter")
p = run("-F", "not a ((filter", v4)
check(p.returncode == 2, "bad BPF filter")
p = run("--help")
check(p.returncode == 0 and b"Exit status" in p.stdout, "--help")

# More link types and formats: raw IP (LINKTYPE_RAW), BSD loopback (NULL),
# nanosecond pcap; IPv4 fragments are counted as skipped, not guessed.
from scapy.all import Loopback, fragment  # noqa: E402

raw = os.path.join(tmp, "raw.pcap")
write_packets(raw, dialogue("192.0.2.1", "192.0.2.25", 40005, 25, steps, l2=lambda p: p),
              linktype=pcapgen.LINKTYPE_RAW)
null = os.path.join(tmp, "null.pcap")
write_packets(null, dialogue("192.0.2.1", "192.0.2.25", 40006, 25, steps,
                             l2=lambda p: Loopback(type=2) / p),
              linktype=pcapgen.LINKTYPE_LOOP)
nano = os.path.join(tmp, "nano.pcap")
write_packets(nano, dialogue("192.0.2.1", "192.0.2.25", 40007, 25, steps), nano=True)
for path in (raw, null, nano):
    p = run("--json", path)
    d = json.loads(p.stdout)
    check(p.returncode == 0 and len(d["sessions"]) == 1 and d["sessions"][0]["codes"] == want_codes,
          f"{os.path.basename(path)}: {p.returncode} {d['sessions'][:1]}")
d = json.loads(run("--json", nano).stdout)
check(abs(d["sessions"][0]["start"] - 1700000000.0) < 1e-3, "nanosecond timestamps read as seconds")
frag = os.path.join(tmp, "frag.pcap")
pk = dialogue("192.0.2.1", "192.0.2.25", 40008, 25, steps)
big = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="192.0.2.9", dst="192.0.2.25", flags=0) / TCP(sport=1, dport=25) / Raw(b"x" * 3000)
frags = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / f for f in fragment(big[IP], fragsize=1000)]
for f in frags:
    f.time = 1700000000
write_packets(frag, pk + frags)
p = run("--json", frag)
d = json.loads(p.stdout)
check(p.returncode == 0, f"fragments leave exit 0: {p.returncode}")
check(d["totals"]["skipped_packets"].get("IP fragment (not reassembled)") == len(frags),
      f"fragments counted: {d['totals']['skipped_packets']}")
check(d["sessions"][0]["codes"] == want_codes, "the SMTP session beside them still counted")

# Bounded flow table: two sessions at once with room for one.  The older
# is evicted (counted, flagged) and the newer still counted; the idle
# timeout ends a flow that goes quiet in capture time.
one = dialogue("192.0.2.1", "192.0.2.25", 40010, 25, steps)
two = dialogue("192.0.2.2", "192.0.2.25", 40011, 25, steps)
mixed = [p for pair in zip(one, two) for p in pair]
for i, p in enumerate(mixed):
    p.time = 1700000000 + i * 0.01
both = os.path.join(tmp, "two-at-once.pcap")
write_packets(both, mixed)
d = json.loads(run("--json", both).stdout)
check(d["totals"]["sessions"] == 2 and d["totals"]["evicted_flows"] == 0, "room for both: no eviction")
p = run("--json", "--max-sessions", "1", both)
d = json.loads(p.stdout)
check(p.returncode == 0 and d["totals"]["evicted_flows"] > 0, f"evictions counted: {d['totals'].get('evicted_flows')}")
check(any("evicted" in s["flags"] for s in d["sessions"]), "an evicted session is flagged")
quiet = dialogue("192.0.2.3", "192.0.2.25", 40012, 25, steps)
for i, p in enumerate(quiet):
    p.time = 1700000000 + (i * 100 if i >= 4 else i)  # long silences mid-session
idle = os.path.join(tmp, "idle.pcap")
write_packets(idle, quiet)
d = json.loads(run("--json", "--idle-timeout", "50", idle).stdout)
check(d["totals"]["evicted_flows"] > 0, "idle timeout ends a quiet flow")

# A memory budget for all flows together (--max-memory): past it the
# core's allocations are refused, counted, and the run goes on.
gen = os.path.join(tmp, "many.pcap")
subprocess.run([sys.executable, os.path.join(env.SRCDIR, "bench", "gen_capture.py"),
                gen, "1500", "1500", "7"], check=True, timeout=120)
p = run("--json", gen)
d = json.loads(p.stdout)["totals"]
truth = json.load(open(gen + ".truth.json"))
check(d["replies"] == truth["replies"] and d["allocations_refused"] == 0, "default budget: all counted")
p = run("--json", "--max-memory", "1", gen)
t = json.loads(p.stdout)["totals"]
check(p.returncode == 0 and t["allocations_refused"] > 0 and t["core_memory_peak"] <= 1 << 20,
      f"1 MB budget respected: {t['core_memory_peak']} refused {t['allocations_refused']}")

# TCP trouble, crafted: the server's bytes cut into segments, then
# reordered, repeated, overlapped or lost.  The expected codes are the
# dialogue's; a lost segment must show as a gap with its byte count.
def tcp_trouble(name, mangle, sport):
    server = (b"220 mx ready\r\n250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
              b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n221 2.0.0 bye\r\n")
    client = b"EHLO c\r\nMAIL FROM:<a@c>\r\nRCPT TO:<b@example.org>\r\nQUIT\r\n"
    E = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
    cip, sip = IP(src="192.0.2.1", dst="192.0.2.25"), IP(src="192.0.2.25", dst="192.0.2.1")
    pk = [E(cip / TCP(sport=sport, dport=25, flags="S", seq=99)),
          E(sip / TCP(sport=25, dport=sport, flags="SA", seq=0xfffffff0, ack=100))]
    pk.append(E(cip / TCP(sport=sport, dport=25, flags="PA", seq=100, ack=0xfffffff1) / Raw(client)))
    # server segments of 10 bytes: the EHLO reply is split mid-line
    segs = [(0xfffffff1 + o) & 0xffffffff for o in range(0, len(server), 10)]
    parts = [E(sip / TCP(sport=25, dport=sport, flags="PA", seq=sq, ack=100 + len(client))
               / Raw(server[o:o + 10])) for sq, o in zip(segs, range(0, len(server), 10))]
    pk += mangle(parts, lambda sq, o, n: E(sip / TCP(sport=25, dport=sport, flags="PA",
                 seq=(0xfffffff1 + o) & 0xffffffff, ack=100 + len(client)) / Raw(server[o:o + n])))
    pk.append(E(cip / TCP(sport=sport, dport=25, flags="FA", seq=100 + len(client))))
    pk.append(E(sip / TCP(sport=25, dport=sport, flags="FA", seq=(0xfffffff1 + len(server)) & 0xffffffff)))
    for i, p in enumerate(pk):
        p.time = 1700000000 + i * 0.01
    path = os.path.join(tmp, name + ".pcap")
    write_packets(path, pk)
    return path

full = {"220": 1, "250": 3, "221": 1}
cases = [
    ("split", lambda parts, mk: parts, full, 0),
    ("out-of-order", lambda parts, mk: [parts[1], parts[0]] + parts[3:1:-1] + parts[4:], full, 0),
    ("retransmitted", lambda parts, mk: [x for p in parts for x in (p, p)], full, 0),
    ("overlapping", lambda parts, mk: parts[:3] + [mk(0, 25, 20)] + parts[3:], full, 0),
    # the segment holding "250 2.1.0 ok" (bytes 60-69 of the server stream) is lost
    ("lost", lambda parts, mk: parts[:6] + parts[7:], None, 10),
]
for i, (name, mangle, want, missing) in enumerate(cases):
    path = tcp_trouble(name, mangle, 41000 + i)
    p = run("--json", path)
    s = json.loads(p.stdout)["sessions"]
    check(p.returncode == 0 and len(s) == 1, f"{name}: one session, exit {p.returncode}")
    if not s:
        continue
    s = s[0]
    if want is not None:
        check(s["codes"] == want, f"{name}: codes {s['codes']}")
        check(s["status"] == "complete", f"{name}: status {s['status']} {s['flags']}")
    else:
        check("gaps" in s["flags"] and s["missing_bytes"] == missing,
              f"{name}: flags {s['flags']} missing {s.get('missing_bytes')}")
        check(s["codes"].get("220") == 1 and s["codes"].get("221") == 1, f"{name}: resync {s['codes']}")

# the damaged public capture: partial results and exit 1
comma = os.path.join(shared, "suricata-verify-smtp-to-comma.pcap")
if os.path.exists(comma):
    p = run("--json", comma)
    check(p.returncode == 1 and b"packet 18" in p.stderr, f"corrupt record: {p.returncode} {p.stderr}")
    check(json.loads(p.stdout)["totals"]["replies"] == 9, "replies before the corrupt record")

finish()
