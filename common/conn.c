/* SPDX-License-Identifier: MIT */
/*
 * conn.c - the connection layer: raw TCP segments in (payload, raw
 * sequence number, flags), in frame order; a session engine fed with each
 * direction's bytes in sequence order.  Both faces (the CLI analyzer and
 * the Wireshark plugin) use it, so they reassemble and detect alike.
 *
 * Reassembly (RFC 9293 sequence arithmetic, modulo 2^32):
 *   - in-order bytes go straight to the session, without a copy;
 *   - bytes already delivered (retransmissions, overlaps) are dropped or
 *     trimmed and counted;
 *   - segments ahead of a hole wait in a sorted list, at most max_reasm
 *     bytes per direction.  When that is exceeded, or at the end, the hole
 *     is given up: the session is told how many bytes are missing
 *     (smtpreply_session_gap) and resynchronises.
 *
 * Detection (CONTRACTS: by port and by content):
 *   - a well-known SMTP port (or 465) makes the stream SMTP at once;
 *   - otherwise the first bytes decide: a greeting ("220 ", "220-", also
 *     421/554/521) or a client HELO/EHLO makes it SMTP, also after a SOCKS5
 *     or HTTP CONNECT handshake (the proxy is then the server); anything
 *     else is not SMTP, decided on the first few bytes so that other
 *     traffic costs almost nothing.  While undecided, bytes are kept in
 *     arrival order (both directions, at most max_detect each) so the
 *     session sees them interleaved as they came.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

/* A segment waiting ahead of a hole. */
struct ooo_seg {
    struct ooo_seg *next;
    uint32_t seq;
    uint32_t len;
    uint8_t data[];
};

struct direction {
    bool have_isn;
    bool fin;
    uint32_t fin_seq;       /* sequence number of the FIN */
    uint32_t next;          /* next sequence number expected */
    struct ooo_seg *ooo;    /* sorted by seq */
    uint32_t ooo_bytes;
    uint64_t delivered;     /* bytes delivered in order */
};

/* A chunk kept while detection is undecided. */
struct detect_chunk {
    struct detect_chunk *next;
    bool from_b;
    uint32_t len;
    int64_t ts_us;
    uint64_t tag;
    uint8_t data[];
};

struct smtpreply_conn {
    struct smtpreply_conn_config cfg;
    smtpreply_realloc_fn alloc;
    void *alloc_ctx;
    smtpreply_event_fn fn;
    void *user;

    struct direction dir[2];   /* [0] from A, [1] from B */
    struct smtpreply_conn_stats st;
    bool roles_known;          /* server_is_b decided by SYN or port */
    bool syn_from[2];
    bool rst;
    bool finished;

    /* detection */
    struct detect_chunk *dhead, *dtail;
    uint32_t dbytes[2];        /* bytes kept per side */
    uint32_t skip[2];          /* proxy handshake bytes to drop per side */
    int first_speaker;         /* -1 none yet, else 0 (A) / 1 (B) */

    struct smtpreply_session *session;
    size_t own_bytes;          /* our allocations (segments, chunks, struct) */
};

static void *libc_realloc_conn(void *ctx, void *ptr, size_t size);

/* ------------------------------------------------------------------ */

static void *conn_alloc(struct smtpreply_conn *c, size_t size)
{
    void *p = c->alloc(c->alloc_ctx, NULL, size);
    if (p)
        c->own_bytes += size;
    return p;
}

static void conn_free(struct smtpreply_conn *c, void *p, size_t size)
{
    if (p) {
        c->alloc(c->alloc_ctx, p, 0);
        c->own_bytes -= size;
    }
}

static bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* ------------------------------------------------------------------ */
/* content tests                                                      */

static char upper(uint8_t c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : (char)c;
}

enum verdict { V_MORE, V_YES, V_NO };

/* Is this the start of a greeting line (RFC 5321 §4.3.2 CONNECTION
 * ESTABLISHMENT: 220, or the refusals 421, 554, 521)? */
static enum verdict looks_like_greeting(const uint8_t *p, size_t n)
{
    static const char *const codes[] = {"220", "421", "554", "521"};
    if (n < 4)
        return V_MORE;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (memcmp(p, codes[i], 3) == 0 && (p[3] == ' ' || p[3] == '-'))
            return V_YES;
    }
    return V_NO;
}

