/* SPDX-License-Identifier: MIT */
/*
 * test_tls.c - the TLS decryption module against published vectors:
 * RFC 8448 §3 ("Simple 1-RTT Handshake": its traffic secrets, keys, IVs
 * and wire records, decrypted through the record layer from a key log),
 * the TLS 1.2 PRF (SHA-256) test vector, the key-log parser, and damaged
 * streams (a cut record, a bad MAC, gaps).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tls.h"

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (v < 0)
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < max)
                out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

static bool eq_hex(const uint8_t *p, size_t len, const char *hex)
{
    uint8_t want[256];
    size_t n = unhex(hex, want, sizeof want);
    return n == len && memcmp(p, want, n) == 0;
}

/* ---- RFC 8448 §3 ---- */

#define R8448_CLIENT_RANDOM "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"
#define R8448_CHTS "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
#define R8448_SHTS "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
#define R8448_CATS "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
#define R8448_SATS "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"

static const char r8448_ch[] =
    "16 03 01 00 c4 01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a"
    "8d 99 12 ec 18 a2 ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b"
    "00 09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19"
    "01 00 01 01 01 02 01 03 01 04 00 23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4"
    "bd 43 d2 3d 8e 43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c 00 2b 00 03"
    "02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02"
    "01 04 02 05 02 06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01";
static const char r8448_sh[] =
    "16 03 03 00 5a 02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a"
    "c5 cb 14 34 da c1 55 77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88"
    "76 11 20 95 fe 66 76 2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00"
    "2b 00 02 03 04";
/* EncryptedExtensions, Certificate, CertificateVerify, Finished. */
static const char r8448_flight[] =
    "17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07 cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a"
    "f3 5e df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca 07 61 2e f9 f9 45 cb 96 0b 40 68 90"
    "51 23 ea 78 b1 11 b4 29 ba 91 91 cd 05 d2 a3 89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8"
    "28 b5 ec f7 b1 3b d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9 b1 18 3e"
    "f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf 51 42 73 25 25 0c 7d 0e 50 92 89 44"
    "4c 9b 3a 64 8f 1d 71 03 5d 2e d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3 60 98 72 55"
    "cc 74 41 10 c4 53 ba a4 fc d6 10 92 8d 80 98 10 e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82 04 79"
    "7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6 86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8"
    "94 41 ac 66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea 52 0a 56 a8 d6 50"
    "f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e a5 e2 2f 44 15 cf 95 38 d5 1a 20 0c 27 03 42"
    "72 96 8a 26 4e d6 54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb 31 7b 66"
    "d9 02 f4 f2 92 a3 6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31 7b 49 ee da 0c 62 58 f1"
    "00 d7 d9 61 ff b1 38 64 7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e 1b 7a 6c 71 78 af"
    "36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84 c8 b0 37 8b f3 02 44 da 8c 87 c8 43"
    "f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6"
    "6f 99 88 2b d8 9f c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80 f8 5d f8 81 ed be"
    "5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18 a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13"
    "af bb 99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb 56 30 c8 ca 01 e0 c6 5d 11 c6 6a 1e"
    "2a c4 c8 59 77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51 56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c"
    "0b 3b 66 76 30 38 eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f"
    "60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd d5 02 78 40 16 e4 b3 be 7e"
    "f0 4d da 49 f4 b4 40 a3 0c b5 d2 af 93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31 ed e4 2c 17"
    "19 bf da bf 02 53 fe 51 75 be 89 8e 75 0e dc 53 37 0d 2b";
static const char r8448_cfin[] =
    "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a"
    "4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c ae ac ab 68 67 d7 26 c4 05 46";
/* NewSessionTicket: the server's first record under application keys. */
static const char r8448_nst[] =
    "17 03 03 00 de 3a 6b 8f 90 41 4a 97 d6 95 9c 34 87 68 0d e5 13 4a 2b 24 0e 6c ff ac 11 6e"
    "95 d4 1d 6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a 01 59 40 25 2f 55 71 3e 06 1d c1 3e"
    "07 88 91 a3 8e fb cf 57 53 ad 8e f1 70 ad 3c 73 53 d1 6d 9d a7 73 b9 ca 7f 2b 9f a1 b6 c0"
    "d4 a3 d0 3f 75 e0 9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13 06 46 15"
    "13 98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84 00 25 db 2f 0a 77 f8 1b 5a b0 5b 94"
    "c0 13 46 75 5f 69 23 2c 86 51 9d 86 cb ee ac 87 aa c3 47 d1 43 f9 60 5d 64 f6 50 db 4d 02"
    "3e 70 e9 52 ca 49 fe 51 37 12 1c 74 bc 26 97 68 7e 24 87 46 d6 df 35 30 05 f3 bc e1 86 96"
    "12 9c 81 53 55 6b 3b 6c 67 79 b3 7b f1 59 85 68 4f";
