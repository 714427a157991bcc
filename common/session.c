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
 *
 * Map of the engine:
 *   session_internal.h  the session struct (by side) and shared prototypes
 *   session.c           this file: stage names, memory, events, the
 *                       pending-command FIFO, line assembly, the TLS
 *                       probe, and the public API (new, free, feed, gap,
 *                       finish, prefetch, chunk_skip, stats)
 *   session_client.c    held bytes, command and SASL lines, DATA body, BDAT
 *   session_server.c    reply assembly and pairing with the pending command
 */
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"
#include "alloc.h"
#include "detect.h"
#include "session_internal.h"

static const char *const stage_names[SMTPREPLY_STAGE__COUNT] = {
    [SMTPREPLY_STAGE_GREETING] = "greeting",
    [SMTPREPLY_STAGE_REPLY] = "reply",
    [SMTPREPLY_STAGE_DATA_START] = "data-start",
    [SMTPREPLY_STAGE_DATA_END] = "data-end",
    [SMTPREPLY_STAGE_BDAT] = "bdat",
    [SMTPREPLY_STAGE_AUTH_CHALLENGE] = "auth-challenge",
    [SMTPREPLY_STAGE_AUTH_FINAL] = "auth-final",
    [SMTPREPLY_STAGE_UNSOLICITED] = "unsolicited",
    [SMTPREPLY_STAGE_PRDR_START] = "prdr-start",
    [SMTPREPLY_STAGE_PRDR_RCPT] = "prdr-rcpt",
};

const char *smtpreply_stage_name(enum smtpreply_stage st)
{
    return (unsigned)st < SMTPREPLY_STAGE__COUNT ? stage_names[st] : "";
}

/* ---------------------------------------------------------------------- */
/* Memory: every byte through the hook, counted. */

void *sess_mem(struct smtpreply_session *s, void *p, size_t old, size_t size)
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

void sess_emit(struct smtpreply_session *s, struct smtpreply_event *ev)
{
    ev->tls = (s->stats.flags & SMTPREPLY_SESSION_DECRYPTED) != 0;
    count_anomalies(s, ev->anomalies);
    if (s->fn)
        s->fn(s->user, ev);
}

void sess_event_init(struct smtpreply_event *ev, enum smtpreply_event_type type, int64_t ts,
                     uint64_t tag)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->ts_us = ts;
    ev->tag = tag;
    ev->rt_us = -1;
    ev->first_tag = tag;
}

void sess_emit_anomaly(struct smtpreply_session *s, enum smtpreply_anomaly a,
                       enum smtpreply_dir dir, int64_t ts, uint64_t tag)
{
    struct smtpreply_event ev;
    sess_event_init(&ev, SMTPREPLY_EV_ANOMALY, ts, tag);
    ev.anomalies = (smtpreply_anomaly_set)1u << a;
    ev.anomaly = a;
    ev.dir = dir;
    sess_emit(s, &ev);
}

/* Anomalies of a line that is neither command nor reply: one event each. */
void sess_emit_anomaly_set(struct smtpreply_session *s, smtpreply_anomaly_set set,
                           enum smtpreply_dir dir, int64_t ts, uint64_t tag)
{
    for (unsigned a = 0; a < SMTPREPLY_ANOM__COUNT; a++)
        if (set & ((smtpreply_anomaly_set)1u << a))
            sess_emit_anomaly(s, (enum smtpreply_anomaly)a, dir, ts, tag);
}

void sess_go_encrypted(struct smtpreply_session *s, enum smtpreply_dir dir, int64_t ts,
                       uint64_t tag)
{
    if (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED)
        return;
    s->stats.flags |= SMTPREPLY_SESSION_ENCRYPTED;
    struct smtpreply_event ev;
    sess_event_init(&ev, SMTPREPLY_EV_TLS, ts, tag);
    ev.dir = dir;
    sess_emit(s, &ev);
    /* The TLS bytes already taken: what each probe holds (the one that
     * decided, and a probe still waiting on the other side), and an
     * implicit-TLS client's kept bytes.  The client's go first: the
     * ClientHello has to precede the ServerHello. */
    bool first = s->c.tls == CT_TLS_FIRST;
    uint8_t pb[2][2], pn[2];
    for (int d = 0; d < 2; d++) {
        struct probe *pr = &s->probe[d];
        pn[d] = (pr->active || d == (int)dir) && !(d == 0 && first) ? pr->n : 0;
        memcpy(pb[d], pr->b, pn[d]);
        pr->active = false;
        pr->n = 0;
    }
    s->srv.probe_after = false;
    if (s->tls.fn) {
        s->tls.on = true;
        if (first)
            sess_tls_stash_out(s);
        for (int d = 0; d < 2; d++)
            if (pn[d])
                s->tls.fn(s->tls.user, (enum smtpreply_dir)d, pb[d], pn[d], 0, ts, tag);
    }
    /* Nothing after this is parsed: drop what is buffered. */
    sess_held_clear(s);
    s->line[0].len = s->line[1].len = 0;
    s->line[0].total = s->line[1].total = 0;
    s->srv.reply.active = false;
}