static enum verdict looks_like_hello(const uint8_t *p, size_t n)
{
    if (n < 5)
        return V_MORE;
    char v[4] = {upper(p[0]), upper(p[1]), upper(p[2]), upper(p[3])};
    if ((memcmp(v, "EHLO", 4) == 0 || memcmp(v, "HELO", 4) == 0) && (p[4] == ' ' || p[4] == '\r' || p[4] == '\n'))
        return V_YES;
    return V_NO;
}

static bool has_prefix(const uint8_t *p, size_t n, const char *s)
{
    size_t l = strlen(s);
    return n >= l && memcmp(p, s, l) == 0;
}

/* Could a stream starting with these bytes still turn out to be SMTP
 * (greeting, HELO/EHLO, SOCKS5, HTTP CONNECT)? */
static bool could_become_smtp(const uint8_t *p, size_t n)
{
    static const char *const starts[] = {"220 ", "220-", "421 ", "421-", "554 ", "554-",
                                         "521 ", "521-", "EHLO", "HELO", "CONNECT "};
    if (n == 0 || p[0] == 0x05)
        return true;
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        size_t l = strlen(starts[i]), k = n < l ? n : l, j;
        for (j = 0; j < k; j++) {
            if (upper(p[j]) != starts[i][j])
                break;
        }
        if (j == k)
            return true;
    }
    return false;
}

/* Finds the end of an HTTP header block ("\r\n\r\n"); 0 if not yet. */
static size_t http_header_end(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return i + 4;
    }
    return 0;
}

/* Length of a SOCKS5 address (RFC 1928 §5) starting at p[0] = ATYP, plus
 * the port; 0 if incomplete, SIZE_MAX if malformed. */
static size_t socks_addr_len(const uint8_t *p, size_t n)
{
    if (n < 1)
        return 0;
    switch (p[0]) {
    case 1: return 1 + 4 + 2;
    case 4: return 1 + 16 + 2;
    case 3: return n < 2 ? 0 : (size_t)1 + 1 + p[1] + 2;
    default: return (size_t)-1;
    }
}

/* ------------------------------------------------------------------ */
/* feeding the session                                                */

static struct smtpreply_session *ensure_session(struct smtpreply_conn *c, unsigned flags)
{
    if (c->session == NULL)
        c->session = smtpreply_session_new(&c->cfg.limits, c->alloc, c->alloc_ctx, c->fn,
                                           c->user, flags);
    return c->session;
}

static void to_session(struct smtpreply_conn *c, int side, const uint8_t *p, size_t n,
                       int64_t ts, uint64_t tag)
{
    if (c->st.state != SMTPREPLY_CONN_SMTP || c->session == NULL || n == 0)
        return;
    if (c->skip[side] > 0) {
        size_t k = c->skip[side] < n ? c->skip[side] : n;
        c->skip[side] -= (uint32_t)k;
        p += k;
        n -= k;
        if (n == 0)
            return;
    }
    enum smtpreply_dir d = (side == 1) == c->st.server_is_b ? SMTPREPLY_DIR_SERVER
                                                            : SMTPREPLY_DIR_CLIENT;
    smtpreply_session_feed(c->session, d, p, n, ts, tag);
}

static void free_detect(struct smtpreply_conn *c)
{
    struct detect_chunk *ch = c->dhead;
    while (ch) {
        struct detect_chunk *nx = ch->next;
        conn_free(c, ch, sizeof *ch + ch->len);
        ch = nx;
    }
    c->dhead = c->dtail = NULL;
    c->dbytes[0] = c->dbytes[1] = 0;
}

/* Copies up to `max` bytes of one side's kept stream into buf. */
static size_t gather(const struct smtpreply_conn *c, int side, uint8_t *buf, size_t max)
{
    size_t n = 0;
    for (const struct detect_chunk *ch = c->dhead; ch && n < max; ch = ch->next) {
        if ((int)ch->from_b != side)
            continue;
        size_t k = ch->len < max - n ? ch->len : max - n;
        memcpy(buf + n, ch->data, k);
        n += k;
    }
    return n;
}

