/* SPDX-License-Identifier: MIT */
/*
 * flows.c - the flow table of one capture: flows keyed by their two
 * endpoints (both directions in one entry), open addressing with
 * backward-shift deletion, and two lists oldest first (open flows, and
 * closed ones waiting 5 s for late segments).  A flow ends when it has
 * closed, when idle for --idle-timeout seconds of capture time, or when
 * the table is full (the least recently seen goes first); its session is
 * then written out at once and forgotten, so memory depends on the flows
 * alive at once, not on the size of the capture.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally_int.h"

/* ------------------------------------------------------------------ */
/* memory budget                                                      */

/* The core allocates through this hook: it keeps a running total of what
 * one file's sessions and reassembly buffers hold and refuses to go past
 * --max-memory.  The core treats a refusal like a full buffer: counted,
 * and processing goes on.  Each block carries its size in front.  The
 * budget is per file, so -j N gives exactly the answers of -j 1. */
void *flow_budget_realloc(void *ctx, void *ptr, size_t size)
{
    struct mem_budget *b = ctx;
    size_t old = 0;
    unsigned char *base = ptr ? (unsigned char *)ptr - 16 : NULL;
    if (base)
        memcpy(&old, base, sizeof old);
    if (size == 0) {
        free(base);
        b->used -= old;
        return NULL;
    }
    if (size > old && b->used + (size - old) > b->limit) {
        b->refused++;
        return NULL;
    }
    unsigned char *nb = realloc(base, size + 16);
    if (nb == NULL)
        return NULL;
    memcpy(nb, &size, sizeof size);
    b->used = b->used - old + size;
    if (b->used > b->peak)
        b->peak = b->used;
    return nb + 16;
}

/* ------------------------------------------------------------------ */
/* keys and LRU lists                                                 */

uint64_t flow_hash(const struct flow_key *k)
{
    /* FNV-1a over the endpoints in a canonical order, so both directions
     * of a connection land in the same chain. */
    const uint8_t *x = k->a, *y = k->b;
    uint16_t px = k->pa, py = k->pb;
    int c = memcmp(x, y, 16);
    if (c > 0 || (c == 0 && px > py)) {
        x = k->b;
        y = k->a;
        px = k->pb;
        py = k->pa;
    }
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ x[i]) * 1099511628211ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ y[i]) * 1099511628211ULL;
    h = (h ^ px) * 1099511628211ULL;
    h = (h ^ py) * 1099511628211ULL;
    h = (h ^ k->family) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static bool key_match(const struct flow_key *f, const struct flow_key *k, bool *from_b)
{
    if (f->family != k->family)
        return false;
    if (f->pa == k->pa && f->pb == k->pb && memcmp(f->a, k->a, 16) == 0 &&
        memcmp(f->b, k->b, 16) == 0) {
        *from_b = false;
        return true;
    }
    if (f->pa == k->pb && f->pb == k->pa && memcmp(f->a, k->b, 16) == 0 &&
        memcmp(f->b, k->a, 16) == 0) {
        *from_b = true;
        return true;
    }
    return false;
}

