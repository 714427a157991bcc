/* SPDX-License-Identifier: MIT */
/*
 * test_reasm.c - per-direction TCP reassembly: order, retransmission,
 * overlaps (front and back), sequence wrap, SYN-less start, data on SYN,
 * lost segments (gap with the exact missing count), segments the capture
 * cut short (the lost tail a gap at once), the max_reasm cap,
 * and memory accounting through the hook.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reasm.h"

/* What the sink saw: data bytes as they are, a gap as "[GAP n]". */
struct out {
    char buf[8192];
    size_t len;
    unsigned calls;
    uint64_t last_tag;
};

static bool sink(void *ctx, const uint8_t *data, size_t len, uint64_t missing, int64_t ts,
                 uint64_t tag)
{
    struct out *o = ctx;
    (void)ts;
    o->calls++;
    o->last_tag = tag;
    if (missing) {
        o->len += (size_t)snprintf(o->buf + o->len, sizeof o->buf - o->len, "[GAP %llu]",
                                   (unsigned long long)missing);
    } else if (o->len + len < sizeof o->buf) {
        memcpy(o->buf + o->len, data, len);
        o->len += len;
    }
    o->buf[o->len] = 0;
    return true;
}

static size_t live_allocs;
static void *counting_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (size == 0) {
        if (p)
            live_allocs--;
        free(p);
        return NULL;
    }
    if (!p)
        live_allocs++;
    return realloc(p, size);
}

struct fix {
    struct reasm r;
    struct sr_mem m;
    struct out o;
};

static void fix_init(struct fix *f, uint32_t max)
{
    memset(f, 0, sizeof *f);
    reasm_init(&f->r, max);
    f->m.fn = counting_realloc;
}

/* A segment that sent `sent` bytes of which the capture kept s. */
static void cut(struct fix *f, uint32_t seq, unsigned flags, const char *s, size_t sent,
                uint64_t tag)
{
    reasm_segment(&f->r, &f->m, seq, flags, (const uint8_t *)s, s ? strlen(s) : 0, sent, 0, tag,
                  sink, &f->o);
}

static void seg(struct fix *f, uint32_t seq, unsigned flags, const char *s, uint64_t tag)
{
    cut(f, seq, flags, s, 0, tag);
}

static void flush(struct fix *f)
{
    reasm_flush(&f->r, &f->m, 0, 99, sink, &f->o);
}

static void fix_done(struct fix *f)
{
    reasm_free(&f->r, &f->m);
    CHECK_EQ_U(f->m.bytes, 0);
}

static void test_in_order(void)
{
    struct fix f;
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1001, SMTPREPLY_TCP_ACK, "220 a", 2);
    seg(&f, 1006, SMTPREPLY_TCP_ACK, "bc\r\n", 3);
    CHECK_EQ_S(f.o.buf, "220 abc\r\n");
    CHECK_EQ_U(f.o.last_tag, 3);
    CHECK_EQ_U(f.r.out_of_order, 0);
    CHECK_EQ_U(f.r.retransmitted, 0);
    CHECK_EQ_U(f.m.bytes, 0); /* in-order data is never copied */
    fix_done(&f);
}

static void test_out_of_order(void)
{
    struct fix f;
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1007, 0, "ghi", 4);
    seg(&f, 1004, 0, "def", 3);
    CHECK_EQ_U(f.o.len, 0);
    CHECK(reasm_has_hole(&f.r));
    CHECK(f.m.bytes >= 6);
    seg(&f, 1001, 0, "abc", 2);
    CHECK_EQ_S(f.o.buf, "abcdefghi");
    CHECK_EQ_U(f.o.last_tag, 4); /* each buffered segment keeps its own tag */
    CHECK_EQ_U(f.r.out_of_order, 2);
    CHECK(!reasm_has_hole(&f.r));
    CHECK_EQ_U(f.m.bytes, 0);
    CHECK_EQ_U(live_allocs, 0);
    fix_done(&f);
}