static void become_smtp(struct smtpreply_conn *c, bool server_is_b, bool greeting_seen)
{
    c->st.state = SMTPREPLY_CONN_SMTP;
    c->st.server_is_b = server_is_b;
    unsigned flags = 0;
    if (!c->st.saw_syn && !greeting_seen)
        flags |= SMTPREPLY_SESSION_MIDSTREAM;
    if (ensure_session(c, flags) == NULL) {
        c->st.state = SMTPREPLY_CONN_NOT_SMTP;
        return;
    }
    /* Replay what was kept, in arrival order. */
    for (struct detect_chunk *ch = c->dhead; ch; ch = ch->next)
        to_session(c, ch->from_b, ch->data, ch->len, ch->ts_us, ch->tag);
    free_detect(c);
}

static void become_not_smtp(struct smtpreply_conn *c)
{
    c->st.state = SMTPREPLY_CONN_NOT_SMTP;
    free_detect(c);
}

/* Tries to decide from the kept bytes.  The roles (if known from SYN or
 * port) are in c->roles_known / c->st.server_is_b. */
static void try_detect(struct smtpreply_conn *c)
{
    uint8_t buf[2][512];
    size_t n[2];
    int fs = c->first_speaker;

    n[0] = gather(c, 0, buf[0], sizeof buf[0]);
    n[1] = gather(c, 1, buf[1], sizeof buf[1]);
    if (fs < 0)
        return;

    /* Plain SMTP: a greeting from one side or HELO/EHLO from the other. */
    for (int side = 0; side < 2; side++) {
        if (looks_like_greeting(buf[side], n[side]) == V_YES &&
            !(c->roles_known && c->st.server_is_b != (side == 1))) {
            become_smtp(c, side == 1, true);
            return;
        }
        if (looks_like_hello(buf[side], n[side]) == V_YES &&
            !(c->roles_known && c->st.server_is_b == (side == 1))) {
            become_smtp(c, side == 0, false);
            return;
        }
    }

    /* Tunnels: SOCKS5 (RFC 1928) and HTTP CONNECT (RFC 9110 §9.3.6); the
     * first speaker is the client of the proxy. */
    int cl = fs, sv = 1 - fs;
    const uint8_t *cp = buf[cl], *sp = buf[sv];
    size_t cn = n[cl], sn = n[sv];
    if (cn >= 1 && cp[0] == 0x05) {
        /* client: 05 NMETHODS METHODS..., [01 ULEN U PLEN P], 05 CMD 00 ATYP ADDR PORT */
        if (cn < 2 || sn < 2)
            goto undecided;
        size_t ci = 2 + (size_t)cp[1], si = 2;
        if (sp[0] != 0x05)
            goto no;
        if (sp[1] == 0x02) { /* username/password (RFC 1929) */
            if (cn < ci + 2)
                goto undecided;
            size_t ulen = cp[ci + 1];
            if (cn < ci + 2 + ulen + 1)
                goto undecided;
            size_t plen = cp[ci + 2 + ulen];
            ci += 3 + ulen + plen;
            si += 2;
        } else if (sp[1] == 0xff) {
            goto no;
        }
        if (cn < ci + 4 || sn < si + 4)
            goto undecided;
        size_t ca = socks_addr_len(cp + ci + 3, cn - ci - 3);
        size_t sa = socks_addr_len(sp + si + 3, sn - si - 3);
        if (ca == (size_t)-1 || sa == (size_t)-1 || cp[ci] != 0x05 || sp[si] != 0x05)
            goto no;
        if (ca == 0 || sa == 0 || cn < ci + 3 + ca || sn < si + 3 + sa)
            goto undecided;
        if (sp[si + 1] != 0x00)
            goto no; /* the proxy refused */
        ci += 3 + ca;
        si += 3 + sa;
        enum verdict g = looks_like_greeting(sp + si, sn - si);
        if (g == V_MORE && sn < sizeof buf[0])
            goto undecided;
        if (g != V_YES)
            goto no;
        c->skip[cl] = (uint32_t)ci;
        c->skip[sv] = (uint32_t)si;
        c->st.tunnel = true;
        become_smtp(c, sv == 1, true);
        return;
    }
    if (has_prefix(cp, cn, "CONNECT ")) {
        size_t ce = http_header_end(cp, cn), se = http_header_end(sp, sn);
        if (ce == 0 || se == 0)
            goto undecided;
        if (!has_prefix(sp, sn, "HTTP/1.") || sn < 12 || memcmp(sp + 8, " 200", 4) != 0)
            goto no;
        enum verdict g = looks_like_greeting(sp + se, sn - se);
        if (g == V_MORE && sn < sizeof buf[0])
            goto undecided;
        if (g != V_YES)
            goto no;
        c->skip[cl] = (uint32_t)ce;
        c->skip[sv] = (uint32_t)se;
        c->st.tunnel = true;
        become_smtp(c, sv == 1, true);
        return;
    }
    /* A first speaker whose bytes can become none of the above is not
     * SMTP: decide now, so other traffic is dropped after a few bytes. */
    if (!could_become_smtp(cp, cn))
        goto no;
undecided:
    if (c->dbytes[0] >= c->cfg.limits.max_detect || c->dbytes[1] >= c->cfg.limits.max_detect)
        goto no;
    return;
no:
    become_not_smtp(c);
}