/* Application data, 00 01 .. 31 each way (client seq 0, server seq 1). */
static const char r8448_capp[] =
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc"
    "ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd"
    "1e 3d ea e6 3a ee bb 21 69 49 15 e4";
static const char r8448_sapp[] =
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa"
    "1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2"
    "ab f3 32 54 0d d0 32 e1 67 c2 95 5d";

static const char r8448_keylog[] =
    "# RFC 8448 section 3\r\n"
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET " R8448_CLIENT_RANDOM " " R8448_CHTS "\r\n"
    "SERVER_HANDSHAKE_TRAFFIC_SECRET " R8448_CLIENT_RANDOM " " R8448_SHTS "\r\n"
    "\n"
    "CLIENT_TRAFFIC_SECRET_0 " R8448_CLIENT_RANDOM " " R8448_CATS "\n"
    "SERVER_TRAFFIC_SECRET_0 " R8448_CLIENT_RANDOM " " R8448_SATS "\n";

static void test_tls13_keys(void)
{
    static const struct {
        const char *secret, *key, *iv;
    } v[] = {
        {R8448_SHTS, "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"},
        {R8448_CHTS, "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"},
        {R8448_SATS, "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984"},
        {R8448_CATS, "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t secret[32], key[16], iv[12];
        CHECK_EQ_U(unhex(v[i].secret, secret, sizeof secret), 32);
        CHECK(smtpreply_tls13_traffic_keys(false, secret, 32, key, 16, iv));
        CHECK(eq_hex(key, 16, v[i].key));
        CHECK(eq_hex(iv, 12, v[i].iv));
    }
}

static void test_tls12_prf(void)
{
    /* The TLS 1.2 PRF (P_SHA256) test vector published with the IETF TLS
     * working group's test vectors: secret, label "test label", seed. */
    uint8_t secret[16], seed[16], out[100];
    unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35", secret, sizeof secret);
    unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c", seed, sizeof seed);
    CHECK(smtpreply_tls12_prf(false, secret, 16, "test label", seed, 16, out, 100));
    CHECK(eq_hex(out, 100,
                 "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
                 "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
                 "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
                 "87347b66"));
}

/* ---- the record layer on the RFC 8448 trace ---- */

struct sink {
    uint8_t data[2][4096];
    size_t len[2];
};

static void sink_fn(void *user, int dir, const uint8_t *data, size_t len)
{
    struct sink *s = user;
    if (s->len[dir] + len <= sizeof s->data[dir]) {
        memcpy(s->data[dir] + s->len[dir], data, len);
        s->len[dir] += len;
    }
}

struct rec {
    int dir;
    uint8_t b[700];
    size_t len;
};

static size_t trace(struct rec *r)
{
    const char *hex[] = {r8448_ch,  r8448_sh,   r8448_flight, r8448_cfin,
                         r8448_nst, r8448_capp, r8448_sapp};
    const int dir[] = {0, 1, 1, 0, 1, 0, 1};
    for (size_t i = 0; i < 7; i++) {
        r[i].dir = dir[i];
        r[i].len = unhex(hex[i], r[i].b, sizeof r[i].b);
    }
    return 7;
}

static bool payload_ok(const struct sink *s, int dir)
{
    if (s->len[dir] != 50)
        return false;
    for (size_t i = 0; i < 50; i++)
        if (s->data[dir][i] != i)
            return false;
    return true;
}

/* Feeds the trace in pieces of `piece` bytes (0: a record at a time). */
static void run_trace(struct smtpreply_tls_keylog *kl, struct rec *r, size_t n, size_t piece,
                      struct sink *s, struct smtpreply_tls_status *st)
{
    memset(s, 0, sizeof *s);
    struct smtpreply_tls *t = smtpreply_tls_new(kl, sink_fn, s, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        size_t step = piece ? piece : r[i].len;
        for (size_t o = 0; o < r[i].len; o += step)
            smtpreply_tls_feed(t, r[i].dir, r[i].b + o,
                               r[i].len - o < step ? r[i].len - o : step);
    }
    smtpreply_tls_end(t);
    smtpreply_tls_status(t, st);
    smtpreply_tls_free(t);
}

static void test_rfc8448_trace(void)
{
    struct smtpreply_tls_keylog *kl = smtpreply_tls_keylog_new(16, NULL, NULL);
    smtpreply_tls_keylog_add(kl, r8448_keylog, strlen(r8448_keylog));
    CHECK_EQ_U(smtpreply_tls_keylog_stats(kl)->keys, 1);
    CHECK_EQ_U(smtpreply_tls_keylog_stats(kl)->secrets, 4);
    static struct rec r[7];
    size_t n = trace(r);
    static struct sink s;
    struct smtpreply_tls_status st;
    const size_t pieces[] = {0, 1, 3, 7, 100};
    for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        run_trace(kl, r, n, pieces[p], &s, &st);
        CHECK(payload_ok(&s, 0));
        CHECK(payload_ok(&s, 1));
        CHECK_EQ_U(st.version, 0x0304);
        CHECK_EQ_S(st.version_name, "1.3");
        CHECK_EQ_S(st.cipher_name, "TLS_AES_128_GCM_SHA256");
        CHECK(st.decrypted);
        CHECK_EQ_U(st.keys, SMTPREPLY_TLS_KEYS_FOUND);
        CHECK_EQ_U(st.records, 7);
        CHECK_EQ_U(st.errors, 0);
    }

    /* Every record in one feed per direction (several records a feed). */
    {
        static uint8_t all[2][2048];
        size_t len[2] = {0, 0};
        for (size_t i = 0; i < n; i++) {
            memcpy(all[r[i].dir] + len[r[i].dir], r[i].b, r[i].len);
            len[r[i].dir] += r[i].len;
        }
        memset(&s, 0, sizeof s);
        struct smtpreply_tls *t = smtpreply_tls_new(kl, sink_fn, &s, NULL, NULL);
        /* The client's hello first, then the server's flight, then the rest
         * of the client's records: the order a capture gives. */
        smtpreply_tls_feed(t, 0, all[0], r[0].len);
        smtpreply_tls_feed(t, 1, all[1], len[1]);
        smtpreply_tls_feed(t, 0, all[0] + r[0].len, len[0] - r[0].len);
        smtpreply_tls_end(t);
        smtpreply_tls_status(t, &st);
        smtpreply_tls_free(t);
        CHECK(payload_ok(&s, 0));
        CHECK(payload_ok(&s, 1));
        CHECK_EQ_U(st.errors, 0);
    }

    /* A bad MAC: one bit of the client's application record. */
    r[5].b[20] ^= 1;
    run_trace(kl, r, n, 0, &s, &st);
    CHECK_EQ_U(s.len[0], 0);
    CHECK(payload_ok(&s, 1));
    CHECK_EQ_U(st.errors, SMTPREPLY_TLS_ERR_BAD_MAC);
    r[5].b[20] ^= 1;

    /* A cut record: the server's last record loses its tail. */
    r[6].len -= 10;
    run_trace(kl, r, n, 0, &s, &st);
    CHECK(payload_ok(&s, 0));
    CHECK_EQ_U(s.len[1], 0);
    CHECK_EQ_U(st.errors, SMTPREPLY_TLS_ERR_TRUNCATED_RECORD);
    r[6].len += 10;

    /* No keys. */
    struct smtpreply_tls_keylog *none = smtpreply_tls_keylog_new(16, NULL, NULL);
    run_trace(none, r, n, 0, &s, &st);
    CHECK_EQ_U(s.len[0] + s.len[1], 0);
    CHECK(!st.decrypted);
    CHECK_EQ_U(st.keys, SMTPREPLY_TLS_KEYS_MISSING);
    CHECK_EQ_U(st.errors, SMTPREPLY_TLS_ERR_NO_KEYS);
    CHECK_EQ_S(st.cipher_name, "TLS_AES_128_GCM_SHA256");
    smtpreply_tls_keylog_free(none);

    /* The ClientHello lost: its random is unknown, so no key can be
     * looked up; that is "no-handshake", not "no-keys". */
    run_trace(kl, r + 1, n - 1, 0, &s, &st);
    CHECK_EQ_U(s.len[0] + s.len[1], 0);
    CHECK_EQ_U(st.errors, SMTPREPLY_TLS_ERR_NO_HANDSHAKE);
    CHECK_EQ_U(st.keys, SMTPREPLY_TLS_KEYS_MISSING);
    CHECK_EQ_S(st.version_name, "1.3");

    /* 0-RTT: a ClientHello offering early data (the early_data extension
     * appended to RFC 8448's), an early-data record before the
     * ServerHello and another after it (the server refused them): both
     * skipped, the rest decrypts. */
    {
        static struct rec e[9];
        e[0] = r[0];
        static const uint8_t ext[4] = {0x00, 0x2a, 0x00, 0x00};
        memcpy(e[0].b + e[0].len, ext, 4);
        e[0].len += 4;
        e[0].b[4] += 4; /* record length 0x00c4 -> 0x00c8 */
        e[0].b[8] += 4; /* ClientHello length 0x0000c0 -> 0x0000c4 */
        e[0].b[5 + 4 + 2 + 32 + 1 + 2 + 6 + 2 + 1] += 4; /* extensions length 0x0091 */
        e[1] = r[6]; /* early data: any protected record will do */
        e[1].dir = 0;
        e[2] = r[1];
        e[3] = r[2];
        e[4] = r[6];
        e[4].dir = 0;
        for (int i = 3; i < 7; i++)
            e[i + 2] = r[i];
        run_trace(kl, e, 9, 0, &s, &st);
        CHECK(payload_ok(&s, 0));
        CHECK(payload_ok(&s, 1));
        CHECK_EQ_U(st.errors, 0);
    }

    /* No handshake: the application records alone. */
    run_trace(kl, r + 5, 2, 0, &s, &st);
    CHECK_EQ_U(s.len[0] + s.len[1], 0);
    CHECK(st.errors & SMTPREPLY_TLS_ERR_NO_HANDSHAKE);
    CHECK(!st.decrypted);
    smtpreply_tls_keylog_free(kl);
}

