/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls.c - the TLS module: the key-log parser, the pcapng
 * Decryption Secrets Block reader and the record layer.
 * Input: [key-log length (2 bytes, big-endian)][key-log text, or a
 * pcapng file (read in pieces of 1 to 16 bytes) whose DSBs hold it] then
 * commands [op (1 byte)][length (2 bytes)][data]: op & 3 is 0 or 1:
 * bytes of that direction, fed in pieces of (op >> 2) + 1 bytes when op
 * has bit 7 set (else whole); 2: a gap of `length` bytes in direction
 * (op >> 2) & 1; 3: the end.  The seed corpus holds real sessions with
 * their key logs, so mutations reach decryption.  Checks: never more
 * plaintext out than bytes in, status words known, no crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

static uint64_t fz_out[2];

static void fz_data(void *user, int dir, const uint8_t *data, size_t len)
{
    (void)user;
    if (dir < 0 || dir > 1 || !data || len == 0 || len > SMTPREPLY_TLS_MAX_FRAGMENT)
        abort();
    /* Touch every byte (ASan sees an over-read). */
    volatile uint8_t x = 0;
    for (size_t i = 0; i < len; i++)
        x ^= data[i];
    (void)x;
    fz_out[dir] += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t kl_len = (size_t)data[0] << 8 | data[1];
    if (kl_len > size - 2)
        kl_len = size - 2;
    /* The key log as its own allocation, so ASan sees any over-read. */
    char *text = malloc(kl_len ? kl_len : 1);
    if (!text)
        return 0;
    memcpy(text, data + 2, kl_len);
    struct smtpreply_tls_keylog *kl = smtpreply_tls_keylog_new(8, NULL, NULL);
    if (kl_len >= 4 && memcmp(text, "\x0A\x0D\x0D\x0A", 4) == 0) {
        /* A pcapng file: its Decryption Secrets Blocks, in pieces. */
        struct smtpreply_tls_pcapng *png = smtpreply_tls_pcapng_new(kl, 4096, NULL, NULL);
        size_t piece = (size_t)(data[1] & 15) + 1;
        for (size_t o = 0; o < kl_len; o += piece)
            if (!smtpreply_tls_pcapng_feed(png, (const uint8_t *)text + o,
                                           kl_len - o < piece ? kl_len - o : piece))
                break;
        const struct smtpreply_tls_pcapng_stats *ps = smtpreply_tls_pcapng_stats(png);
        if (ps->tls_keylogs + ps->other_secrets + ps->skipped > ps->dsbs || ps->dsbs > ps->blocks)
            abort();
        smtpreply_tls_pcapng_free(png);
    } else {
        smtpreply_tls_keylog_add(kl, text, kl_len);
    }
    free(text);
    const struct smtpreply_tls_keylog_stats *ks = smtpreply_tls_keylog_stats(kl);
    if (ks->keys > 8 || ks->secrets + ks->ignored + ks->junk + ks->dropped > ks->lines)
        abort();

    fz_out[0] = fz_out[1] = 0;
    uint64_t in[2] = {0, 0};
    struct smtpreply_tls *t = smtpreply_tls_new(kl, fz_data, NULL, NULL, NULL);
    size_t p = 2 + kl_len;
    bool ended = false;
    while (p + 3 <= size && !ended) {
        uint8_t op = data[p];
        size_t len = (size_t)data[p + 1] << 8 | data[p + 2];
        p += 3;
        switch (op & 3) {
        case 0:
        case 1: {
            int dir = op & 1;
            if (len > size - p)
                len = size - p;
            /* A copy of exactly len bytes. */
            uint8_t *buf = malloc(len ? len : 1);
            if (!buf)
                break;
            memcpy(buf, data + p, len);
            size_t piece = op & 0x80 ? (size_t)((op >> 2) & 0x1f) + 1 : (len ? len : 1);
            for (size_t o = 0; o < len; o += piece)
                smtpreply_tls_feed(t, dir, buf + o, len - o < piece ? len - o : piece);
            free(buf);
            in[dir] += len;
            p += len;
            break;
        }
        case 2:
            smtpreply_tls_gap(t, (op >> 2) & 1, len);
            break;
        default:
            ended = true;
            break;
        }
    }
    smtpreply_tls_end(t);
    struct smtpreply_tls_status st;
    smtpreply_tls_status(t, &st);
    if (fz_out[0] > in[0] || fz_out[1] > in[1] || st.app_bytes[0] != fz_out[0] ||
        st.app_bytes[1] != fz_out[1])
        abort();
    if (st.errors >> SMTPREPLY_TLS_NERRORS)
        abort();
    if ((fz_out[0] || fz_out[1]) && (!st.decrypted || st.keys != SMTPREPLY_TLS_KEYS_FOUND))
        abort();
    if (st.version_name && strcmp(st.version_name, "1.2") && strcmp(st.version_name, "1.3"))
        abort();
    smtpreply_tls_free(t);
    smtpreply_tls_keylog_free(kl);
    return 0;
}