static void keep_for_detection(struct smtpreply_conn *c, int side, const uint8_t *p, size_t n,
                               int64_t ts, uint64_t tag)
{
    size_t room = c->cfg.limits.max_detect > c->dbytes[side]
                      ? c->cfg.limits.max_detect - c->dbytes[side]
                      : 0;
    size_t k = n < room ? n : room;
    if (c->first_speaker < 0)
        c->first_speaker = side;
    if (k > 0) {
        struct detect_chunk *ch = conn_alloc(c, sizeof *ch + k);
        if (ch == NULL) {
            become_not_smtp(c);
            return;
        }
        ch->next = NULL;
        ch->from_b = side == 1;
        ch->len = (uint32_t)k;
        ch->ts_us = ts;
        ch->tag = tag;
        memcpy(ch->data, p, k);
        if (c->dtail)
            c->dtail->next = ch;
        else
            c->dhead = ch;
        c->dtail = ch;
        c->dbytes[side] += (uint32_t)k;
    }
    try_detect(c);
}

/* In-order bytes of one side, from the reassembler. */
static void deliver(struct smtpreply_conn *c, int side, const uint8_t *p, size_t n, int64_t ts,
                    uint64_t tag)
{
    c->dir[side].delivered += n;
    switch (c->st.state) {
    case SMTPREPLY_CONN_SMTP:
        to_session(c, side, p, n, ts, tag);
        break;
    case SMTPREPLY_CONN_UNDECIDED:
        keep_for_detection(c, side, p, n, ts, tag);
        break;
    case SMTPREPLY_CONN_NOT_SMTP:
        break;
    }
}

static void deliver_gap(struct smtpreply_conn *c, int side, uint64_t missing, int64_t ts,
                        uint64_t tag)
{
    c->st.gaps++;
    c->st.missing_bytes += missing;
    if (c->st.state == SMTPREPLY_CONN_SMTP && c->session) {
        enum smtpreply_dir d = (side == 1) == c->st.server_is_b ? SMTPREPLY_DIR_SERVER
                                                                : SMTPREPLY_DIR_CLIENT;
        if (c->skip[side] == 0)
            smtpreply_session_gap(c->session, d, missing, ts, tag);
    } else if (c->st.state == SMTPREPLY_CONN_UNDECIDED) {
        /* A hole in the first bytes: detection cannot trust them. */
        become_not_smtp(c);
    }
}

/* ------------------------------------------------------------------ */
/* reassembly                                                         */

/* Delivers buffered segments that the advancing `next` has reached. */
static void drain(struct smtpreply_conn *c, int side, int64_t ts, uint64_t tag)
{
    struct direction *d = &c->dir[side];
    while (d->ooo && !seq_lt(d->next, d->ooo->seq)) {
        struct ooo_seg *s = d->ooo;
        d->ooo = s->next;
        d->ooo_bytes -= s->len;
        uint32_t behind = d->next - s->seq;
        if (behind < s->len) {
            if (behind > 0)
                c->st.overlaps++;
            d->next += s->len - behind;
            deliver(c, side, s->data + behind, s->len - behind, ts, tag);
        } else {
            c->st.retransmitted++;
        }
        conn_free(c, s, sizeof *s + s->len);
    }
}