/* Gaps: the server's NewSessionTicket record (seq 0) is lost. */
static void test_gap(void)
{
    struct smtpreply_tls_keylog *kl = smtpreply_tls_keylog_new(16, NULL, NULL);
    smtpreply_tls_keylog_add(kl, r8448_keylog, strlen(r8448_keylog));
    static struct rec r[7];
    trace(r);
    static struct sink s;
    struct smtpreply_tls_status st;
    for (int variant = 0; variant < 4; variant++) {
        memset(&s, 0, sizeof s);
        struct smtpreply_tls *t = smtpreply_tls_new(kl, sink_fn, &s, NULL, NULL);
        for (int i = 0; i < 4; i++)
            smtpreply_tls_feed(t, r[i].dir, r[i].b, r[i].len);
        switch (variant) {
        case 0: /* the whole record lost, at a record boundary */
            smtpreply_tls_gap(t, 1, r[4].len);
            break;
        case 1: /* its header read, the rest lost: the next header's place is known */
            smtpreply_tls_feed(t, 1, r[4].b, 30);
            smtpreply_tls_gap(t, 1, r[4].len - 30);
            break;
        case 2: /* the gap runs into the next record: found by its header */
            smtpreply_tls_feed(t, 1, r[4].b, 30);
            smtpreply_tls_gap(t, 1, r[4].len - 30 + 10);
            break;
        case 3: /* the middle of the record lost, its end received */
            smtpreply_tls_feed(t, 1, r[4].b, 30);
            smtpreply_tls_gap(t, 1, 100);
            smtpreply_tls_feed(t, 1, r[4].b + 130, r[4].len - 130);
            break;
        }
        if (variant == 2) {
            /* The rest of the cut record is junk to the header search; the
             * next record (here the same bytes, seq 1) is found past it. */
            smtpreply_tls_feed(t, 1, r[6].b + 10, r[6].len - 10);
        }
        smtpreply_tls_feed(t, 0, r[5].b, r[5].len);
        smtpreply_tls_feed(t, 1, r[6].b, r[6].len);
        smtpreply_tls_end(t);
        smtpreply_tls_status(t, &st);
        smtpreply_tls_free(t);
        CHECK(payload_ok(&s, 0));
        CHECK(payload_ok(&s, 1));
        CHECK_EQ_U(st.errors, 0);
    }

    /* After a gap, junk that looks like short records before the real one,
     * all in one feed: the candidates fail, the search goes on past them. */
    {
        memset(&s, 0, sizeof s);
        struct smtpreply_tls *t = smtpreply_tls_new(kl, sink_fn, &s, NULL, NULL);
        for (int i = 0; i < 6; i++)
            if (i != 4)
                smtpreply_tls_feed(t, r[i].dir, r[i].b, r[i].len);
        smtpreply_tls_gap(t, 1, r[4].len + 3);
        static uint8_t buf[1024];
        size_t n = 0;
        for (int k = 0; k < 3; k++) {
            static const uint8_t fake[5] = {0x17, 0x03, 0x03, 0x00, 0x14};
            memcpy(buf + n, fake, 5);
            memset(buf + n + 5, 0xA5 + k, 0x14);
            n += 5 + 0x14;
            buf[n++] = 0x17; /* a lone byte between */
        }
        memcpy(buf + n, r[6].b, r[6].len);
        n += r[6].len;
        smtpreply_tls_feed(t, 1, buf, n);
        smtpreply_tls_end(t);
        smtpreply_tls_status(t, &st);
        smtpreply_tls_free(t);
        CHECK(payload_ok(&s, 1));
        CHECK_EQ_U(st.errors, 0);
        CHECK_EQ_U(st.records, 6); /* the junk candidates are not records */
    }

    /* A gap and then the end, nothing after it: "gap" too. */
    {
        memset(&s, 0, sizeof s);
        struct smtpreply_tls *t = smtpreply_tls_new(kl, sink_fn, &s, NULL, NULL);
        for (int i = 0; i < 6; i++)
            if (i != 4)
                smtpreply_tls_feed(t, r[i].dir, r[i].b, r[i].len);
        smtpreply_tls_gap(t, 1, 500);
        smtpreply_tls_feed(t, 1, r[6].b + 20, r[6].len - 20);
        smtpreply_tls_end(t);
        smtpreply_tls_status(t, &st);
        smtpreply_tls_free(t);
        CHECK(payload_ok(&s, 0));
        CHECK_EQ_U(st.errors, SMTPREPLY_TLS_ERR_GAP);
    }

    /* After a gap, a record that never authenticates: "gap", the direction
     * stops, and what was read before stays. */
    memset(&s, 0, sizeof s);
    struct smtpreply_tls *t = smtpreply_tls_new(kl, sink_fn, &s, NULL, NULL);
    for (int i = 0; i < 6; i++)
        if (i != 4)
            smtpreply_tls_feed(t, r[i].dir, r[i].b, r[i].len);
    smtpreply_tls_gap(t, 1, r[4].len);
    r[6].b[30] ^= 0x80;
    for (int k = 0; k < 5; k++)
        smtpreply_tls_feed(t, 1, r[6].b, r[6].len);
    r[6].b[30] ^= 0x80;
    smtpreply_tls_feed(t, 1, r[6].b, r[6].len);
    smtpreply_tls_end(t);
    smtpreply_tls_status(t, &st);
    smtpreply_tls_free(t);
    CHECK(payload_ok(&s, 0));
    CHECK_EQ_U(s.len[1], 0);
    CHECK_EQ_U(st.errors, SMTPREPLY_TLS_ERR_GAP);
    CHECK(st.decrypted);
    smtpreply_tls_keylog_free(kl);
}

