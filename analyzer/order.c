/* SPDX-License-Identifier: MIT */
/*
 * order.c - session numbers in the order of each flow's first packet.
 *
 * A flow takes a place in line (ord) at its first packet, but becomes a
 * session only when the core recognises SMTP in it (which can come much
 * later) and may never become one.  Its number is the count of sessions
 * among the flows before it, so it is known once every earlier flow is
 * decided: a session, or ended without being one.  The places from the
 * oldest undecided flow on are kept in a ring; numbering walks it in order
 * as flows are decided.
 *
 * What shows a number (a --replies line, a session of the JSON summary)
 * and is ready before its number is known waits in a queue, as do the
 * items after it, so the output keeps the order in which it was made.  The
 * queue holds up to 1/16 of --max-memory in memory and the rest in a
 * temporary file; the ring holds 24 bytes per flow opened since the oldest
 * flow still undecided or still waited for.  At the end of a file every
 * flow is decided and the queue empties.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally_int.h"

enum { ORD_OPEN, ORD_LISTED, ORD_UNLISTED };

struct ord_slot {
    struct flow *flow; /* the live flow, until it ends */
    uint64_t id;       /* its session number, once numbered */
    uint32_t held;     /* queued items that wait for this number */
    uint8_t state;
};

/* A queued item: its header, then len bytes.  key is the flow's place
 * (known false) or its number (known true). */
struct held_hdr {
    uint64_t key;
    uint32_t len, at;
    uint8_t type, known;
};
enum { HELD_LINE = 'L', HELD_SESSION = 'S' };

static struct ord_slot *slot(const struct numbering *nb, uint64_t ord)
{
    return &nb->v[ord & (nb->cap - 1)];
}

void order_flow_new(struct job *j, struct flow *f)
{
    struct numbering *nb = &j->num;
    if (nb->next - nb->base == nb->cap) {
        size_t cap = nb->cap ? nb->cap * 2 : 1024;
        struct ord_slot *v = malloc(cap * sizeof *v);
        if (v == NULL) {
            /* No place in line: numbered at once, as recognised. */
            f->ord = UINT64_MAX;
            return;
        }
        for (uint64_t o = nb->base; o < nb->next; o++)
            v[o & (cap - 1)] = *slot(nb, o);
        free(nb->v);
        nb->v = v;
        nb->cap = cap;
    }
    f->ord = nb->next++;
    *slot(nb, f->ord) = (struct ord_slot){.flow = f, .state = ORD_OPEN};
}

/* ------------------------------------------------------------------ */
/* the queue                                                          */

static bool hold_empty(const struct numbering *nb)
{
    return nb->head == nb->q.n && nb->spill_rd == nb->spill_wr;
}

/* Writes one item out now that its number is known. */
static void release(struct job *j, const struct held_hdr *h, char *p, uint64_t id)
{
    if (h->type == HELD_LINE) {
        emit_line(j, p, h->len, h->at, id);
        return;
    }
    struct summary s;
    memcpy(&s, p, sizeof s);
    size_t off = sizeof s;
    struct count_list *lists[] = {&s.codes, &s.enhanced, &s.reasons};
    for (size_t i = 0; i < 3; i++) {
        lists[i]->v = (struct count_entry *)(void *)(p + off);
        lists[i]->cap = lists[i]->n;
        off += lists[i]->n * sizeof *lists[i]->v;
    }
    s.id = id;
    emit_session(j, &s);
}

/* The number of the queued item h, if known by now. */
static bool held_number(struct numbering *nb, const struct held_hdr *h, uint64_t *id)
{
    if (h->known) {
        *id = h->key;
        return true;
    }
    if (h->key >= nb->wm)
        return false;
    struct ord_slot *sl = slot(nb, h->key);
    sl->held--;
    *id = sl->id;
    return true;
}

/* Writes out the queue's items, oldest first, up to one still waiting. */
static void hold_drain(struct job *j)
{
    struct numbering *nb = &j->num;
    struct held_hdr h;
    uint64_t id;
    while (nb->head < nb->q.n) {
        memcpy(&h, nb->q.p + nb->head, sizeof h);
        if (!held_number(nb, &h, &id))
            return;
        /* Items are kept 8-byte aligned for the summaries in them. */
        release(j, &h, nb->q.p + nb->head + sizeof h, id);
        nb->head += sizeof h + ((h.len + 7u) & ~(size_t)7);
    }
    nb->head = nb->q.n = 0;
    while (nb->spill_rd < nb->spill_wr) {
        if (fseeko(nb->spill, (off_t)nb->spill_rd, SEEK_SET) != 0 ||
            fread(&h, sizeof h, 1, nb->spill) != 1)
            goto lost;
        if (!held_number(nb, &h, &id))
            return;
        if (!sb_reserve(&nb->item, h.len) || fread(nb->item.p, 1, h.len, nb->spill) != h.len)
            goto lost;
        release(j, &h, nb->item.p, id);
        nb->spill_rd += sizeof h + h.len;
    }
    nb->spill_rd = nb->spill_wr = 0;
    return;
lost:
    job_problem(j, "results lost: the temporary file of held output could not be read back",
                true);
    nb->spill_rd = nb->spill_wr = 0;
}

