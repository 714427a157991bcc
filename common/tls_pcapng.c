/* SPDX-License-Identifier: MIT */
/*
 * tls_pcapng.c - the TLS key logs a pcapng file carries in Decryption
 * Secrets Blocks (block type 0x0000000A, secrets type 0x544C534B "TLSK",
 * body: key-log text; pcapng specification, draft-ietf-opsawg-pcapng,
 * section 4.7).  libpcap hands out packets only, so this walks the
 * blocks itself: fed the file's bytes in any pieces, it skips every other
 * block without keeping it and adds each TLS key-log body to a key table.
 * A DSB body is kept whole until it ends, up to a bound given by the
 * caller; a larger one is skipped and counted.
 */
#include <string.h>

#include "alloc.h"
#include "tls.h"

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_DSB 0x0000000Au
#define PCAPNG_BOM 0x1A2B3C4Du
#define DSB_TLS_KEYLOG 0x544C534Bu

struct smtpreply_tls_pcapng {
    smtpreply_realloc_fn alloc;
    void *alloc_ctx;
    struct smtpreply_tls_keylog *kl;
    size_t max_body;
    uint8_t hdr[12];
    uint32_t hdr_len;
    bool big_endian, started, failed;
    uint64_t skip; /* bytes of the current block still to pass over */
    uint8_t *body; /* a DSB's remaining bytes, being gathered */
    size_t body_len, body_want;
    struct smtpreply_tls_pcapng_stats st;
};

struct smtpreply_tls_pcapng *smtpreply_tls_pcapng_new(struct smtpreply_tls_keylog *kl,
                                                      size_t max_body, smtpreply_realloc_fn alloc,
                                                      void *alloc_ctx)
{
    if (!alloc)
        alloc = sr_libc_realloc;
    struct smtpreply_tls_pcapng *p = alloc(alloc_ctx, NULL, sizeof *p);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->alloc = alloc;
    p->alloc_ctx = alloc_ctx;
    p->kl = kl;
    p->max_body = max_body;
    return p;
}

void smtpreply_tls_pcapng_free(struct smtpreply_tls_pcapng *p)
{
    if (!p)
        return;
    if (p->body)
        p->alloc(p->alloc_ctx, p->body, 0);
    p->alloc(p->alloc_ctx, p, 0);
}

const struct smtpreply_tls_pcapng_stats *
smtpreply_tls_pcapng_stats(const struct smtpreply_tls_pcapng *p)
{
    return &p->st;
}

static uint32_t get32(const struct smtpreply_tls_pcapng *p, const uint8_t *b)
{
    if (p->big_endian)
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static bool fail(struct smtpreply_tls_pcapng *p)
{
    p->failed = true;
    return false;
}

/* A DSB's bytes after its type and length: secrets type, secrets length,
 * secrets (padded), options, the length again. */
static void dsb(struct smtpreply_tls_pcapng *p, const uint8_t *b, size_t len)
{
    p->st.dsbs++;
    if (len < 12)
        return;
    uint32_t type = get32(p, b), sl = get32(p, b + 4);
    if (type != DSB_TLS_KEYLOG || sl > len - 12) {
        p->st.other_secrets++;
        return;
    }
    p->st.tls_keylogs++;
    if (p->kl)
        smtpreply_tls_keylog_add(p->kl, (const char *)b + 8, sl);
}

bool smtpreply_tls_pcapng_feed(struct smtpreply_tls_pcapng *p, const uint8_t *data, size_t len)
{
    if (!p || p->failed)
        return false;
    while (len) {
        if (p->skip) {
            size_t n = len < p->skip ? len : (size_t)p->skip;
            p->skip -= n;
            data += n;
            len -= n;
            continue;
        }
        if (p->body_want) {
            size_t n = p->body_want - p->body_len;
            if (n > len)
                n = len;
            memcpy(p->body + p->body_len, data, n);
            p->body_len += n;
            data += n;
            len -= n;
            if (p->body_len == p->body_want) {
                dsb(p, p->body, p->body_len);
                p->alloc(p->alloc_ctx, p->body, 0);
                p->body = NULL;
                p->body_len = p->body_want = 0;
            }
            continue;
        }
        /* A block header: type and total length (and, for a section
         * header, its byte-order magic, which says how to read the rest). */
        bool shb = p->hdr_len >= 4 && memcmp(p->hdr, "\x0A\x0D\x0D\x0A", 4) == 0;
        uint32_t need = shb || (p->hdr_len < 4 && !p->started) ? 12 : 8;
        size_t n = need - p->hdr_len;
        if (n > len)
            n = len;
        memcpy(p->hdr + p->hdr_len, data, n);
        p->hdr_len += (uint32_t)n;
        data += n;
        len -= n;
        shb = p->hdr_len >= 4 && memcmp(p->hdr, "\x0A\x0D\x0D\x0A", 4) == 0;
        if (p->hdr_len >= 4 && !p->started && !shb)
            return fail(p); /* not pcapng (a pcap file, or junk) */
        if (p->hdr_len < (shb ? 12u : 8u))
            continue;
        if (shb) {
            uint8_t *m = p->hdr + 8;
            if (m[0] == 0x1A && m[1] == 0x2B && m[2] == 0x3C && m[3] == 0x4D)
                p->big_endian = true;
            else if (m[0] == 0x4D && m[1] == 0x3C && m[2] == 0x2B && m[3] == 0x1A)
                p->big_endian = false;
            else
                return fail(p);
            p->started = true;
        }
        uint32_t type = get32(p, p->hdr), total = get32(p, p->hdr + 4);
        if (total < (shb ? 28u : 12u) || total % 4)
            return fail(p);
        p->st.blocks++;
        uint32_t rest = total - p->hdr_len;
        p->hdr_len = 0;
        if (type == PCAPNG_DSB && rest <= p->max_body) {
            p->body = p->alloc(p->alloc_ctx, NULL, rest ? rest : 1);
            if (p->body) {
                p->body_want = rest;
                p->body_len = 0;
                if (rest == 0) {
                    dsb(p, p->body, 0);
                    p->alloc(p->alloc_ctx, p->body, 0);
                    p->body = NULL;
                    p->body_want = 0;
                }
                continue;
            }
        }
        if (type == PCAPNG_DSB) {
            p->st.dsbs++;
            p->st.skipped++;
        }
        p->skip = rest;
    }
    return true;
}