static void list_unlink(struct flow **head, struct flow **tail, struct flow *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        *head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        *tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_append(struct flow **head, struct flow **tail, struct flow *f)
{
    f->prev = *tail;
    f->next = NULL;
    if (*tail)
        (*tail)->next = f;
    else
        *head = f;
    *tail = f;
}

static void flow_unlink(struct job *j, struct flow *f)
{
    if (f->closing)
        list_unlink(&j->close_head, &j->close_tail, f);
    else
        list_unlink(&j->open_head, &j->open_tail, f);
}

static void flow_touch(struct job *j, struct flow *f, double now)
{
    f->last_seen = now;
    if (f->closing) {
        if (j->close_tail != f) {
            list_unlink(&j->close_head, &j->close_tail, f);
            list_append(&j->close_head, &j->close_tail, f);
        }
    } else if (j->open_tail != f) {
        list_unlink(&j->open_head, &j->open_tail, f);
        list_append(&j->open_head, &j->open_tail, f);
    }
}

/* ------------------------------------------------------------------ */
/* ports                                                              */

static enum smtpreply_port_kind port_kind(const struct options *o, uint16_t port)
{
    bool listed = false;
    for (size_t i = 0; i < o->nports && !listed; i++)
        listed = o->ports[i] == port;
    return smtpreply_port_kind_for(port, listed);
}

/* ------------------------------------------------------------------ */
/* flow life                                                          */

static void free_summary(struct summary *s)
{
    if (s) {
        free(s->codes.v);
        free(s->enhanced.v);
        free(s->reasons.v);
        free(s);
    }
}

static void table_remove(struct job *j, struct flow *f)
{
    size_t mask = j->cap - 1;
    size_t i = (size_t)f->hash & mask;
    while (j->table[i] != f)
        i = (i + 1) & mask;
    j->table[i] = NULL;
    j->count--;
    /* Backward shift: pull later members of the chain into the hole. */
    size_t k = i;
    for (;;) {
        k = (k + 1) & mask;
        if (j->table[k] == NULL)
            break;
        size_t home = (size_t)j->table[k]->hash & mask;
        bool movable = (i <= k) ? (home <= i || home > k) : (home <= i && home > k);
        if (movable) {
            j->table[i] = j->table[k];
            j->table[k] = NULL;
            i = k;
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Twice the median, so an even count's mean of the middle two is exact. */
static int64_t median_x2(int64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_i64);
    return n % 2 ? 2 * v[n / 2] : v[n / 2 - 1] + v[n / 2];
}

static void flow_end(struct job *j, struct flow *f, int64_t ts_us, bool evicted)
{
    struct smtpreply_conn_stats cs;
    smtpreply_conn_finish(f->conn, ts_us, 0);
    smtpreply_conn_stats(f->conn, &cs);
    /* A flow with no data at all (SYN only, refused, a stray ACK) holds no
     * dialogue: it is counted, not listed as a session.  A flow with a
     * summary is a session (order.c has numbered it as one). */
    if (f->sum == NULL && cs.state == SMTPREPLY_CONN_SMTP && !cs.payload)
        j->fr->counters.empty++;
    else if (f->sum != NULL || (cs.state == SMTPREPLY_CONN_SMTP && flow_summary(f) != NULL)) {
        const struct smtpreply_session *ss = smtpreply_conn_session(f->conn);
        struct summary *s = f->sum;
        s->closed = cs.closed;
        s->tunnel = cs.tunnel;
        s->evicted = evicted;
        s->missing_bytes = cs.missing_bytes;
        s->reasm_overflow = cs.reasm_overflow;
        s->end_ns = f->last_ns;
        s->rt_median_x2_us = median_x2(f->rt, s->rt_n < f->rt_cap ? (size_t)s->rt_n : f->rt_cap);
        if (ss) {
            const struct smtpreply_session_stats *st = smtpreply_session_stats(ss);
            s->midstream = (st->flags & SMTPREPLY_SESSION_MIDSTREAM) != 0;
            s->gaps = (st->flags & SMTPREPLY_SESSION_GAPS) != 0 || cs.gaps > 0;
        }
        tls_flow_end(f, s);
        count_sort(&s->codes);
        count_sort(&s->enhanced);
        count_sort(&s->reasons);
        /* The JSON summary and the text report show the session's
         * number; the session CSV and --replies (no sessions) do not. */
        if (j->opt->format != FMT_CSV && !j->opt->replies && !order_ready(j, f))
            order_hold_session(j, f, s);
        else
            emit_session(j, s);
    }
    order_flow_end(j, f);
    free_summary(f->sum);
    free(f->rt);
    tls_flow_end(f, NULL);
    smtpreply_conn_free(f->conn);
    flow_unlink(j, f);
    table_remove(j, f);
    free(f);
}

void emit_session(struct job *j, const struct summary *s)
{
    if (j->direct) {
        out_session(j->direct, s, j->fr->path, NULL, 0, 0);
    } else if (j->opt->format == FMT_JSON && !j->opt->replies) {
        size_t at;
        j->render.n = 0;
        out_session_json(&j->render, s, j->fr->path, s->id, &at);
        spool_session(j->spool, s, &j->render, at);
    } else {
        spool_session(j->spool, s, NULL, 0);
    }
}

void flow_sweep(struct job *j, double now)
{
    /* Closed flows wait 5 s of capture time for late segments. */
    while (j->close_head && now - j->close_head->last_seen > 5.0)
        flow_end(j, j->close_head, (int64_t)(now * 1e6), false);
    while (j->open_head && now - j->open_head->last_seen > j->opt->idle_timeout) {
        j->fr->counters.evicted++;
        flow_end(j, j->open_head, (int64_t)(j->open_head->last_seen * 1e6), true);
    }
}

void flow_end_all(struct job *j)
{
    while (j->close_head)
        flow_end(j, j->close_head, (int64_t)(j->close_head->last_seen * 1e6), false);
    while (j->open_head)
        flow_end(j, j->open_head, (int64_t)(j->open_head->last_seen * 1e6), false);
}

/* Doubles the table (kept at most half full).  It starts small and grows
 * with the flows really alive, so a capture with few concurrent sessions
 * probes a table that stays in cache. */
static bool table_grow(struct job *j)
{
    size_t cap = j->cap * 2, mask = cap - 1;
    struct flow **t = calloc(cap, sizeof *t);
    if (t == NULL)
        return false;
    for (size_t i = 0; i < j->cap; i++) {
        struct flow *f = j->table[i];
        if (f == NULL)
            continue;
        size_t k = (size_t)f->hash & mask;
        while (t[k] != NULL)
            k = (k + 1) & mask;
        t[k] = f;
    }
    free(j->table);
    j->table = t;
    j->cap = cap;
    return true;
}

/* The slot holding the flow of key k (hash h), or the empty slot that ends
 * its chain; *from_b says which way round k is when found. */
static size_t flow_probe(const struct job *j, const struct flow_key *k, uint64_t h, bool *from_b)
{
    size_t mask = j->cap - 1;
    size_t i = (size_t)h & mask;
    while (j->table[i] != NULL &&
           !(j->table[i]->hash == h && key_match(&j->table[i]->key, k, from_b)))
        i = (i + 1) & mask;
    return i;
}

struct flow *flow_lookup(const struct job *j, const struct flow_key *k, uint64_t h)
{
    bool from_b;
    return j->table[flow_probe(j, k, h, &from_b)];
}

static struct flow *flow_get(struct job *j, const struct flow_key *k, uint64_t h, bool *from_b,
                             double now, int64_t now_ns)
{
    size_t i = flow_probe(j, k, h, from_b);
    if (j->table[i] != NULL)
        return j->table[i];
    if (j->count >= j->opt->max_flows) {
        /* Full: the least recently seen flow makes room. */
        struct flow *victim = j->close_head ? j->close_head : j->open_head;
        if (victim == NULL)
            return NULL;
        j->fr->counters.evicted++;
        flow_end(j, victim, (int64_t)(now * 1e6), true);
        return flow_get(j, k, h, from_b, now, now_ns);
    }
    if ((j->count + 1) * 2 > j->cap) {
        if (!table_grow(j))
            return NULL;
        return flow_get(j, k, h, from_b, now, now_ns);
    }
    struct flow *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.limits = j->opt->limits;
    cfg.port_kind_a = port_kind(j->opt, k->pa);
    cfg.port_kind_b = port_kind(j->opt, k->pb);
    f->tls = NULL;
    tls_flow_config(f, &cfg);
    f->conn = smtpreply_conn_new(&cfg, flow_budget_realloc, &j->mem, flow_on_event, f);
    if (f->conn == NULL) {
        free(f);
        return NULL;
    }
    f->key = *k;
    f->hash = h;
    f->job = j;
    f->start_ns = now_ns;
    order_flow_new(j, f);
    j->table[i] = f;
    j->count++;
    list_append(&j->open_head, &j->open_tail, f);
    *from_b = false;
    return f;
}

void flow_segment(struct job *j, const struct flow_key *k, uint64_t h,
                  const struct tcp_segment *seg, double now, int64_t now_ns, uint64_t n)
{
    bool from_b;
    struct flow *f = flow_get(j, k, h, &from_b, now, now_ns);
    if (f == NULL)
        return;
    flow_touch(j, f, now);
    f->last_ns = now_ns;
    smtpreply_conn_segment_frame(f->conn, from_b, seg->seq, seg->flags, seg->payload, seg->len,
                                 seg->declared, seg->wire_len, seg->cap_len, now_ns / 1000, n);
    if (seg->flags & SMTPREPLY_TCP_FIN)
        f->fin[from_b] = true;
    if (!f->closing && ((seg->flags & SMTPREPLY_TCP_RST) || (f->fin[0] && f->fin[1]))) {
        list_unlink(&j->open_head, &j->open_tail, f);
        f->closing = true;
        list_append(&j->close_head, &j->close_tail, f);
    }
}