static void test_keylog(void)
{
    struct smtpreply_tls_keylog *kl = smtpreply_tls_keylog_new(2, NULL, NULL);
    const char *text =
        "# comment\n"
        "   \n"
        "CLIENT_RANDOM 0000000000000000000000000000000000000000000000000000000000000001 "
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627"
        "28292a2b2c2d2e2f\r\n"
        "EXPORTER_SECRET " R8448_CLIENT_RANDOM " " R8448_CATS "\n"
        "CLIENT_RANDOM 00 0102\n"                   /* wrong lengths */
        "CLIENT_RANDOM zz" R8448_CLIENT_RANDOM "\n" /* two fields */
        "garbage line with words\n"
        "CLIENT_TRAFFIC_SECRET_0 " R8448_CLIENT_RANDOM " " R8448_CATS "xy\n" /* bad hex */
        "\x01\x02\xff\n"
        "SERVER_TRAFFIC_SECRET_0 " R8448_CLIENT_RANDOM " " R8448_SATS "\n"
        "CLIENT_TRAFFIC_SECRET_0 " R8448_CLIENT_RANDOM " " R8448_CATS "\n"
        "CLIENT_RANDOM 00000000000000000000000000000000000000000000000000000000000000ff "
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627"
        "28292a2b2c2d2e2f\n"
        "CLIENT_RANDOM 0000000000000000000000000000000000000000000000000000000000000001 "
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627"
        "282"; /* cut */
    smtpreply_tls_keylog_add(kl, text, strlen(text));
    const struct smtpreply_tls_keylog_stats *st = smtpreply_tls_keylog_stats(kl);
    CHECK_EQ_U(st->lines, 13);
    CHECK_EQ_U(st->keys, 2);
    CHECK_EQ_U(st->secrets, 3);
    CHECK_EQ_U(st->ignored, 1);
    CHECK_EQ_U(st->junk, 6);
    CHECK_EQ_U(st->dropped, 1);
    uint8_t cr[32];
    unhex(R8448_CLIENT_RANDOM, cr, 32);
    const struct smtpreply_tls_secrets *sec = smtpreply_tls_keylog_find(kl, cr);
    CHECK(sec != NULL);
    if (sec) {
        CHECK_EQ_U(sec->len[SMTPREPLY_TLS_CATS], 32);
        CHECK_EQ_U(sec->len[SMTPREPLY_TLS_SATS], 32);
        CHECK_EQ_U(sec->len[SMTPREPLY_TLS_CHTS], 0);
        CHECK(eq_hex(sec->secret[SMTPREPLY_TLS_SATS], 32, R8448_SATS));
    }
    memset(cr, 0, 32);
    cr[31] = 1;
    sec = smtpreply_tls_keylog_find(kl, cr);
    CHECK(sec && sec->len[SMTPREPLY_TLS_MASTER] == 48 &&
          sec->secret[SMTPREPLY_TLS_MASTER][47] == 0x2f);
    cr[31] = 0xff;
    CHECK(smtpreply_tls_keylog_find(kl, cr) == NULL);
    smtpreply_tls_keylog_free(kl);

    /* Many keys: the table grows to its bound and finds every one. */
    kl = smtpreply_tls_keylog_new(1000, NULL, NULL);
    char line[256];
    for (int i = 0; i < 1500; i++) {
        int n = snprintf(line, sizeof line,
                         "CLIENT_RANDOM %064x "
                         "%096d\n",
                         i * 7919, 1);
        smtpreply_tls_keylog_add(kl, line, (size_t)n);
    }
    CHECK_EQ_U(smtpreply_tls_keylog_stats(kl)->keys, 1000);
    CHECK_EQ_U(smtpreply_tls_keylog_stats(kl)->dropped, 500);
    int found = 0;
    for (int i = 0; i < 1500; i++) {
        memset(cr, 0, 32);
        unsigned v = (unsigned)(i * 7919);
        for (int b = 0; b < 4; b++)
            cr[31 - b] = (uint8_t)(v >> (8 * b));
        found += smtpreply_tls_keylog_find(kl, cr) != NULL;
    }
    CHECK_EQ_U(found, 1000);
    smtpreply_tls_keylog_free(kl);
}