/* Gives up on the hole before the first buffered segment. */
static void skip_hole(struct smtpreply_conn *c, int side, int64_t ts, uint64_t tag)
{
    struct direction *d = &c->dir[side];
    if (d->ooo == NULL)
        return;
    uint32_t missing = d->ooo->seq - d->next;
    d->next = d->ooo->seq;
    deliver_gap(c, side, missing, ts, tag);
    drain(c, side, ts, tag);
}

static void buffer_segment(struct smtpreply_conn *c, int side, uint32_t seq, const uint8_t *p,
                           size_t n, int64_t ts, uint64_t tag)
{
    struct direction *d = &c->dir[side];
    struct ooo_seg **pp = &d->ooo;

    while (*pp && seq_lt((*pp)->seq, seq))
        pp = &(*pp)->next;
    if (*pp && (*pp)->seq == seq && (*pp)->len >= n) {
        c->st.retransmitted++;
        return;
    }
    struct ooo_seg *s = conn_alloc(c, sizeof *s + n);
    if (s == NULL) {
        c->st.reasm_overflow++;
        return;
    }
    s->seq = seq;
    s->len = (uint32_t)n;
    memcpy(s->data, p, n);
    s->next = *pp;
    *pp = s;
    d->ooo_bytes += (uint32_t)n;
    c->st.out_of_order++;
    /* Over the cap: stop waiting for the oldest hole. */
    while (d->ooo_bytes > c->cfg.limits.max_reasm && d->ooo) {
        c->st.reasm_overflow++;
        skip_hole(c, side, ts, tag);
    }
}

/* ------------------------------------------------------------------ */
/* public API                                                         */

struct smtpreply_conn *smtpreply_conn_new(const struct smtpreply_conn_config *cfg,
                                          smtpreply_realloc_fn alloc, void *alloc_ctx,
                                          smtpreply_event_fn fn, void *user)
{
    if (alloc == NULL)
        alloc = libc_realloc_conn;
    struct smtpreply_conn *c = alloc(alloc_ctx, NULL, sizeof *c);
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof *c);
    if (cfg) {
        c->cfg = *cfg;
    } else {
        smtpreply_limits_default(&c->cfg.limits);
    }
    if (c->cfg.limits.max_detect < 64)
        c->cfg.limits.max_detect = 64;
    c->alloc = alloc;
    c->alloc_ctx = alloc_ctx;
    c->fn = fn;
    c->user = user;
    c->own_bytes = sizeof *c;
    c->first_speaker = -1;
    /* A well-known port names the server. */
    if (c->cfg.port_kind_b != SMTPREPLY_PORT_OTHER) {
        c->roles_known = true;
        c->st.server_is_b = true;
    } else if (c->cfg.port_kind_a != SMTPREPLY_PORT_OTHER) {
        c->roles_known = true;
        c->st.server_is_b = false;
    }
    return c;
}

void smtpreply_conn_free(struct smtpreply_conn *c)
{
    if (c == NULL)
        return;
    for (int side = 0; side < 2; side++) {
        struct ooo_seg *s = c->dir[side].ooo;
        while (s) {
            struct ooo_seg *nx = s->next;
            conn_free(c, s, sizeof *s + s->len);
            s = nx;
        }
    }
    free_detect(c);
    smtpreply_session_free(c->session);
    c->alloc(c->alloc_ctx, c, 0);
}

