/* SPDX-License-Identifier: MIT */
/*
 * tls_replay.c - a test driver for the TLS module: replays recorded TLS
 * byte streams through it and writes what it decrypted.
 *
 *   tls_replay KEYLOG CHUNKS OUT0 OUT1
 *
 * KEYLOG is a key-log text, or a pcapng file whose Decryption Secrets
 * Blocks hold the key log.
 * CHUNKS is a sequence of [kind (1 byte)][length (4 bytes, big-endian)]
 * [data]: kind 0 and 1 are bytes of the client's and server's direction
 * (in capture order), kind 2 and 3 a gap of `length` bytes in direction
 * 0 or 1 (no data).  OUT0 and OUT1 receive the plaintext of each
 * direction; the status is printed as one JSON object.  PIECE: feed
 * each chunk in pieces of that many bytes (default: whole).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

static FILE *out[2];

static void on_data(void *user, int dir, const uint8_t *data, size_t len)
{
    (void)user;
    fwrite(data, 1, len, out[dir]);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: tls_replay KEYLOG CHUNKS OUT0 OUT1 [PIECE]\n");
        return 2;
    }
    size_t piece = argc == 6 ? (size_t)strtoul(argv[5], NULL, 10) : 0;
    size_t klen, clen;
    uint8_t *keys = slurp(argv[1], &klen), *chunks = slurp(argv[2], &clen);
    out[0] = fopen(argv[3], "wb");
    out[1] = fopen(argv[4], "wb");
    if (!keys || !chunks || !out[0] || !out[1]) {
        fprintf(stderr, "tls_replay: cannot read or write the files\n");
        return 2;
    }
    struct smtpreply_tls_keylog *kl = smtpreply_tls_keylog_new(1000, NULL, NULL);
    if (klen >= 4 && memcmp(keys, "\x0A\x0D\x0D\x0A", 4) == 0) {
        /* A pcapng file: the key logs of its Decryption Secrets Blocks. */
        struct smtpreply_tls_pcapng *png = smtpreply_tls_pcapng_new(kl, 1 << 24, NULL, NULL);
        if (!smtpreply_tls_pcapng_feed(png, keys, klen))
            fprintf(stderr, "tls_replay: %s: not a readable pcapng\n", argv[1]);
        smtpreply_tls_pcapng_free(png);
    } else {
        smtpreply_tls_keylog_add(kl, (const char *)keys, klen);
    }
    struct smtpreply_tls *t = smtpreply_tls_new(kl, on_data, NULL, NULL, NULL);
    size_t p = 0;
    while (p + 5 <= clen) {
        uint8_t kind = chunks[p];
        size_t len = (size_t)chunks[p + 1] << 24 | (size_t)chunks[p + 2] << 16 |
                     (size_t)chunks[p + 3] << 8 | chunks[p + 4];
        p += 5;
        if (kind >= 2) {
            smtpreply_tls_gap(t, kind - 2, len);
            continue;
        }
        if (len > clen - p)
            break;
        size_t step = piece ? piece : len;
        for (size_t o = 0; o < len; o += step)
            smtpreply_tls_feed(t, kind, chunks + p + o, len - o < step ? len - o : step);
        p += len;
    }
    smtpreply_tls_end(t);
    struct smtpreply_tls_status st;
    smtpreply_tls_status(t, &st);
    printf("{\"version\": %s%s%s, \"cipher\": %s%s%s, \"decrypted\": %s, \"etm\": %s, "
           "\"keys\": \"%s\", \"records\": %llu, \"keylog_secrets\": %llu, \"errors\": [",
           st.version_name ? "\"" : "", st.version_name ? st.version_name : "null",
           st.version_name ? "\"" : "", st.cipher_name ? "\"" : "",
           st.cipher_name ? st.cipher_name : "null", st.cipher_name ? "\"" : "",
           st.decrypted ? "true" : "false", st.etm ? "true" : "false",
           st.keys == SMTPREPLY_TLS_KEYS_FOUND ? "found" : "missing",
           (unsigned long long)st.records,
           (unsigned long long)smtpreply_tls_keylog_stats(kl)->secrets);
    const char *sep = "";
    for (unsigned i = 0; i < SMTPREPLY_TLS_NERRORS; i++)
        if (st.errors & (1u << i)) {
            printf("%s\"%s\"", sep, smtpreply_tls_error_word(i));
            sep = ", ";
        }
    printf("]}\n");
    smtpreply_tls_free(t);
    smtpreply_tls_keylog_free(kl);
    fclose(out[0]);
    fclose(out[1]);
    free(keys);
    free(chunks);
    return 0;
}
