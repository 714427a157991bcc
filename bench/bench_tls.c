/* SPDX-License-Identifier: MIT */
/*
 * bench_tls.c - the cost of TLS decryption in the TLS module, against the
 * cipher alone.  Builds a TLS 1.3 connection with TLS_AES_256_GCM_SHA384
 * in memory (hellos, the client's Finished, then full 16 KiB application
 * records, sealed with libcrypto from made-up secrets given to the module
 * as a key log), then times:
 *  - the module: records framed from the stream, opened, plaintext out;
 *  - libcrypto alone: AES-256-GCM decryption of the same records;
 *  - libcrypto on one record again and again, in cache: the in-process
 *    counterpart of `openssl speed -evp aes-256-gcm -bytes 16384`.
 * Compare the last with `openssl speed` on the same machine.  Times are
 * the process's CPU time, as `openssl speed` counts by default, so a
 * loaded machine changes them less.
 *
 *   bench_tls [MEGABYTES [PIECE]]   (default 256 MB, fed in 1448-byte pieces)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "tls.h"

#define REC_PLAIN 16384u

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* Seals one TLS 1.3 record (RFC 8446 §5.2): inner plaintext = data ||
 * type, AAD = header, nonce = iv ^ seq.  Returns its length. */
static size_t seal(EVP_CIPHER_CTX *ctx, const uint8_t iv[12], uint64_t seq, uint8_t type,
                   const uint8_t *data, size_t len, uint8_t *out)
{
    static uint8_t inner[REC_PLAIN + 1];
    memcpy(inner, data, len);
    inner[len] = type;
    size_t clen = len + 1 + 16;
    out[0] = 0x17;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(clen >> 8);
    out[4] = (uint8_t)clen;
    uint8_t nonce[12];
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
    int n;
    EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce);
    EVP_EncryptUpdate(ctx, NULL, &n, out, 5);
    EVP_EncryptUpdate(ctx, out + 5, &n, inner, (int)len + 1);
    EVP_EncryptFinal_ex(ctx, out + 5 + len + 1, &n);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + len + 1);
    return 5 + clen;
}

static uint64_t sink_bytes;