/* Queues an item of type for flow f: parts[0..n) are its bytes. */
static void hold(struct job *j, const struct flow *f, uint8_t type, size_t at,
                 const void *const *parts, const size_t *lens, size_t n)
{
    struct numbering *nb = &j->num;
    struct held_hdr h = {.type = type, .at = (uint32_t)at};
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += lens[i];
    h.len = (uint32_t)len;
    if (f->numbered) {
        h.known = 1;
        h.key = f->sum->id;
    } else {
        h.key = f->ord;
        slot(nb, f->ord)->held++;
    }
    size_t need = sizeof h + ((len + 7u) & ~(size_t)7);
    if (nb->head > 0 &&
        (nb->head >= nb->q.n - nb->head || nb->q.n + need > j->opt->max_memory / 16)) {
        /* Room freed at the front: move what still waits down to it once
         * it is no more than what was written out (amortised: each byte
         * moves at most once per byte written before it). */
        memmove(nb->q.p, nb->q.p + nb->head, nb->q.n - nb->head);
        nb->q.n -= nb->head;
        nb->head = 0;
    }
    if (nb->spill_wr == nb->spill_rd && nb->q.n + need <= j->opt->max_memory / 16 &&
        sb_reserve(&nb->q, need)) {
        memcpy(nb->q.p + nb->q.n, &h, sizeof h);
        size_t off = nb->q.n + sizeof h;
        for (size_t i = 0; i < n; i++) {
            if (lens[i]) /* an empty list has no array */
                memcpy(nb->q.p + off, parts[i], lens[i]);
            off += lens[i];
        }
        nb->q.n += need;
        return;
    }
    if (nb->spill == NULL && (nb->spill = tmpfile()) == NULL) {
        char msg[160];
        snprintf(msg, sizeof msg, "results lost: no temporary file for held output (%s)",
                 strerror(errno));
        job_problem(j, msg, true);
        return;
    }
    bool ok = fseeko(nb->spill, (off_t)nb->spill_wr, SEEK_SET) == 0 &&
              fwrite(&h, sizeof h, 1, nb->spill) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = lens[i] == 0 || fwrite(parts[i], 1, lens[i], nb->spill) == lens[i];
    if (!ok) {
        job_problem(j, "results lost: cannot write held output to a temporary file", true);
        return;
    }
    nb->spill_wr += sizeof h + len;
}

bool order_ready(const struct job *j, const struct flow *f)
{
    return f->numbered && hold_empty(&j->num);
}

void order_hold_line(struct job *j, const struct flow *f, const char *p, size_t n, size_t at)
{
    const void *parts[] = {p};
    size_t lens[] = {n};
    hold(j, f, HELD_LINE, at, parts, lens, 1);
}

void order_hold_session(struct job *j, const struct flow *f, const struct summary *s)
{
    const void *parts[] = {s, s->codes.v, s->enhanced.v, s->reasons.v};
    size_t lens[] = {sizeof *s, s->codes.n * sizeof *s->codes.v,
                     s->enhanced.n * sizeof *s->enhanced.v, s->reasons.n * sizeof *s->reasons.v};
    hold(j, f, HELD_SESSION, 0, parts, lens, 4);
}

/* ------------------------------------------------------------------ */
/* numbering                                                          */

/* Numbers the decided flows at the front of the line, writes out what
 * waited for them, and forgets the places no longer needed. */
static void advance(struct job *j)
{
    struct numbering *nb = &j->num;
    bool moved = false;
    while (nb->wm < nb->next && slot(nb, nb->wm)->state != ORD_OPEN) {
        struct ord_slot *sl = slot(nb, nb->wm++);
        moved = true;
        if (sl->state != ORD_LISTED)
            continue;
        sl->id = j->next_id++;
        if (sl->flow) {
            sl->flow->numbered = true;
            sl->flow->sum->id = sl->id;
        }
    }
    if (moved && !hold_empty(nb))
        hold_drain(j);
    while (nb->base < nb->wm && slot(nb, nb->base)->held == 0) {
        struct ord_slot *sl = slot(nb, nb->base++);
        if (sl->flow)
            sl->flow->ord = UINT64_MAX; /* its place is gone; it is numbered */
    }
}

void order_flow_listed(struct job *j, struct flow *f)
{
    if (f->ord == UINT64_MAX) {
        f->sum->id = j->next_id++;
        f->numbered = true;
        return;
    }
    slot(&j->num, f->ord)->state = ORD_LISTED;
    advance(j);
}

void order_flow_end(struct job *j, struct flow *f)
{
    if (f->ord == UINT64_MAX)
        return;
    struct ord_slot *sl = slot(&j->num, f->ord);
    sl->flow = NULL;
    if (sl->state == ORD_OPEN) {
        sl->state = ORD_UNLISTED;
        advance(j);
    }
}

void order_finish(struct job *j)
{
    struct numbering *nb = &j->num;
    if (!hold_empty(nb))
        hold_drain(j);
    if (nb->spill)
        fclose(nb->spill);
    free(nb->v);
    free(nb->q.p);
    free(nb->item.p);
    memset(nb, 0, sizeof *nb);
}
