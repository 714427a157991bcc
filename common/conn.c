/* SPDX-License-Identifier: MIT */
/*
 * conn.c - the connection layer: raw TCP segments of one connection in,
 * session events out.  Two reassemblers (reasm.c) put each direction in
 * order; while the stream is not yet known to be SMTP its first bytes
 * wait in small per-direction buffers that detect.c examines; once it is,
 * they are replayed, in arrival order, into a session engine (session.c),
 * and later bytes go straight through.  docs/tcp-and-detection.md tells
 * the policy; the CLI analyzer and the Wireshark plugin both call this.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "detect.h"
#include "reasm.h"
#include "smtpreply.h"

/* Chunks remembered while undecided, to replay them in arrival order with
 * their own timestamps and tags.  Detection normally decides within a few
 * chunks; past this many the decision is forced. */
#define CONN_LOG_MAX 64u
/* A hole in one direction is given up once the other direction has
 * delivered this many data segments since it opened: SMTP is a dialogue,
 * so a peer that keeps talking has received what is missing here (the
 * bytes were lost from the capture, not delayed).  Reordering in captures
 * spans a packet or two; a lower figure would mistake it for loss, a
 * higher one lets more replies overtake the commands behind the hole. */
#define CONN_HOLE_PATIENCE 2u

struct conn_chunk {
    uint32_t len;
    uint8_t end; /* endpoint 0 (A) or 1 (B) */
    int64_t ts_us;
    uint64_t tag;
};

struct conn_side {
    struct smtpreply_conn *c;
    uint8_t end;
    struct reasm r;
    uint8_t *det; /* first bytes while undecided */
    uint32_t det_len, det_cap;
    bool det_ended;     /* no more detection bytes (closed, gap, full) */
    uint64_t data_segs; /* data deliveries, the other side's clock for holes */
};

/* Decrypted data given while the session was busy, in order: records of
 * a header and the bytes (none for a loss). */
struct dq_hdr {
    uint8_t dir;
    uint8_t lost; /* no bytes: `len` decrypted bytes did not fit */
    uint32_t len;
    int64_t ts_us;
    uint64_t tag;
};

struct smtpreply_conn {
    struct smtpreply_limits lim;
    enum smtpreply_port_kind kind[2];
    struct sr_mem mem;
    smtpreply_event_fn fn;
    void *user;
    struct conn_side side[2];
    struct conn_chunk *log;
    uint32_t log_len, log_cap;
    struct smtpreply_session *sess;
    enum smtpreply_conn_state state;
    int server; /* endpoint of the server, -1 unknown */
    bool saw_syn, closed, tunnel, implicit_tls, finished;
    bool payload_seen; /* a segment carried data (either side) */
    uint64_t segments;
    /* TLS (smtpreply_conn_decrypted) */
    smtpreply_tls_bytes_fn tls_bytes;
    void *tls_user;
    unsigned busy;        /* inside a call that may reach the session */
    uint64_t tls_lost[2]; /* raw bytes lost inside TLS since the last decrypted data */
    uint8_t *dq;          /* the queue of decrypted data (struct dq_hdr records) */
    uint32_t dq_len, dq_cap, dq_bytes;
};

static enum smtpreply_dir dir_of(const struct smtpreply_conn *c, int end)
{
    return end == c->server ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT;
}

static void free_detect(struct smtpreply_conn *c)
{
    for (int e = 0; e < 2; e++) {
        struct conn_side *sd = &c->side[e];
        if (sd->det)
            sr_mem_realloc(&c->mem, sd->det, sd->det_cap, 0);
        sd->det = NULL;
        sd->det_len = sd->det_cap = 0;
    }
    if (c->log)
        sr_mem_realloc(&c->mem, c->log, c->log_cap * sizeof *c->log, 0);
    c->log = NULL;
    c->log_len = c->log_cap = 0;
}

static void go_not_smtp(struct smtpreply_conn *c)
{
    c->state = SMTPREPLY_CONN_NOT_SMTP;
    free_detect(c);
    for (int e = 0; e < 2; e++) {
        reasm_free(&c->side[e].r, &c->mem);
        c->side[e].r.stopped = true;
    }
}

/* ---- TLS: raw bytes out, decrypted bytes in ---- */

