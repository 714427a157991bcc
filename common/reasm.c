/* SPDX-License-Identifier: MIT */
/*
 * reasm.c - per-direction TCP reassembly (see reasm.h for the contract and
 * docs/tcp-and-detection.md for the policy).
 */
#include <string.h>

#include "reasm.h"

struct reasm_node {
    struct reasm_node *next;
    uint32_t seq, len;
    int64_t ts_us;
    uint64_t tag;
    uint8_t data[];
};

/* Sequence space is modulo 2^32 (RFC 793 §3.3): a is before b when the
 * signed distance is negative. */
static int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

void *sr_mem_realloc(struct sr_mem *m, void *p, size_t old, size_t size)
{
    void *r = m->fn(m->ctx, p, size);
    if (size == 0) {
        m->bytes -= old;
        return NULL;
    }
    if (r) {
        m->bytes -= old;
        m->bytes += size;
    }
    return r;
}

void reasm_init(struct reasm *r, uint32_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
}

static size_t node_charge(uint32_t len)
{
    return sizeof(struct reasm_node) + len;
}

static void node_free(struct reasm *r, struct sr_mem *m, struct reasm_node *n)
{
    size_t charge = node_charge(n->len);
    r->buffered -= (uint32_t)charge;
    sr_mem_realloc(m, n, charge, 0);
}

static struct reasm_node *pop_head(struct reasm *r)
{
    struct reasm_node *n = r->head;
    r->head = n->next;
    if (!r->head)
        r->tail = NULL;
    return n;
}

/* Hands in-order bytes on; false when the sink stopped us. */
static bool deliver(struct reasm *r, const uint8_t *p, size_t len, int64_t ts, uint64_t tag,
                    reasm_sink_fn sink, void *ctx)
{
    r->next += (uint32_t)len;
    r->delivered += len;
    if (!sink(ctx, p, len, 0, ts, tag))
        r->stopped = true;
    return !r->stopped;
}

/* Delivers buffered segments that the in-order point has reached. */
static bool drain(struct reasm *r, struct sr_mem *m, reasm_sink_fn sink, void *ctx)
{
    while (r->head && seq_diff(r->head->seq, r->next) <= 0) {
        struct reasm_node *n = pop_head(r);
        int32_t behind = seq_diff(r->next, n->seq);
        if ((uint32_t)behind >= n->len) {
            /* Everything in it came meanwhile from another copy. */
            r->retransmitted++;
            node_free(r, m, n);
            continue;
        }
        if (behind > 0)
            r->overlaps++;
        bool go =
            deliver(r, n->data + behind, n->len - (uint32_t)behind, n->ts_us, n->tag, sink, ctx);
        node_free(r, m, n);
        if (!go)
            return false;
    }
    return true;
}

/* Gives up the bytes from next to end (when end is ahead): one gap of
 * that count.  False when the sink stopped us. */
static bool gap_to(struct reasm *r, uint32_t end, int64_t ts, uint64_t tag, reasm_sink_fn sink,
                   void *ctx)
{
    if (seq_diff(end, r->next) <= 0)
        return true;
    uint32_t missing = end - r->next;
    r->gaps++;
    r->missing += missing;
    r->next = end;
    if (!sink(ctx, NULL, 0, missing, ts, tag))
        r->stopped = true;
    return !r->stopped;
}

/* Gives up the hole before the first buffered segment. */
static bool force_head(struct reasm *r, struct sr_mem *m, int64_t ts, uint64_t tag,
                       reasm_sink_fn sink, void *ctx)
{
    return gap_to(r, r->head->seq, ts, tag, sink, ctx) && drain(r, m, sink, ctx);
}

/* Gap to seq, then the segment itself, bypassing the list (too big for it). */
static bool force_direct(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len,
                         int64_t ts, uint64_t tag, reasm_sink_fn sink, void *ctx)
{
    return gap_to(r, seq, ts, tag, sink, ctx) && deliver(r, data, len, ts, tag, sink, ctx);
}

/* After a segment's kept bytes are in order: the bytes it sent but the
 * capture lost, up to end, are gaps now, around any buffered segment
 * inside that range (captured bytes win over a gap), then whatever waited
 * behind them follows.  For a whole segment (end == next) this is just the
 * drain.  Each round either reaches end or delivers a buffered segment. */
static void lose_tail(struct reasm *r, struct sr_mem *m, uint32_t end, int64_t ts, uint64_t tag,
                      reasm_sink_fn sink, void *ctx)
{
    for (;;) {
        uint32_t stop = r->head && seq_diff(r->head->seq, end) < 0 ? r->head->seq : end;
        if (!gap_to(r, stop, ts, tag, sink, ctx) || !drain(r, m, sink, ctx))
            return;
        if (stop == end || seq_diff(end, r->next) <= 0)
            return;
    }
}

