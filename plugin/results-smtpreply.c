/* SPDX-License-Identifier: MIT */
/*
 * results-smtpreply.c - what the core's events leave for every pass to
 * show: per-frame results (replies, commands, anomalies) kept for the
 * whole file, request/response links, and the allocation hook the core
 * uses.
 * The dissector (packet-smtpreply.c) feeds the core on the first pass and
 * renders these results on every pass.  What is kept lives in the
 * plugin's arena (below), released when the file is closed.
 */
/* mmap(MAP_ANONYMOUS) and madvise under -std=c11 (glibc). */
#define _DEFAULT_SOURCE 1
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/to_str.h>

#include "smtpreply.h"
#include "smtpreply-plugin.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#ifdef MAP_ANONYMOUS
#define SR_ARENA_MMAP 1
#endif
#endif

/* ---- the arena: what is kept for the whole file ----------------------- */

#define ARENA_PIECE ((size_t)2 << 20) /* one huge page on x86-64 and arm64 */

struct arena_piece {
    struct arena_piece *next;
    size_t size;
};

static struct arena_piece *arena_pieces; /* newest first */
static char *arena_next, *arena_end;

/* A zeroed piece of at least size bytes; its first bytes hold its
 * header. */
static struct arena_piece *
arena_piece_new(size_t size)
{
    struct arena_piece *pc;

#ifdef SR_ARENA_MMAP
    /* Aligned on its size, so that the kernel can back it with one huge
     * page (MADV_HUGEPAGE asks it to); without the advice, or where the
     * system refuses it, it is plain 4 KiB pages. */
    size_t len = size + ARENA_PIECE;
    char *map = (char *)mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *start;

    if (map == MAP_FAILED)
        g_error("smtpreply: out of memory (%zu bytes)", len);
    /* Mapped one piece too long, then trimmed to the aligned part. */
    start = (char *)(((guintptr)map + ARENA_PIECE - 1) & ~(guintptr)(ARENA_PIECE - 1));
    if (start > map)
        munmap(map, (size_t)(start - map));
    if (map + len > start + size)
        munmap(start + size, (size_t)(map + len - (start + size)));
#ifdef MADV_HUGEPAGE
    (void)madvise(start, size, MADV_HUGEPAGE);
#endif
    pc = (struct arena_piece *)(void *)start;
#else
    pc = (struct arena_piece *)g_malloc0(size);
#endif
    pc->size = size;
    pc->next = arena_pieces;
    arena_pieces = pc;
    return pc;
}

void *
sr_arena_alloc(size_t size)
{
    const size_t head = (sizeof(struct arena_piece) + 7) & ~(size_t)7;
    char *p;

    if (size == 0)
        size = 8; /* a distinct pointer, as malloc(0) may give */
    if (size > G_MAXSIZE / 2)
        g_error("smtpreply: out of memory (%zu bytes)", size);
    size = (size + 7) & ~(size_t)7;
    if (size > (size_t)(arena_end - arena_next)) {
        /* Records are small (a reply's text is at most 48 KiB): a larger
         * one gets a piece of its own, and the current piece is kept. */
        if (size > ARENA_PIECE / 4) {
            size_t whole = (head + size + ARENA_PIECE - 1) & ~(ARENA_PIECE - 1);
            return (char *)arena_piece_new(whole) + head;
        }
        arena_next = (char *)arena_piece_new(ARENA_PIECE) + head;
        arena_end = arena_next + (ARENA_PIECE - head);
    }
    p = arena_next;
    arena_next += size;
    return p;
}

char *
sr_arena_strndup(const char *s, size_t len)
{
    char *out = (char *)sr_arena_alloc(len + 1);

    memcpy(out, s, len);
    return out; /* zeroed: out[len] is the terminator */
}

static void
arena_release(void)
{
    while (arena_pieces) {
        struct arena_piece *pc = arena_pieces;
        arena_pieces = pc->next;
#ifdef SR_ARENA_MMAP
        munmap(pc, pc->size);
#else
        g_free(pc);
#endif
    }
    arena_next = arena_end = NULL;
}