static void tls_raw(void *user, enum smtpreply_dir dir, const uint8_t *data, size_t len,
                    uint64_t missing, int64_t ts, uint64_t tag)
{
    struct smtpreply_conn *c = user;
    c->busy++; /* what the hook decrypts waits for the session */
    c->tls_bytes(c->tls_user, dir, data, len, missing, ts, tag);
    c->busy--;
}

/* Feeds one piece of decrypted data (or a loss) to the session. */
static void decrypted_in(struct smtpreply_conn *c, enum smtpreply_dir dir, const uint8_t *data,
                         size_t len, bool lost, int64_t ts, uint64_t tag)
{
    int d = dir == SMTPREPLY_DIR_SERVER;
    if (lost) {
        c->tls_lost[d] += len ? len : 1;
        return;
    }
    if (c->tls_lost[d]) {
        smtpreply_session_gap_decrypted(c->sess, dir, c->tls_lost[d], ts, tag);
        c->tls_lost[d] = 0;
    }
    smtpreply_session_feed_decrypted(c->sess, dir, data, len, ts, tag);
}

/* Feeds what waits in the queue, in order.  The queue is detached while
 * it is read, so data queued meanwhile lands in a new one (read next). */
static void drain(struct smtpreply_conn *c)
{
    while (c->dq_len && c->sess) {
        uint8_t *q = c->dq;
        uint32_t len = c->dq_len, cap = c->dq_cap;
        c->dq = NULL;
        c->dq_len = c->dq_cap = c->dq_bytes = 0;
        for (uint32_t off = 0; off + sizeof(struct dq_hdr) <= len;) {
            struct dq_hdr h;
            memcpy(&h, q + off, sizeof h);
            off += sizeof h;
            uint32_t n = h.lost ? 0 : h.len;
            if (n > len - off)
                n = len - off; /* cannot happen; bounds the read regardless */
            decrypted_in(c, (enum smtpreply_dir)h.dir, q + off, h.lost ? h.len : n, h.lost,
                         h.ts_us, h.tag);
            off += n;
        }
        if (!c->dq && q) {
            c->dq = q; /* keep the buffer for later */
            c->dq_cap = cap;
        } else if (q) {
            sr_mem_realloc(&c->mem, q, cap, 0);
        }
    }
    c->dq_len = c->dq_bytes = 0;
}

static void enqueue(struct smtpreply_conn *c, enum smtpreply_dir dir, const uint8_t *data,
                    size_t len, int64_t ts, uint64_t tag)
{
    struct dq_hdr h = {(uint8_t)(dir == SMTPREPLY_DIR_SERVER), 0, (uint32_t)len, ts, tag};
    bool fits = len <= SMTPREPLY_CONN_DECRYPTED_QUEUE - c->dq_bytes;
    uint32_t need = c->dq_len + (uint32_t)sizeof h + (fits ? (uint32_t)len : 0);
    if (fits && need > c->dq_cap) {
        uint32_t cap = c->dq_cap ? c->dq_cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *nq = sr_mem_realloc(&c->mem, c->dq, c->dq_cap, cap);
        if (nq) {
            c->dq = nq;
            c->dq_cap = cap;
        } else {
            fits = false;
        }
    }
    if (!fits) {
        /* No room: the bytes are lost, in their place in the order. */
        h.lost = 1;
        if (len > UINT32_MAX)
            h.len = UINT32_MAX;
        if (c->dq_len + sizeof h > c->dq_cap) {
            int d = h.dir;
            c->tls_lost[d] += len; /* not even a header fits: lost, roughly here */
            return;
        }
    }
    memcpy(c->dq + c->dq_len, &h, sizeof h);
    c->dq_len += (uint32_t)sizeof h;
    if (!h.lost) {
        memcpy(c->dq + c->dq_len, data, len);
        c->dq_len += (uint32_t)len;
        c->dq_bytes += (uint32_t)len;
    }
}

void smtpreply_conn_decrypted(struct smtpreply_conn *c, enum smtpreply_dir dir,
                              const uint8_t *data, size_t len, int64_t ts_us, uint64_t tag)
{
    if (!c || !c->sess || !data || !len || c->finished)
        return;
    if (c->busy || c->dq_len) {
        enqueue(c, dir, data, len, ts_us, tag);
        if (!c->busy)
            drain(c);
        return;
    }
    c->busy++;
    decrypted_in(c, dir, data, len, false, ts_us, tag);
    drain(c);
    c->busy--;
}