/* Keeps a segment that lies ahead of a hole; false: not kept (duplicate). */
static bool insert(struct reasm *r, struct sr_mem *m, uint32_t seq, const uint8_t *data,
                   uint32_t len, int64_t ts, uint64_t tag)
{
    struct reasm_node **at = &r->head;
    if (r->tail && seq_diff(seq, r->tail->seq) > 0) {
        at = &r->tail->next;
    } else {
        while (*at && seq_diff((*at)->seq, seq) < 0) {
            at = &(*at)->next;
        }
        if (*at && (*at)->seq == seq && (*at)->len >= len) {
            r->retransmitted++;
            return false;
        }
    }
    size_t charge = node_charge(len);
    struct reasm_node *n = sr_mem_realloc(m, NULL, 0, charge);
    if (!n)
        return false;
    n->seq = seq;
    n->len = len;
    n->ts_us = ts;
    n->tag = tag;
    memcpy(n->data, data, len);
    n->next = *at;
    *at = n;
    if (!n->next)
        r->tail = n;
    r->buffered += (uint32_t)charge;
    r->out_of_order++;
    return true;
}

void reasm_segment(struct reasm *r, struct sr_mem *m, uint32_t seq, unsigned flags,
                   const uint8_t *data, size_t len, size_t sent, int64_t ts_us, uint64_t tag,
                   reasm_sink_fn sink, void *ctx)
{
    if (r->stopped)
        return;
    if (flags & SMTPREPLY_TCP_SYN) {
        if (!r->started) {
            r->next = seq + 1;
            r->started = true;
            r->syn = true;
        }
        seq += 1; /* the SYN takes one sequence number; data follows it */
    }
    /* A segment longer than the sequence space could say is not TCP. */
    if (len > 0x7fffffffu)
        len = 0x7fffffffu;
    if (sent > 0x7fffffffu)
        sent = 0x7fffffffu;
    if (sent < len)
        sent = len;
    uint32_t end = seq + (uint32_t)sent;
    if (!r->started) {
        if (sent == 0 && !(flags & SMTPREPLY_TCP_FIN))
            return; /* a bare ACK says nothing about where the data starts */
        r->next = seq;
        r->started = true;
    }
    if ((flags & SMTPREPLY_TCP_FIN) && !r->fin) {
        r->fin = true;
        r->fin_seq = end;
    }
    /* A cut segment ahead of a hole keeps only its captured bytes in the
     * list; how far it reached is remembered so a flush gives that up too. */
    if (r->cut_seen && seq_diff(r->cut_end, r->next) <= 0)
        r->cut_seen = false; /* passed: forget it before 2^31 more bytes flip its sign */
    if (sent > len && (!r->cut_seen || seq_diff(end, r->cut_end) > 0)) {
        r->cut_seen = true;
        r->cut_end = end;
    }
    if (len == 0) {
        if (sent > 0 && seq_diff(seq, r->next) <= 0) {
            if (seq_diff(end, r->next) <= 0)
                r->retransmitted++;
            else if (seq != r->next)
                r->overlaps++;
            lose_tail(r, m, end, ts_us, tag, sink, ctx);
        }
        return;
    }
again:;
    int32_t off = seq_diff(seq, r->next);
    if (off <= 0) {
        uint32_t behind = (uint32_t)(-(int64_t)off);
        /* A copy is a retransmission when all it sent is old; one whose
         * kept or lost part reaches past next overlaps. */
        if (behind >= len && seq_diff(end, r->next) <= 0)
            r->retransmitted++;
        else if (behind)
            r->overlaps++;
        if (behind < len && !deliver(r, data + behind, len - behind, ts_us, tag, sink, ctx))
            return;
        lose_tail(r, m, end, ts_us, tag, sink, ctx);
        return;
    }
    size_t charge = node_charge((uint32_t)len);
    if (r->buffered + charge <= r->max) {
        insert(r, m, seq, data, (uint32_t)len, ts_us, tag);
        return;
    }
    /* Over the cap: give up the oldest holes before this segment until it
     * fits; if it still does not (the list holds only later data, or it is
     * bigger than the cap), it is the earliest data there is: deliver it
     * past a gap and let the later segments follow. */
    r->overflow++;
    while (r->head && seq_diff(r->head->seq, seq) < 0 && r->buffered + charge > r->max)
        if (!force_head(r, m, ts_us, tag, sink, ctx))
            return;
    if (seq_diff(seq, r->next) <= 0)
        goto again;
    if (r->buffered + charge <= r->max) {
        insert(r, m, seq, data, (uint32_t)len, ts_us, tag);
        return;
    }
    if (force_direct(r, seq, data, len, ts_us, tag, sink, ctx))
        lose_tail(r, m, end, ts_us, tag, sink, ctx);
}

void reasm_flush(struct reasm *r, struct sr_mem *m, int64_t ts_us, uint64_t tag,
                 reasm_sink_fn sink, void *ctx)
{
    while (!r->stopped && r->head)
        if (!force_head(r, m, ts_us, tag, sink, ctx))
            return;
    if (!r->stopped && r->fin)
        gap_to(r, r->fin_seq, ts_us, tag, sink, ctx);
    if (!r->stopped && r->cut_seen)
        gap_to(r, r->cut_end, ts_us, tag, sink, ctx);
}

bool reasm_has_hole(const struct reasm *r)
{
    return r->head != NULL;
}

bool reasm_complete(const struct reasm *r)
{
    return r->fin && !r->head && seq_diff(r->fin_seq, r->next) <= 0;
}

void reasm_free(struct reasm *r, struct sr_mem *m)
{
    while (r->head)
        node_free(r, m, pop_head(r));
}
