/* SPDX-License-Identifier: MIT */
/*
 * tls_keylog.c - the NSS key-log format (the SSLKEYLOGFILE text that NSS,
 * OpenSSL, GnuTLS and Python write): one secret a line,
 * "LABEL <client random, 64 hex digits> <secret, hex>", '#' comments.
 * Secrets are kept per client random in a table of at most max_keys
 * entries: a dense array in arrival order and an open-addressing index of
 * it (a power of two, at least twice the array's capacity).
 */
#include <string.h>

#include "alloc.h"
#include "tls.h"

struct smtpreply_tls_keylog {
    smtpreply_realloc_fn alloc;
    void *alloc_ctx;
    size_t max_keys;
    struct smtpreply_tls_secrets *ent;
    size_t n, cap;
    uint32_t *index; /* entry number + 1; 0: empty */
    size_t index_cap;
    struct smtpreply_tls_keylog_stats st;
    const struct smtpreply_tls_keylog *fallback;
};

static const struct {
    const char *label;
    enum smtpreply_tls_secret_kind kind;
} kl_labels[] = {
    {"CLIENT_RANDOM", SMTPREPLY_TLS_MASTER},
    {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", SMTPREPLY_TLS_CHTS},
    {"SERVER_HANDSHAKE_TRAFFIC_SECRET", SMTPREPLY_TLS_SHTS},
    {"CLIENT_TRAFFIC_SECRET_0", SMTPREPLY_TLS_CATS},
    {"SERVER_TRAFFIC_SECRET_0", SMTPREPLY_TLS_SATS},
};

struct smtpreply_tls_keylog *smtpreply_tls_keylog_new(size_t max_keys, smtpreply_realloc_fn alloc,
                                                      void *alloc_ctx)
{
    if (!alloc)
        alloc = sr_libc_realloc;
    struct smtpreply_tls_keylog *kl = alloc(alloc_ctx, NULL, sizeof *kl);
    if (!kl)
        return NULL;
    memset(kl, 0, sizeof *kl);
    kl->alloc = alloc;
    kl->alloc_ctx = alloc_ctx;
    kl->max_keys = max_keys ? max_keys : 1;
    /* The index holds 32-bit entry numbers. */
    if (kl->max_keys > (UINT32_MAX >> 2))
        kl->max_keys = UINT32_MAX >> 2;
    return kl;
}

void smtpreply_tls_keylog_free(struct smtpreply_tls_keylog *kl)
{
    if (!kl)
        return;
    if (kl->ent)
        kl->alloc(kl->alloc_ctx, kl->ent, 0);
    if (kl->index)
        kl->alloc(kl->alloc_ctx, kl->index, 0);
    kl->alloc(kl->alloc_ctx, kl, 0);
}

const struct smtpreply_tls_keylog_stats *
smtpreply_tls_keylog_stats(const struct smtpreply_tls_keylog *kl)
{
    return &kl->st;
}

static size_t kl_hash(const uint8_t r[32])
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 32; i++)
        h = (h ^ r[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The index slot holding r, or the empty slot where it would go. */
static size_t kl_slot(const struct smtpreply_tls_keylog *kl, const uint8_t r[32])
{
    size_t mask = kl->index_cap - 1, i = kl_hash(r) & mask;
    while (kl->index[i] && memcmp(kl->ent[kl->index[i] - 1].client_random, r, 32) != 0)
        i = (i + 1) & mask;
    return i;
}

const struct smtpreply_tls_secrets *
smtpreply_tls_keylog_find(const struct smtpreply_tls_keylog *kl, const uint8_t client_random[32])
{
    if (!kl)
        return NULL;
    if (kl->index_cap) {
        size_t i = kl_slot(kl, client_random);
        if (kl->index[i])
            return &kl->ent[kl->index[i] - 1];
    }
    const struct smtpreply_tls_keylog *fb = kl->fallback;
    if (!fb || !fb->index_cap)
        return NULL;
    size_t i = kl_slot(fb, client_random);
    return fb->index[i] ? &fb->ent[fb->index[i] - 1] : NULL;
}

void smtpreply_tls_keylog_set_fallback(struct smtpreply_tls_keylog *kl,
                                       const struct smtpreply_tls_keylog *fallback)
{
    if (kl && fallback != kl)
        kl->fallback = fallback;
}

/* Room for one more entry (array and index); false when full or out of memory. */
static bool kl_grow(struct smtpreply_tls_keylog *kl)
{
    if (kl->n < kl->cap)
        return true;
    if (kl->cap >= kl->max_keys)
        return false;
    size_t cap = kl->cap ? kl->cap * 2 : 16;
    if (cap > kl->max_keys)
        cap = kl->max_keys;
    struct smtpreply_tls_secrets *ent = kl->alloc(kl->alloc_ctx, kl->ent, cap * sizeof *ent);
    if (!ent)
        return false;
    kl->ent = ent;
    size_t icap = 32;
    while (icap < 2 * cap)
        icap *= 2;
    if (icap != kl->index_cap) {
        uint32_t *index = kl->alloc(kl->alloc_ctx, NULL, icap * sizeof *index);
        if (!index)
            return false;
        memset(index, 0, icap * sizeof *index);
        if (kl->index)
            kl->alloc(kl->alloc_ctx, kl->index, 0);
        kl->index = index;
        kl->index_cap = icap;
        for (size_t e = 0; e < kl->n; e++)
            kl->index[kl_slot(kl, kl->ent[e].client_random)] = (uint32_t)(e + 1);
    }
    kl->cap = cap;
    return true;
}

static int kl_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) (an even number of hex digits, at most max bytes). */
static bool kl_hex(const char *s, size_t len, uint8_t *out, size_t max, size_t *out_len)
{
    if (len == 0 || len % 2 || len / 2 > max)
        return false;
    for (size_t i = 0; i < len; i += 2) {
        int hi = kl_hexval(s[i]), lo = kl_hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = len / 2;
    return true;
}

static bool kl_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One line without its LF. */
static void kl_line(struct smtpreply_tls_keylog *kl, const char *s, size_t len)
{
    kl->st.lines++;
    while (len && kl_space(s[len - 1]))
        len--;
    size_t i = 0;
    while (i < len && kl_space(s[i]))
        i++;
    if (i == len || s[i] == '#')
        return;
    /* Three fields separated by blanks. */
    const char *f[3];
    size_t fl[3], nf = 0;
    while (i < len) {
        if (nf == 3) {
            kl->st.junk++;
            return;
        }
        f[nf] = s + i;
        while (i < len && !kl_space(s[i]))
            i++;
        fl[nf] = (size_t)(s + i - f[nf]);
        nf++;
        while (i < len && kl_space(s[i]))
            i++;
    }
    if (nf != 3) {
        kl->st.junk++;
        return;
    }
    for (size_t k = 0; k < fl[0]; k++) {
        char c = f[0][k];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            kl->st.junk++;
            return;
        }
    }
    uint8_t random[32], secret[SMTPREPLY_TLS_MAX_SECRET];
    size_t rl, sl;
    int kind = -1;
    for (size_t k = 0; k < sizeof kl_labels / sizeof kl_labels[0]; k++)
        if (strlen(kl_labels[k].label) == fl[0] && memcmp(kl_labels[k].label, f[0], fl[0]) == 0)
            kind = (int)kl_labels[k].kind;
    if (kind < 0) {
        /* Another label (EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET, RSA, ...):
         * well-formed hex is ignored, anything else is junk. */
        bool hex = fl[1] % 2 == 0 && fl[2] % 2 == 0 && fl[1] && fl[2];
        for (size_t k = 0; hex && k < fl[1]; k++)
            hex = kl_hexval(f[1][k]) >= 0;
        for (size_t k = 0; hex && k < fl[2]; k++)
            hex = kl_hexval(f[2][k]) >= 0;
        if (hex)
            kl->st.ignored++;
        else
            kl->st.junk++;
        return;
    }
    if (!kl_hex(f[1], fl[1], random, sizeof random, &rl) || rl != 32 ||
        !kl_hex(f[2], fl[2], secret, sizeof secret, &sl) ||
        (kind == SMTPREPLY_TLS_MASTER ? sl != 48 : (sl != 32 && sl != 48))) {
        kl->st.junk++;
        return;
    }
    struct smtpreply_tls_secrets *e = NULL;
    if (kl->index_cap) {
        size_t slot = kl_slot(kl, random);
        if (kl->index[slot])
            e = &kl->ent[kl->index[slot] - 1];
    }
    if (!e) {
        if (!kl_grow(kl)) {
            kl->st.dropped++;
            return;
        }
        e = &kl->ent[kl->n];
        memset(e, 0, sizeof *e);
        memcpy(e->client_random, random, 32);
        kl->index[kl_slot(kl, random)] = (uint32_t)(kl->n + 1);
        kl->n++;
        kl->st.keys = kl->n;
    }
    /* A later line for the same secret replaces the earlier one. */
    memcpy(e->secret[kind], secret, sl);
    e->len[kind] = (uint8_t)sl;
    kl->st.secrets++;
}

void smtpreply_tls_keylog_add(struct smtpreply_tls_keylog *kl, const char *text, size_t len)
{
    if (!kl || !text)
        return;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            kl_line(kl, text + start, i - start);
            start = i + 1;
        }
    }
    if (start < len)
        kl_line(kl, text + start, len - start);
}
