/* SPDX-License-Identifier: MIT */
/*
 * reason.c - why a 4yz or 5yz reply failed (reasons.def), decided in
 * three layers: the reply text (reason_patterns.def), the enhanced code
 * (RFC 3463 and the RFC 5248 registry), the basic code with the command
 * (RFC 5321 §4.3.2); and the meaning that fits a reply.
 *
 * Matching stays cheap and allocation-free: the text (at most
 * SMTPREPLY_REASON_SCAN_MAX bytes) is lower-cased once into a stack
 * buffer; in the same pass, a rolling hash of the last three bytes is
 * looked up in a bitmap of the rows' first three bytes, and only the rows
 * that may start at such a position are compared there.
 */
#include <stdatomic.h>
#include <string.h>

#include "kb.h"
#include "reason_internal.h"
#include "smtpreply.h"

/* ---- The reason table ---- */

static const struct reason_row {
    const char *name;
    enum smtpreply_party party;
    const char *advice;
} reason_rows[SMTPREPLY_REASON__COUNT] = {
    [SMTPREPLY_REASON_NONE] = {NULL, SMTPREPLY_PARTY_NONE, NULL},
#define SMTPREPLY_REASON(id, name, party, advice) \
    [SMTPREPLY_REASON_##id] = {name, SMTPREPLY_PARTY_##party, advice},
#include "reasons.def"
#undef SMTPREPLY_REASON
};

static const char *const party_names[SMTPREPLY_PARTY__COUNT] = {
    [SMTPREPLY_PARTY_NONE] = NULL,
    [SMTPREPLY_PARTY_RECIPIENT] = "recipient",
    [SMTPREPLY_PARTY_SENDER_SETUP] = "sender-setup",
    [SMTPREPLY_PARTY_SENDER_REPUTATION] = "sender-reputation",
    [SMTPREPLY_PARTY_MESSAGE] = "message",
    [SMTPREPLY_PARTY_CLIENT] = "client",
    [SMTPREPLY_PARTY_RECEIVER] = "receiver",
};

const char *smtpreply_reason_name(enum smtpreply_reason r)
{
    return (unsigned)r < SMTPREPLY_REASON__COUNT ? reason_rows[r].name : NULL;
}

enum smtpreply_reason smtpreply_reason_from_name(const char *name, size_t len)
{
    if (!name)
        return SMTPREPLY_REASON_NONE;
    for (unsigned r = 1; r < SMTPREPLY_REASON__COUNT; r++) {
        const char *n = reason_rows[r].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (enum smtpreply_reason)r;
    }
    return SMTPREPLY_REASON_NONE;
}

enum smtpreply_party smtpreply_reason_party(enum smtpreply_reason r)
{
    return (unsigned)r < SMTPREPLY_REASON__COUNT ? reason_rows[r].party : SMTPREPLY_PARTY_NONE;
}

const char *smtpreply_reason_advice(enum smtpreply_reason r)
{
    return (unsigned)r < SMTPREPLY_REASON__COUNT ? reason_rows[r].advice : NULL;
}

const char *smtpreply_party_name(enum smtpreply_party p)
{
    return (unsigned)p < SMTPREPLY_PARTY__COUNT ? party_names[p] : NULL;
}

const char *smtpreply_reason_source_name(enum smtpreply_reason_source s)
{
    switch (s) {
    case SMTPREPLY_REASON_SOURCE_TEXT:
        return "text";
    case SMTPREPLY_REASON_SOURCE_ENHANCED:
        return "enhanced";
    case SMTPREPLY_REASON_SOURCE_CODE:
        return "code";
    case SMTPREPLY_REASON_SOURCE_NONE:
        break;
    }
    return NULL;
}

/* ---- Layer 1: text patterns ---- */

#define CLS_TEMP 1u
#define CLS_PERM 2u
#define PAT_CLS_ANY (CLS_TEMP | CLS_PERM)
#define PAT_CLS_TEMP CLS_TEMP
#define PAT_CLS_PERM CLS_PERM

/* Command restrictions: a commands.def id, or ANY (one past the last). */
enum pat_cmd {
#define SMTPREPLY_CMD(id, verb, rfc, ...) PAT_CMD_##id = SMTPREPLY_CMD_##id,
#include "commands.def"
#undef SMTPREPLY_CMD
    PAT_CMD_ANY = SMTPREPLY_CMD__COUNT
};

static const struct pattern_row {
    const char *text;
    unsigned char len;
    unsigned char cls;
    unsigned char cmd;
    short esc_subject;
    short esc_detail;
    unsigned char reason;
    const char *source;
} pattern_rows[] = {
#define SMTPREPLY_REASON_PATTERN(text, cls, cmd, subj, det, reason, source) \
    {text,                                                                  \
     (unsigned char)(sizeof text - 1),                                      \
     PAT_CLS_##cls,                                                         \
     (unsigned char)PAT_CMD_##cmd,                                          \
     subj,                                                                  \
     det,                                                                   \
     (unsigned char)SMTPREPLY_REASON_##reason,                              \
     source},
#include "reason_patterns.def"
#undef SMTPREPLY_REASON_PATTERN
};
#define PATTERN_ROWS (sizeof pattern_rows / sizeof pattern_rows[0])

bool smtpreply_reason_pattern_at(size_t idx, struct smtpreply_reason_pattern *out)
{
    const struct pattern_row *row;
    if (idx >= PATTERN_ROWS)
        return false;
    row = &pattern_rows[idx];
    out->text = row->text;
    out->temp = (row->cls & CLS_TEMP) != 0;
    out->perm = (row->cls & CLS_PERM) != 0;
    out->any_cmd = row->cmd == PAT_CMD_ANY;
    out->cmd = out->any_cmd ? SMTPREPLY_CMD_UNKNOWN : (enum smtpreply_cmd)row->cmd;
    out->esc_subject = row->esc_subject;
    out->esc_detail = row->esc_detail;
    out->reason = (enum smtpreply_reason)row->reason;
    out->source = row->source;
    return true;
}

/* ASCII lower case; other bytes unchanged. */
static const unsigned char lower_table[256] = {
#define L4(i) L1(i), L1(i + 1), L1(i + 2), L1(i + 3)
#define L1(i) ((i) + ((i) >= 'A' && (i) <= 'Z') * 32)
#define L16(i) L4(i), L4(i + 4), L4(i + 8), L4(i + 12)
#define L64(i) L16(i), L16(i + 16), L16(i + 32), L16(i + 48)
    L64(0),
    L64(64),
    L64(128),
    L64(192),
#undef L64
#undef L16
#undef L1
#undef L4
};

/* The hash of three lower-cased bytes, as a rolling value: shifting in
 * one byte at a time, (h << 5 ^ c) & HASH_MASK holds exactly the last
 * three bytes. */
#define HASH_MASK 0x7FFFu
#define BUCKETS 4096u /* the index groups rows by the hash's low 12 bits */
static unsigned hash3(unsigned char a, unsigned char b, unsigned char c)
{
    return (((unsigned)a << 10) ^ ((unsigned)b << 5) ^ c) & HASH_MASK;
}

static bool row_applies(const struct pattern_row *row, unsigned cls_bit, enum smtpreply_cmd cmd,
                        const struct smtpreply_esc *esc)
{
    if (!(row->cls & cls_bit))
        return false;
    if (row->cmd != PAT_CMD_ANY && row->cmd != (unsigned)cmd)
        return false;
    if (row->esc_subject >= 0 &&
        (!esc || esc->subject != (unsigned)row->esc_subject ||
         (row->esc_detail >= 0 && esc->detail != (unsigned)row->esc_detail)))
        return false;
    return true;
}

static bool contains(const unsigned char *hay, size_t n, const char *needle, size_t m)
{
    const unsigned char *p = hay, *end = hay + n;
    unsigned char first = (unsigned char)needle[0];
    if (m > n)
        return false;
    while ((size_t)(end - p) >= m) {
        p = memchr(p, first, (size_t)(end - p) - m + 1);
        if (!p)
            return false;
        if (memcmp(p + 1, needle + 1, m - 1) == 0)
            return true;
        p++;
    }
    return false;
}

/* The reference: every applicable row in order, searched for in turn. */
static size_t match_rows(unsigned cls_bit, enum smtpreply_cmd cmd,
                         const struct smtpreply_esc *esc, const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < PATTERN_ROWS; i++) {
        if (row_applies(&pattern_rows[i], cls_bit, cmd, esc) &&
            contains(buf, n, pattern_rows[i].text, pattern_rows[i].len))
            return i;
    }
    return PATTERN_ROWS;
}