void smtpreply_conn_segment(struct smtpreply_conn *c, bool from_b, uint32_t seq,
                            unsigned flags, const uint8_t *payload, size_t len,
                            int64_t ts_us, uint64_t tag)
{
    int side = from_b ? 1 : 0;
    struct direction *d;

    if (c == NULL || c->finished)
        return;
    d = &c->dir[side];
    c->st.segments++;

    if (flags & SMTPREPLY_TCP_SYN) {
        if (!(flags & SMTPREPLY_TCP_ACK)) {
            /* The SYN sender is the client: this beats any port guess. */
            c->syn_from[side] = true;
            c->roles_known = true;
            c->st.server_is_b = !from_b;
        }
        c->st.saw_syn = true;
        if (!d->have_isn || d->delivered == 0) {
            d->have_isn = true;
            d->next = seq + 1;
        }
        seq += 1; /* SYN occupies one sequence number */
    }
    if (flags & SMTPREPLY_TCP_RST) {
        c->rst = true;
        c->st.closed = true;
    }

    /* Decide at once on well-known ports, before the first byte. */
    if (c->st.state == SMTPREPLY_CONN_UNDECIDED && c->roles_known &&
        (c->cfg.port_kind_a != SMTPREPLY_PORT_OTHER || c->cfg.port_kind_b != SMTPREPLY_PORT_OTHER)) {
        enum smtpreply_port_kind server_kind =
            c->st.server_is_b ? c->cfg.port_kind_b : c->cfg.port_kind_a;
        if (server_kind != SMTPREPLY_PORT_OTHER) {
            if (len == 0 && !c->st.saw_syn)
                return; /* wait: the first data tells midstream from greeting */
            /* A midstream capture whose first server bytes are a greeting
             * is not midstream. */
            bool greeting = false;
            if (!c->st.saw_syn && len > 0 && from_b == c->st.server_is_b)
                greeting = looks_like_greeting(payload, len) == V_YES;
            c->st.state = SMTPREPLY_CONN_SMTP;
            unsigned sflags = (!c->st.saw_syn && !greeting) ? SMTPREPLY_SESSION_MIDSTREAM : 0;
            if (ensure_session(c, sflags) == NULL)
                c->st.state = SMTPREPLY_CONN_NOT_SMTP;
            c->st.implicit_tls = server_kind == SMTPREPLY_PORT_IMPLICIT_TLS;
        }
    }
    if (c->st.state == SMTPREPLY_CONN_NOT_SMTP)
        goto closing;

    if (len > 0) {
        if (!d->have_isn) {
            d->have_isn = true;
            d->next = seq;
        }
        int32_t rel = (int32_t)(seq - d->next);
        if (rel < 0) {
            uint32_t behind = (uint32_t)(-(int64_t)rel);
            if (behind >= len) {
                c->st.retransmitted++;
                goto closing;
            }
            c->st.overlaps++;
            payload += behind;
            len -= behind;
            seq += behind;
            rel = 0;
        }
        if (rel == 0) {
            d->next += (uint32_t)len;
            deliver(c, side, payload, len, ts_us, tag);
            drain(c, side, ts_us, tag);
        } else {
            buffer_segment(c, side, seq, payload, len, ts_us, tag);
        }
    }

closing:
    if ((flags & SMTPREPLY_TCP_FIN) && d->have_isn) {
        d->fin = true;
        d->fin_seq = seq + (uint32_t)len;
        c->st.closed = true;
    }
    /* Both sides done (or reset) with every byte before each FIN in hand:
     * the session ends.  A segment still missing before a FIN may yet
     * arrive (reordering), so then the caller's finish decides. */
    if (c->rst || (c->dir[0].fin && c->dir[1].fin && c->dir[0].ooo == NULL &&
                   c->dir[1].ooo == NULL && !seq_lt(c->dir[0].next, c->dir[0].fin_seq) &&
                   !seq_lt(c->dir[1].next, c->dir[1].fin_seq)))
        smtpreply_conn_finish(c, ts_us, tag);
}

void smtpreply_conn_finish(struct smtpreply_conn *c, int64_t ts_us, uint64_t tag)
{
    if (c == NULL || c->finished)
        return;
    for (int side = 0; side < 2; side++) {
        while (c->dir[side].ooo)
            skip_hole(c, side, ts_us, tag);
    }
    if (c->st.state == SMTPREPLY_CONN_UNDECIDED) {
        /* Undecided at the end: a lone HELO/greeting shorter than the
         * test needs, or nothing at all.  Not SMTP. */
        become_not_smtp(c);
    }
    if (c->session)
        smtpreply_session_finish(c->session, ts_us, tag);
    c->finished = true;
}

void smtpreply_conn_stats(const struct smtpreply_conn *c, struct smtpreply_conn_stats *out)
{
    *out = c->st;
    out->bytes_allocated = c->own_bytes;
    if (c->session)
        out->bytes_allocated += smtpreply_session_stats(c->session)->bytes_allocated;
}

const struct smtpreply_session *smtpreply_conn_session(const struct smtpreply_conn *c)
{
    return c->st.state == SMTPREPLY_CONN_SMTP ? c->session : NULL;
}

static void *libc_realloc_conn(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}