void *
sr_vec_push(struct sr_vec **vp, size_t size)
{
    struct sr_vec *v = *vp;

    if (!v || v->n == v->cap) {
        guint32 cap = v ? v->cap * 2 : 1;
        struct sr_vec *nv;
        /* 2^31 records, or more bytes than a size_t holds: no list gets
         * there from a capture, but the arithmetic must not wrap. */
        if (cap == 0 || cap > (G_MAXSIZE - sizeof *nv) / size)
            g_error("smtpreply: a list of %u records is too long", v ? v->n : 0u);
        nv = (struct sr_vec *)sr_arena_alloc(sizeof *nv + (size_t)cap * size);
        if (v)
            memcpy(nv + 1, v + 1, (size_t)v->n * size);
        nv->n = v ? v->n : 0;
        nv->cap = cap;
        *vp = v = nv;
    }
    return (char *)(v + 1) + (size_t)v->n++ * size;
}

/* ---- per-frame results ------------------------------------------------- */

/* Frame number -> struct sr_frame, in blocks of FRAME_BLOCK pointers in the
 * arena (dense numbers: no hashing, no copying as the file grows; most
 * frames produce nothing).  Not p_add_proto_data, because a reply must
 * also update its command's frame (response_in). */
#define FRAME_BLOCK 4096u
static GPtrArray *frame_blocks;

struct sr_frame *
sr_frame_result(guint32 frame, gboolean create)
{
    guint b = frame / FRAME_BLOCK;
    struct sr_frame **block;

    if (!frame_blocks)
        return NULL;
    if (b >= frame_blocks->len) {
        if (!create)
            return NULL;
        g_ptr_array_set_size(frame_blocks, b + 1);
    }
    block = (struct sr_frame **)g_ptr_array_index(frame_blocks, b);
    if (!block) {
        if (!create)
            return NULL;
        block = (struct sr_frame **)sr_arena_alloc(FRAME_BLOCK * sizeof *block);
        g_ptr_array_index(frame_blocks, b) = block;
    }
    if (!block[frame % FRAME_BLOCK] && create)
        block[frame % FRAME_BLOCK] = (struct sr_frame *)sr_arena_alloc(sizeof(struct sr_frame));
    return block[frame % FRAME_BLOCK];
}

static struct sr_request *
find_request(guint32 frame, guint64 seq)
{
    struct sr_frame *fr = sr_frame_result(frame, FALSE);
    guint i, n;

    if (!fr)
        return NULL;
    n = SR_VEC_LEN(fr->requests);
    for (i = 0; i < n; i++) {
        struct sr_request *rq = SR_VEC_AT(fr->requests, struct sr_request, i);
        if (rq->seq == seq)
            return rq;
    }
    return NULL;
}

static struct sr_request *
add_request(guint32 frame, guint64 seq, const char *verb)
{
    struct sr_frame *fr = sr_frame_result(frame, TRUE);
    struct sr_request *r = (struct sr_request *)sr_vec_push(&fr->requests, sizeof *r);

    r->seq = seq;
    g_strlcpy(r->verb, verb ? verb : "", sizeof r->verb);
    return r;
}

/* The request a reply or an "unanswered" report names.  Commands without a
 * COMMAND event of their own (the end of DATA's body: the final dot) get
 * one here, on the frame that completed them, named by the pseudo-command
 * ("DATA-END"). */
static struct sr_request *
request_for(const struct smtpreply_cmd_ref *ref)
{
    struct sr_request *rq = find_request((guint32)ref->tag, ref->seq);

    if (!rq)
        rq = add_request((guint32)ref->tag, ref->seq, smtpreply_cmd_verb(ref->cmd));
    return rq;
}

static void
copy_verb(char dst[16], const struct smtpreply_cmd_ref *ref)
{
    const char *v = ref->verb[0] ? ref->verb : smtpreply_cmd_verb(ref->cmd);
    g_strlcpy(dst, v ? v : "", 16);
}

/* The core's event callback: record what happened, where it will be shown.
 * Commands belong to the frame that completed their line (cmd.tag); replies
 * and free anomalies to the frame being fed, so each is shown and tapped
 * exactly once, in single pass too. */