/* The stream is SMTP: start the session and replay what detection held. */
static void go_smtp(struct smtpreply_conn *c, const struct detect_result *res)
{
    c->state = SMTPREPLY_CONN_SMTP;
    c->server = res->server;
    c->tunnel = res->tunnel;
    c->implicit_tls = res->implicit_tls;
    c->sess = smtpreply_session_new(&c->lim, c->mem.fn, c->mem.ctx, c->fn, c->user,
                                    res->midstream ? SMTPREPLY_SESSION_MIDSTREAM : 0);
    if (!c->sess) {
        go_not_smtp(c); /* out of memory: nothing more can be done for it */
        return;
    }
    if (c->tls_bytes)
        smtpreply_session_set_tls_sink(c->sess, tls_raw, c);
    /* A client that opened with TLS and met a plaintext server: the
     * server's bytes go first, so the engine sees the greeting before the
     * client's record (real captures show this on port 465: the client
     * sends a ClientHello at once, the server greets in plaintext and then
     * answers the record with error replies). */
    int cli = 1 - c->server;
    bool server_first = !res->implicit_tls &&
                        detect_tls(c->side[cli].det, c->side[cli].det_len, true) == DETECT_YES;
    for (int pass = 0; pass < (server_first ? 2 : 1); pass++) {
        size_t off[2] = {0, 0};
        for (uint32_t i = 0; i < c->log_len; i++) {
            const struct conn_chunk *ch = &c->log[i];
            int e = ch->end;
            size_t start = off[e], stop = off[e] + ch->len;
            off[e] = stop;
            if (server_first && (pass == 0) != (e == c->server))
                continue;
            if (stop <= res->skip[e])
                continue;
            if (start < res->skip[e])
                start = res->skip[e];
            smtpreply_session_feed(c->sess, dir_of(c, e), c->side[e].det + start, stop - start,
                                   ch->ts_us, ch->tag);
        }
    }
    free_detect(c);
    drain(c);
}

static void decide(struct smtpreply_conn *c, bool force)
{
    struct detect_input in;
    struct detect_result res;
    memset(&in, 0, sizeof in);
    for (int e = 0; e < 2; e++) {
        in.buf[e] = c->side[e].det;
        in.len[e] = c->side[e].det_len;
        in.ended[e] = force || c->side[e].det_ended;
    }
    in.server = c->server;
    in.kind = c->kind[0] > c->kind[1] ? c->kind[0] : c->kind[1];
    in.saw_syn = c->saw_syn;
    detect_decide(&in, &res);
    if (res.state == SMTPREPLY_CONN_SMTP)
        go_smtp(c, &res);
    else if (res.state == SMTPREPLY_CONN_NOT_SMTP || force)
        go_not_smtp(c);
}

/* Keeps the first bytes of one side while undecided; false: no room. */
static bool hold(struct smtpreply_conn *c, struct conn_side *sd, const uint8_t *p, size_t len,
                 int64_t ts, uint64_t tag)
{
    uint32_t max = c->lim.max_detect;
    if (len > max - sd->det_len || c->log_len == CONN_LOG_MAX)
        return false; /* the caller takes no more than the room left */
    if (sd->det_len + len > sd->det_cap) {
        uint32_t cap = sd->det_cap ? sd->det_cap : 256;
        while (cap < sd->det_len + len)
            cap *= 2;
        if (cap > max)
            cap = max;
        uint8_t *nb = sr_mem_realloc(&c->mem, sd->det, sd->det_cap, cap);
        if (!nb)
            return false;
        sd->det = nb;
        sd->det_cap = cap;
    }
    if (c->log_len == c->log_cap) {
        uint32_t cap = c->log_cap ? c->log_cap * 2 : 4;
        struct conn_chunk *nl =
            sr_mem_realloc(&c->mem, c->log, c->log_cap * sizeof *c->log, cap * sizeof *c->log);
        if (!nl)
            return false;
        c->log = nl;
        c->log_cap = cap;
    }
    memcpy(sd->det + sd->det_len, p, len);
    sd->det_len += (uint32_t)len;
    c->log[c->log_len++] = (struct conn_chunk){(uint32_t)len, sd->end, ts, tag};
    return true;
}