void sess_tls_rest(struct smtpreply_session *s, enum smtpreply_dir dir, const uint8_t *p,
                   size_t n, int64_t ts, uint64_t tag)
{
    if (s->tls.on && !s->tls.dec && (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED))
        s->tls.fn(s->tls.user, dir, p, n, 0, ts, tag);
}

/* ---------------------------------------------------------------------- */
/* Pending-command FIFO */

static bool fifo_grow(struct smtpreply_session *s)
{
    uint32_t ncap = s->fifo_cap ? s->fifo_cap * 2 : 8;
    if (ncap > s->lim.max_pending)
        ncap = s->lim.max_pending;
    if (ncap <= s->fifo_cap)
        return false;
    struct pending *n = sess_mem(s, NULL, 0, (size_t)ncap * sizeof *n);
    if (!n)
        return false;
    for (uint32_t i = 0; i < s->fifo_count; i++)
        n[i] = *fifo_at(s, i);
    if (s->fifo)
        sess_mem(s, s->fifo, (size_t)s->fifo_cap * sizeof *n, 0);
    s->fifo = n;
    s->fifo_cap = ncap;
    s->fifo_head = 0;
    return true;
}

/* Appends n bytes to a recipient store, growing it up to RCPT_STORE_MAX;
 * false when they do not fit (or memory runs out). */
bool sess_store_append(struct smtpreply_session *s, struct rcpt_store *st, const void *p,
                       size_t n)
{
    if (n > RCPT_STORE_MAX - st->len)
        return false;
    if (st->len + n > st->cap) {
        uint32_t ncap = st->cap ? st->cap : 256;
        while (ncap < st->len + n)
            ncap = ncap > RCPT_STORE_MAX / 2 ? RCPT_STORE_MAX : ncap * 2;
        uint8_t *b = sess_mem(s, st->buf, st->cap, ncap);
        if (!b)
            return false;
        st->buf = b;
        st->cap = ncap;
    }
    if (n)
        memcpy(st->buf + st->len, p, n);
    st->len += (uint32_t)n;
    return true;
}

