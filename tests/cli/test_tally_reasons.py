#!/usr/bin/env python3
"""The tally says why replies failed: --replies lines carry the whole text,
reason, reason_source, meaning, rcpt, session and frame; the JSON summary
carries schema, session ids and reasons; --replies --format csv gives one
RFC 4180 row per reply.

A capture is built from the quiz (tests/quiz/replies.tsv): one session per
row, whose server answers the row's command with the row's reply (for a
log line, the reply it contains), and the tally's reason for every reply
must be the quiz's.  Frame numbers are checked against the index of the
record written, with --filter leaving out an interleaved flow.  -j 2 must
equal -j 1, merge of split runs must equal one run, a summary from an older
version merges as empty for the new keys.

Environment: SMTPREPLY (the binary), SRCDIR (the source tree); run alone,
they default to this tree and its build/ directory."""
import csv
import glob
import io
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from checks import check, finish  # noqa: E402
import pcapgen  # noqa: E402

SRCDIR = os.environ.get("SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
SMTPREPLY = os.environ.get("SMTPREPLY") or os.path.join(SRCDIR, "build", "analyzer", "smtpreply")
CAPS = sorted(f for f in glob.glob(os.path.join(SRCDIR, "captures", "*"))
              if f.endswith((".pcap", ".pcapng")))
tmp = tempfile.mkdtemp()
CSV_HEADER = "ts,file,session,frame,client,server,command,rcpt,code,enhanced,reason,text"


def run(*args, ok=True):
    p = subprocess.run([SMTPREPLY, *args], capture_output=True)
    if ok:
        check(p.returncode == 0, f"smtpreply {' '.join(args)[:80]}: exit {p.returncode} "
                                 f"{p.stderr[:200]!r}")
    return p


def jlines(*args):
    return [json.loads(line) for line in run("--replies", *args).stdout.splitlines()]


# ------------------------------------------------------------------ quiz
def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def quiz_rows():
    rows = []
    for line in open(os.path.join(SRCDIR, "tests", "quiz", "replies.tsv"), encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        f = line.split("\t")
        rows.append({"reason": f[0], "code": int(f[1]), "command": f[3], "item": unescape(f[5])})
    return rows


def reply_lines(code, item):
    """The reply lines an item holds: its own lines when each is a reply
    line with the code (after an "S:" or "<-" prefix), else the reply a
    log line quotes, from the code to the end, without the MTA's wrapping."""
    lines = [re.sub(r"^\s*(S:|<-)\s*", "", ln) for ln in item.split("\n")
             if not re.match(r"^\s*(C:|->)", ln)]
    lines = [ln for ln in lines if ln.strip()]
    if lines and all(re.match(rf"{code}([ -]|$)", ln) for ln in lines):
        return lines
    m = re.search(rf"(?<![\d.]){code}[ -].*", item, re.S)
    text = m.group(0) if m else f"{code} "
    text = re.sub(r"\s*\(in reply to [^)]*\)\)?\s*$", "", text)
    text = re.sub(r"'\s*$", "", text)
    return [text.split("\n")[0]]


def reply_text(lines):
    return "\n".join(ln[4:] for ln in lines)


def quiz_capture(path):
    """One session per row; returns [(client port, row, reply lines,
    1-based record number of the reply)]."""
    records, expect = [], []
    for i, row in enumerate(quiz_rows()):
        port = 20000 + i
        cv = pcapgen.Conversation(port, ts_us=1700000000_000000 + i * 1000000)
        lines = reply_lines(row["code"], row["item"])
        reply = "".join(ln + "\r\n" for ln in lines).encode()
        cv.open()
        cmd = row["command"]
        if cmd == "greeting":
            cv.s(reply)
        else:
            cv.s(b"220 mx.example.org ESMTP\r\n")
            cv.c(b"EHLO client.example.com\r\n")
            cv.s(b"250 mx.example.org\r\n")
            if cmd == ".":
                for c, r in ((b"MAIL FROM:<a@example.com>", b"250 2.1.0 Ok"),
                             (b"RCPT TO:<rcpt%d@example.org>" % i, b"250 2.1.5 Ok"),
                             (b"DATA", b"354 go ahead")):
                    cv.c(c + b"\r\n")
                    cv.s(r + b"\r\n")
                cv.c(b"Subject: quiz\r\n\r\nbody\r\n.\r\n")
            elif cmd != "-":
                line = {"MAIL": b"MAIL FROM:<a@example.com>",
                        "RCPT": b"RCPT TO:<rcpt%d@example.org>" % i,
                        "AUTH": b"AUTH PLAIN AGFsaWNlAHNlY3JldA==",
                        "BURL": b"BURL imap://a@example.com/INBOX;UIDVALIDITY=1/;UID=2 LAST",
                        "VRFY": b"VRFY someone"}.get(cmd, cmd.encode())
                cv.c(line + b"\r\n")
            cv.s(reply)
        expect.append((port, row, lines, len(records) + len(cv.records)))
        cv.close()
        records += cv.records
    pcapgen.write(path, records)
    return expect


quiz = os.path.join(tmp, "quiz.pcap")
expect = quiz_capture(quiz)
replies = jlines(quiz)
by_port = {}
for r in replies:
    by_port.setdefault(int(r["client"].rsplit(":", 1)[1]), []).append(r)
wrong = []
for port, row, lines, frame in expect:
    got = by_port.get(port, [])
    last = got[-1] if got else {}
    if last.get("reason") != row["reason"]:
        wrong.append(f"{row['item'][:60]!r}: {last.get('reason')} (want {row['reason']})")
check(not wrong, f"tally reason equals the quiz's for {len(expect) - len(wrong)} of "
                 f"{len(expect)} replies" + "".join("\n     " + w for w in wrong))
bad_text = [p for p, row, lines, frame in expect
            if not by_port.get(p) or by_port[p][-1]["text"] != reply_text(lines)]
check(not bad_text, f"text is every line of the reply joined with LF ({len(bad_text)} differ)")
bad_frame = [p for p, row, lines, frame in expect
             if not by_port.get(p) or by_port[p][-1]["frame"] != frame]
check(not bad_frame, f"frame is the reply's record number ({len(bad_frame)} differ)")
check(all(r["reason_source"] in ("text", "enhanced", "code") for r in replies if r["code"] >= 400),
      "every failure has a reason_source")
check(all(r["reason"] is None and r["reason_source"] is None for r in replies if r["code"] < 400),
      "successes have null reason and reason_source")
check(all(isinstance(r["meaning"], str) and r["meaning"] for r in replies), "every reply has a meaning")
rc = [r for r in replies if r["command"] == "RCPT"]
check(rc and all(r["rcpt"] == "rcpt%d@example.org" % (int(r["client"].rsplit(":", 1)[1]) - 20000)
                 for r in rc), "RCPT replies carry their address as rcpt")
check(all(r["rcpt"] is None for r in replies if r["command"] not in ("RCPT", "DATA")),
      "other replies have rcpt null")

# ------------------------------------------------------- summary and join
doc = json.loads(run("--json", quiz).stdout)
ids = [s["id"] for s in doc["sessions"]]
check(doc.get("schema") == 2, "the summary says schema 2")
check(sorted(ids) == list(range(len(ids))), "session ids are 0..n-1")
check({r["session"] for r in replies} <= set(ids), "every reply's session is a session id")
sess = {s["id"]: s for s in doc["sessions"]}
check(all(sess[r["session"]]["client"] == r["client"] for r in replies),
      "session and id join the reply to its session")
fails = sum(1 for r in replies if r["code"] >= 400)
check(sum(doc["totals"]["reasons"].values()) == fails == doc["totals"]["classes"]["4"]
      + doc["totals"]["classes"]["5"], f"totals.reasons adds up to the {fails} 4xx and 5xx replies")
check(all(sum(s["reasons"].values()) == sum(v for k, v in s["codes"].items() if k[0] in "45")
          for s in doc["sessions"]), "each session's reasons add up to its failures")
starts = [sess[i]["start"] for i in sorted(sess)]
check(starts == sorted(starts), "ids follow the sessions' first packets")

# ------------------------------------------------------ servers, domains
srv = doc["servers"]
check([d["server"] for d in srv] == sorted(d["server"] for d in srv), "servers sorted by key")
check(sum(d["sessions"] for d in srv) == doc["totals"]["sessions"]
      and sum(d["replies"] for d in srv) == doc["totals"]["replies"],
      "servers add up to the sessions and replies")
check(all("mx.example.org" in d["names"] for d in srv if d["server"] == "10.0.0.2:25"),
      "a server's names hold its 220 greeting's first word")
sreasons = {}
for d in srv:
    for k, v in d["reasons"].items():
        sreasons[k] = sreasons.get(k, 0) + v
check(sreasons == doc["totals"]["reasons"], "servers' reasons add up to totals.reasons")
dom = {d["domain"]: d for d in doc["domains"]}
nrcpt = sum(1 for p, row, lines, frame in expect if row["command"] in ("RCPT", "."))
check(dom.get("example.org", {}).get("rcpts") == nrcpt,
      f"domains: example.org counts its {nrcpt} RCPT TO commands")
want_codes = {}
for r in replies:
    if r["rcpt"]:
        want_codes[str(r["code"])] = want_codes.get(str(r["code"]), 0) + 1
check(dom.get("example.org", {}).get("codes") == want_codes,
      "domains: codes are those of the replies that carry its rcpt")
capped = json.loads(run("--json", "--max-destinations", "0", quiz).stdout)
check(capped["servers"] == [] and capped["domains"] == []
      and capped["totals"]["destinations_dropped"] > 0,
      "--max-destinations 0 keeps none and counts what it drops")
mc = pcapgen.Conversation(32000)
mc.open()
mc.s(b"220 MX1.Example.NET hello\r\n")
for a in (b"A@Sub.Example.COM", b"b@sub.example.com", b"noat", b"x@y@Last.example"):
    mc.c(b"RCPT TO:<" + a + b"> NOTIFY=NEVER\r\n")
    mc.s(b"250 ok\r\n")
mc.close()
mcp = os.path.join(tmp, "domains.pcap")
pcapgen.write(mcp, mc.records)
md = json.loads(run("--json", mcp).stdout)
check([(d["domain"], d["rcpts"]) for d in md["domains"]]
      == [("last.example", 1), ("sub.example.com", 2)],
      "domains: lower-cased text after the last @, addresses without one skipped")
check(md["servers"][0]["names"] == ["MX1.Example.NET"], "names: the greeting's first word")
many = pcapgen.Conversation(32001)
many.open()
many.s(b"220 mx ESMTP\r\n")
for k in range(300):
    many.c(b"RCPT TO:<u@d%03d.example>\r\n" % k)
    many.s(b"550 5.1.1 unknown\r\n")
many.close()
manyp = os.path.join(tmp, "many.pcap")
pcapgen.write(manyp, many.records)
mm = json.loads(run("--json", manyp).stdout)
check([d["domain"] for d in mm["domains"]] == ["d%03d.example" % k for k in range(300)]
      and all(d["reasons"] == {"recipient-unknown": 1} for d in mm["domains"]),
      "300 domains: each listed once, sorted, with its reason")
m2 = json.loads(run("--json", "--max-destinations", "100", manyp).stdout)
check(len(m2["domains"]) == 100 and m2["totals"]["destinations_dropped"] == 400,
      "--max-destinations 100: 100 domains kept, 200 RCPTs and 200 replies dropped")

# -------------------------------------------------- frame with --filter
recs = []
a = pcapgen.Conversation(30001, ts_us=1700000100_000000)
b = pcapgen.Conversation(30002, sport=2525, ts_us=1700000100_000050)
a.open(); b.open()
a.s(b"220 a.example ESMTP\r\n"); b.s(b"220 b.example ESMTP\r\n")
a.c(b"RCPT TO:<x@example.org>\r\n"); b.c(b"RCPT TO:<y@example.org>\r\n")
a.s(b"550 5.1.1 no such user\r\n"); b.s(b"550 5.1.1 no such user\r\n")
a.close(); b.close()
for ra, rb in zip(a.records, b.records):
    recs += [ra, rb]
mixed = os.path.join(tmp, "mixed.pcap")
pcapgen.write(mixed, recs)
want = {int(r["client"].rsplit(":", 1)[1]): r["frame"] for r in jlines(mixed) if r["code"] == 550}
filt = [r for r in jlines("--filter", "tcp port 25", mixed) if r["code"] == 550]
check(want == {30001: 9, 30002: 10}, f"frames without a filter are the record numbers: {want}")
check([r["frame"] for r in filt] == [9], "with --filter, frames still count every record")

# ------------------------------------------------------------ -j and merge
files = [quiz] + CAPS
for args in (["--replies"], ["--json"], ["--replies", "--format", "csv"], ["--format", "csv"],
             ["--format", "text"]):
    one = run(*args, "-j", "1", *files).stdout
    two = run(*args, "-j", "2", *files).stdout
    check(one == two, f"{' '.join(args)}: -j 2 equals -j 1")
whole = json.loads(run("--json", *files).stdout)
parts = []
for k, group in enumerate((files[:1], files[1:4], files[4:])):
    out = os.path.join(tmp, f"part{k}.json")
    run("--json", "-q", "-o", out, *group)
    parts.append(out)
merged = json.loads(run("merge", *parts).stdout)
check(merged == whole, "merge of split runs equals one run (ids, reasons, schema included)")
old = json.load(open(parts[1]))
old.pop("schema")
old["totals"].pop("reasons")
for s in old["sessions"]:
    s.pop("id")
    s.pop("reasons")
oldpath = os.path.join(tmp, "old.json")
json.dump(old, open(oldpath, "w"))
m = json.loads(run("merge", parts[0], oldpath).stdout)
p0 = json.load(open(parts[0]))
check(m["totals"]["reasons"] == p0["totals"]["reasons"],
      "an old summary counts as empty for reasons")
check([s["id"] for s in m["sessions"]] == list(range(len(m["sessions"]))),
      "an old summary's sessions get ids after the others")
notsum = os.path.join(tmp, "notsum.json")
open(notsum, "w").write('{"hello": 1}')
p = run("merge", parts[0], notsum, ok=False)
check(p.returncode == 2 and b"notsum.json" in p.stderr, "a file that is not a summary: exit 2, named")

# -------------------------------------------------------------------- CSV
out = run("--replies", "--format", "csv", *files).stdout.decode()
check(out.split("\n", 1)[0] == CSV_HEADER, "--replies --format csv: the header, exactly")
rows = list(csv.DictReader(io.StringIO(out, newline="")))
js = jlines(*files)
check(len(rows) == len(js), f"one CSV row per reply ({len(rows)})")
same = all(row["text"] == j["text"] and int(row["session"]) == j["session"]
           and int(row["frame"]) == j["frame"] and row["reason"] == (j["reason"] or "")
           and row["rcpt"] == (j["rcpt"] or "") and row["command"] == (j["command"] or "")
           and int(row["code"]) == j["code"] and row["enhanced"] == (j["enhanced"] or "")
           for row, j in zip(rows, js))
check(same, "CSV rows parse back (RFC 4180) to the JSON lines' values")
check(any("\n" in row["text"] for row in rows), "a multi-line text keeps its LF inside quotes")

# ---------------------------------------------------------- hostile text
hv = pcapgen.Conversation(31000)
hv.open()
hv.s(b"220 mx ESMTP\r\n")
hv.c(b"RCPT TO:<q\"x,y@example.org>\r\n")
hv.s(b"550-5.1.1 bad \xff\xfe byte, \"quote\"\r\n550 5.1.1 esc \x1b[31m\x00end\r\n")
hv.close()
hostile = os.path.join(tmp, "hostile.pcap")
pcapgen.write(hostile, hv.records)
hj = [r for r in jlines(hostile) if r["code"] == 550]
check(len(hj) == 1 and "\ufffd" in hj[0]["text"] and "\x1b" in hj[0]["text"],
      "JSON: invalid UTF-8 becomes U+FFFD, control characters are escaped by JSON")
hc = run("--replies", "--format", "csv", hostile).stdout
hr = list(csv.DictReader(io.StringIO(hc.decode("utf-8"), newline="")))
check(b"\x1b" not in hc and b"\x00" not in hc and "\\x1b" in hr[-1]["text"]
      and "\ufffd" in hr[-1]["text"] and hr[-1]["rcpt"] == 'q"x,y@example.org',
      "CSV: no raw control characters, U+FFFD for bad bytes, quoting round-trips")

# ------------------------------------------------------------ text report
txt = run(hostile).stdout.decode()
check("       550 recipient-unknown: 5.1.1 bad \\xff\\xfe byte" in txt and "\x1b" not in txt
      and "\\x1b[31m\\x00end" in txt and " / " in txt,
      "text: a session's failure on one line, escaped, its lines joined by ' / '")
qt = run(quiz).stdout.decode()
by_reason = dict(re.findall(r"^  ([a-z-]+) +(\d+)  ", qt.split("failures by reason\n", 1)[-1]
                            .split("\n\n", 1)[0], re.M))
check({k: int(v) for k, v in by_reason.items()} == doc["totals"]["reasons"],
      "text: the table by reason gives totals.reasons")
dest_part = qt.split("failures by destination\n", 1)[-1]
check("  server 10.0.0.2:25 (mx.example.org" in dest_part and "  domain example.org" in dest_part,
      "text: the table by destination lists the server and the recipient domain")
long_lines = [ln for ln in qt.splitlines() if ln.startswith("       ") and len(ln) > 200]
check(not long_lines, "text: failure texts are cut to one short line")

# ---------------------------------------------------------------- --redact
locals_in = set()
for p_, row, lines, frame in expect:
    locals_in |= set(re.findall(r"([A-Za-z0-9._%+=-]+)@[A-Za-z0-9]", row["item"]))
locals_in |= {"rcpt%d" % k for k in range(len(expect))}
locals_in -= {""}
leaks = []
for args in (["--replies"], ["--replies", "--format", "csv"], ["--json"], ["--format", "text"]):
    out = run("--redact", *args, quiz, *CAPS).stdout.decode("utf-8", "replace")
    for m in re.finditer(r"([^\s<>\"'(),;:\[\]]+)@", out):
        if not re.fullmatch(r"(.*[^A-Za-z0-9._%+=-])?h-[0-9a-f]{8}", m.group(1)):
            leaks.append((args[-1], m.group(0)))
check(not leaks, f"--redact: every local part in the output is a token {leaks[:5]}")
plain = run("--replies", quiz).stdout.decode()
check(sum(1 for lp in locals_in if lp + "@" in plain) > 10,
      "without --redact the local parts are there (the check above can fail)")
r1 = run("--replies", "--redact", quiz).stdout
check(r1 == run("--replies", "--redact", quiz).stdout and b"h-" in r1, "--redact is stable")
red = [json.loads(x) for x in r1.splitlines()]
check([r["reason"] for r in red] == [r["reason"] for r in replies],
      "--redact changes no reason")

finish()