static void test_retransmission(void)
{
    struct fix f;
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1001, 0, "abc", 2);
    seg(&f, 1001, 0, "abc", 3);
    seg(&f, 1002, 0, "b", 4);
    /* a duplicate of a buffered segment */
    seg(&f, 1010, 0, "xyz", 5);
    seg(&f, 1010, 0, "xyz", 6);
    CHECK_EQ_S(f.o.buf, "abc");
    CHECK_EQ_U(f.r.retransmitted, 3);
    CHECK_EQ_U(f.r.out_of_order, 1);
    fix_done(&f);
}

static void test_overlaps(void)
{
    struct fix f;
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1001, 0, "abc", 2);
    /* front overlap: starts before next, goes beyond */
    seg(&f, 1003, 0, "cdef", 3);
    CHECK_EQ_S(f.o.buf, "abcdef");
    CHECK_EQ_U(f.r.overlaps, 1);
    /* back overlap: a buffered segment whose start a later in-order
     * segment already covers */
    seg(&f, 1010, 0, "jklm", 4);
    seg(&f, 1007, 0, "ghijk", 5);
    CHECK_EQ_S(f.o.buf, "abcdefghijklm");
    CHECK_EQ_U(f.r.overlaps, 2);
    /* a buffered segment wholly covered by the one that fills the hole */
    seg(&f, 1016, 0, "p", 6);
    seg(&f, 1014, 0, "nopq", 7);
    CHECK_EQ_S(f.o.buf, "abcdefghijklmnopq");
    CHECK_EQ_U(f.r.retransmitted, 1);
    fix_done(&f);
}

static void test_wrap(void)
{
    struct fix f;
    fix_init(&f, 262144);
    seg(&f, 0xfffffffdu, SMTPREPLY_TCP_SYN, NULL, 1);
    /* next = 0xfffffffe; "ab" covers ...fe, ...ff; "cd" starts at 0 */
    seg(&f, 0x00000000u, 0, "cd", 3);
    seg(&f, 0x00000002u, 0, "ef", 4);
    CHECK_EQ_U(f.o.len, 0);
    seg(&f, 0xfffffffeu, 0, "ab", 2);
    CHECK_EQ_S(f.o.buf, "abcdef");
    CHECK_EQ_U(f.r.next, 4);
    /* an old segment from before the wrap is a retransmission, not data
     * 4 GB ahead */
    seg(&f, 0xffffffffu, 0, "bc", 5);
    CHECK_EQ_U(f.r.retransmitted, 1);
    CHECK_EQ_S(f.o.buf, "abcdef");
    fix_done(&f);
}

static void test_synless_and_syn_data(void)
{
    struct fix f;
    fix_init(&f, 262144);
    seg(&f, 5000, SMTPREPLY_TCP_ACK, NULL, 1); /* a bare ACK fixes nothing */
    CHECK(!f.r.started);
    seg(&f, 7000, SMTPREPLY_TCP_ACK, "250 ok\r\n", 2);
    CHECK(f.r.started && !f.r.syn);
    CHECK_EQ_S(f.o.buf, "250 ok\r\n");
    fix_done(&f);

    fix_init(&f, 262144);
    seg(&f, 41, SMTPREPLY_TCP_SYN, "xy", 1); /* data on SYN follows the SYN */
    seg(&f, 44, 0, "z", 2);
    CHECK_EQ_S(f.o.buf, "xyz");
    fix_done(&f);
}

