/* SPDX-License-Identifier: MIT */
/*
 * tls_crypto.c - the cipher suites, the key-schedule glue and record
 * protection, over OpenSSL 3's libcrypto (EVP cipher, EVP_MAC "HMAC",
 * EVP_KDF "HKDF" and "TLS1-PRF").  Nothing here is hand-written crypto:
 * only how TLS lays out nonces, additional data, padding and MACs.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "tls_internal.h"

/* The suites decrypted here (IANA TLS Cipher Suites registry).  TLS 1.2
 * key exchange does not matter to a key-log reader: the master secret is
 * given, so RSA, DHE and ECDHE variants of one bulk cipher are alike. */
static const struct tls_suite tls_suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", 1, TLS_BULK_AES_GCM, 16, 0, 0},
    {0x1302, "TLS_AES_256_GCM_SHA384", 1, TLS_BULK_AES_GCM, 32, 0, 1},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", 1, TLS_BULK_CHACHA, 32, 0, 0},
    {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", 0, TLS_BULK_AES_GCM, 16, 0, 0},
    {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", 0, TLS_BULK_AES_GCM, 32, 0, 1},
    {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0, TLS_BULK_AES_GCM, 16, 0, 0},
    {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 0, TLS_BULK_AES_GCM, 32, 0, 1},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0, TLS_BULK_AES_GCM, 16, 0, 0},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0, TLS_BULK_AES_GCM, 32, 0, 1},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0, TLS_BULK_AES_GCM, 16, 0, 0},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0, TLS_BULK_AES_GCM, 32, 0, 1},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0, TLS_BULK_CHACHA, 32, 0, 0},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0, TLS_BULK_CHACHA, 32, 0, 0},
    {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0, TLS_BULK_CHACHA, 32, 0, 0},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", 0, TLS_BULK_AES_CBC, 16, 20, 0},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", 0, TLS_BULK_AES_CBC, 32, 20, 0},
    {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", 0, TLS_BULK_AES_CBC, 16, 32, 0},
    {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", 0, TLS_BULK_AES_CBC, 32, 32, 0},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0, TLS_BULK_AES_CBC, 16, 20, 0},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0, TLS_BULK_AES_CBC, 32, 20, 0},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 0, TLS_BULK_AES_CBC, 16, 32, 0},
    {0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 0, TLS_BULK_AES_CBC, 32, 32, 0},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0, TLS_BULK_AES_CBC, 16, 20, 0},
    {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0, TLS_BULK_AES_CBC, 32, 20, 0},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0, TLS_BULK_AES_CBC, 16, 20, 0},
    {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0, TLS_BULK_AES_CBC, 32, 20, 0},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0, TLS_BULK_AES_CBC, 16, 32, 0},
    {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 0, TLS_BULK_AES_CBC, 32, 48, 1},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0, TLS_BULK_AES_CBC, 16, 32, 0},
    {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 0, TLS_BULK_AES_CBC, 32, 48, 1},
};

const struct tls_suite *tls_suite_find(uint16_t id)
{
    for (size_t i = 0; i < sizeof tls_suites / sizeof tls_suites[0]; i++)
        if (tls_suites[i].id == id)
            return &tls_suites[i];
    return NULL;
}

const char *smtpreply_tls_cipher_name(uint16_t suite)
{
    const struct tls_suite *s = tls_suite_find(suite);
    return s ? s->name : NULL;
}

static const char *tls_md(bool sha384)
{
    return sha384 ? "SHA384" : "SHA256";
}

/* HKDF-Expand-Label(secret, label, "", out_len) (RFC 8446 §7.1). */
static bool tls13_expand_label(bool sha384, const uint8_t *secret, size_t secret_len,
                               const char *label, uint8_t *out, size_t out_len)
{
    uint8_t info[2 + 1 + 6 + 32 + 1];
    size_t ll = strlen(label);
    if (ll > 32 || out_len > 255)
        return false;
    size_t n = 0;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0; /* empty context */

    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kctx)
        return false;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)tls_md(sha384), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
        OSSL_PARAM_construct_end(),
    };
    bool ok = EVP_KDF_derive(kctx, out, out_len, params) > 0;
    EVP_KDF_CTX_free(kctx);
    return ok;
}

bool smtpreply_tls13_traffic_keys(bool sha384, const uint8_t *secret, size_t secret_len,
                                  uint8_t *key, size_t key_len, uint8_t iv[12])
{
    return tls13_expand_label(sha384, secret, secret_len, "key", key, key_len) &&
           tls13_expand_label(sha384, secret, secret_len, "iv", iv, 12);
}

bool smtpreply_tls13_next_secret(bool sha384, const uint8_t *secret, size_t secret_len,
                                 uint8_t *out)
{
    return tls13_expand_label(sha384, secret, secret_len, "traffic upd", out, secret_len);
}

