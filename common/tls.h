/* SPDX-License-Identifier: MIT */
/*
 * tls.h - passive TLS decryption from key logs (no I/O): an NSS key-log
 * parser, a reader of the key logs that pcapng files carry in Decryption
 * Secrets Blocks, and a TLS record layer that follows one connection's two byte
 * streams, finds its hellos, takes the connection's secrets from the key
 * log and hands the decrypted application data of each direction to a
 * callback.  TLS 1.2 (AES-GCM, ChaCha20-Poly1305, AES-CBC with HMAC, with
 * or without encrypt-then-MAC) and TLS 1.3 (the three RFC 8446 AEAD
 * suites, with KeyUpdate).  The primitives are OpenSSL 3's libcrypto; this
 * module is a separate library (smtpreply_tls) so that what does not
 * decrypt does not link it.
 *
 * Bounds: a connection holds at most one record per direction (header +
 * 2^14 + 2048 bytes, the TLS 1.2 ciphertext limit, RFC 5246 §6.2.3), one
 * record's plaintext, and the hello message being read in each direction
 * (at most SMTPREPLY_TLS_MAX_HELLO bytes): under 90 KiB in all, allocated
 * as needed and released with the connection.  The key table holds at
 * most max_keys client randoms.
 */
#ifndef SMTPREPLY_TLS_H
#define SMTPREPLY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpreply.h"

#define SMTPREPLY_TLS_MAX_FRAGMENT (16384u + 2048u)
#define SMTPREPLY_TLS_MAX_RECORD (5u + SMTPREPLY_TLS_MAX_FRAGMENT)
#define SMTPREPLY_TLS_MAX_HELLO 16384u
#define SMTPREPLY_TLS_MAX_SECRET 48u
/* Sequence numbers tried after a gap (RFC 8446 §5.3, RFC 5246 §6.1). */
#define SMTPREPLY_TLS_RESYNC_TRIES 64u

/* ---- key log (NSS SSLKEYLOGFILE format) ---- */

enum smtpreply_tls_secret_kind {
    SMTPREPLY_TLS_MASTER, /* CLIENT_RANDOM: TLS 1.2 master secret */
    SMTPREPLY_TLS_CHTS,   /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
    SMTPREPLY_TLS_SHTS,   /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
    SMTPREPLY_TLS_CATS,   /* CLIENT_TRAFFIC_SECRET_0 */
    SMTPREPLY_TLS_SATS,   /* SERVER_TRAFFIC_SECRET_0 */
    SMTPREPLY_TLS_NSECRETS
};

/* The secrets known for one client random; len[k] == 0: not known. */
struct smtpreply_tls_secrets {
    uint8_t client_random[32];
    uint8_t len[SMTPREPLY_TLS_NSECRETS];
    uint8_t secret[SMTPREPLY_TLS_NSECRETS][SMTPREPLY_TLS_MAX_SECRET];
};

struct smtpreply_tls_keylog_stats {
    size_t keys;      /* client randoms in the table */
    uint64_t lines;   /* lines read (blank and comment lines included) */
    uint64_t secrets; /* secret lines stored */
    uint64_t ignored; /* well-formed lines of labels not used here (EXPORTER_SECRET, ...) */
    uint64_t junk;    /* malformed lines: unknown shape, bad hex, wrong lengths */
    uint64_t dropped; /* secrets for a new client random once the table was full */
};

struct smtpreply_tls_keylog;

/* max_keys: the bound on client randoms held (0: 1).  alloc may be NULL. */
struct smtpreply_tls_keylog *smtpreply_tls_keylog_new(size_t max_keys, smtpreply_realloc_fn alloc,
                                                      void *alloc_ctx);
void smtpreply_tls_keylog_free(struct smtpreply_tls_keylog *kl);
/* Adds the secrets of one key-log text (a file's or a pcapng Decryption
 * Secrets Block's content).  Lines end in LF or CRLF; the last may lack
 * one.  Never fails: what it cannot read is counted as junk. */
void smtpreply_tls_keylog_add(struct smtpreply_tls_keylog *kl, const char *text, size_t len);
const struct smtpreply_tls_keylog_stats *
smtpreply_tls_keylog_stats(const struct smtpreply_tls_keylog *kl);
/* A second table that smtpreply_tls_keylog_find asks when kl has nothing
 * for a random (one level: the fallback's own fallback is not asked), so
 * a file's own secrets (a pcapng's Decryption Secrets Blocks) and the
 * run's key logs serve together.  It must outlive kl; NULL: none. */
void smtpreply_tls_keylog_set_fallback(struct smtpreply_tls_keylog *kl,
                                       const struct smtpreply_tls_keylog *fallback);
/* The secrets for a client random (in kl, else in its fallback), or NULL. */
const struct smtpreply_tls_secrets *
smtpreply_tls_keylog_find(const struct smtpreply_tls_keylog *kl, const uint8_t client_random[32]);

/* ---- key logs inside pcapng files ---- */

struct smtpreply_tls_pcapng_stats {
    uint64_t blocks;        /* blocks read */
    uint64_t dsbs;          /* Decryption Secrets Blocks */
    uint64_t tls_keylogs;   /* of them, TLS key logs added to the table */
    uint64_t other_secrets; /* of them, other secrets types (or malformed) */
    uint64_t skipped;       /* of them, larger than max_body: not read */
};

struct smtpreply_tls_pcapng;