static void test_lost_segment(void)
{
    struct fix f;
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1001, 0, "250 a\r\n", 2);
    /* 1008..1019 lost (12 bytes) */
    seg(&f, 1020, 0, "250 c\r\n", 4);
    seg(&f, 1027, SMTPREPLY_TCP_FIN, NULL, 5);
    CHECK(!reasm_complete(&f.r));
    flush(&f);
    CHECK_EQ_S(f.o.buf, "250 a\r\n[GAP 12]250 c\r\n");
    CHECK_EQ_U(f.r.gaps, 1);
    CHECK_EQ_U(f.r.missing, 12);
    CHECK(reasm_complete(&f.r));
    /* resynchronised: later data flows */
    fix_done(&f);

    /* bytes lost right before the FIN: the FIN's number tells how many */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1001, 0, "abc", 2);
    seg(&f, 1481, SMTPREPLY_TCP_FIN, NULL, 3);
    flush(&f);
    CHECK_EQ_S(f.o.buf, "abc[GAP 477]");
    CHECK_EQ_U(f.r.missing, 477);
    fix_done(&f);
}

static void test_cut_segments(void)
{
    struct fix f;

    /* The kept part is delivered and the lost tail is a gap at once, in
     * that segment's name, not when a later segment shows the jump. */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    cut(&f, 1001, 0, "250 a\r\n25", 30, 2);
    CHECK_EQ_S(f.o.buf, "250 a\r\n25[GAP 21]");
    CHECK_EQ_U(f.o.last_tag, 2);
    CHECK_EQ_U(f.r.next, 1031);
    CHECK(!reasm_has_hole(&f.r));
    seg(&f, 1031, 0, "221 b\r\n", 3); /* in order: no waiting behind a hole */
    CHECK_EQ_S(f.o.buf, "250 a\r\n25[GAP 21]221 b\r\n");
    fix_done(&f);

    /* Headers only (nothing kept): the whole payload is the gap; a SYN
     * whose options were cut still starts the direction. */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    cut(&f, 1001, 0, NULL, 84, 2);
    cut(&f, 1085, 0, NULL, 204, 3);
    CHECK_EQ_S(f.o.buf, "[GAP 84][GAP 204]");
    CHECK_EQ_U(f.r.missing, 288);
    fix_done(&f);

    /* A FIN on a cut segment follows all its sent bytes: the direction is
     * complete only after them, and a flush adds nothing. */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    cut(&f, 1001, SMTPREPLY_TCP_FIN, "ab", 10, 2);
    CHECK(reasm_complete(&f.r));
    CHECK_EQ_U(f.r.fin_seq, 1011);
    flush(&f);
    CHECK_EQ_S(f.o.buf, "ab[GAP 8]");
    fix_done(&f);

    /* A lost tail reaching into data already buffered: the captured bytes
     * win, the gaps go around them, up to all the cut segment sent. */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1011, 0, "XYZ", 2); /* ahead of a hole */
    seg(&f, 1016, 0, "Q", 3);
    cut(&f, 1001, 0, "ab", 20, 4); /* sent 1001..1020, kept 1001..1002 */
    CHECK_EQ_S(f.o.buf, "ab[GAP 8]XYZ[GAP 2]Q[GAP 4]");
    CHECK_EQ_U(f.r.next, 1021);
    CHECK(!reasm_has_hole(&f.r));
    fix_done(&f);

    /* A cut retransmission of bytes already delivered adds no gap; one that
     * reaches past them loses only the part beyond. */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1001, 0, "abcdef", 2);
    cut(&f, 1001, 0, "ab", 6, 3);
    CHECK_EQ_S(f.o.buf, "abcdef");
    CHECK_EQ_U(f.r.retransmitted, 1);
    cut(&f, 1001, 0, "ab", 9, 4);
    CHECK_EQ_S(f.o.buf, "abcdef[GAP 3]");
    CHECK_EQ_U(f.r.retransmitted, 1); /* it sent something new: an overlap */
    CHECK_EQ_U(f.r.overlaps, 1);
    cut(&f, 1001, 0, NULL, 5, 5); /* a headers-only copy of old bytes */
    CHECK_EQ_U(f.r.retransmitted, 2);
    CHECK_EQ_S(f.o.buf, "abcdef[GAP 3]");
    fix_done(&f);

    /* Headers-only segments ahead of a hole, and no FIN (an RST, or the
     * capture ends): a flush still gives up all they sent. */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    cut(&f, 1001, 0, NULL, 10, 2);
    cut(&f, 1021, 0, NULL, 10, 3); /* 1011..1020 never captured */
    cut(&f, 1031, 0, NULL, 10, 4);
    CHECK_EQ_U(f.r.missing, 10);
    flush(&f);
    CHECK_EQ_U(f.r.missing, 40);
    CHECK_EQ_U(f.r.next, 1041);
    fix_done(&f);

    /* A cut segment ahead of a hole keeps its captured bytes; its lost
     * tail shows when the next segment jumps (the hole's give-up). */
    fix_init(&f, 262144);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    cut(&f, 1011, 0, "ab", 5, 2);
    seg(&f, 1016, SMTPREPLY_TCP_FIN, "z", 3);
    flush(&f);
    CHECK_EQ_S(f.o.buf, "[GAP 10]ab[GAP 3]z");
    CHECK_EQ_U(f.r.missing, 13);
    fix_done(&f);
}