/* Reassembled bytes (or a gap) of one side. */
static bool sink(void *ctx, const uint8_t *data, size_t len, uint64_t missing, int64_t ts,
                 uint64_t tag)
{
    struct conn_side *sd = ctx;
    struct smtpreply_conn *c = sd->c;
    if (c->state == SMTPREPLY_CONN_UNDECIDED) {
        if (missing) {
            /* A hole before the decision: decide on what there is. */
            sd->det_ended = true;
            decide(c, false);
            if (c->state == SMTPREPLY_CONN_UNDECIDED)
                go_not_smtp(c);
        } else {
            size_t room = c->lim.max_detect - sd->det_len;
            size_t take = len < room ? len : room;
            if (take && !hold(c, sd, data, take, ts, tag))
                take = 0;
            if (take == len) {
                bool full = sd->det_len >= c->lim.max_detect || c->log_len == CONN_LOG_MAX;
                if (full)
                    sd->det_ended = true;
                decide(c, full);
                if (c->state != SMTPREPLY_CONN_SMTP)
                    return c->state == SMTPREPLY_CONN_UNDECIDED;
                sd->data_segs++;
                return true;
            }
            /* Full: decide now; the bytes that did not fit follow. */
            sd->det_ended = true;
            decide(c, true);
            data += take;
            len -= take;
        }
    }
    if (c->state != SMTPREPLY_CONN_SMTP)
        return false;
    enum smtpreply_dir dir = dir_of(c, sd->end);
    if (missing) {
        /* Lost inside TLS: the decrypted stream has a hole before its next
         * bytes (smtpreply_conn_decrypted). */
        if (smtpreply_session_stats(c->sess)->flags & SMTPREPLY_SESSION_ENCRYPTED)
            c->tls_lost[dir == SMTPREPLY_DIR_SERVER] += missing;
        smtpreply_session_gap(c->sess, dir, missing, ts, tag);
    } else {
        sd->data_segs++;
        smtpreply_session_feed(c->sess, dir, data, len, ts, tag);
    }
    drain(c);
    return true;
}

