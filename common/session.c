/* SPDX-License-Identifier: MIT */
/*
 * session.c - the SMTP session engine: bytes of one connection in, per
 * direction and in chunks split anywhere; commands, replies (each paired
 * with the command it answers) and anomalies out.
 *
 * Shape (after Zeek's SMTP analyzer and Suricata's app-layer-smtp):
 *   - each direction assembles lines in a bounded buffer (max_line);
 *   - the client side is a small mode machine: commands, DATA body, BDAT
 *     chunk, SASL response, or HOLD (bytes whose meaning depends on a reply
 *     not yet seen: after DATA, AUTH, STARTTLS);
 *   - the server side assembles multi-line replies and, on each complete
 *     reply, pops the oldest pending command from a bounded FIFO.
 * Nothing depends on where chunks split: every decision is taken at a line
 * end, at a byte count (BDAT), or when a reply completes.  Everything the
 * engine keeps grows on demand through the caller's realloc hook and
 * stops at the caps of struct smtpreply_limits; docs/session-engine.md
 * states the worst case.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"
#include "alloc.h"

/* RFC 5321 §4.5.3.1: limits counted with the CRLF. */
#define RFC_REPLY_LINE_MAX 512u
#define RFC_COMMAND_LINE_MAX 512u
#define RFC_TEXT_LINE_MAX 1000u
/* RFC 4954 §4: an AUTH line may be much longer; 12288 is "sufficient". */
#define RFC_AUTH_LINE_MAX 12288u
/* MAIL/RCPT lines grow with every extension parameter (RFC 1870, 3030,
 * 4954, 6531, 2852, 3885, 6710, 4865, 3865, 8689 add up to 1676 octets). */
#define RFC_MAIL_LINE_MAX (512u + 1676u)

static const char *const stage_names[SMTPREPLY_STAGE__COUNT] = {
    [SMTPREPLY_STAGE_GREETING] = "greeting",
    [SMTPREPLY_STAGE_REPLY] = "reply",
    [SMTPREPLY_STAGE_DATA_START] = "data-start",
    [SMTPREPLY_STAGE_DATA_END] = "data-end",
    [SMTPREPLY_STAGE_BDAT] = "bdat",
    [SMTPREPLY_STAGE_AUTH_CHALLENGE] = "auth-challenge",
    [SMTPREPLY_STAGE_AUTH_FINAL] = "auth-final",
    [SMTPREPLY_STAGE_UNSOLICITED] = "unsolicited",
};

const char *smtpreply_stage_name(enum smtpreply_stage st)
{
    return (unsigned)st < SMTPREPLY_STAGE__COUNT ? stage_names[st] : "";
}

#define ANOM(a) ((smtpreply_anomaly_set)1u << SMTPREPLY_ANOM_##a)

/* One direction's line being assembled. */
struct line_asm {
    uint8_t *buf;
    uint32_t len;       /* bytes kept (<= max_line) */
    uint32_t cap;
    uint64_t total;     /* bytes of the line so far, kept or not */
    bool last_cr;       /* the last byte received was CR */
    uint64_t first_tag; /* tag of the chunk holding the line's first byte */
};

enum client_mode {
    C_CMD,   /* command lines */
    C_SASL,  /* the next line is a SASL response (after 334) */
    C_BODY,  /* DATA body, up to the "." line */
    C_BDAT,  /* counting a BDAT chunk's octets */
    C_HOLD,  /* holding bytes until the reply to hold_seq decides */
};

/* Why a command waits in the FIFO with extra meaning. */
#define PF_SASL_CANCEL 0x01u  /* AUTH exchange cancelled with "*": 501 expected */
#define PF_BODY_FORCED 0x02u  /* DATA's held bytes overflowed: body assumed */
#define PF_HAS_IR 0x04u       /* AUTH with an initial response */

struct pending {
    struct smtpreply_cmd_ref ref;
    uint32_t flags;
};

struct probe {
    bool active;  /* the direction's next bytes are tested for a TLS record */
    uint8_t n;    /* bytes of b[] received so far */
    uint8_t b[2]; /* the first two bytes: 0x16 0x03 starts a TLS record */
};

/* What the client's TLS probe stands for. */
enum client_tls {
    CT_IMPLICIT,  /* the first-bytes probe: TLS here is implicit TLS (port 465 style) */
    CT_STARTTLS,  /* the probe after STARTTLS's 2xx reply (RFC 3207 section 4.2) */
    CT_TLS_FIRST, /* the client opened with a TLS record: its bytes are a
                     handshake, not commands; the server decides encryption */
};

/* Client side: the mode machine and what each mode tracks. */
struct client_side {
    enum client_mode mode;
    enum client_tls tls;
    bool resync;        /* skip lines until one starts with a known verb */
    bool flag_next_cmd; /* the next command was sent before a refusal: pipelining */
    uint64_t bdat_left; /* C_BDAT: octets of the chunk still to come */
    /* C_BODY: the DATA body, scanned line by line without copying. */
    struct {
        bool gap;          /* a gap fell inside the body: a verb line may end it */
        bool cr;           /* the last byte was CR */
        bool flagged_long; /* text-line-too-long was flagged (once per body) */
        bool flagged_lf;   /* bare-lf was flagged (once per body) */
        int first;         /* first byte of the current line, -1 none yet */
        uint64_t len;      /* length of the current line so far */
    } body;
};

/* Bytes held while a reply decides what they are, as records (a header
 * with the chunk's tag and time, then its bytes), so that each released
 * line keeps the tag of the chunk it came in. */
struct held_bytes {
    uint8_t *buf;
    uint32_t len, cap; /* buffer bytes, headers included */
    uint32_t payload;  /* client bytes only: what max_held bounds */
    uint32_t last;     /* offset of the last record's header */
    uint32_t records;
    uint64_t seq;      /* the command whose reply releases them */
};

/* Server side: reply assembly and how strictly replies are judged. */
struct server_side {
    bool spoke;          /* the server sent at least one byte */
    bool resync;         /* skip lines until one parses as a reply */
    bool suppress_nocmd; /* midstream or after a gap: unpaired replies are expected */
    bool any_reply;      /* a complete reply was seen */
    bool greet_strict;   /* the first reply is the greeting, whatever it is */
    bool probe_after;    /* probe the server's bytes for TLS once the current reply ends */
    /* The reply being assembled, line by line. */
    struct {
        bool active;     /* a reply has begun and its last line is not in yet */
        bool has_esc;    /* esc holds the first line's enhanced status code */
        unsigned code;   /* the code of the latest line */
        unsigned nlines;
        struct smtpreply_esc esc;
        smtpreply_anomaly_set anomalies;
        uint64_t first_tag; /* tag of the chunk holding the reply's first byte */
    } reply;
};