static void test_cap(void)
{
    /* Room for two 100-byte segments with their node headers, not three. */
    char p[101];
    memset(p, 'x', 100);
    p[100] = 0;
    struct fix f;
    uint32_t cap = (uint32_t)(2 * (100 + 48));
    fix_init(&f, cap);
    seg(&f, 1000, SMTPREPLY_TCP_SYN, NULL, 1);
    seg(&f, 1001, 0, "a", 2); /* next = 1002 */
    seg(&f, 1102, 0, p, 3);   /* hole 1002..1101 (100) */
    seg(&f, 1302, 0, p, 4);   /* hole 1202..1301 (100) */
    CHECK(f.r.buffered <= cap);
    size_t before = f.o.len;
    CHECK_EQ_U(before, 1);
    seg(&f, 1502, 0, p, 5); /* over the cap: first hole given up */
    CHECK(f.r.buffered <= cap);
    CHECK_EQ_U(f.r.overflow, 1);
    CHECK_EQ_U(f.r.gaps, 1);
    CHECK_EQ_U(f.r.missing, 100);
    CHECK_EQ_U(f.o.len, 1 + strlen("[GAP 100]") + 100);
    CHECK(f.m.bytes <= cap);
    /* a segment bigger than the cap on its own is delivered past a gap */
    char big[1001];
    memset(big, 'y', 1000);
    big[1000] = 0;
    seg(&f, 5000, 0, big, 6);
    CHECK(f.r.buffered <= cap);
    CHECK_EQ_U(f.r.next, 6000);
    flush(&f);
    CHECK_EQ_U(f.r.buffered, 0);
    /* every byte is accounted for: delivered + missing = sequence span */
    CHECK_EQ_U(f.r.delivered + f.r.missing, 6000 - 1001);
    fix_done(&f);
}

static void test_many_small(void)
{
    /* 1-byte segments in reverse order: nodes are charged too, so the list
     * stays within the cap however small the segments. */
    struct fix f;
    uint32_t cap = 4096;
    fix_init(&f, cap);
    seg(&f, 0, SMTPREPLY_TCP_SYN, NULL, 1);
    size_t peak = 0;
    for (uint32_t i = 3000; i > 1; i--) {
        seg(&f, i, 0, "z", i);
        if (f.m.bytes > peak)
            peak = f.m.bytes;
    }
    CHECK(peak <= cap);
    seg(&f, 1, 0, "a", 1);
    flush(&f);
    CHECK_EQ_U(f.r.delivered + f.r.missing, 3000);
    CHECK_EQ_U(f.r.buffered, 0);
    fix_done(&f);
}

int main(void)
{
    test_in_order();
    test_out_of_order();
    test_retransmission();
    test_overlaps();
    test_wrap();
    test_synless_and_syn_data();
    test_lost_segment();
    test_cut_segments();
    test_cap();
    test_many_small();
    CHECK_EQ_U(live_allocs, 0);
    return CHECK_DONE();
}