struct smtpreply_conn *smtpreply_conn_new(const struct smtpreply_conn_config *cfg,
                                          smtpreply_realloc_fn alloc, void *alloc_ctx,
                                          smtpreply_event_fn fn, void *user)
{
    if (!alloc)
        alloc = sr_libc_realloc;
    struct sr_mem mem = {alloc, alloc_ctx, 0};
    struct smtpreply_conn *c = sr_mem_realloc(&mem, NULL, 0, sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->mem = mem;
    if (cfg) {
        c->lim = cfg->limits;
        c->kind[0] = cfg->port_kind_a;
        c->kind[1] = cfg->port_kind_b;
        c->tls_bytes = cfg->tls_bytes;
        c->tls_user = cfg->tls_user;
    } else {
        smtpreply_limits_default(&c->lim);
    }
    if (c->lim.max_detect == 0)
        c->lim.max_detect = 1;
    c->fn = fn;
    c->user = user;
    c->server = -1;
    /* A well-known port marks its endpoint as the server; SYN overrides.
     * When both ports are well known (a client bound to 465 talking to
     * 25), the ports say nothing about roles: content decides. */
    if (c->kind[0] != c->kind[1] &&
        (c->kind[0] == SMTPREPLY_PORT_OTHER || c->kind[1] == SMTPREPLY_PORT_OTHER))
        c->server = c->kind[1] > c->kind[0] ? 1 : 0;
    for (int e = 0; e < 2; e++) {
        c->side[e].c = c;
        c->side[e].end = (uint8_t)e;
        reasm_init(&c->side[e].r, c->lim.max_reasm);
    }
    c->state = SMTPREPLY_CONN_UNDECIDED;
    return c;
}

void smtpreply_conn_free(struct smtpreply_conn *c)
{
    if (!c)
        return;
    free_detect(c);
    for (int e = 0; e < 2; e++)
        reasm_free(&c->side[e].r, &c->mem);
    smtpreply_session_free(c->sess);
    if (c->dq)
        sr_mem_realloc(&c->mem, c->dq, c->dq_cap, 0);
    struct sr_mem mem = c->mem;
    sr_mem_realloc(&mem, c, sizeof *c, 0);
}

/* Every hole given up, the decision forced, the session finished. */
static void close_all(struct smtpreply_conn *c, int64_t ts, uint64_t tag)
{
    if (c->finished)
        return;
    /* Decide on what detection holds before the holes are given up: the
     * first gap would otherwise reach detection from one side alone and
     * could make a midstream session whose greeting was cut "not SMTP". */
    c->busy++;
    if (c->state == SMTPREPLY_CONN_UNDECIDED)
        decide(c, true);
    for (int e = 0; e < 2; e++) {
        struct conn_side *sd = &c->side[e];
        reasm_flush(&sd->r, &c->mem, ts, tag, sink, sd);
    }
    drain(c);
    if (c->sess)
        smtpreply_session_finish(c->sess, ts, tag);
    c->busy--;
    c->finished = true;
    free_detect(c);
    for (int e = 0; e < 2; e++)
        reasm_free(&c->side[e].r, &c->mem);
}

void smtpreply_conn_segment(struct smtpreply_conn *c, bool from_b, uint32_t seq, unsigned flags,
                            const uint8_t *payload, size_t len, int64_t ts_us, uint64_t tag)
{
    smtpreply_conn_segment_cut(c, from_b, seq, flags, payload, len, payload ? len : 0, ts_us,
                               tag);
}

static void segment_in(struct smtpreply_conn *c, bool from_b, uint32_t seq, unsigned flags,
                       const uint8_t *payload, size_t len, size_t sent, int64_t ts_us,
                       uint64_t tag);

void smtpreply_conn_segment_cut(struct smtpreply_conn *c, bool from_b, uint32_t seq,
                                unsigned flags, const uint8_t *payload, size_t len, size_t sent,
                                int64_t ts_us, uint64_t tag)
{
    if (!c)
        return;
    c->busy++;
    segment_in(c, from_b, seq, flags, payload, len, sent, ts_us, tag);
    drain(c);
    c->busy--;
}

static void segment_in(struct smtpreply_conn *c, bool from_b, uint32_t seq, unsigned flags,
                       const uint8_t *payload, size_t len, size_t sent, int64_t ts_us,
                       uint64_t tag)
{
    c->segments++;
    if (c->finished || c->state == SMTPREPLY_CONN_NOT_SMTP)
        return;
    if (!payload)
        len = 0;
    if (len)
        c->payload_seen = true;
    /* While undecided, a gap ends detection on its side, and one side
     * alone seldom decides (a client's cut command before any server byte
     * would make a midstream SMTP session "not SMTP").  So until the
     * decision a cut tail waits to show as a jump, as a lost segment does. */
    if (c->state == SMTPREPLY_CONN_UNDECIDED)
        sent = len;
    int e = from_b ? 1 : 0;
    if (flags & SMTPREPLY_TCP_SYN) {
        /* RFC 793: the SYN without ACK comes from the side that opens. */
        if (!c->saw_syn && c->state == SMTPREPLY_CONN_UNDECIDED)
            c->server = (flags & SMTPREPLY_TCP_ACK) ? e : 1 - e;
        c->saw_syn = true;
    }
    struct conn_side *sd = &c->side[e], *other = &c->side[1 - e];
    /* Server bytes while the client's are missing behind a hole and no
     * command waits for a reply: the server answers what it read, so the
     * missing bytes held a command and were lost from the capture, not
     * delayed.  The hole is given up now, before the reply, so that the
     * reply meets the commands behind it (after the patience below it
     * would have overtaken them: a 354 with no DATA, a 250 with no body). */
    if (len && c->sess && e == c->server && reasm_has_hole(&other->r) &&
        smtpreply_session_pending(c->sess) == 0) {
        reasm_flush(&other->r, &c->mem, ts_us, tag, sink, other);
        if (c->state == SMTPREPLY_CONN_NOT_SMTP)
            return;
    }
    bool had_hole = reasm_has_hole(&sd->r);
    uint64_t before = sd->data_segs;
    reasm_segment(&sd->r, &c->mem, seq, flags, payload, len, sent, ts_us, tag, sink, sd);
    if (c->state == SMTPREPLY_CONN_NOT_SMTP)
        return;
    if (!had_hole && reasm_has_hole(&sd->r))
        sd->r.hole_mark = other->data_segs;
    /* This side talked: a hole the other side has kept through several of
     * its segments was a loss, not a delay. */
    if (sd->data_segs != before && reasm_has_hole(&other->r) &&
        sd->data_segs - other->r.hole_mark >= CONN_HOLE_PATIENCE) {
        reasm_flush(&other->r, &c->mem, ts_us, tag, sink, other);
        if (c->state == SMTPREPLY_CONN_NOT_SMTP)
            return;
    }
    if (flags & (SMTPREPLY_TCP_FIN | SMTPREPLY_TCP_RST))
        c->closed = true;
    if (c->state == SMTPREPLY_CONN_UNDECIDED && reasm_complete(&sd->r) && !sd->det_ended) {
        sd->det_ended = true;
        decide(c, false);
        if (c->state == SMTPREPLY_CONN_NOT_SMTP)
            return;
    }
    /* Both FINs (or a RST): the connection is over; holes left now are
     * losses. */
    if ((flags & SMTPREPLY_TCP_RST) || (c->side[0].r.fin && c->side[1].r.fin))
        close_all(c, ts_us, tag);
}

size_t smtpreply_segment_sent(size_t kept, size_t declared, uint64_t wire_len, uint64_t cap_len)
{
    if (declared <= kept)
        return kept;
    uint64_t dropped = wire_len > cap_len ? wire_len - cap_len : 0;
    return declared - kept > dropped ? kept + (size_t)dropped : declared;
}

void smtpreply_conn_segment_frame(struct smtpreply_conn *c, bool from_b, uint32_t seq,
                                  unsigned flags, const uint8_t *payload, size_t kept,
                                  size_t declared, uint64_t wire_len, uint64_t cap_len,
                                  int64_t ts_us, uint64_t tag)
{
    if (!payload)
        kept = 0;
    smtpreply_conn_segment_cut(c, from_b, seq, flags, payload, kept,
                               smtpreply_segment_sent(kept, declared, wire_len, cap_len), ts_us,
                               tag);
}

enum smtpreply_port_kind smtpreply_port_kind_for(unsigned port, bool user_smtp)
{
    if (user_smtp)
        return SMTPREPLY_PORT_SMTP;
    switch (port) {
    case 465:
        return SMTPREPLY_PORT_IMPLICIT_TLS;
    case 25:
    case 587:
    case 2525:
        return SMTPREPLY_PORT_SMTP;
    default:
        return SMTPREPLY_PORT_OTHER;
    }
}

void smtpreply_conn_finish(struct smtpreply_conn *c, int64_t ts_us, uint64_t tag)
{
    if (!c)
        return;
    close_all(c, ts_us, tag);
}

void smtpreply_conn_stats(const struct smtpreply_conn *c, struct smtpreply_conn_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    out->state = c->state;
    out->server_is_b = c->server == 1;
    out->saw_syn = c->saw_syn;
    out->closed = c->closed;
    out->tunnel = c->tunnel;
    out->implicit_tls = c->implicit_tls;
    out->segments = c->segments;
    for (int e = 0; e < 2; e++) {
        const struct reasm *r = &c->side[e].r;
        out->retransmitted += r->retransmitted;
        out->out_of_order += r->out_of_order;
        out->overlaps += r->overlaps;
        out->gaps += r->gaps;
        out->missing_bytes += r->missing;
        out->reasm_overflow += r->overflow;
    }
    out->payload = c->payload_seen || out->missing_bytes > 0;
    out->bytes_allocated = c->mem.bytes;
    if (c->sess)
        out->bytes_allocated += smtpreply_session_stats(c->sess)->bytes_allocated;
}

const struct smtpreply_session *smtpreply_conn_session(const struct smtpreply_conn *c)
{
    return c ? c->sess : NULL;
}

/* With thousands of concurrent flows each packet's first touches of its
 * connection and session state miss the cache (perf annotate on the
 * 839 MB benchmark: most of conn_segment's and session_feed's own time
 * sits on those first loads), so a reader that looks ahead can overlap them
 * with the work on earlier packets. */
void smtpreply_conn_prefetch(const struct smtpreply_conn *c, int stage)
{
    if (c == NULL)
        return;
    if (stage == 0) {
        for (size_t off = 0; off < sizeof *c; off += 64)
            __builtin_prefetch((const char *)c + off);
    } else if (c->sess) {
        smtpreply_session_prefetch(c->sess);
    }
}