bool smtpreply_tls12_prf(bool sha384, const uint8_t *secret, size_t secret_len, const char *label,
                         const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
    uint8_t buf[128];
    size_t ll = strlen(label);
    if (ll + seed_len > sizeof buf)
        return false;
    memcpy(buf, label, ll);
    memcpy(buf + ll, seed, seed_len);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kctx)
        return false;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)tls_md(sha384), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, buf, ll + seed_len),
        OSSL_PARAM_construct_end(),
    };
    bool ok = EVP_KDF_derive(kctx, out, out_len, params) > 0;
    EVP_KDF_CTX_free(kctx);
    return ok;
}

static const EVP_CIPHER *tls_evp(const struct tls_suite *s)
{
    switch (s->bulk) {
    case TLS_BULK_AES_GCM:
        return s->key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    case TLS_BULK_CHACHA:
        return EVP_chacha20_poly1305();
    default:
        return s->key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    }
}

void tls_cipher_clear(struct tls_cipher *c)
{
    if (c->ctx)
        EVP_CIPHER_CTX_free(c->ctx);
    if (c->mac)
        EVP_MAC_CTX_free(c->mac);
    memset(c, 0, sizeof *c);
}

static bool tls_cipher_key(struct tls_cipher *c, const struct tls_suite *s, const uint8_t *key)
{
    c->suite = s;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return false;
    c->ctx = ctx;
    if (EVP_DecryptInit_ex(ctx, tls_evp(s), NULL, key, NULL) <= 0)
        return false;
    if (s->bulk == TLS_BULK_AES_CBC) {
        EVP_CIPHER_CTX_set_padding(ctx, 0);
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        c->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        if (!c->mac)
            return false;
        const char *md = s->mac_len == 20 ? "SHA1" : s->mac_len == 32 ? "SHA256" : "SHA384";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0),
            OSSL_PARAM_construct_end(),
        };
        if (!EVP_MAC_CTX_set_params(c->mac, params))
            return false;
    }
    return true;
}

bool tls_cipher_init13(struct tls_cipher *c, const struct tls_suite *s, const uint8_t *secret,
                       size_t secret_len)
{
    tls_cipher_clear(c);
    uint8_t key[32];
    size_t want = s->sha384 ? 48 : 32;
    if (!s->tls13 || secret_len != want ||
        !smtpreply_tls13_traffic_keys(s->sha384, secret, secret_len, key, s->key_len, c->iv) ||
        !tls_cipher_key(c, s, key)) {
        tls_cipher_clear(c);
        return false;
    }
    c->tls13 = true;
    memcpy(c->secret, secret, secret_len);
    c->secret_len = (uint8_t)secret_len;
    return true;
}

bool tls_cipher_init12(struct tls_cipher *c, const struct tls_suite *s, const uint8_t *key,
                       const uint8_t *iv, const uint8_t *mac_key, bool etm)
{
    tls_cipher_clear(c);
    if (s->tls13 || !tls_cipher_key(c, s, key)) {
        tls_cipher_clear(c);
        return false;
    }
    if (s->bulk == TLS_BULK_AES_GCM)
        memcpy(c->iv, iv, 4);
    else if (s->bulk == TLS_BULK_CHACHA)
        memcpy(c->iv, iv, 12);
    else
        memcpy(c->mac_key, mac_key, s->mac_len);
    c->etm = etm && s->bulk == TLS_BULK_AES_CBC;
    return true;
}

bool tls_cipher_update13(struct tls_cipher *c)
{
    if (!c->tls13 || !c->suite)
        return false;
    const struct tls_suite *s = c->suite;
    uint8_t next[SMTPREPLY_TLS_MAX_SECRET];
    size_t len = c->secret_len;
    if (!smtpreply_tls13_next_secret(s->sha384, c->secret, len, next))
        return false;
    return tls_cipher_init13(c, s, next, len);
}

static void tls_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* AEAD open: nonce, aad, ct (ct_len bytes) followed by a 16-byte tag. */
static bool tls_aead(struct tls_cipher *c, const uint8_t nonce[12], const uint8_t *aad,
                     size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = c->ctx;
    uint8_t tag[16];
    int n;
    memcpy(tag, ct + ct_len, 16);
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) <= 0 ||
        EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) <= 0 ||
        (ct_len && EVP_DecryptUpdate(ctx, out, &n, ct, (int)ct_len) <= 0) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) <= 0)
        return false;
    return EVP_DecryptFinal_ex(ctx, out + ct_len, &n) > 0;
}

