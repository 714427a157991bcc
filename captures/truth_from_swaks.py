#!/usr/bin/env python3
"""truth_from_swaks.py CAPTURE SWAKS_TRANSCRIPT - the truth for a capture,
from the client's own transcript: the reply codes swaks received, in order,
a multi-line reply counted once.  Lines swaks received inside TLS ('<~')
are not in the capture and are not counted.  The endpoints come from the
capture's first SYN (scapy)."""
import json, re, sys
from scapy.all import rdpcap, TCP, IP, IPv6

pcap, transcript = sys.argv[1], sys.argv[2]
replies, enhanced, commands = [], [], []
current = None
for line in open(transcript, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"^(<-|<\*\*) +(\d{3})([ -]?)(.*)$", line)
    if m:
        code, sep, text = m.group(2), m.group(3), m.group(4)
        if current is None:
            current = code
            esc = re.match(r"^([245]\.\d{1,3}\.\d{1,3})\b", text)
            enhanced.append(esc.group(1) if esc else "")
        if sep != "-":
            replies.append(int(current))
            current = None
        continue
    c = re.match(r"^ -> ([A-Za-z]+)", line)
    if c and not line.startswith(" -> ") is False:
        commands.append(c.group(1).upper())

syn = None
for p in rdpcap(pcap):
    if TCP in p and p[TCP].flags & 0x02 and not p[TCP].flags & 0x10:
        syn = p
        break
ip = syn[IP] if IP in syn else syn[IPv6]
fmt = (lambda a, port: f"{a}:{port}") if IP in syn else (lambda a, port: f"[{a}]:{port}")
client = fmt(ip.src, syn[TCP].sport)
server = fmt(ip.dst, syn[TCP].dport)
totals = {}
for r in replies:
    totals[str(r)] = totals.get(str(r), 0) + 1
json.dump({"file": pcap.split("/")[-1],
           "sessions": [{"client": client, "server": server, "replies": replies,
                         "enhanced": enhanced}],
           "totals": dict(sorted(totals.items()))}, sys.stdout, indent=1)
print()