/* The index, built once on first use by whichever thread gets there
 * first (a thread that finds it being built uses the reference for that
 * call, so nobody waits and the answer is the same):
 *   - hash_used: one bit per hash3 value some row starts with;
 *   - rows grouped by the low 12 bits of that hash, each group in row order
 *     (group g is index_rows[index_start[g] .. index_start[g + 1])). */
static uint64_t hash_used[(HASH_MASK + 1u) / 64u];
static uint16_t index_start[BUCKETS + 1];
static uint16_t index_rows[PATTERN_ROWS];
static atomic_int index_state; /* 0 none, 1 being built, 2 ready */

static unsigned row_hash(size_t i)
{
    const unsigned char *t = (const unsigned char *)pattern_rows[i].text;
    return hash3(t[0], t[1], t[2]);
}

static bool index_ready(void)
{
    int st = atomic_load_explicit(&index_state, memory_order_acquire), expect = 0;
    uint16_t fill[BUCKETS];
    if (st == 2)
        return true;
    if (st != 0 ||
        !atomic_compare_exchange_strong_explicit(&index_state, &expect, 1, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    memset(index_start, 0, sizeof index_start);
    memset(hash_used, 0, sizeof hash_used);
    for (size_t i = 0; i < PATTERN_ROWS; i++) {
        unsigned h = row_hash(i);
        hash_used[h / 64u] |= (uint64_t)1 << (h % 64u);
        index_start[(h & (BUCKETS - 1u)) + 1]++;
    }
    for (unsigned g = 0; g < BUCKETS; g++) {
        index_start[g + 1] = (uint16_t)(index_start[g + 1] + index_start[g]);
        fill[g] = index_start[g];
    }
    for (size_t i = 0; i < PATTERN_ROWS; i++)
        index_rows[fill[row_hash(i) & (BUCKETS - 1u)]++] = (uint16_t)i;
    atomic_store_explicit(&index_state, 2, memory_order_release);
    return true;
}

/* Lower-cases the text into buf (at most SMTPREPLY_REASON_SCAN_MAX bytes
 * read; returns the length of buf).  A line break and the enhanced code
 * that repeats at the start of the next line (RFC 2034 §4) read as one
 * space, so a phrase wrapped across the lines of a reply still matches.
 * When note is set (the index is built), cand receives (room for
 * SMTPREPLY_REASON_SCAN_MAX + 1) each position where some row's first
 * three bytes may end, and *ncand their number. */
static size_t prepare(const char *text, size_t len, unsigned char *buf, bool note, uint16_t *cand,
                      size_t *ncand)
{
    /* Without the index (or while another thread builds it) the bitmap is
     * not read at all: an all-zero one stands in. */
    static const uint64_t no_bits[(HASH_MASK + 1u) / 64u];
    const uint64_t *bits = note ? hash_used : no_bits;
    size_t n = 0, i = 0, nc = 0;
    size_t lim = len < SMTPREPLY_REASON_SCAN_MAX ? len : SMTPREPLY_REASON_SCAN_MAX;
    unsigned h = 0;
    while (i < lim) {
        unsigned char c = lower_table[(unsigned char)text[i++]];
        if (c <= '\r' && (c == '\n' || c == '\r')) {
            i += smtpreply_esc_parse(text + i, lim - i, NULL);
            while (i < lim &&
                   (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
                i++;
            c = ' ';
        }
        buf[n++] = c;
        h = ((h << 5) ^ c) & HASH_MASK;
        /* Branch-free: always written, counted only when the bit is set. */
        cand[nc] = (uint16_t)n;
        nc += (size_t)(bits[h / 64u] >> (h % 64u) & 1u);
    }
    *ncand = nc;
    return n;
}

/* The rows that may start at the noted positions, compared in place; the
 * lowest row that matches anywhere wins, as in the reference. */
static size_t match_indexed(unsigned cls_bit, enum smtpreply_cmd cmd,
                            const struct smtpreply_esc *esc, const unsigned char *buf, size_t n,
                            const uint16_t *cand, size_t ncand)
{
    size_t best = PATTERN_ROWS;
    for (size_t c = 0; c < ncand; c++) {
        size_t i;
        unsigned g;
        if (cand[c] < 3)
            continue;
        i = (size_t)cand[c] - 3;
        g = hash3(buf[i], buf[i + 1], buf[i + 2]) & (BUCKETS - 1u);
        for (unsigned k = index_start[g]; k < index_start[g + 1]; k++) {
            const struct pattern_row *row;
            size_t r = index_rows[k];
            if (r >= best)
                break;
            row = &pattern_rows[r];
            if (row->len <= n - i && memcmp(buf + i, row->text, row->len) == 0 &&
                row_applies(row, cls_bit, cmd, esc))
                best = r;
        }
    }
    return best;
}

static const struct pattern_row *match_text(unsigned cls_bit, enum smtpreply_cmd cmd,
                                            const struct smtpreply_esc *esc, const char *text,
                                            size_t len, bool reference)
{
    unsigned char buf[SMTPREPLY_REASON_SCAN_MAX];
    uint16_t cand[SMTPREPLY_REASON_SCAN_MAX + 1];
    size_t n, r, ncand;
    bool indexed;

    if (!text || len < 3)
        return NULL;
    indexed = !reference && index_ready();
    n = prepare(text, len, buf, indexed, cand, &ncand);
    if (n < 3)
        return NULL;
    if (indexed)
        r = match_indexed(cls_bit, cmd, esc, buf, n, cand, ncand);
    else
        r = match_rows(cls_bit, cmd, esc, buf, n);
    return r < PATTERN_ROWS ? &pattern_rows[r] : NULL;
}

/* ---- Layer 2: the enhanced code ---- */

/* Subject/detail ranges, first match wins; detail -1 covers the subject's
 * details the rows above it did not name. */
static const struct esc_reason {
    short subject;
    short lo, hi; /* detail range; lo == -1: any */
    unsigned char reason;
    const char *basis;
} esc_reasons[] = {
    {1, 1, 1, SMTPREPLY_REASON_RECIPIENT_UNKNOWN, "RFC 3463 §3.2 (X.1.1)"},
    {1, 2, 2, SMTPREPLY_REASON_RECIPIENT_DOMAIN, "RFC 3463 §3.2 (X.1.2)"},
    {1, 3, 4, SMTPREPLY_REASON_RECIPIENT_UNKNOWN, "RFC 3463 §3.2 (X.1.3, X.1.4)"},
    {1, 6, 6, SMTPREPLY_REASON_MAILBOX_DISABLED, "RFC 3463 §3.2 (X.1.6)"},
    {1, 7, 8, SMTPREPLY_REASON_SENDER_REJECTED, "RFC 3463 §3.2 (X.1.7, X.1.8)"},
    {1, 10, 10, SMTPREPLY_REASON_RECIPIENT_DOMAIN, "RFC 7505 §4.1 (X.1.10)"},
    {2, 1, 1, SMTPREPLY_REASON_MAILBOX_DISABLED, "RFC 3463 §3.3 (X.2.1)"},
    {2, 2, 2, SMTPREPLY_REASON_MAILBOX_FULL, "RFC 3463 §3.3 (X.2.2)"},
    {2, 3, 3, SMTPREPLY_REASON_MESSAGE_TOO_BIG, "RFC 3463 §3.3 (X.2.3)"},
    {2, 4, 4, SMTPREPLY_REASON_SERVER_ERROR, "RFC 3463 §3.3 (X.2.4)"},
    {3, 2, 2, SMTPREPLY_REASON_UNAVAILABLE, "RFC 3463 §3.4 (X.3.2); RFC 7504 §3"},
    {3, 4, 4, SMTPREPLY_REASON_MESSAGE_TOO_BIG, "RFC 3463 §3.4 (X.3.4)"},
    {3, -1, -1, SMTPREPLY_REASON_SERVER_ERROR, "RFC 3463 §3.4 (X.3.x)"},
    {4, 4, 4, SMTPREPLY_REASON_RECIPIENT_DOMAIN, "RFC 3463 §3.5 (X.4.4)"},
    {4, -1, -1, SMTPREPLY_REASON_SERVER_ERROR, "RFC 3463 §3.5 (X.4.x)"},
    {5, 3, 3, SMTPREPLY_REASON_TOO_MANY_RECIPIENTS, "RFC 3463 §3.6 (X.5.3)"},
    {5, -1, -1, SMTPREPLY_REASON_PROTOCOL, "RFC 3463 §3.6 (X.5.x)"},
    {6, -1, -1, SMTPREPLY_REASON_CONTENT, "RFC 3463 §3.7 (X.6.x)"},
    {7, 1, 7, SMTPREPLY_REASON_POLICY, "RFC 3463 §3.8 (X.7.1-X.7.7)"},
    {7, 8, 9, SMTPREPLY_REASON_AUTH_FAILED, "RFC 4954 §6 (X.7.8, X.7.9)"},
    {7, 10, 11, SMTPREPLY_REASON_TLS_REQUIRED, "RFC 5248 (X.7.10); RFC 4954 §6 (X.7.11)"},
    {7, 12, 14, SMTPREPLY_REASON_AUTH_FAILED, "RFC 4954 §6 (X.7.12); RFC 5248 (X.7.13, X.7.14)"},
    {7, 15, 15, SMTPREPLY_REASON_POLICY, "RFC 6710 §5 (X.7.15)"},
    {7, 16, 16, SMTPREPLY_REASON_MESSAGE_TOO_BIG, "RFC 6710 §5 (X.7.16)"},
    {7, 17, 17, SMTPREPLY_REASON_MAILBOX_DISABLED, "RFC 7293 §4 (X.7.17)"},
    {7, 18, 18, SMTPREPLY_REASON_RECIPIENT_DOMAIN, "RFC 7293 §4 (X.7.18)"},
    {7, 19, 19, SMTPREPLY_REASON_POLICY, "RFC 7293 §4 (X.7.19)"},
    {7, 20, 26, SMTPREPLY_REASON_SENDER_AUTHENTICATION, "RFC 7372 §3 (X.7.20-X.7.26)"},
    {7, 27, 27, SMTPREPLY_REASON_SENDER_REJECTED, "RFC 7505 §4.1 (X.7.27)"},
    {7, 28, 28, SMTPREPLY_REASON_RATE_LIMITED,
     "RFC 5248 registry (X.7.28 mail flood); Gmail SMTP error reference (4.7.28)"},
    {7, 29, 29, SMTPREPLY_REASON_SENDER_AUTHENTICATION, "RFC 8617 §10.4 (X.7.29)"},
    {7, 30, 30, SMTPREPLY_REASON_TLS_REQUIRED, "RFC 8689 §7 (X.7.30)"},
    {7, 606, 649, SMTPREPLY_REASON_BLOCKLISTED, "Microsoft 365 NDR reference (5.7.606-5.7.649)"},
    {7, -1, -1, SMTPREPLY_REASON_POLICY, "RFC 3463 §3.8 (X.7.x)"},
};

static enum smtpreply_reason by_esc(unsigned code, const struct smtpreply_esc *esc,
                                    enum smtpreply_cmd cmd, const char **basis)
{
    /* X.7.0 "Other or undefined security status" is read with its command:
     * RFC 4954 §6 (530 5.7.0 authentication required, 454 4.7.0 temporary
     * authentication failure), RFC 3207 §4 (454 4.7.0 at STARTTLS). */
    if (esc->subject == 7 && esc->detail == 0) {
        if (code == 530) {
            *basis = "RFC 4954 §6 (530 5.7.0)";
            return SMTPREPLY_REASON_AUTH_REQUIRED;
        }
        if (cmd == SMTPREPLY_CMD_AUTH) {
            *basis = "RFC 4954 §6 (X.7.0 at AUTH)";
            return SMTPREPLY_REASON_AUTH_FAILED;
        }
        if (cmd == SMTPREPLY_CMD_STARTTLS) {
            *basis = "RFC 3207 §4 (X.7.0 at STARTTLS)";
            return SMTPREPLY_REASON_TLS_FAILED;
        }
        *basis = "RFC 3463 §3.8 (X.7.0)";
        return SMTPREPLY_REASON_POLICY;
    }
    for (size_t i = 0; i < sizeof esc_reasons / sizeof esc_reasons[0]; i++) {
        const struct esc_reason *e = &esc_reasons[i];
        if (e->subject != (short)esc->subject)
            continue;
        if (e->lo >= 0 && (esc->detail < (unsigned)e->lo || esc->detail > (unsigned)e->hi))
            continue;
        *basis = e->basis;
        return (enum smtpreply_reason)e->reason;
    }
    return SMTPREPLY_REASON_NONE; /* X.0.x, X.1.0, X.1.5, X.1.9, X.2.0, ...: no say */
}

/* ---- Layer 3: the basic code with the command ---- */

static bool at_data_end(enum smtpreply_cmd cmd)
{
    return cmd == SMTPREPLY_CMD_DATA_END || cmd == SMTPREPLY_CMD_BDAT ||
           cmd == SMTPREPLY_CMD_BURL;
}

#define R(x) SMTPREPLY_REASON_##x
static enum smtpreply_reason by_code(unsigned code, enum smtpreply_cmd cmd, const char **basis)
{
    *basis = "RFC 5321 §4.2.3, §4.3.2";
    switch (code) {
    case 421:
        *basis = "RFC 5321 §3.1, §3.8 (421)";
        return R(UNAVAILABLE);
    case 521:
        *basis = "RFC 7504 §3 (521)";
        return R(UNAVAILABLE);
    case 554:
        if (cmd == SMTPREPLY_CMD_CONNECT) {
            *basis = "RFC 5321 §3.1 (554 greeting)";
            return R(UNAVAILABLE);
        }
        if (cmd == SMTPREPLY_CMD_DATA) {
            *basis = "RFC 5321 §3.3; RFC 2920 §3.1 (554 no valid recipients)";
            return R(PROTOCOL);
        }
        return R(POLICY);
    case 530:
        *basis = "RFC 4954 §6 (530)";
        return R(AUTH_REQUIRED);
    case 432:
    case 534:
    case 535:
        *basis = "RFC 4954 §6";
        return R(AUTH_FAILED);
    case 538:
        *basis = "RFC 4954 §6 (538)";
        return R(TLS_REQUIRED);
    case 454:
        if (cmd == SMTPREPLY_CMD_STARTTLS) {
            *basis = "RFC 3207 §4 (454)";
            return R(TLS_FAILED);
        }
        if (cmd == SMTPREPLY_CMD_AUTH) {
            *basis = "RFC 4954 §6 (454)";
            return R(AUTH_FAILED);
        }
        return R(SERVER_ERROR);
    case 552:
        if (cmd == SMTPREPLY_CMD_RCPT) {
            *basis = "RFC 5321 §4.2.3 (552 exceeded storage allocation)";
            return R(MAILBOX_FULL);
        }
        if (cmd == SMTPREPLY_CMD_MAIL || cmd == SMTPREPLY_CMD_DATA || at_data_end(cmd)) {
            *basis = "RFC 1870 §6.1; RFC 5321 §4.2.3 (552)";
            return R(MESSAGE_TOO_BIG);
        }
        return R(OTHER);
    case 452:
        if (cmd == SMTPREPLY_CMD_RCPT) {
            *basis = "RFC 5321 §4.5.3.1.10 (452 at RCPT)";
            return R(TOO_MANY_RECIPIENTS);
        }
        *basis = "RFC 5321 §4.2.3 (452 insufficient system storage); RFC 1870 §6.1";
        return R(SERVER_ERROR);
    case 451:
    case 455:
    case 458:
        return R(SERVER_ERROR);
    case 450:
        *basis = "RFC 5321 §4.2.3 (450: mailbox busy or blocked for policy reasons)";
        return R(POLICY);
    case 459:
        *basis = "RFC 1985 §5.1 (459)";
        return R(POLICY);
    case 550:
        switch (cmd) {
        case SMTPREPLY_CMD_RCPT:
        case SMTPREPLY_CMD_VRFY:
        case SMTPREPLY_CMD_EXPN:
            *basis = "RFC 5321 §4.2.3 (550 mailbox unavailable)";
            return R(RECIPIENT_UNKNOWN);
        case SMTPREPLY_CMD_MAIL:
            *basis = "RFC 5321 §4.1.1.2 (550 at MAIL)";
            return R(SENDER_REJECTED);
        case SMTPREPLY_CMD_CONNECT:
            return R(UNAVAILABLE);
        case SMTPREPLY_CMD_UNKNOWN:
            return R(OTHER);
        default:
            *basis = "RFC 5321 §4.2.3 (550 rejected for policy reasons)";
            return R(POLICY);
        }
    case 551:
        *basis = "RFC 5321 §3.4 (551 user not local)";
        return R(MAILBOX_DISABLED);
    case 553:
        if (cmd == SMTPREPLY_CMD_MAIL) {
            *basis = "RFC 5321 §4.2.3 (553 mailbox name not allowed, at MAIL)";
            return R(SENDER_REJECTED);
        }
        if (cmd == SMTPREPLY_CMD_RCPT || cmd == SMTPREPLY_CMD_VRFY) {
            *basis = "RFC 5321 §4.2.3 (553 mailbox name not allowed)";
            return R(RECIPIENT_UNKNOWN);
        }
        return R(OTHER);
    case 556:
        *basis = "RFC 7504 §4; RFC 7505 §4.1 (556)";
        return R(RECIPIENT_DOMAIN);
    case 504:
        if (cmd == SMTPREPLY_CMD_AUTH) {
            *basis = "RFC 4954 §4 (504 mechanism not supported)";
            return R(AUTH_FAILED);
        }
        return R(PROTOCOL);
    case 500:
    case 501:
    case 502:
    case 503:
    case 555:
        *basis = "RFC 5321 §4.2.3, §4.1.1.11";
        return R(PROTOCOL);
    default:
        break;
    }
    *basis = "RFC 5321 §4.2.1 (class only)";
    return R(OTHER);
}
#undef R

void smtpreply_reason_classify(unsigned code, const struct smtpreply_esc *esc,
                               enum smtpreply_cmd cmd, const char *text, size_t len,
                               struct smtpreply_reason_info *out)
{
    unsigned cls = code <= 999 ? code / 100u : 0;
    enum smtpreply_reason r = SMTPREPLY_REASON_NONE;
    const char *basis = NULL;
    const struct pattern_row *row;

    memset(out, 0, sizeof *out);
    if (cls != 4 && cls != 5)
        return;
    if ((unsigned)cmd >= SMTPREPLY_CMD__COUNT)
        cmd = SMTPREPLY_CMD_UNKNOWN;
    if (esc && esc->cls != 2 && esc->cls != 4 && esc->cls != 5)
        esc = NULL; /* not an RFC 3463 code: no say */
    out->failure = true;
    out->permanent = cls == 5;

    row = match_text(cls == 4 ? CLS_TEMP : CLS_PERM, cmd, esc, text, len, false);
    if (row) {
        r = (enum smtpreply_reason)row->reason;
        out->source = SMTPREPLY_REASON_SOURCE_TEXT;
        out->pattern = row->text;
        basis = row->source;
    }
    if (r == SMTPREPLY_REASON_NONE && esc) {
        r = by_esc(code, esc, cmd, &basis);
        if (r != SMTPREPLY_REASON_NONE)
            out->source = SMTPREPLY_REASON_SOURCE_ENHANCED;
    }
    if (r == SMTPREPLY_REASON_NONE) {
        r = by_code(code, cmd, &basis);
        out->source = SMTPREPLY_REASON_SOURCE_CODE;
    }
    out->reason = r;
    out->party = reason_rows[r].party;
    out->name = reason_rows[r].name;
    out->advice = reason_rows[r].advice;
    out->party_name = party_names[out->party];
    out->source_name = smtpreply_reason_source_name(out->source);
    out->basis = basis;
}

/* ---- The meaning that fits ---- */

/* Does code_contexts.def give `code` a meaning as the reply to cmd? */
static bool has_context(unsigned code, enum smtpreply_cmd cmd)
{
    enum smtpreply_cmd c;
    const char *meaning, *rfc;
    for (size_t i = 0; smtpreply_code_context(code, i, &c, &meaning, &rfc); i++)
        if (c == cmd)
            return true;
    return false;
}

const char *smtpreply_reply_meaning(enum smtpreply_cmd cmd, unsigned code,
                                    const struct smtpreply_esc *esc)
{
    if (code > 999)
        return "";
    if (esc && smtpreply_esc_class_agrees(code, esc)) {
        struct smtpreply_esc_info info;
        smtpreply_esc_explain(esc, &info);
        /* Detail 0 is "Other or undefined ... status" (RFC 3463 §3): it
         * says no more than its subject, so a meaning for this command
         * (250 2.0.0 after the final dot: the message was accepted) says
         * more. */
        if (info.status == SMTPREPLY_STATUS_STANDARD &&
            (esc->detail != 0 || !has_context(code, cmd)))
            return info.meaning;
    }
    return smtpreply_code_meaning_for(code, cmd);
}

enum smtpreply_cmd smtpreply_reply_cmd(bool has_cmd, enum smtpreply_cmd cmd,
                                       enum smtpreply_stage stage)
{
    switch (stage) {
    case SMTPREPLY_STAGE_GREETING:
        return SMTPREPLY_CMD_CONNECT;
    case SMTPREPLY_STAGE_DATA_END:
        return SMTPREPLY_CMD_DATA_END;
    case SMTPREPLY_STAGE_UNSOLICITED:
        return SMTPREPLY_CMD_UNKNOWN;
    default:
        break;
    }
    if (!has_cmd || (unsigned)cmd >= SMTPREPLY_CMD__COUNT)
        return SMTPREPLY_CMD_UNKNOWN;
    return cmd;
}

const char *smtpreply__reason_pattern_reference(unsigned code, const struct smtpreply_esc *esc,
                                                enum smtpreply_cmd cmd, const char *text,
                                                size_t len)
{
    unsigned cls = code <= 999 ? code / 100u : 0;
    const struct pattern_row *row;
    if (cls != 4 && cls != 5)
        return NULL;
    if ((unsigned)cmd >= SMTPREPLY_CMD__COUNT)
        cmd = SMTPREPLY_CMD_UNKNOWN;
    if (esc && esc->cls != 2 && esc->cls != 4 && esc->cls != 5)
        esc = NULL;
    row = match_text(cls == 4 ? CLS_TEMP : CLS_PERM, cmd, esc, text, len, true);
    return row ? row->text : NULL;
}