static bool tls_hmac(struct tls_cipher *c, uint64_t seq, const uint8_t hdr[5],
                     const uint8_t *data, size_t len, uint8_t *mac)
{
    uint8_t pre[13];
    tls_put64(pre, seq);
    pre[8] = hdr[0];
    pre[9] = hdr[1];
    pre[10] = hdr[2];
    pre[11] = (uint8_t)(len >> 8);
    pre[12] = (uint8_t)len;
    size_t outl;
    return EVP_MAC_init(c->mac, c->mac_key, c->suite->mac_len, NULL) > 0 &&
           EVP_MAC_update(c->mac, pre, sizeof pre) > 0 && EVP_MAC_update(c->mac, data, len) > 0 &&
           EVP_MAC_final(c->mac, mac, &outl, 64) > 0 && outl == c->suite->mac_len;
}

/* CBC decryption of blocks (iv: 16 bytes) into out; returns the length
 * without padding, or -1 when the padding is malformed. */
static long tls_cbc(struct tls_cipher *c, const uint8_t *iv, const uint8_t *ct, size_t ct_len,
                    uint8_t *out)
{
    int n, m;
    if (ct_len == 0 || ct_len % 16 || EVP_DecryptInit_ex(c->ctx, NULL, NULL, NULL, iv) <= 0 ||
        EVP_DecryptUpdate(c->ctx, out, &n, ct, (int)ct_len) <= 0 ||
        EVP_DecryptFinal_ex(c->ctx, out + n, &m) <= 0 || (size_t)(n + m) != ct_len)
        return -1;
    uint8_t pad = out[ct_len - 1];
    if ((size_t)pad + 1 > ct_len)
        return -1;
    for (size_t i = ct_len - 1 - pad; i < ct_len; i++)
        if (out[i] != pad)
            return -1;
    return (long)(ct_len - 1 - pad);
}

long tls_cipher_open(struct tls_cipher *c, uint64_t seq, const uint8_t hdr[5],
                     const uint8_t *frag, size_t len, uint8_t *out, uint8_t *type)
{
    uint8_t nonce[12], aad[13];
    if (!c->suite || len > SMTPREPLY_TLS_MAX_FRAGMENT)
        return -1;
    if (c->tls13) {
        /* RFC 8446 §5.2-5.4: nonce = iv ^ seq; AAD = the record header. */
        if (len < 17)
            return -1;
        memcpy(nonce, c->iv, 12);
        for (int i = 0; i < 8; i++)
            nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
        if (!tls_aead(c, nonce, hdr, 5, frag, len - 16, out))
            return -1;
        size_t n = len - 16;
        while (n && out[n - 1] == 0)
            n--;
        if (!n)
            return -1;
        *type = out[n - 1];
        return (long)(n - 1);
    }
    *type = hdr[0];
    tls_put64(aad, seq);
    aad[8] = hdr[0];
    aad[9] = hdr[1];
    aad[10] = hdr[2];
    const struct tls_suite *s = c->suite;
    if (s->bulk == TLS_BULK_AES_GCM) {
        /* RFC 5288 §3: salt || explicit nonce; the record carries the latter. */
        if (len < 8 + 16)
            return -1;
        size_t n = len - 24;
        memcpy(nonce, c->iv, 4);
        memcpy(nonce + 4, frag, 8);
        aad[11] = (uint8_t)(n >> 8);
        aad[12] = (uint8_t)n;
        return tls_aead(c, nonce, aad, 13, frag + 8, n, out) ? (long)n : -1;
    }
    if (s->bulk == TLS_BULK_CHACHA) {
        /* RFC 7905 §2: nonce = iv ^ seq. */
        if (len < 16)
            return -1;
        size_t n = len - 16;
        memcpy(nonce, c->iv, 12);
        for (int i = 0; i < 8; i++)
            nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
        aad[11] = (uint8_t)(n >> 8);
        aad[12] = (uint8_t)n;
        return tls_aead(c, nonce, aad, 13, frag, n, out) ? (long)n : -1;
    }
    /* CBC (RFC 5246 §6.2.3.2): explicit IV, then blocks. */
    size_t ml = s->mac_len;
    uint8_t mac[64];
    if (c->etm) {
        /* RFC 7366 §3: the MAC covers IV and ciphertext and follows them. */
        if (len < 16 + 16 + ml)
            return -1;
        size_t body = len - ml;
        if (!tls_hmac(c, seq, hdr, frag, body, mac) || CRYPTO_memcmp(mac, frag + body, ml) != 0)
            return -1;
        return tls_cbc(c, frag, frag + 16, body - 16, out);
    }
    if (len < 16 + 16)
        return -1;
    long n = tls_cbc(c, frag, frag + 16, len - 16, out);
    if (n < (long)ml)
        return -1;
    size_t pt = (size_t)n - ml;
    if (!tls_hmac(c, seq, hdr, out, pt, mac) || CRYPTO_memcmp(mac, out + pt, ml) != 0)
        return -1;
    return (long)pt;
}