/* ---- pcapng Decryption Secrets Blocks ---- */

struct png {
    uint8_t b[8192];
    size_t n;
    bool be;
};

static void put32(struct png *f, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        f->b[f->n++] = (uint8_t)(f->be ? v >> (24 - 8 * i) : v >> (8 * i));
}

/* A block: type, total length, body padded to 4, total length. */
static void block(struct png *f, uint32_t type, const uint8_t *body, size_t len)
{
    uint32_t total = (uint32_t)(12 + (len + 3) / 4 * 4);
    put32(f, type);
    put32(f, total);
    memcpy(f->b + f->n, body, len);
    memset(f->b + f->n + len, 0, (len + 3) / 4 * 4 - len);
    f->n += (len + 3) / 4 * 4;
    put32(f, total);
}

static void dsb_block(struct png *f, uint32_t stype, const char *text)
{
    struct png body = {.be = f->be};
    put32(&body, stype);
    put32(&body, (uint32_t)strlen(text));
    memcpy(body.b + body.n, text, strlen(text));
    body.n += (strlen(text) + 3) / 4 * 4;
    block(f, 0x0000000A, body.b, body.n);
}

static void test_pcapng(void)
{
    for (int be = 0; be < 2; be++) {
        struct png f = {.be = be};
        struct png shb = {.be = be};
        put32(&shb, 0x1A2B3C4D);
        put32(&shb, 0x00000001); /* version 1.0 */
        put32(&shb, 0xFFFFFFFF);
        put32(&shb, 0xFFFFFFFF); /* section length unknown */
        block(&f, 0x0A0D0D0A, shb.b, shb.n);
        static const uint8_t idb[8] = {1, 0, 0, 0, 0, 0, 4, 0};
        block(&f, 0x00000001, idb, sizeof idb);
        dsb_block(&f, 0x544C534B,
                  "CLIENT_HANDSHAKE_TRAFFIC_SECRET " R8448_CLIENT_RANDOM " " R8448_CHTS "\n"
                  "SERVER_HANDSHAKE_TRAFFIC_SECRET " R8448_CLIENT_RANDOM " " R8448_SHTS);
        static const uint8_t epb[24] = {0};
        block(&f, 0x00000006, epb, sizeof epb);
        dsb_block(&f, 0x57474B4C, "not a TLS key log"); /* WireGuard keys */
        char big[600];
        memset(big, '#', sizeof big - 1);
        big[sizeof big - 1] = 0;
        dsb_block(&f, 0x544C534B, big); /* over max_body below */
        dsb_block(&f, 0x544C534B,
                  "CLIENT_TRAFFIC_SECRET_0 " R8448_CLIENT_RANDOM " " R8448_CATS "\r\n"
                  "SERVER_TRAFFIC_SECRET_0 " R8448_CLIENT_RANDOM " " R8448_SATS "\r\n");
        const size_t pieces[] = {1, 5, 4096};
        for (size_t k = 0; k < 3; k++) {
            struct smtpreply_tls_keylog *kl = smtpreply_tls_keylog_new(4, NULL, NULL);
            struct smtpreply_tls_pcapng *p = smtpreply_tls_pcapng_new(kl, 512, NULL, NULL);
            bool ok = true;
            for (size_t o = 0; o < f.n; o += pieces[k])
                ok = ok && smtpreply_tls_pcapng_feed(p, f.b + o,
                                                     f.n - o < pieces[k] ? f.n - o : pieces[k]);
            CHECK(ok);
            const struct smtpreply_tls_pcapng_stats *ps = smtpreply_tls_pcapng_stats(p);
            CHECK_EQ_U(ps->blocks, 7);
            CHECK_EQ_U(ps->dsbs, 4);
            CHECK_EQ_U(ps->tls_keylogs, 2);
            CHECK_EQ_U(ps->other_secrets, 1);
            CHECK_EQ_U(ps->skipped, 1);
            CHECK_EQ_U(smtpreply_tls_keylog_stats(kl)->secrets, 4);
            /* The secrets decrypt the RFC 8448 trace. */
            static struct rec r[7];
            size_t n = trace(r);
            static struct sink s;
            struct smtpreply_tls_status st;
            run_trace(kl, r, n, 0, &s, &st);
            CHECK(payload_ok(&s, 0) && payload_ok(&s, 1) && st.errors == 0);
            smtpreply_tls_pcapng_free(p);
            smtpreply_tls_keylog_free(kl);
        }
        /* A block length that cannot be (not a multiple of 4): stop. */
        static struct png bad;
        bad = f;
        bad.b[28 + 4 + (be ? 3 : 0)] ^=
            0x02; /* the IDB's total length, after the SHB's 28 bytes */
        struct smtpreply_tls_pcapng *p = smtpreply_tls_pcapng_new(NULL, 512, NULL, NULL);
        CHECK(!smtpreply_tls_pcapng_feed(p, bad.b, bad.n));
        CHECK(!smtpreply_tls_pcapng_feed(p, bad.b, 4)); /* stays stopped */
        smtpreply_tls_pcapng_free(p);
    }
    /* A pcap file is not pcapng. */
    static const uint8_t pcap[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0};
    struct smtpreply_tls_pcapng *p = smtpreply_tls_pcapng_new(NULL, 512, NULL, NULL);
    CHECK(!smtpreply_tls_pcapng_feed(p, pcap, sizeof pcap));
    smtpreply_tls_pcapng_free(p);
}

int main(void)
{
    test_tls13_keys();
    test_tls12_prf();
    test_rfc8448_trace();
    test_gap();
    test_keylog();
    test_pcapng();
    CHECK_EQ_S(smtpreply_tls_error_word(0), "no-keys");
    CHECK_EQ_S(smtpreply_tls_error_word(5), "truncated-record");
    CHECK(smtpreply_tls_error_word(6) == NULL);
    return CHECK_DONE();
}