struct smtpreply_session {
    struct smtpreply_limits lim;
    smtpreply_realloc_fn alloc;
    void *alloc_ctx;
    smtpreply_event_fn fn;
    void *user;

    struct line_asm line[2]; /* indexed by enum smtpreply_dir */
    struct probe probe[2];   /* indexed by enum smtpreply_dir */

    struct client_side c;
    struct held_bytes held;

    /* Pending commands: a ring that grows up to max_pending. */
    struct pending *fifo;
    uint32_t fifo_cap, fifo_head, fifo_count;
    uint64_t cmd_seq;

    struct server_side srv;

    struct smtpreply_session_stats stats;
};

/* ---------------------------------------------------------------------- */
/* Memory: every byte through the hook, counted. */

static void *mem(struct smtpreply_session *s, void *p, size_t old, size_t size)
{
    void *r = s->alloc(s->alloc_ctx, p, size);
    if (size == 0) {
        s->stats.bytes_allocated -= old;
        return NULL;
    }
    if (r) {
        s->stats.bytes_allocated -= old;
        s->stats.bytes_allocated += size;
    }
    return r;
}

/* ---------------------------------------------------------------------- */
/* Events */

static void count_anomalies(struct smtpreply_session *s, smtpreply_anomaly_set set)
{
    for (unsigned a = 0; set && a < SMTPREPLY_ANOM__COUNT; a++, set >>= 1)
        if (set & 1u)
            s->stats.anomalies[a]++;
}

static void emit(struct smtpreply_session *s, struct smtpreply_event *ev)
{
    count_anomalies(s, ev->anomalies);
    if (s->fn)
        s->fn(s->user, ev);
}

static void event_init(struct smtpreply_event *ev, enum smtpreply_event_type type,
                       int64_t ts, uint64_t tag)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->ts_us = ts;
    ev->tag = tag;
    ev->rt_us = -1;
    ev->first_tag = tag;
}

static void emit_anomaly(struct smtpreply_session *s, enum smtpreply_anomaly a,
                         enum smtpreply_dir dir, int64_t ts, uint64_t tag)
{
    struct smtpreply_event ev;
    event_init(&ev, SMTPREPLY_EV_ANOMALY, ts, tag);
    ev.anomalies = (smtpreply_anomaly_set)1u << a;
    ev.anomaly = a;
    ev.dir = dir;
    emit(s, &ev);
}

/* Anomalies of a line that is neither command nor reply: one event each. */
static void emit_anomaly_set(struct smtpreply_session *s, smtpreply_anomaly_set set,
                             enum smtpreply_dir dir, int64_t ts, uint64_t tag)
{
    for (unsigned a = 0; a < SMTPREPLY_ANOM__COUNT; a++)
        if (set & ((smtpreply_anomaly_set)1u << a))
            emit_anomaly(s, (enum smtpreply_anomaly)a, dir, ts, tag);
}

static void held_clear(struct smtpreply_session *s);

static void go_encrypted(struct smtpreply_session *s, enum smtpreply_dir dir, int64_t ts,
                         uint64_t tag)
{
    if (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED)
        return;
    s->stats.flags |= SMTPREPLY_SESSION_ENCRYPTED;
    struct smtpreply_event ev;
    event_init(&ev, SMTPREPLY_EV_TLS, ts, tag);
    ev.dir = dir;
    emit(s, &ev);
    /* Nothing after this is parsed: drop what is buffered. */
    held_clear(s);
    s->line[0].len = s->line[1].len = 0;
    s->line[0].total = s->line[1].total = 0;
    s->srv.reply.active = false;
}

/* ---------------------------------------------------------------------- */
/* Pending-command FIFO */

static struct pending *fifo_at(struct smtpreply_session *s, uint32_t i)
{
    return &s->fifo[(s->fifo_head + i) % s->fifo_cap];
}

static struct pending *fifo_front(struct smtpreply_session *s)
{
    return s->fifo_count ? fifo_at(s, 0) : NULL;
}

static struct pending *fifo_back(struct smtpreply_session *s)
{
    return s->fifo_count ? fifo_at(s, s->fifo_count - 1) : NULL;
}

static void fifo_pop(struct smtpreply_session *s)
{
    if (!s->fifo_count)
        return;
    s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
    s->fifo_count--;
}

static bool fifo_grow(struct smtpreply_session *s)
{
    uint32_t ncap = s->fifo_cap ? s->fifo_cap * 2 : 8;
    if (ncap > s->lim.max_pending)
        ncap = s->lim.max_pending;
    if (ncap <= s->fifo_cap)
        return false;
    struct pending *n = mem(s, NULL, 0, (size_t)ncap * sizeof *n);
    if (!n)
        return false;
    for (uint32_t i = 0; i < s->fifo_count; i++)
        n[i] = *fifo_at(s, i);
    if (s->fifo)
        mem(s, s->fifo, (size_t)s->fifo_cap * sizeof *n, 0);
    s->fifo = n;
    s->fifo_cap = ncap;
    s->fifo_head = 0;
    return true;
}

/* Queue a command; on overflow drop the oldest (counted, flagged). */
static struct pending *fifo_push(struct smtpreply_session *s, const struct smtpreply_cmd_ref *ref,
                                 smtpreply_anomaly_set *flags)
{
    if (s->fifo_count == s->fifo_cap && !fifo_grow(s)) {
        if (s->fifo_cap == 0)
            return NULL; /* not even one slot: nothing can be paired */
        fifo_pop(s);
        s->stats.pending_overflow++;
        *flags |= ANOM(PENDING_OVERFLOW);
    }
    struct pending *p = fifo_at(s, s->fifo_count);
    s->fifo_count++;
    p->ref = *ref;
    p->flags = 0;
    return p;
}

/* ---------------------------------------------------------------------- */
/* Held bytes */

static void client_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                         uint64_t tag);

/* Each record: tag (8 bytes), time (8), length (4), then the bytes.  At
 * most HELD_RECORDS of them; a later chunk joins the last record, which
 * then takes the newest chunk's tag and time (as all held bytes did before
 * records existed). */
#define HELD_HDR 20u
#define HELD_RECORDS 16u

static void held_hdr_put(uint8_t *h, uint64_t tag, int64_t ts, uint32_t len)
{
    memcpy(h, &tag, 8);
    memcpy(h + 8, &ts, 8);
    memcpy(h + 16, &len, 4);
}

static void held_hdr_get(const uint8_t *h, uint64_t *tag, int64_t *ts, uint32_t *len)
{
    memcpy(tag, h, 8);
    memcpy(ts, h + 8, 8);
    memcpy(len, h + 16, 4);
}