/* "addr:port" of the connection's server, as the CLI writes it. */
static const char *
server_name(struct sr_conv *sc)
{
    struct smtpreply_conn_stats cst;
    const address *a;
    char addr[64], text[80];

    if (sc->server)
        return sc->server;
    smtpreply_conn_stats(sc->conn, &cst);
    a = cst.server_is_b ? &sc->addr_b : &sc->addr_a;
    address_to_str_buf(a, addr, sizeof addr);
    snprintf(text, sizeof text, a->type == AT_IPv6 ? "[%s]:%u" : "%s:%u", addr,
             cst.server_is_b ? sc->port_b : sc->port_a);
    sc->server = sr_arena_strndup(text, strlen(text));
    return sc->server;
}

void
sr_on_event(void *user, const struct smtpreply_event *ev)
{
    struct sr_conv *feed = (struct sr_conv *)user;
    struct sr_frame *fr;
    struct sr_request *rq;

    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND: {
        char verb[16];
        copy_verb(verb, &ev->cmd);
        rq = add_request((guint32)ev->cmd.tag, ev->cmd.seq, verb);
        rq->anomalies = ev->anomalies;
        break;
    }
    case SMTPREPLY_EV_REPLY: {
        struct sr_reply r;
        memset(&r, 0, sizeof r);
        r.code = (guint16)ev->code;
        r.stage = (guint8)ev->stage;
        r.has_esc = ev->has_esc ? 1 : 0;
        r.esc = ev->esc;
        r.nlines = ev->nlines;
        r.anomalies = ev->anomalies;
        r.rt_us = -1;
        sr_reply_fill_why(&r, ev);
        r.server = server_name(feed);
        r.tls = ev->tls ? 1 : 0;
        if (ev->has_cmd) {
            r.has_cmd = 1;
            r.cmd = (guint8)ev->cmd.cmd;
            copy_verb(r.verb, &ev->cmd);
            r.request_in = (guint32)ev->cmd.tag;
            r.rt_us = ev->rt_us;
            rq = request_for(&ev->cmd);
            if (!rq->response) {
                rq->response = feed->feed_frame;
            } else {
                *(guint32 *)sr_vec_push(&rq->more_responses, sizeof(guint32)) = feed->feed_frame;
            }
        }
        fr = sr_frame_result(feed->feed_frame, TRUE);
        if (ev->stage == SMTPREPLY_STAGE_GREETING && ev->tag < feed->feed_frame) {
            /* A greeting detection held until the client's first command
             * made the stream SMTP (a port that is not a known SMTP
             * port): shown on its own frame, for every later dissection
             * (GUI, -2); the frame being fed taps it in a single pass,
             * where the greeting's frame is already done. */
            struct sr_frame *own = sr_frame_result((guint32)ev->tag, TRUE);
            *(struct sr_reply *)sr_vec_push(&own->replies, sizeof r) = r;
            own->smtp = feed->show_smtp ? 1 : 0;
            *(struct sr_reply *)sr_vec_push(&fr->late, sizeof r) = r;
            break;
        }
        *(struct sr_reply *)sr_vec_push(&fr->replies, sizeof r) = r;
        break;
    }
    case SMTPREPLY_EV_UNANSWERED:
        rq = request_for(&ev->cmd);
        rq->unanswered = TRUE;
        rq->anomalies |= ev->anomalies;
        break;
    case SMTPREPLY_EV_ANOMALY:
        fr = sr_frame_result(feed->feed_frame, TRUE);
        fr->anomalies |= ev->anomalies | ((smtpreply_anomaly_set)1 << ev->anomaly);
        break;
    case SMTPREPLY_EV_TLS:
        sr_frame_result(feed->feed_frame, TRUE)->encrypted = TRUE;
        break;
    }
}

/* The core allocates through this hook, from the C heap: a connection's
 * state is freed as soon as it ends (packet-smtpreply.c ends closed and
 * idle ones as the CLI does), so it is reused while still in cache
 * instead of piling up until the file is closed. */
void *
sr_realloc(void *ctx _U_, void *ptr, size_t size)
{
    if (size == 0) {
        g_free(ptr);
        return NULL;
    }
    return g_realloc(ptr, size);
}

void
sr_results_cleanup(void)
{
    if (frame_blocks)
        g_ptr_array_free(frame_blocks, TRUE);
    frame_blocks = NULL;
    arena_release();
}

void
sr_results_init(void)
{
    sr_results_cleanup();
    frame_blocks = g_ptr_array_new();
}