/* Reads the Decryption Secrets Blocks of one pcapng file into kl (which
 * must outlive it).  max_body bounds the bytes kept for one block. */
struct smtpreply_tls_pcapng *smtpreply_tls_pcapng_new(struct smtpreply_tls_keylog *kl,
                                                      size_t max_body, smtpreply_realloc_fn alloc,
                                                      void *alloc_ctx);
void smtpreply_tls_pcapng_free(struct smtpreply_tls_pcapng *p);
/* The file's bytes from its start, in any pieces.  False once the data is
 * not pcapng (a pcap file, or a broken block length): stop feeding. */
bool smtpreply_tls_pcapng_feed(struct smtpreply_tls_pcapng *p, const uint8_t *data, size_t len);
const struct smtpreply_tls_pcapng_stats *
smtpreply_tls_pcapng_stats(const struct smtpreply_tls_pcapng *p);

/* ---- one connection ---- */

/* Error words (a bit set): see smtpreply_tls_error_word. */
enum {
    SMTPREPLY_TLS_ERR_NO_KEYS = 1u << 0,            /* "no-keys" */
    SMTPREPLY_TLS_ERR_NO_HANDSHAKE = 1u << 1,       /* "no-handshake" */
    SMTPREPLY_TLS_ERR_UNSUPPORTED_CIPHER = 1u << 2, /* "unsupported-cipher" */
    SMTPREPLY_TLS_ERR_BAD_MAC = 1u << 3,            /* "bad-mac" */
    SMTPREPLY_TLS_ERR_GAP = 1u << 4,                /* "gap" */
    SMTPREPLY_TLS_ERR_TRUNCATED_RECORD = 1u << 5,   /* "truncated-record" */
    SMTPREPLY_TLS_NERRORS = 6
};
/* The word of error bit i (0 <= i < SMTPREPLY_TLS_NERRORS), else NULL. */
const char *smtpreply_tls_error_word(unsigned i);

enum smtpreply_tls_keys_state {
    SMTPREPLY_TLS_KEYS_UNKNOWN,
    SMTPREPLY_TLS_KEYS_FOUND,
    SMTPREPLY_TLS_KEYS_MISSING
};

struct smtpreply_tls_status {
    uint16_t version;         /* 0x0303 (1.2), 0x0304 (1.3), other, or 0: no ServerHello */
    const char *version_name; /* "1.2", "1.3", or NULL for others and none */
    uint16_t cipher;          /* the suite the server chose (valid when version) */
    const char *cipher_name;  /* its IANA name, NULL when not a suite decrypted here */
    bool decrypted;           /* at least one protected record authenticated */
    bool etm;                 /* TLS 1.2 encrypt-then-MAC negotiated (RFC 7366) */
    enum smtpreply_tls_keys_state keys;
    uint64_t records;      /* records read, both directions */
    uint64_t app_bytes[2]; /* application data handed out, per direction */
    unsigned errors;       /* SMTPREPLY_TLS_ERR_* */
};

/* dir 0: client to server; 1: server to client. */
typedef void (*smtpreply_tls_data_fn)(void *user, int dir, const uint8_t *data, size_t len);

struct smtpreply_tls;

/* keys may be NULL (nothing can be decrypted) and must outlive the
 * connection.  alloc may be NULL (the C library). */
struct smtpreply_tls *smtpreply_tls_new(const struct smtpreply_tls_keylog *keys,
                                        smtpreply_tls_data_fn fn, void *user,
                                        smtpreply_realloc_fn alloc, void *alloc_ctx);
void smtpreply_tls_free(struct smtpreply_tls *t);
/* Bytes of one direction, in stream order, in any pieces. */
void smtpreply_tls_feed(struct smtpreply_tls *t, int dir, const uint8_t *data, size_t len);
/* `missing` bytes of one direction were lost.  The record they fell in is
 * lost; decryption resumes at the next record that authenticates under
 * one of the next SMTPREPLY_TLS_RESYNC_TRIES sequence numbers, or stops
 * for that direction ("gap"). */
void smtpreply_tls_gap(struct smtpreply_tls *t, int dir, uint64_t missing);
/* The streams ended: a record begun and not finished is "truncated-record". */
void smtpreply_tls_end(struct smtpreply_tls *t);
void smtpreply_tls_status(const struct smtpreply_tls *t, struct smtpreply_tls_status *st);

/* ---- building blocks, exposed for tests ---- */

/* The IANA name of a cipher suite decrypted here, or NULL. */
const char *smtpreply_tls_cipher_name(uint16_t suite);
/* TLS 1.3 traffic key and IV from a traffic secret (RFC 8446 §7.3).
 * sha384: the suite's hash is SHA-384 (else SHA-256). */
bool smtpreply_tls13_traffic_keys(bool sha384, const uint8_t *secret, size_t secret_len,
                                  uint8_t *key, size_t key_len, uint8_t iv[12]);
/* The next traffic secret after a KeyUpdate (RFC 8446 §7.2). */
bool smtpreply_tls13_next_secret(bool sha384, const uint8_t *secret, size_t secret_len,
                                 uint8_t *out);
/* TLS 1.2 PRF (RFC 5246 §5) with SHA-256 or SHA-384. */
bool smtpreply_tls12_prf(bool sha384, const uint8_t *secret, size_t secret_len, const char *label,
                         const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len);

#endif