static void held_clear(struct smtpreply_session *s)
{
    s->held.len = 0;
    s->held.payload = 0;
    s->held.records = 0;
    s->held.last = 0;
}

static bool held_append(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                        uint64_t tag)
{
    if (n > (size_t)s->lim.max_held - s->held.payload)
        return false;
    if (n == 0)
        return true;
    uint64_t last_tag = 0;
    int64_t last_ts = 0;
    uint32_t last_len = 0;
    if (s->held.records)
        held_hdr_get(s->held.buf + s->held.last, &last_tag, &last_ts, &last_len);
    bool join = s->held.records && (last_tag == tag || s->held.records >= HELD_RECORDS);
    /* In 64 bits: a caller's max_held near UINT32_MAX must not wrap. */
    uint64_t need64 = (uint64_t)s->held.len + n + (join ? 0 : HELD_HDR);
    uint64_t max_cap64 = (uint64_t)s->lim.max_held + HELD_RECORDS * HELD_HDR;
    uint32_t max_cap = max_cap64 > UINT32_MAX ? UINT32_MAX : (uint32_t)max_cap64;
    if (need64 > max_cap)
        return false; /* the overflow path takes it */
    uint32_t need = (uint32_t)need64;
    if (need > s->held.cap) {
        uint32_t ncap = s->held.cap ? s->held.cap : 256;
        if (ncap > max_cap)
            ncap = max_cap;
        while (ncap < need)
            ncap = ncap > max_cap / 2 ? max_cap : ncap * 2;
        uint8_t *b = mem(s, s->held.buf, s->held.cap, ncap);
        if (!b)
            return false;
        s->held.buf = b;
        s->held.cap = ncap;
    }
    if (join) {
        held_hdr_put(s->held.buf + s->held.last, tag, ts, last_len + (uint32_t)n);
    } else {
        s->held.last = s->held.len;
        held_hdr_put(s->held.buf + s->held.len, tag, ts, (uint32_t)n);
        s->held.len += HELD_HDR;
        s->held.records++;
    }
    memcpy(s->held.buf + s->held.len, p, n);
    s->held.len += (uint32_t)n;
    s->held.payload += (uint32_t)n;
    return true;
}

/* Re-feed the held bytes in the client mode just chosen, each record with
 * its own tag and time.  The buffer is detached first: interpreting it may
 * start a new hold, which then takes the remaining records. */
static void held_release(struct smtpreply_session *s)
{
    uint8_t *b = s->held.buf;
    uint32_t len = s->held.len, cap = s->held.cap;
    s->held.buf = NULL;
    s->held.cap = 0;
    held_clear(s);
    for (uint32_t off = 0; off + HELD_HDR <= len;) {
        uint64_t tag;
        int64_t ts;
        uint32_t n;
        held_hdr_get(b + off, &tag, &ts, &n);
        off += HELD_HDR;
        if (n > len - off)
            n = len - off; /* cannot happen; bounds the read regardless */
        client_bytes(s, b + off, n, ts, tag);
        off += n;
    }
    if (!s->held.buf && b) {
        s->held.buf = b; /* keep the buffer for the next hold */
        s->held.cap = cap;
    } else if (b) {
        mem(s, b, cap, 0);
    }
}

static void start_hold(struct smtpreply_session *s, uint64_t seq)
{
    s->c.mode = C_HOLD;
    s->held.seq = seq;
    held_clear(s);
}

/* ---------------------------------------------------------------------- */
/* Line assembly */

/* Takes bytes up to and including the first LF.  Returns how many were
 * consumed; *done says a line ended (then *bare_lf says it ended without
 * CR).  The line's content excludes the CR of a CRLF. */
static size_t line_take(struct smtpreply_session *s, struct line_asm *l, const uint8_t *p,
                        size_t n, uint64_t tag, bool *done, bool *bare_lf)
{
    const uint8_t *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) : n;
    if (l->total == 0 && (take > 0 || lf))
        l->first_tag = tag;
    if (take > 0) {
        size_t room = s->lim.max_line > l->len ? s->lim.max_line - l->len : 0;
        size_t keep = take < room ? take : room;
        if (keep && l->len + keep > l->cap) {
            uint32_t ncap = l->cap ? l->cap : 128;
            if (ncap > s->lim.max_line)
                ncap = s->lim.max_line;
            while (ncap < l->len + keep)
                ncap = ncap > s->lim.max_line / 2 ? s->lim.max_line : ncap * 2;
            uint8_t *b = mem(s, l->buf, l->cap, ncap);
            if (b) {
                l->buf = b;
                l->cap = ncap;
            } else {
                keep = l->cap - l->len; /* out of memory: keep what fits */
            }
        }
        if (keep)
            memcpy(l->buf + l->len, p, keep);
        l->len += (uint32_t)keep;
        l->total += take;
        l->last_cr = p[take - 1] == '\r';
    }
    *done = lf != NULL;
    *bare_lf = false;
    if (lf) {
        *bare_lf = !l->last_cr;
        if (l->last_cr) {
            l->total--;
            if (l->len > l->total)
                l->len = (uint32_t)l->total;
        }
        return take + 1;
    }
    return take;
}

static void line_reset(struct line_asm *l)
{
    l->len = 0;
    l->total = 0;
    l->last_cr = false;
}

/* ---------------------------------------------------------------------- */
/* Client side */

static bool must_end_group(enum smtpreply_cmd c)
{
    /* RFC 2920 §3.1, RFC 3207 §4.2 (STARTTLS), RFC 4954 §4 (AUTH). */
    switch (c) {
    case SMTPREPLY_CMD_EHLO:
    case SMTPREPLY_CMD_DATA:
    case SMTPREPLY_CMD_VRFY:
    case SMTPREPLY_CMD_EXPN:
    case SMTPREPLY_CMD_TURN:
    case SMTPREPLY_CMD_QUIT:
    case SMTPREPLY_CMD_NOOP:
    case SMTPREPLY_CMD_STARTTLS:
        return true;
    default:
        return false;
    }
}

static void uppercase_verb(char *dst, size_t dstsize, const uint8_t *src, size_t len)
{
    size_t n = len < dstsize - 1 ? len : dstsize - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = src[i];
        dst[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    dst[n] = 0;
}

/* Parses "BDAT <size> [LAST]"; false for a bad size. */
static bool parse_bdat(const uint8_t *p, size_t len, size_t verb_len, uint64_t *size)
{
    size_t i = verb_len;
    while (i < len && p[i] == ' ')
        i++;
    size_t start = i;
    uint64_t v = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
        i++;
    }
    if (i == start || (i < len && p[i] != ' '))
        return false;
    *size = v;
    return true;
}

