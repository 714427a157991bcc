/* SPDX-License-Identifier: MIT */
/*
 * reasm.h - one direction of a TCP stream put back in order (internal to
 * the connection layer; see docs/tcp-and-detection.md).
 *
 * Fed segments (raw sequence number, flags, payload) in capture order, it
 * hands in-order bytes to a sink at once, without copying, and keeps
 * segments that arrive ahead of a hole in a sorted list.  The list is
 * charged with its payload plus node headers, capped at `max` bytes: when
 * a new segment would exceed the cap, the oldest hole is given up (the
 * sink gets a gap with the missing byte count) and the buffered bytes
 * after it are delivered.  Sequence numbers compare modulo 2^32.
 */
#ifndef SMTPREPLY_REASM_H
#define SMTPREPLY_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpreply.h"

/* The caller's realloc hook and a running count of what it holds. */
struct sr_mem {
    smtpreply_realloc_fn fn;
    void *ctx;
    size_t bytes;
};
/* realloc through the hook, counted: size 0 frees (returns NULL). */
void *sr_mem_realloc(struct sr_mem *m, void *p, size_t old, size_t size);

/* Receives reassembled bytes: data (len > 0, missing == 0) or a gap
 * (data NULL, len 0, missing > 0).  Returns false to stop delivery at
 * once (the stream is no longer wanted; the caller frees the reassembler). */
typedef bool (*reasm_sink_fn)(void *ctx, const uint8_t *data, size_t len, uint64_t missing,
                              int64_t ts_us, uint64_t tag);

struct reasm_node;

struct reasm {
    struct reasm_node *head, *tail; /* buffered segments, sorted by seq */
    uint32_t next;                  /* sequence number of the next byte to deliver */
    uint32_t fin_seq;               /* sequence number of the FIN (valid when fin) */
    uint32_t buffered;              /* bytes charged to the list (payload + nodes) */
    uint32_t max;                   /* cap on buffered */
    bool started;                   /* next is known (from SYN or first data) */
    bool syn;                       /* started from a SYN */
    bool fin;
    bool stopped;       /* the sink asked to stop: ignore everything */
    bool cut_seen;      /* cut_end is valid */
    uint32_t cut_end;   /* furthest end of a cut segment's sent bytes */
    uint64_t hole_mark; /* caller's clock when the first hole opened */
    /* Counters. */
    uint64_t delivered;     /* bytes handed to the sink */
    uint64_t retransmitted; /* segments wholly before next (or duplicates) */
    uint64_t overlaps;      /* segments partly before next, trimmed */
    uint64_t out_of_order;  /* segments buffered ahead of a hole */
    uint64_t gaps;          /* holes given up */
    uint64_t missing;       /* bytes in those holes */
    uint64_t overflow;      /* segments that forced a hole by the cap */
};

void reasm_init(struct reasm *r, uint32_t max);
/* One segment.  flags: SMTPREPLY_TCP_*.  Data on a SYN starts at seq + 1.
 * sent: the payload length the headers declare; more than len when the
 * capture kept only the first len bytes (a snaplen cut).  The rest is then
 * known lost, not late: once the kept part is in order, it is a gap at
 * once, and a FIN on the segment sits after all sent bytes.  (A cut
 * segment that arrives ahead of a hole is buffered with its kept bytes
 * only; its lost tail shows when that hole is given up.) */
void reasm_segment(struct reasm *r, struct sr_mem *m, uint32_t seq, unsigned flags,
                   const uint8_t *data, size_t len, size_t sent, int64_t ts_us, uint64_t tag,
                   reasm_sink_fn sink, void *ctx);
/* Give up every hole: gap + buffered data until the list is empty, then a
 * gap for bytes known lost before a FIN (the FIN's sequence number says
 * how many the sender had sent) or before the end of the furthest cut
 * segment (its headers say how many it sent). */
void reasm_flush(struct reasm *r, struct sr_mem *m, int64_t ts_us, uint64_t tag,
                 reasm_sink_fn sink, void *ctx);
/* True when segments wait behind a hole. */
bool reasm_has_hole(const struct reasm *r);
/* True after a FIN once every byte up to it was delivered. */
bool reasm_complete(const struct reasm *r);
/* Frees the buffered segments (counters stay). */
void reasm_free(struct reasm *r, struct sr_mem *m);

#endif