static void on_data(void *user, int dir, const uint8_t *data, size_t len)
{
    (void)user;
    (void)dir;
    (void)data;
    sink_bytes += len;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 256;
    size_t piece = argc > 2 ? (size_t)atol(argv[2]) : 1448;
    if (mb == 0 || piece == 0)
        return 2;
    size_t nrec = mb * 1000000 / REC_PLAIN + 1;

    /* Made-up secrets and randoms: a key log names them. */
    uint8_t cr[32], sr[32], chts[48], cats[48], shts[48], sats[48];
    for (int i = 0; i < 48; i++) {
        chts[i] = (uint8_t)(i + 1);
        cats[i] = (uint8_t)(i + 101);
        shts[i] = (uint8_t)(i + 51);
        sats[i] = (uint8_t)(i + 151);
        if (i < 32) {
            cr[i] = (uint8_t)(0xC0 + i);
            sr[i] = (uint8_t)(0x30 + i);
        }
    }
    char keylog[1024], h1[65], h2[97];
    size_t kl_len = 0;
    const struct {
        const char *label;
        const uint8_t *s;
    } lines[] = {{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", chts},
                 {"SERVER_HANDSHAKE_TRAFFIC_SECRET", shts},
                 {"CLIENT_TRAFFIC_SECRET_0", cats},
                 {"SERVER_TRAFFIC_SECRET_0", sats}};
    hex(h1, cr, 32);
    for (int i = 0; i < 4; i++) {
        hex(h2, lines[i].s, 48);
        kl_len += (size_t)snprintf(keylog + kl_len, sizeof keylog - kl_len, "%s %s %s\n",
                                   lines[i].label, h1, h2);
    }

    /* The client's stream: ClientHello, Finished (handshake keys), then
     * application records; the server's: a ServerHello choosing 0x1302. */
    size_t cap = 512 + (nrec + 1) * (REC_PLAIN + 64);
    uint8_t *cli = malloc(cap);
    uint8_t *plain = malloc(REC_PLAIN);
    if (!cli || !plain)
        return 1;
    size_t cl = 0;
    static const uint8_t ch_head[] = {0x16, 3, 1, 0, 45, 1, 0, 0, 41, 3, 3};
    memcpy(cli, ch_head, sizeof ch_head);
    cl = sizeof ch_head;
    memcpy(cli + cl, cr, 32);
    cl += 32;
    static const uint8_t ch_tail[] = {0, 0, 2, 0x13, 0x02, 1, 0};
    memcpy(cli + cl, ch_tail, sizeof ch_tail);
    cl += sizeof ch_tail;
    uint8_t srv[128];
    size_t sl = 0;
    static const uint8_t sh_head[] = {0x16, 3, 3, 0, 50, 2, 0, 0, 46, 3, 3};
    memcpy(srv, sh_head, sizeof sh_head);
    sl = sizeof sh_head;
    memcpy(srv + sl, sr, 32);
    sl += 32;
    static const uint8_t sh_tail[] = {0, 0x13, 0x02, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4};
    memcpy(srv + sl, sh_tail, sizeof sh_tail);
    sl += sizeof sh_tail;

    size_t ch_end = cl;
    uint8_t key[32], iv[12];
    EVP_CIPHER_CTX *enc = EVP_CIPHER_CTX_new();
    smtpreply_tls13_traffic_keys(true, chts, 48, key, 32, iv);
    EVP_EncryptInit_ex(enc, EVP_aes_256_gcm(), NULL, key, NULL);
    uint8_t fin[4 + 48] = {20, 0, 0, 48};
    cl += seal(enc, iv, 0, 22, fin, sizeof fin, cli + cl);
    size_t app_start = cl;
    smtpreply_tls13_traffic_keys(true, cats, 48, key, 32, iv);
    EVP_EncryptInit_ex(enc, EVP_aes_256_gcm(), NULL, key, NULL);
    for (size_t i = 0; i < REC_PLAIN; i++)
        plain[i] = (uint8_t)("MAIL FROM:<a@example.test>\r\n"[i % 28]);
    for (size_t r = 0; r < nrec; r++)
        cl += seal(enc, iv, r, 23, plain, REC_PLAIN, cli + cl);
    EVP_CIPHER_CTX_free(enc);

    /* The module. */
    struct smtpreply_tls_keylog *kl = smtpreply_tls_keylog_new(16, NULL, NULL);
    smtpreply_tls_keylog_add(kl, keylog, kl_len);
    double t0 = now();
    struct smtpreply_tls *t = smtpreply_tls_new(kl, on_data, NULL, NULL, NULL);
    smtpreply_tls_feed(t, 0, cli, ch_end);
    smtpreply_tls_feed(t, 1, srv, sl);
    smtpreply_tls_feed(t, 0, cli + ch_end, app_start - ch_end);
    for (size_t o = app_start; o < cl; o += piece)
        smtpreply_tls_feed(t, 0, cli + o, cl - o < piece ? cl - o : piece);
    smtpreply_tls_end(t);
    double t_mod = now() - t0;
    struct smtpreply_tls_status st;
    smtpreply_tls_status(t, &st);
    smtpreply_tls_free(t);
    if (sink_bytes != nrec * REC_PLAIN || st.errors) {
        fprintf(stderr, "bench_tls: decrypted %llu of %llu bytes, errors %#x\n",
                (unsigned long long)sink_bytes, (unsigned long long)(nrec * REC_PLAIN),
                st.errors);
        return 1;
    }

    /* libcrypto alone, the same records. */
    EVP_CIPHER_CTX *dec = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(dec, EVP_aes_256_gcm(), NULL, key, NULL);
    static uint8_t out[REC_PLAIN + 1];
    t0 = now();
    size_t o = app_start;
    for (size_t r = 0; r < nrec; r++) {
        uint8_t nonce[12];
        memcpy(nonce, iv, 12);
        for (int i = 0; i < 8; i++)
            nonce[11 - i] ^= (uint8_t)(r >> (8 * i));
        int n, clen = (int)REC_PLAIN + 1;
        EVP_DecryptInit_ex(dec, NULL, NULL, NULL, nonce);
        EVP_DecryptUpdate(dec, NULL, &n, cli + o, 5);
        EVP_DecryptUpdate(dec, out, &n, cli + o + 5, clen);
        EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_AEAD_SET_TAG, 16, cli + o + 5 + clen);
        if (EVP_DecryptFinal_ex(dec, out + n, &n) <= 0)
            return 1;
        o += 5 + (size_t)clen + 16;
    }
    double t_evp = now() - t0;
    /* One record over and over, in cache, as `openssl speed` does. */
    t0 = now();
    for (size_t r = 0; r < nrec; r++) {
        int n, clen = (int)REC_PLAIN + 1;
        EVP_DecryptInit_ex(dec, NULL, NULL, NULL, iv);
        EVP_DecryptUpdate(dec, NULL, &n, cli + app_start, 5);
        EVP_DecryptUpdate(dec, out, &n, cli + app_start + 5, clen);
        EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_AEAD_SET_TAG, 16, cli + app_start + 5 + clen);
        if (EVP_DecryptFinal_ex(dec, out + n, &n) <= 0)
            return 1;
    }
    double t_hot = now() - t0;
    EVP_CIPHER_CTX_free(dec);

    double mbytes = (double)(nrec * REC_PLAIN) / 1e6;
    printf("TLS 1.3 TLS_AES_256_GCM_SHA384, %zu records of %u bytes (%.0f MB), fed in %zu-byte "
           "pieces\n",
           nrec, REC_PLAIN, mbytes, piece);
    printf("module (framing, opening, plaintext out): %.3f s, %.0f MB/s\n", t_mod,
           mbytes / t_mod);
    printf("libcrypto AES-256-GCM alone:              %.3f s, %.0f MB/s\n", t_evp,
           mbytes / t_evp);
    printf("libcrypto, one record in cache:           %.3f s, %.0f MB/s\n", t_hot,
           mbytes / t_hot);
    printf("module / cipher on the same records: %.2f\n", t_mod / t_evp);
    smtpreply_tls_keylog_free(kl);
    free(cli);
    free(plain);
    return 0;
}