static void client_command(struct smtpreply_session *s, const uint8_t *p, size_t len,
                           uint64_t total, smtpreply_anomaly_set flags, int64_t ts, uint64_t tag)
{
    /* Servers split the line on blanks (Postfix, Exim), so " QUIT" is QUIT. */
    while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    size_t vlen = smtpreply_parse_command_verb((const char *)p, len);
    enum smtpreply_cmd cmd = smtpreply_cmd_from_verb((const char *)p, vlen);
    if (vlen < len && p[vlen] != ' ')
        cmd = SMTPREPLY_CMD_UNKNOWN; /* "MAIL:" or "DATA\t" is no verb we know */

    if (s->c.resync) {
        if (cmd == SMTPREPLY_CMD_UNKNOWN)
            return; /* still looking for a line we can trust */
        s->c.resync = false;
    }

    uint64_t limit = RFC_COMMAND_LINE_MAX;
    if (cmd == SMTPREPLY_CMD_AUTH)
        limit = RFC_AUTH_LINE_MAX;
    else if (cmd == SMTPREPLY_CMD_MAIL || cmd == SMTPREPLY_CMD_RCPT)
        limit = RFC_MAIL_LINE_MAX;
    if (total + 2 > limit)
        flags |= ANOM(COMMAND_LINE_TOO_LONG);

    struct pending *back = fifo_back(s);
    if ((back && must_end_group(back->ref.cmd)) || s->c.flag_next_cmd)
        flags |= ANOM(PIPELINE_NOT_LAST);
    s->c.flag_next_cmd = false;

    struct smtpreply_cmd_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.seq = ++s->cmd_seq;
    ref.cmd = cmd;
    uppercase_verb(ref.verb, sizeof ref.verb, p, vlen);
    ref.ts_us = ts;
    ref.tag = tag;

    struct pending *q = fifo_push(s, &ref, &flags);
    s->stats.commands++;

    struct smtpreply_event ev;
    event_init(&ev, SMTPREPLY_EV_COMMAND, ts, tag);
    ev.first_tag = s->line[SMTPREPLY_DIR_CLIENT].first_tag;
    ev.anomalies = flags;
    ev.has_cmd = true;
    ev.cmd = ref;
    ev.text = (const char *)p;
    ev.text_len = len;
    emit(s, &ev);

    if (!q)
        return;
    switch (cmd) {
    case SMTPREPLY_CMD_DATA:
    case SMTPREPLY_CMD_STARTTLS:
        start_hold(s, ref.seq);
        break;
    case SMTPREPLY_CMD_AUTH: {
        /* "AUTH mech ir": anything after the mechanism is an initial response. */
        size_t i = vlen;
        while (i < len && p[i] == ' ')
            i++;
        while (i < len && p[i] != ' ')
            i++;
        while (i < len && p[i] == ' ')
            i++;
        if (i < len)
            q->flags |= PF_HAS_IR;
        start_hold(s, ref.seq);
        break;
    }
    case SMTPREPLY_CMD_BDAT: {
        uint64_t size;
        if (parse_bdat(p, len, vlen, &size) && size > 0) {
            s->c.mode = C_BDAT;
            s->c.bdat_left = size;
        }
        break;
    }
    default:
        break;
    }
}

/* A SASL response line (RFC 4954 §4): not a command. */
static void client_sasl(struct smtpreply_session *s, const uint8_t *p, size_t len,
                        smtpreply_anomaly_set flags, int64_t ts, uint64_t tag)
{
    struct pending *front = fifo_front(s);
    if (len == 1 && p[0] == '*' && front && front->ref.cmd == SMTPREPLY_CMD_AUTH)
        front->flags |= PF_SASL_CANCEL;
    /* bare-lf and line-over-limit have no command to ride on. */
    emit_anomaly_set(s, flags, SMTPREPLY_DIR_CLIENT, ts, tag);
    if (front && front->ref.cmd == SMTPREPLY_CMD_AUTH)
        start_hold(s, front->ref.seq); /* the next reply says what follows */
    else
        s->c.mode = C_CMD;
}

/* What any completed line, either side, may carry: a bare LF ending, or
 * a length over max_line (the line was cut; counted). */
static smtpreply_anomaly_set line_end_anomalies(struct smtpreply_session *s,
                                                const struct line_asm *l, bool bare_lf)
{
    smtpreply_anomaly_set flags = 0;
    if (bare_lf)
        flags |= ANOM(BARE_LF);
    if (l->total > l->len) {
        flags |= ANOM(LINE_CUT);
        s->stats.lines_cut++;
    }
    return flags;
}

static void client_line(struct smtpreply_session *s, bool bare_lf, int64_t ts, uint64_t tag)
{
    struct line_asm *l = &s->line[SMTPREPLY_DIR_CLIENT];
    smtpreply_anomaly_set flags = line_end_anomalies(s, l, bare_lf);
    uint64_t total = l->total;
    uint32_t len = l->len;
    line_reset(l);
    if (s->c.mode == C_SASL)
        client_sasl(s, l->buf, len, flags, ts, tag);
    else
        client_command(s, l->buf, len, total, flags, ts, tag);
}

/* The end of the DATA body: the "." line is an implicit command whose
 * reply the server owes (RFC 5321 §4.1.1.4). */
static void body_end(struct smtpreply_session *s, smtpreply_anomaly_set flags, int64_t ts,
                     uint64_t tag)
{
    s->c.mode = C_CMD;
    s->c.body.gap = false;
    struct smtpreply_cmd_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.seq = ++s->cmd_seq;
    ref.cmd = SMTPREPLY_CMD_DATA_END;
    memcpy(ref.verb, "DATA", 5); /* its reply is reported under the DATA it ends */
    ref.ts_us = ts;
    ref.tag = tag;
    fifo_push(s, &ref, &flags);
    emit_anomaly_set(s, flags, SMTPREPLY_DIR_CLIENT, ts, tag);
}

static void body_start(struct smtpreply_session *s)
{
    s->c.mode = C_BODY;
    s->c.body.first = -1;
    s->c.body.cr = false;
    s->c.body.len = 0;
    s->c.body.flagged_long = false;
    s->c.body.flagged_lf = false;
}

/* After a gap in the body, a line with a known verb (or a reply from the
 * server) shows the body ended in the lost bytes. */
static bool body_gap_verb_line(struct smtpreply_session *s, const uint8_t *p, size_t n)
{
    (void)s;
    size_t vlen = smtpreply_parse_command_verb((const char *)p, n);
    if (vlen == 0 || (vlen < n && p[vlen] != ' ' && p[vlen] != '\r' && p[vlen] != '\n'))
        return false;
    return smtpreply_cmd_from_verb((const char *)p, vlen) != SMTPREPLY_CMD_UNKNOWN;
}