/* Queue a command; on overflow drop the oldest (counted, flagged). */
struct pending *sess_fifo_push(struct smtpreply_session *s, const struct smtpreply_cmd_ref *ref,
                               smtpreply_anomaly_set *flags)
{
    if (s->fifo_count == s->fifo_cap && !fifo_grow(s)) {
        if (s->fifo_cap == 0)
            return NULL; /* not even one slot: nothing can be paired */
        fifo_pop(s);
        if (s->srv.gap_drop)
            s->srv.gap_drop--; /* the oldest was one of them */
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
/* Line assembly */

/* Takes bytes up to and including the first LF.  Returns how many were
 * consumed; *done says a line ended (then *bare_lf says it ended without
 * CR).  The line's content excludes the CR of a CRLF. */
size_t sess_line_take(struct smtpreply_session *s, struct line_asm *l, const uint8_t *p, size_t n,
                      uint64_t tag, bool *done, bool *bare_lf)
{
    const uint8_t *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) : n;
    if (l->total == 0 && (take > 0 || lf)) {
        l->first_tag = tag;
        l->tail_n = 0;
    }
    if (take > 0) {
        size_t room = s->lim.max_line > l->len ? s->lim.max_line - l->len : 0;
        size_t keep = take < room ? take : room;
        if (keep && l->len + keep > l->cap) {
            uint32_t ncap = l->cap ? l->cap : 128;
            if (ncap > s->lim.max_line)
                ncap = s->lim.max_line;
            while (ncap < l->len + keep)
                ncap = ncap > s->lim.max_line / 2 ? s->lim.max_line : ncap * 2;
            uint8_t *b = sess_mem(s, l->buf, l->cap, ncap);
            if (b) {
                l->buf = b;
                l->cap = ncap;
            } else {
                keep = l->cap - l->len; /* out of memory: keep what fits */
            }
        }
        if (keep)
            memcpy(l->buf + l->len, p, keep);
        size_t drop = take - keep;
        if (drop >= LINE_TAIL) {
            memcpy(l->tail, p + take - LINE_TAIL, LINE_TAIL);
            l->tail_n = LINE_TAIL;
        } else if (drop) {
            size_t old = l->tail_n + drop > LINE_TAIL ? LINE_TAIL - drop : l->tail_n;
            memmove(l->tail, l->tail + l->tail_n - old, old);
            memcpy(l->tail + old, p + keep, drop);
            l->tail_n = (uint8_t)(old + drop);
        }
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

/* What any completed line, either side, may carry: a bare LF ending, or
 * a length over max_line (the line was cut; counted). */
smtpreply_anomaly_set sess_line_end_anomalies(struct smtpreply_session *s,
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

/* ---------------------------------------------------------------------- */
/* TLS probe */

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
    enum detect_match m = detect_tls(pr->b, pr->n, false);
    if (m == DETECT_NO) {
        pr->active = false;
        *decided_plain = true;
    } else if (m == DETECT_YES) {
        pr->active = false;
        if (dir == SMTPREPLY_DIR_CLIENT && s->c.tls == CT_IMPLICIT) {
            /* A client that opens with TLS (port 465 style) says nothing
             * about the server: a server that answers in plain text makes
             * an ordinary, counted session.  The client's bytes are a
             * handshake, not commands; the server's own first bytes decide
             * whether the session is encrypted. */
            s->c.tls = CT_TLS_FIRST;
            sess_tls_stash(s, pr->b, pr->n, ts, tag);
        } else
            sess_go_encrypted(s, dir, ts, tag);
    }
    return used;
}

/* Runs the probe on dir, then hands the bytes on. */
size_t sess_probe_bytes(struct smtpreply_session *s, enum smtpreply_dir dir, const uint8_t *p,
                        size_t n, int64_t ts, uint64_t tag)
{
    bool plain;
    size_t used = probe_take(s, dir, p, n, ts, tag, &plain);
    if (plain) {
        uint8_t b[2];
        uint8_t k = s->probe[dir].n;
        memcpy(b, s->probe[dir].b, k);
        s->probe[dir].n = 0;
        if (dir == SMTPREPLY_DIR_SERVER && s->c.tls == CT_TLS_FIRST)
            sess_tls_stash_drop(s); /* a plaintext server: no TLS after all */
        /* The probed bytes belong to the stream: replay them, then go on. */
        if (dir == SMTPREPLY_DIR_CLIENT)
            sess_client_bytes(s, b, k, ts, tag);
        else
            sess_server_bytes(s, b, k, ts, tag);
    }
    return used;
}

/* ---------------------------------------------------------------------- */
/* API */

struct smtpreply_session *smtpreply_session_new(const struct smtpreply_limits *lim,
                                                smtpreply_realloc_fn alloc, void *alloc_ctx,
                                                smtpreply_event_fn fn, void *user, unsigned flags)
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
    s->srv.greet_strict =
        !(flags & (SMTPREPLY_SESSION_MIDSTREAM | SMTPREPLY_SESSION_NO_GREETING));
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
    if (s->rcpts.buf)
        alloc(ctx, s->rcpts.buf, 0);
    if (s->accepted.buf)
        alloc(ctx, s->accepted.buf, 0);
    if (s->srv.reply.text.buf)
        alloc(ctx, s->srv.reply.text.buf, 0);
    alloc(ctx, s, 0);
}

void smtpreply_session_feed(struct smtpreply_session *s, enum smtpreply_dir dir,
                            const uint8_t *data, size_t len, int64_t ts_us, uint64_t tag)
{
    if (!s || !data || !len)
        return;
    if (s->stats.flags & SMTPREPLY_SESSION_FINISHED)
        return;
    if (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED) {
        if (s->tls.on)
            s->tls.fn(s->tls.user, dir, data, len, 0, ts_us, tag);
        return;
    }
    if (dir == SMTPREPLY_DIR_SERVER)
        s->srv.spoke = true;
    if (dir == SMTPREPLY_DIR_CLIENT)
        sess_client_bytes(s, data, len, ts_us, tag);
    else
        sess_server_bytes(s, data, len, ts_us, tag);
}

static void gap_apply(struct smtpreply_session *s, enum smtpreply_dir dir, uint64_t missing,
                      int64_t ts_us, uint64_t tag);

void smtpreply_session_gap(struct smtpreply_session *s, enum smtpreply_dir dir, uint64_t missing,
                           int64_t ts_us, uint64_t tag)
{
    if (!s || (s->stats.flags & SMTPREPLY_SESSION_FINISHED))
        return;
    if (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED) {
        /* Lost TLS bytes: the decoder's business (it resynchronises on a
         * record, and the decrypted stream gets its own gap). */
        if (s->tls.on && missing)
            s->tls.fn(s->tls.user, dir, NULL, 0, missing, ts_us, tag);
        return;
    }
    if (dir == SMTPREPLY_DIR_CLIENT && s->c.tls == CT_TLS_FIRST)
        sess_tls_stash(s, NULL, missing, ts_us, tag); /* the kept handshake is cut */
    gap_apply(s, dir, missing, ts_us, tag);
}

static void gap_apply(struct smtpreply_session *s, enum smtpreply_dir dir, uint64_t missing,
                      int64_t ts_us, uint64_t tag)
{
    unsigned d = dir == SMTPREPLY_DIR_CLIENT ? 0 : 1;
    /* A reply line the gap cut still counts once its code and the
     * separator after it arrived, as a last line without CRLF does at the
     * end: the code is what the server said; only its text is short.  (A
     * cut "250-" line joins its reply, which the gap then drops.) */
    const struct line_asm *sl = &s->line[SMTPREPLY_DIR_SERVER];
    struct smtpreply_line cut_line;
    if (d == 1 && !s->probe[1].active &&
        smtpreply_parse_reply_line((const char *)sl->buf, sl->len, &cut_line) && cut_line.sep)
        sess_server_line(s, false, ts_us, tag);
    s->stats.flags |= SMTPREPLY_SESSION_GAPS;
    s->stats.missing_bytes[d] += missing;
    s->probe[d].active = false;
    s->probe[d].n = 0;
    line_reset(&s->line[d]);
    sess_emit_anomaly(s, SMTPREPLY_ANOM_GAP, dir, ts_us, tag);
    if (dir == SMTPREPLY_DIR_CLIENT) {
        switch (s->c.mode) {
        case C_BDAT:
            /* The lost bytes count against the chunk first. */
            s->c.bdat_started = true;
            s->c.bdat_refused = false;
            s->c.peek_n = 0;
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
            sess_held_clear(s);
            s->c.resync = true;
            break;
        default:
            s->c.mode = C_CMD;
            s->c.resync = true;
            break;
        }
    } else {
        /* Replies were lost, so the FIFO may no longer line up (Zeek clears
         * it); the commands waiting now are dropped when the next reply
         * comes, unless that reply shows the oldest still waits
         * (session_server.c), and later replies to dropped commands are
         * unsolicited. */
        s->srv.reply.active = false;
        s->srv.resync = true;
        s->srv.suppress_nocmd = true;
        s->srv.greet_strict = false; /* the greeting may be what was lost */
        s->srv.gap_drop = s->fifo_count;
        if (s->c.mode == C_HOLD) {
            s->c.mode = C_CMD;
            sess_held_clear(s);
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
        sess_go_encrypted(s, SMTPREPLY_DIR_CLIENT, ts_us, tag);
    /* Decrypted data is parsed to its end like plaintext. */
    s->tls.dec = (s->stats.flags & SMTPREPLY_SESSION_DECRYPTED) != 0;
    if (sess_parsing(s)) {
        /* A probe still undecided holds one 0x16 byte: plain data after all. */
        for (int d = 0; d < 2; d++) {
            if (s->probe[d].active && s->probe[d].n) {
                uint8_t b = s->probe[d].b[0];
                s->probe[d].active = false;
                s->probe[d].n = 0;
                if (d == 0)
                    sess_client_bytes(s, &b, 1, ts_us, tag);
                else
                    sess_server_bytes(s, &b, 1, ts_us, tag);
            }
            s->probe[d].active = false;
        }
        /* A last line without CRLF still counts if it parses. */
        if (s->line[1].total)
            sess_server_line(s, false, ts_us, tag);
        if (s->line[0].total && (s->c.mode == C_CMD || s->c.mode == C_SASL))
            sess_client_line(s, false, ts_us, tag);
    }
    s->tls.dec = false;
    while (s->srv.gap_drop && s->fifo_count) {
        fifo_pop(s); /* waited before a server gap: their replies may be lost */
        s->srv.gap_drop--;
    }
    while (s->fifo_count) {
        struct pending *p = fifo_front(s);
        struct smtpreply_event ev;
        sess_event_init(&ev, SMTPREPLY_EV_UNANSWERED, ts_us, tag);
        ev.has_cmd = true;
        ev.cmd = p->ref;
        ev.anomalies = ANOM(UNANSWERED);
        fifo_pop(s);
        s->stats.unanswered++;
        sess_emit(s, &ev);
    }
    s->stats.flags |= SMTPREPLY_SESSION_FINISHED;
}

void smtpreply_session_set_tls_sink(struct smtpreply_session *s, smtpreply_tls_bytes_fn fn,
                                    void *user)
{
    if (!s)
        return;
    s->tls.fn = fn;
    s->tls.user = user;
    s->tls.on = fn && (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED);
}

/* The first decrypted bytes: the session goes on from where TLS started,
 * with no probe (TLS inside TLS is not SMTP's), and an implicit-TLS
 * client's bytes are commands again. */
static void start_decrypted(struct smtpreply_session *s)
{
    s->stats.flags |= SMTPREPLY_SESSION_DECRYPTED;
    s->c.tls = CT_INSIDE;
    for (int d = 0; d < 2; d++) {
        s->probe[d].active = false;
        s->probe[d].n = 0;
        line_reset(&s->line[d]);
    }
    s->srv.probe_after = false;
}

void smtpreply_session_feed_decrypted(struct smtpreply_session *s, enum smtpreply_dir dir,
                                      const uint8_t *data, size_t len, int64_t ts_us,
                                      uint64_t tag)
{
    if (!s || !data || !len || s->tls.dec)
        return; /* s->tls.dec: called from inside the session's own callbacks */
    if ((s->stats.flags & (SMTPREPLY_SESSION_ENCRYPTED | SMTPREPLY_SESSION_FINISHED)) !=
        SMTPREPLY_SESSION_ENCRYPTED)
        return;
    if (!(s->stats.flags & SMTPREPLY_SESSION_DECRYPTED))
        start_decrypted(s);
    s->tls.dec = true;
    if (dir == SMTPREPLY_DIR_CLIENT) {
        sess_client_bytes(s, data, len, ts_us, tag);
    } else {
        s->srv.spoke = true;
        sess_server_bytes(s, data, len, ts_us, tag);
    }
    s->tls.dec = false;
}

void smtpreply_session_gap_decrypted(struct smtpreply_session *s, enum smtpreply_dir dir,
                                     uint64_t missing, int64_t ts_us, uint64_t tag)
{
    if (!s || s->tls.dec ||
        (s->stats.flags & (SMTPREPLY_SESSION_ENCRYPTED | SMTPREPLY_SESSION_FINISHED)) !=
            SMTPREPLY_SESSION_ENCRYPTED)
        return;
    if (!(s->stats.flags & SMTPREPLY_SESSION_DECRYPTED))
        start_decrypted(s);
    s->tls.dec = true;
    gap_apply(s, dir, missing, ts_us, tag);
    s->tls.dec = false;
}

void smtpreply_session_prefetch(const struct smtpreply_session *s)
{
    for (size_t off = 0; off < sizeof *s; off += 64)
        __builtin_prefetch((const char *)s + off);
}

uint64_t smtpreply_session_chunk_skip(struct smtpreply_session *s, uint64_t n)
{
    if (!s || s->c.mode != C_BDAT || s->c.bdat_refused ||
        (s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED))
        return 0;
    s->c.bdat_started = true;
    uint64_t k = n < s->c.bdat_left ? n : s->c.bdat_left;
    s->c.bdat_left -= k;
    if (s->c.bdat_left == 0)
        s->c.mode = C_CMD;
    return k;
}

uint32_t smtpreply_session_pending(const struct smtpreply_session *s)
{
    return s && s->fifo_count > s->srv.gap_drop ? s->fifo_count - s->srv.gap_drop : 0;
}

const struct smtpreply_session_stats *smtpreply_session_stats(const struct smtpreply_session *s)
{
    return &s->stats;
}
