/* SPDX-License-Identifier: MIT */
/* tls_internal.h - what tls.c and tls_crypto.c share: the cipher suites
 * decrypted here and one direction's record protection. */
#ifndef SMTPREPLY_TLS_INTERNAL_H
#define SMTPREPLY_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"

enum tls_bulk { TLS_BULK_AES_GCM, TLS_BULK_CHACHA, TLS_BULK_AES_CBC };

struct tls_suite {
    uint16_t id;
    const char *name;
    uint8_t tls13;   /* a TLS 1.3 suite */
    uint8_t bulk;    /* enum tls_bulk */
    uint8_t key_len; /* 16 or 32 */
    uint8_t mac_len; /* CBC suites: 20 (SHA-1), 32, 48; AEAD: 0 */
    uint8_t sha384;  /* PRF / HKDF hash is SHA-384 (else SHA-256) */
};

const struct tls_suite *tls_suite_find(uint16_t id);

/* One direction's record protection under one set of keys. */
struct tls_cipher {
    const struct tls_suite *suite;
    void *ctx; /* EVP_CIPHER_CTX, keyed once */
    void *mac; /* EVP_MAC_CTX (CBC suites) */
    bool tls13, etm;
    uint8_t iv[12]; /* TLS 1.3 and ChaCha20: 12-byte IV; TLS 1.2 GCM: 4-byte salt */
    uint8_t mac_key[48];
    uint8_t secret[SMTPREPLY_TLS_MAX_SECRET]; /* TLS 1.3: the traffic secret */
    uint8_t secret_len;
};

/* TLS 1.3 keys from a traffic secret. */
bool tls_cipher_init13(struct tls_cipher *c, const struct tls_suite *s, const uint8_t *secret,
                       size_t secret_len);
/* TLS 1.2 keys: one direction's part of the key block. */
bool tls_cipher_init12(struct tls_cipher *c, const struct tls_suite *s, const uint8_t *key,
                       const uint8_t *iv, const uint8_t *mac_key, bool etm);
/* TLS 1.3 KeyUpdate: the next secret and its keys, in place. */
bool tls_cipher_update13(struct tls_cipher *c);
void tls_cipher_clear(struct tls_cipher *c);

/* Authenticates and decrypts one record (hdr: its 5-byte header, frag:
 * its len-byte fragment) at sequence number seq into out (room for len
 * bytes).  Returns the plaintext length and sets *type (TLS 1.3: the
 * inner content type), or -1 when it does not authenticate. */
long tls_cipher_open(struct tls_cipher *c, uint64_t seq, const uint8_t hdr[5],
                     const uint8_t *frag, size_t len, uint8_t *out, uint8_t *type);

#endif