/* Scans body bytes.  Fast path: memchr for LF; only the line's length,
 * its first byte and the CR before LF are tracked (nothing is copied). */
static size_t body_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                         uint64_t tag)
{
    size_t i = 0;
    while (i < n) {
        if (s->c.body.gap && s->c.body.first < 0) {
            /* After a gap, judge each line whole: use the line buffer. */
            bool done, bare;
            struct line_asm *l = &s->line[SMTPREPLY_DIR_CLIENT];
            i += line_take(s, l, p + i, n - i, tag, &done, &bare);
            if (!done)
                return i;
            if (body_gap_verb_line(s, l->buf, l->len)) {
                s->c.mode = C_CMD;
                s->c.body.gap = false;
                client_line(s, bare, ts, tag);
                return i;
            }
            bool end = l->len == 1 && l->total == 1 && l->buf[0] == '.';
            line_reset(l);
            if (end) {
                body_end(s, bare ? ANOM(BARE_LF) : 0, ts, tag);
                return i;
            }
            continue;
        }
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        size_t seg = lf ? (size_t)(lf - (p + i)) : n - i;
        if (seg > 0) {
            if (s->c.body.first < 0)
                s->c.body.first = p[i];
            s->c.body.len += seg;
            s->c.body.cr = p[i + seg - 1] == '\r';
        }
        i += seg;
        if (!lf)
            return i;
        i++; /* the LF */
        uint64_t content = s->c.body.len - (s->c.body.cr ? 1 : 0);
        bool stuffed = s->c.body.first == '.';
        bool end = stuffed && content == 1;
        smtpreply_anomaly_set flags = 0;
        if (!s->c.body.cr && !s->c.body.flagged_lf) {
            s->c.body.flagged_lf = true; /* once per body: a bare-LF message has thousands */
            flags |= ANOM(BARE_LF);
        }
        /* §4.5.3.1.6: 1000 octets with the CRLF, not counting a stuffed dot. */
        if (content + 2 - (stuffed ? 1 : 0) > RFC_TEXT_LINE_MAX && !s->c.body.flagged_long) {
            s->c.body.flagged_long = true;
            flags |= ANOM(TEXT_LINE_TOO_LONG);
        }
        s->c.body.first = -1;
        s->c.body.len = 0;
        s->c.body.cr = false;
        if (end) {
            body_end(s, flags, ts, tag);
            return i;
        }
        if (flags)
            emit_anomaly_set(s, flags, SMTPREPLY_DIR_CLIENT, ts, tag);
    }
    return i;
}

/* TLS probe: a record starts 0x16 (handshake), then 0x03 (major version).
 * Returns bytes consumed; *decided_plain says the probe saw plain text
 * (its bytes are still in the probe, for the caller to replay). */
static size_t probe_take(struct smtpreply_session *s, enum smtpreply_dir dir, const uint8_t *p,
                         size_t n, int64_t ts, uint64_t tag, bool *decided_plain)
{
    struct probe *pr = &s->probe[dir];
    size_t used = 0;
    *decided_plain = false;
    while (used < n && pr->n < 2)
        pr->b[pr->n++] = p[used++];
    if (pr->n >= 1 && pr->b[0] != 0x16) {
        pr->active = false;
        *decided_plain = true;
    } else if (pr->n == 2) {
        pr->active = false;
        if (pr->b[1] == 0x03 && dir == SMTPREPLY_DIR_CLIENT && s->c.tls == CT_IMPLICIT) {
            /* A client that opens with TLS (port 465 style) says nothing
             * about the server: a server that answers in plain text makes
             * an ordinary, counted session.  The client's bytes are a
             * handshake, not commands; the server's own first bytes decide
             * whether the session is encrypted. */
            s->c.tls = CT_TLS_FIRST;
        } else if (pr->b[1] == 0x03)
            go_encrypted(s, dir, ts, tag);
        else
            *decided_plain = true;
    }
    return used;
}

static void server_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                         uint64_t tag);

/* Runs the probe on dir, then hands the bytes on. */
static size_t probe_bytes(struct smtpreply_session *s, enum smtpreply_dir dir, const uint8_t *p,
                          size_t n, int64_t ts, uint64_t tag)
{
    bool plain;
    size_t used = probe_take(s, dir, p, n, ts, tag, &plain);
    if (plain) {
        uint8_t b[2];
        uint8_t k = s->probe[dir].n;
        memcpy(b, s->probe[dir].b, k);
        s->probe[dir].n = 0;
        /* The probed bytes belong to the stream: replay them, then go on. */
        if (dir == SMTPREPLY_DIR_CLIENT)
            client_bytes(s, b, k, ts, tag);
        else
            server_bytes(s, b, k, ts, tag);
    }
    return used;
}

static void client_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                         uint64_t tag)
{
    size_t i = 0;
    if (s->c.tls == CT_TLS_FIRST)
        return;
    while (i < n && !(s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED)) {
        if (s->c.tls == CT_TLS_FIRST)
            return;
        if (s->probe[SMTPREPLY_DIR_CLIENT].active) {
            i += probe_bytes(s, SMTPREPLY_DIR_CLIENT, p + i, n - i, ts, tag);
            continue;
        }
        switch (s->c.mode) {
        case C_HOLD: {
            size_t k = n - i;
            size_t room = (size_t)s->lim.max_held - s->held.payload;
            if (k > room && room > 0 && held_append(s, p + i, room, ts, tag)) {
                /* Fill to the cap first, so where the overflow happens does
                 * not depend on how the bytes were split. */
                i += room;
                k -= room;
            }
            if (!held_append(s, p + i, k, ts, tag)) {
                /* Over max_held: take the likeliest meaning now. */
                s->stats.held_overflow++;
                emit_anomaly(s, SMTPREPLY_ANOM_HELD_OVERFLOW, SMTPREPLY_DIR_CLIENT, ts, tag);
                struct pending *front = NULL;
                for (uint32_t j = 0; j < s->fifo_count; j++)
                    if (fifo_at(s, j)->ref.seq == s->held.seq)
                        front = fifo_at(s, j);
                if (front && front->ref.cmd == SMTPREPLY_CMD_DATA) {
                    /* A client that streams this much after DATA is sending the body. */
                    front->flags |= PF_BODY_FORCED;
                    emit_anomaly(s, SMTPREPLY_ANOM_DATA_BEFORE_354, SMTPREPLY_DIR_CLIENT, ts,
                                 tag);
                    body_start(s);
                } else {
                    s->c.mode = C_CMD;
                }
                held_release(s);
                continue;
            }
            return;
        }
        case C_BODY:
            i += body_bytes(s, p + i, n - i, ts, tag);
            break;
        case C_BDAT: {
            size_t k = n - i;
            if (k > s->c.bdat_left)
                k = (size_t)s->c.bdat_left;
            s->c.bdat_left -= k;
            i += k;
            if (s->c.bdat_left == 0)
                s->c.mode = C_CMD;
            break;
        }
        case C_CMD:
        case C_SASL: {
            bool done, bare;
            i += line_take(s, &s->line[SMTPREPLY_DIR_CLIENT], p + i, n - i, tag, &done, &bare);
            if (done)
                client_line(s, bare, ts, tag);
            break;
        }
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Server side */

static bool code_valid(unsigned code)
{
    /* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39 */
    return code / 100 >= 2 && code / 100 <= 5 && (code / 10) % 10 <= 5;
}

static bool esc_equal(const struct smtpreply_esc *a, const struct smtpreply_esc *b)
{
    return a->cls == b->cls && a->subject == b->subject && a->detail == b->detail;
}

/* What the reply means for the client's held bytes and modes. */
static void reply_decides(struct smtpreply_session *s, const struct pending *pc, unsigned code,
                          enum smtpreply_stage stage)
{
    bool hold_released = s->c.mode == C_HOLD && s->held.seq == pc->ref.seq;
    switch (pc->ref.cmd) {
    case SMTPREPLY_CMD_DATA:
        if (pc->flags & PF_BODY_FORCED)
            return; /* the body was assumed already */
        if (!hold_released)
            return;
        if (code == 354) {
            body_start(s);
            if (s->c.resync) { /* a gap hit the held bytes: the body is cut */
                s->c.resync = false;
                s->c.body.gap = true;
            }
        } else {
            /* Refused (503/554...): no body follows (RFC 5321 §3.3). */
            s->c.mode = C_CMD;
            if (s->held.len)
                s->c.flag_next_cmd = true;
        }
        held_release(s);
        break;
    case SMTPREPLY_CMD_AUTH:
        if (!hold_released)
            return;
        s->c.mode = stage == SMTPREPLY_STAGE_AUTH_CHALLENGE ? C_SASL : C_CMD;
        /* RFC 4954 §4: AUTH must end a pipelined group unless it carries an
         * initial response; commands sent after it before a final reply
         * broke that rule. */
        if (s->c.mode == C_CMD && !(pc->flags & PF_HAS_IR) && s->held.len)
            s->c.flag_next_cmd = true;
        held_release(s);
        break;
    case SMTPREPLY_CMD_STARTTLS:
        if (!hold_released)
            return;
        s->c.mode = C_CMD;
        if (code / 100 == 2) {
            /* RFC 3207 §4.2: TLS starts now, unless the capture was decrypted. */
            s->probe[SMTPREPLY_DIR_CLIENT].active = true;
            s->probe[SMTPREPLY_DIR_CLIENT].n = 0;
            s->c.tls = CT_STARTTLS; /* after STARTTLS's 220 */
            s->srv.probe_after = true;
        } else if (s->held.len) {
            s->c.flag_next_cmd = true;
        }
        held_release(s);
        break;
    default:
        break;
    }
}

static void reply_complete(struct smtpreply_session *s, const char *text, size_t text_len,
                           int64_t ts, uint64_t tag)
{
    unsigned code = s->srv.reply.code;
    smtpreply_anomaly_set flags = s->srv.reply.anomalies;
    s->srv.reply.active = false;

    struct smtpreply_event ev;
    event_init(&ev, SMTPREPLY_EV_REPLY, ts, tag);
    ev.code = code;
    ev.nlines = s->srv.reply.nlines;
    ev.has_esc = s->srv.reply.has_esc;
    ev.esc = s->srv.reply.esc;
    ev.first_tag = s->srv.reply.first_tag;
    ev.text = text;
    ev.text_len = text_len;

    bool valid = code_valid(code);
    if (!valid)
        flags |= ANOM(INVALID_CODE);
    if (ev.has_esc) {
        if (code / 100 == 3)
            flags |= ANOM(ESC_ON_3XX);
        else if (valid && ev.esc.cls != code / 100)
            flags |= ANOM(ESC_CLASS_MISMATCH);
    }

    if (s->c.mode == C_BODY && s->c.body.gap) {
        /* The server answers: the body's end was in the lost bytes. */
        line_reset(&s->line[SMTPREPLY_DIR_CLIENT]);
        body_end(s, 0, ts, tag);
    }
    struct pending *front = fifo_front(s);
    struct pending pc;
    memset(&pc, 0, sizeof pc);
    bool first = !s->srv.any_reply;
    s->srv.any_reply = true;
    bool greeting_code = code == 220 || code == 421 || code == 521 || code == 554;
    if (first && s->srv.greet_strict && front && !greeting_code) {
        /* The server speaks first (RFC 5321 §3.1), but this reply cannot be
         * a greeting and a command is waiting: the server never greeted
         * (or the greeting is not in the record), and this is the answer. */
        flags |= ANOM(GREETING_MISSING);
    }
    /* Without the greeting rule (mid-stream, an excerpt), a first 220 is
     * still the greeting unless it can be STARTTLS's answer. */
    bool looks_greeting = code == 220 && (front ? front->ref.cmd != SMTPREPLY_CMD_STARTTLS
                                                : s->stats.commands == 0);
    if (first && ((s->srv.greet_strict && (!front || greeting_code)) || looks_greeting)) {
        /* The first reply is the greeting even if an eager client already
         * sent a command (RFC 5321 §3.1: the server speaks first). */
        ev.stage = SMTPREPLY_STAGE_GREETING;
        if (!greeting_code)
            flags |= ANOM(GREETING_UNEXPECTED);
    } else if (!front) {
        ev.stage = SMTPREPLY_STAGE_UNSOLICITED;
        /* 421 may come at any time when the server must close (§3.8);
         * after a gap or mid-stream start, replies to unseen commands are expected. */
        if (code != 421 && !s->srv.suppress_nocmd)
            flags |= ANOM(NO_COMMAND_PENDING);
    } else {
        pc = *front;
        ev.has_cmd = true;
        ev.cmd = pc.ref;
        ev.rt_us = ts - pc.ref.ts_us;
        s->srv.suppress_nocmd = false; /* pairing is established */
        bool keep = false;
        enum smtpreply_cmd expect_cmd = pc.ref.cmd;
        switch (pc.ref.cmd) {
        case SMTPREPLY_CMD_DATA:
            ev.stage = SMTPREPLY_STAGE_DATA_START;
            break;
        case SMTPREPLY_CMD_DATA_END:
            ev.stage = SMTPREPLY_STAGE_DATA_END;
            break;
        case SMTPREPLY_CMD_BDAT:
            ev.stage = SMTPREPLY_STAGE_BDAT;
            break;
        case SMTPREPLY_CMD_AUTH:
            if (code == 334 && !(pc.flags & PF_SASL_CANCEL)) {
                ev.stage = SMTPREPLY_STAGE_AUTH_CHALLENGE;
                keep = true; /* the exchange goes on */
            } else {
                ev.stage = SMTPREPLY_STAGE_AUTH_FINAL;
            }
            break;
        default:
            ev.stage = SMTPREPLY_STAGE_REPLY;
            break;
        }
        if (valid) {
            if (pc.flags & PF_SASL_CANCEL) {
                if (code != 501) /* RFC 4954 §4: "*" cancels, the server answers 501 */
                    flags |= ANOM(CODE_UNEXPECTED);
            } else if (!smtpreply_cmd_expects(expect_cmd, code)) {
                flags |= ANOM(CODE_UNEXPECTED);
            }
        }
        if (pc.ref.cmd == SMTPREPLY_CMD_DATA && code == 354 && s->c.mode == C_HOLD &&
            s->held.seq == pc.ref.seq && s->held.len)
            flags |= ANOM(DATA_BEFORE_354);
        if (!keep)
            fifo_pop(s);
    }
    ev.anomalies = flags;
    s->stats.replies++;
    emit(s, &ev);
    if (ev.has_cmd)
        reply_decides(s, &pc, code, ev.stage);
    if (s->srv.probe_after) {
        s->srv.probe_after = false;
        s->probe[SMTPREPLY_DIR_SERVER].active = true;
        s->probe[SMTPREPLY_DIR_SERVER].n = 0;
    }
}

static void server_line(struct smtpreply_session *s, bool bare_lf, int64_t ts, uint64_t tag)
{
    struct line_asm *l = &s->line[SMTPREPLY_DIR_SERVER];
    smtpreply_anomaly_set flags = line_end_anomalies(s, l, bare_lf);
    if (l->total + 2 > RFC_REPLY_LINE_MAX)
        flags |= ANOM(REPLY_LINE_TOO_LONG);
    uint64_t first_tag = l->first_tag;
    uint32_t len = l->len;
    line_reset(l);

    struct smtpreply_line rl;
    if (!smtpreply_parse_reply_line((const char *)l->buf, len, &rl)) {
        if (s->srv.resync)
            return; /* still looking for a reply line */
        flags |= ANOM(NOT_A_REPLY);
        flags &= ~ANOM(REPLY_LINE_TOO_LONG);
        if (s->srv.reply.active)
            s->srv.reply.anomalies |= flags; /* inside a multi-line reply: noted, ignored */
        else
            emit_anomaly_set(s, flags, SMTPREPLY_DIR_SERVER, ts, tag);
        return;
    }
    s->srv.resync = false;
    /* RFC 4954 §4: "334 " (code, space, nothing) is the empty challenge. */
    if (rl.text_len == 0 && !(rl.code == 334 && rl.sep == ' '))
        flags |= ANOM(BARE_CODE);
    if (rl.bad_esc)
        flags |= ANOM(ESC_MALFORMED);

    if (!s->srv.reply.active) {
        s->srv.reply.active = true;
        s->srv.reply.code = rl.code;
        s->srv.reply.nlines = 0;
        s->srv.reply.has_esc = false;
        s->srv.reply.anomalies = 0;
        s->srv.reply.first_tag = first_tag;
    } else if (rl.code != s->srv.reply.code) {
        flags |= ANOM(CODE_MISMATCH);
    }
    /* The last line's code is the one clients act on (they read to the
     * final line); the mismatch is flagged. */
    s->srv.reply.code = rl.code;
    s->srv.reply.nlines++;
    if (s->srv.reply.nlines > s->lim.max_reply_lines && s->lim.max_reply_lines) {
        if (s->srv.reply.nlines == s->lim.max_reply_lines + 1)
            s->stats.lines_cut++;
        flags |= ANOM(TOO_MANY_LINES);
    }
    if (rl.has_esc) {
        if (!s->srv.reply.has_esc) {
            s->srv.reply.has_esc = true;
            s->srv.reply.esc = rl.esc;
        } else if (!esc_equal(&s->srv.reply.esc, &rl.esc)) {
            flags |= ANOM(ESC_INCONSISTENT);
        }
    }
    s->srv.reply.anomalies |= flags;
    if (rl.sep != '-')
        reply_complete(s, rl.text, rl.text_len, ts, tag);
}

static void server_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                         uint64_t tag)
{
    size_t i = 0;
    while (i < n && !(s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED)) {
        if (s->probe[SMTPREPLY_DIR_SERVER].active) {
            i += probe_bytes(s, SMTPREPLY_DIR_SERVER, p + i, n - i, ts, tag);
            continue;
        }
        bool done, bare;
        i += line_take(s, &s->line[SMTPREPLY_DIR_SERVER], p + i, n - i, tag, &done, &bare);
        if (done)
            server_line(s, bare, ts, tag);
    }
}

/* ---------------------------------------------------------------------- */
/* API */

struct smtpreply_session *smtpreply_session_new(const struct smtpreply_limits *lim,
                                                smtpreply_realloc_fn alloc, void *alloc_ctx,
                                                smtpreply_event_fn fn, void *user,
                                                unsigned flags)
{
    if (!alloc)
        alloc = sr_libc_realloc;
    struct smtpreply_session *s = alloc(alloc_ctx, NULL, sizeof *s);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    if (lim)
        s->lim = *lim;
    else
        smtpreply_limits_default(&s->lim);
    if (s->lim.max_line == 0)
        s->lim.max_line = 1;
    if (s->lim.max_pending == 0)
        s->lim.max_pending = 1;
    s->alloc = alloc;
    s->alloc_ctx = alloc_ctx;
    s->fn = fn;
    s->user = user;
    s->stats.bytes_allocated = sizeof *s;
    s->c.mode = C_CMD;
    s->stats.flags = flags & SMTPREPLY_SESSION_MIDSTREAM;
    s->srv.greet_strict = !(flags & (SMTPREPLY_SESSION_MIDSTREAM | SMTPREPLY_SESSION_NO_GREETING));
    if (flags & SMTPREPLY_SESSION_MIDSTREAM) {
        s->c.resync = true;
        s->srv.resync = true;
        s->srv.suppress_nocmd = true;
    }
    /* Implicit TLS (port 465 style): a session whose first bytes are a TLS record. */
    s->probe[0].active = true;
    s->probe[1].active = true;
    s->c.tls = CT_IMPLICIT;
    return s;
}

void smtpreply_session_free(struct smtpreply_session *s)
{
    if (!s)
        return;
    smtpreply_realloc_fn alloc = s->alloc;
    void *ctx = s->alloc_ctx;
    for (int d = 0; d < 2; d++)
        if (s->line[d].buf)
            alloc(ctx, s->line[d].buf, 0);
    if (s->held.buf)
        alloc(ctx, s->held.buf, 0);
    if (s->fifo)
        alloc(ctx, s->fifo, 0);
    alloc(ctx, s, 0);
}

void smtpreply_session_feed(struct smtpreply_session *s, enum smtpreply_dir dir,
                            const uint8_t *data, size_t len, int64_t ts_us, uint64_t tag)
{
    if (!s || !data || !len)
        return;
    if (s->stats.flags & (SMTPREPLY_SESSION_ENCRYPTED | SMTPREPLY_SESSION_FINISHED))
        return;
    if (dir == SMTPREPLY_DIR_SERVER)
        s->srv.spoke = true;
    if (dir == SMTPREPLY_DIR_CLIENT)
        client_bytes(s, data, len, ts_us, tag);
    else
        server_bytes(s, data, len, ts_us, tag);
}

void smtpreply_session_gap(struct smtpreply_session *s, enum smtpreply_dir dir,
                           uint64_t missing, int64_t ts_us, uint64_t tag)
{
    if (!s || (s->stats.flags & (SMTPREPLY_SESSION_ENCRYPTED | SMTPREPLY_SESSION_FINISHED)))
        return;
    unsigned d = dir == SMTPREPLY_DIR_CLIENT ? 0 : 1;
    /* A reply line the gap cut still counts once its code and the
     * separator after it arrived, as a last line without CRLF does at the
     * end: the code is what the server said; only its text is short.  (A
     * cut "250-" line joins its reply, which the gap then drops.) */
    const struct line_asm *sl = &s->line[SMTPREPLY_DIR_SERVER];
    struct smtpreply_line cut_line;
    if (d == 1 && !s->probe[1].active &&
        smtpreply_parse_reply_line((const char *)sl->buf, sl->len, &cut_line) && cut_line.sep)
        server_line(s, false, ts_us, tag);
    s->stats.flags |= SMTPREPLY_SESSION_GAPS;
    s->stats.missing_bytes[d] += missing;
    s->probe[d].active = false;
    s->probe[d].n = 0;
    line_reset(&s->line[d]);
    emit_anomaly(s, SMTPREPLY_ANOM_GAP, dir, ts_us, tag);
    if (dir == SMTPREPLY_DIR_CLIENT) {
        switch (s->c.mode) {
        case C_BDAT:
            /* The lost bytes count against the chunk first. */
            if (missing < s->c.bdat_left) {
                s->c.bdat_left -= missing;
                return;
            }
            s->c.mode = C_CMD;
            s->c.resync = true;
            break;
        case C_BODY:
            /* Stay in the body; a "." line, a line with a known verb or a
             * server reply ends it (body_bytes, server side). */
            s->c.body.gap = true;
            s->c.body.first = -1;
            s->c.body.len = 0;
            s->c.body.cr = false;
            break;
        case C_HOLD:
            /* What was held is cut short: keep waiting for the reply, but
             * resynchronise whatever it decides. */
            held_clear(s);
            s->c.resync = true;
            break;
        default:
            s->c.mode = C_CMD;
            s->c.resync = true;
            break;
        }
    } else {
        /* Replies were lost, so the FIFO no longer lines up (Zeek clears it
         * too); later replies to the dropped commands are unsolicited. */
        s->srv.reply.active = false;
        s->srv.resync = true;
        s->srv.suppress_nocmd = true;
        s->srv.greet_strict = false; /* the greeting may be what was lost */
        while (s->fifo_count)
            fifo_pop(s);
        if (s->c.mode == C_HOLD) {
            s->c.mode = C_CMD;
            held_clear(s);
            s->c.resync = true;
        } else if (s->c.mode == C_SASL) {
            s->c.mode = C_CMD;
            s->c.resync = true;
        }
    }
}

void smtpreply_session_finish(struct smtpreply_session *s, int64_t ts_us, uint64_t tag)
{
    if (!s || (s->stats.flags & SMTPREPLY_SESSION_FINISHED))
        return;
    /* A client that opened with TLS to a server we never heard: seen from
     * one side, an encrypted session. */
    if (s->c.tls == CT_TLS_FIRST && !s->srv.spoke)
        go_encrypted(s, SMTPREPLY_DIR_CLIENT, ts_us, tag);
    if (!(s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED)) {
        /* A probe still undecided holds one 0x16 byte: plain data after all. */
        for (int d = 0; d < 2; d++) {
            if (s->probe[d].active && s->probe[d].n) {
                uint8_t b = s->probe[d].b[0];
                s->probe[d].active = false;
                s->probe[d].n = 0;
                if (d == 0)
                    client_bytes(s, &b, 1, ts_us, tag);
                else
                    server_bytes(s, &b, 1, ts_us, tag);
            }
            s->probe[d].active = false;
        }
        /* A last line without CRLF still counts if it parses. */
        if (s->line[1].total)
            server_line(s, false, ts_us, tag);
        if (s->line[0].total && (s->c.mode == C_CMD || s->c.mode == C_SASL))
            client_line(s, false, ts_us, tag);
    }
    while (s->fifo_count) {
        struct pending *p = fifo_front(s);
        struct smtpreply_event ev;
        event_init(&ev, SMTPREPLY_EV_UNANSWERED, ts_us, tag);
        ev.has_cmd = true;
        ev.cmd = p->ref;
        ev.anomalies = ANOM(UNANSWERED);
        fifo_pop(s);
        s->stats.unanswered++;
        emit(s, &ev);
    }
    s->stats.flags |= SMTPREPLY_SESSION_FINISHED;
}

void smtpreply_session_prefetch(const struct smtpreply_session *s)
{
    for (size_t off = 0; off < sizeof *s; off += 64)
        __builtin_prefetch((const char *)s + off);
}

uint64_t smtpreply_session_chunk_skip(struct smtpreply_session *s, uint64_t n)
{
    if (!s || s->c.mode != C_BDAT || (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED))
        return 0;
    uint64_t k = n < s->c.bdat_left ? n : s->c.bdat_left;
    s->c.bdat_left -= k;
    if (s->c.bdat_left == 0)
        s->c.mode = C_CMD;
    return k;
}

const struct smtpreply_session_stats *smtpreply_session_stats(const struct smtpreply_session *s)
{
    return &s->stats;
}
