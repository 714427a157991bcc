/* SPDX-License-Identifier: MIT */
/*
 * tls.c - the TLS record layer and state machine of one connection, read
 * passively.  Each direction is cut into records (RFC 5246 §6.2, RFC 8446
 * §5.1), in any feed pieces; handshake messages are followed across
 * records without being kept, except the hellos, which are read for the
 * client random, the version, the suite and encrypt-then-MAC.  The keys
 * come from the key log by client random:
 *  - TLS 1.2: the key block is PRF(master, "key expansion", server_random
 *    || client_random) (RFC 5246 §6.3); each direction is protected from
 *    its ChangeCipherSpec on, sequence numbers from 0;
 *  - TLS 1.3: records after the ServerHello are protected with the
 *    handshake traffic secrets, then, after each side's Finished, with the
 *    application traffic secrets; a KeyUpdate moves its sender to the next
 *    secret (RFC 8446 §4.4.4, §4.6.3, §7.2).
 * After a gap the record boundary and sequence number are lost: the next
 * record is found by its header (or known, when the gap fell inside a
 * record whose header was read) and must authenticate under one of the
 * next SMTPREPLY_TLS_RESYNC_TRIES sequence numbers (TLS 1.2 GCM: its
 * explicit nonce is tried first); otherwise the direction stops.
 */
#include <string.h>

#include "alloc.h"
#include "tls_internal.h"

/* Candidate headers examined after a gap before the direction gives up. */
#define TLS_RESYNC_HEADERS 4u

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23, CT_HEARTBEAT = 24 };
enum { HS_CLIENT_HELLO = 1, HS_SERVER_HELLO = 2, HS_FINISHED = 20, HS_KEY_UPDATE = 24 };

struct tls_dir {
    uint8_t *rec; /* a record being gathered (header first) */
    uint32_t rec_len, rec_cap;
    uint64_t skip;          /* bytes of a lost record still to pass over */
    uint64_t seq;           /* next sequence number */
    bool protected_;        /* records are protected (after CCS / ServerHello) */
    bool have_cipher;       /* cur holds keys */
    bool stopped;           /* nothing more is read in this direction */
    bool scan;              /* after a gap: looking for a record header */
    bool verify;            /* after a gap: the next record's sequence number is a guess */
    bool app;               /* TLS 1.3: application keys in cur */
    bool any_ok;            /* a protected record authenticated */
    bool seen_bytes;        /* any byte arrived */
    uint8_t scan_tries;     /* candidate headers rejected since the gap */
    struct tls_cipher cur;  /* keys in use */
    struct tls_cipher next; /* TLS 1.2: keys from CCS on; TLS 1.3: application keys */
    bool have_next;
    /* Handshake messages across records. */
    uint8_t hs_hdr[4];
    uint8_t hs_hdr_len;
    uint32_t hs_left; /* body bytes of the current message still to come */
    uint8_t *hello;   /* a hello's body being kept */
    uint32_t hello_len, hello_want;
    bool finished;   /* a Finished ended in the current record */
    bool key_update; /* a KeyUpdate ended in the current record */
};

struct smtpreply_tls {
    smtpreply_realloc_fn alloc;
    void *alloc_ctx;
    const struct smtpreply_tls_keylog *keys;
    smtpreply_tls_data_fn fn;
    void *user;
    struct tls_dir d[2];
    uint8_t *pt; /* one record's plaintext */
    bool have_ch, have_sh, client_etm, early_data, hrr;
    uint8_t client_random[32], server_random[32];
    struct smtpreply_tls_secrets sec;
    const struct tls_suite *suite;
    struct smtpreply_tls_status st;
};

static const uint8_t tls_hrr_random[32] = {
    /* SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3 */
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
    0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
    0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

static const char *const tls_error_words[SMTPREPLY_TLS_NERRORS] =
    {"no-keys", "no-handshake", "unsupported-cipher", "bad-mac", "gap", "truncated-record"};

const char *smtpreply_tls_error_word(unsigned i)
{
    return i < SMTPREPLY_TLS_NERRORS ? tls_error_words[i] : NULL;
}

struct smtpreply_tls *smtpreply_tls_new(const struct smtpreply_tls_keylog *keys,
                                        smtpreply_tls_data_fn fn, void *user,
                                        smtpreply_realloc_fn alloc, void *alloc_ctx)
{
    if (!alloc)
        alloc = sr_libc_realloc;
    struct smtpreply_tls *t = alloc(alloc_ctx, NULL, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->alloc = alloc;
    t->alloc_ctx = alloc_ctx;
    t->keys = keys;
    t->fn = fn;
    t->user = user;
    return t;
}

static void tls_free_buf(struct smtpreply_tls *t, uint8_t **p)
{
    if (*p)
        t->alloc(t->alloc_ctx, *p, 0);
    *p = NULL;
}

void smtpreply_tls_free(struct smtpreply_tls *t)
{
    if (!t)
        return;
    for (int i = 0; i < 2; i++) {
        tls_free_buf(t, &t->d[i].rec);
        tls_free_buf(t, &t->d[i].hello);
        tls_cipher_clear(&t->d[i].cur);
        tls_cipher_clear(&t->d[i].next);
    }
    tls_free_buf(t, &t->pt);
    memset(&t->sec, 0, sizeof t->sec);
    t->alloc(t->alloc_ctx, t, 0);
}

void smtpreply_tls_status(const struct smtpreply_tls *t, struct smtpreply_tls_status *st)
{
    *st = t->st;
    st->version_name = st->version == 0x0303 ? "1.2" : st->version == 0x0304 ? "1.3" : NULL;
    st->cipher_name = st->version ? smtpreply_tls_cipher_name(st->cipher) : NULL;
    if (st->cipher_name && (st->version == 0x0304) != (st->cipher >> 8 == 0x13))
        st->cipher_name = NULL;
}

static void tls_stop(struct smtpreply_tls *t, struct tls_dir *d, unsigned err)
{
    t->st.errors |= err;
    d->stopped = true;
    d->rec_len = 0;
    tls_free_buf(t, &d->rec);
    d->rec_cap = 0;
    tls_free_buf(t, &d->hello);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- hellos ---- */

/* Walks extensions ext[0..len): calls back per extension.  false: malformed. */
struct tls_exts {
    bool etm, early_data, have_version;
    uint16_t version;
};

static bool tls_read_exts(const uint8_t *p, size_t len, bool server, struct tls_exts *x)
{
    while (len) {
        if (len < 4)
            return false;
        uint16_t type = get16(p), el = get16(p + 2);
        if ((size_t)el + 4 > len)
            return false;
        const uint8_t *e = p + 4;
        if (type == 0x0016)
            x->etm = true;
        else if (type == 0x002A)
            x->early_data = true;
        else if (type == 0x002B && server && el == 2) {
            x->have_version = true;
            x->version = get16(e);
        }
        p += 4 + el;
        len -= 4 + (size_t)el;
    }
    return true;
}

static void tls_client_hello(struct smtpreply_tls *t, const uint8_t *b, size_t len)
{
    /* version(2) random(32) session_id<0..32> suites<2..> compression<1..> exts */
    if (len < 2 + 32 + 1)
        return;
    size_t p = 34, sl = b[p];
    p += 1 + sl;
    if (p + 2 > len)
        return;
    p += 2 + (size_t)get16(b + p);
    if (p + 1 > len)
        return;
    p += 1 + (size_t)b[p];
    if (p > len)
        return;
    struct tls_exts x = {0};
    if (p + 2 <= len) {
        size_t el = get16(b + p);
        if (p + 2 + el > len || !tls_read_exts(b + p + 2, el, false, &x))
            return;
    }
    memcpy(t->client_random, b + 2, 32);
    t->have_ch = true;
    t->client_etm = x.etm;
    t->early_data = x.early_data;
}

/* Sets up the connection's keys once both hellos are known. */
static void tls_setup(struct smtpreply_tls *t)
{
    const struct tls_suite *s = tls_suite_find(t->st.cipher);
    uint16_t v = t->st.version;
    if (v != 0x0303 && v != 0x0304) {
        t->st.errors |= SMTPREPLY_TLS_ERR_UNSUPPORTED_CIPHER;
        return;
    }
    if (!s || (s->tls13 != 0) != (v == 0x0304)) {
        t->st.errors |= SMTPREPLY_TLS_ERR_UNSUPPORTED_CIPHER;
        return;
    }
    t->suite = s;
    const struct smtpreply_tls_secrets *sec = NULL;
    if (t->have_ch && t->keys)
        sec = smtpreply_tls_keylog_find(t->keys, t->client_random);
    if (!t->have_ch)
        t->st.errors |= SMTPREPLY_TLS_ERR_NO_HANDSHAKE;
    bool ok = false;
    if (sec) {
        t->sec = *sec;
        if (s->tls13) {
            static const int hs[2] = {SMTPREPLY_TLS_CHTS, SMTPREPLY_TLS_SHTS};
            static const int ap[2] = {SMTPREPLY_TLS_CATS, SMTPREPLY_TLS_SATS};
            ok = true;
            for (int i = 0; i < 2; i++) {
                struct tls_dir *d = &t->d[i];
                d->have_cipher =
                    t->sec.len[hs[i]] &&
                    tls_cipher_init13(&d->cur, s, t->sec.secret[hs[i]], t->sec.len[hs[i]]);
                d->have_next =
                    t->sec.len[ap[i]] &&
                    tls_cipher_init13(&d->next, s, t->sec.secret[ap[i]], t->sec.len[ap[i]]);
                ok = ok && d->have_cipher && d->have_next;
            }
        } else if (sec->len[SMTPREPLY_TLS_MASTER]) {
            /* key_block: client MAC, server MAC, client key, server key, client IV, server IV */
            uint8_t seed[64], kb[2 * 48 + 2 * 32 + 2 * 12];
            memcpy(seed, t->server_random, 32);
            memcpy(seed + 32, t->client_random, 32);
            size_t ml = s->mac_len, kl = s->key_len;
            size_t il = s->bulk == TLS_BULK_AES_GCM ? 4 : s->bulk == TLS_BULK_CHACHA ? 12 : 0;
            size_t need = 2 * (ml + kl + il);
            bool etm = t->st.etm;
            if (smtpreply_tls12_prf(s->sha384, t->sec.secret[SMTPREPLY_TLS_MASTER], 48,
                                    "key expansion", seed, 64, kb, need)) {
                ok = true;
                for (int i = 0; i < 2; i++) {
                    struct tls_dir *d = &t->d[i];
                    d->have_next =
                        tls_cipher_init12(&d->next, s, kb + 2 * ml + i * kl,
                                          kb + 2 * ml + 2 * kl + i * il, kb + i * ml, etm);
                    ok = ok && d->have_next;
                }
            }
            memset(kb, 0, sizeof kb);
        }
    }
    t->st.keys = ok ? SMTPREPLY_TLS_KEYS_FOUND : SMTPREPLY_TLS_KEYS_MISSING;
    if (!ok) {
        /* Without the ClientHello the key log cannot be asked: that is
         * "no-handshake" alone. */
        if (t->have_ch)
            t->st.errors |= SMTPREPLY_TLS_ERR_NO_KEYS;
        for (int i = 0; i < 2; i++) {
            t->d[i].have_cipher = t->d[i].have_next = false;
            tls_cipher_clear(&t->d[i].cur);
            tls_cipher_clear(&t->d[i].next);
        }
    }
    if (s->tls13) {
        /* Everything after the ServerHello is protected, both ways. */
        t->d[0].protected_ = t->d[1].protected_ = true;
        t->d[0].seq = t->d[1].seq = 0;
    }
}

static void tls_server_hello(struct smtpreply_tls *t, const uint8_t *b, size_t len)
{
    /* version(2) random(32) session_id<0..32> suite(2) compression(1) exts */
    if (len < 2 + 32 + 1 || t->have_sh)
        return;
    size_t p = 34;
    p += 1 + (size_t)b[p];
    if (p + 3 > len)
        return;
    uint16_t suite = get16(b + p);
    p += 3;
    struct tls_exts x = {0};
    if (p + 2 <= len) {
        size_t el = get16(b + p);
        if (p + 2 + el > len || !tls_read_exts(b + p + 2, el, true, &x))
            return;
    }
    t->st.version = x.have_version ? x.version : get16(b);
    t->st.cipher = suite;
    if (memcmp(b + 2, tls_hrr_random, 32) == 0) {
        /* A HelloRetryRequest: a second ClientHello and ServerHello follow. */
        t->hrr = true;
        return;
    }
    memcpy(t->server_random, b + 2, 32);
    t->have_sh = true;
    t->st.etm = t->st.version == 0x0303 && x.etm && t->client_etm;
    const struct tls_suite *s = tls_suite_find(suite);
    if (!s || s->bulk != TLS_BULK_AES_CBC)
        t->st.etm = false;
    tls_setup(t);
}

/* Handshake-message bytes of one direction (plaintext or decrypted). */
static void tls_handshake(struct smtpreply_tls *t, int dir, const uint8_t *p, size_t len)
{
    struct tls_dir *d = &t->d[dir];
    while (len) {
        if (d->hs_left == 0 && d->hs_hdr_len < 4) {
            d->hs_hdr[d->hs_hdr_len++] = *p++;
            len--;
            if (d->hs_hdr_len < 4)
                continue;
            uint32_t ml =
                (uint32_t)d->hs_hdr[1] << 16 | (uint32_t)d->hs_hdr[2] << 8 | d->hs_hdr[3];
            uint8_t type = d->hs_hdr[0];
            d->hs_left = ml;
            d->hello_len = 0;
            d->hello_want = 0;
            if ((type == HS_CLIENT_HELLO && dir == 0 && !d->protected_) ||
                (type == HS_SERVER_HELLO && dir == 1 && !d->protected_)) {
                if (ml <= SMTPREPLY_TLS_MAX_HELLO) {
                    if (!d->hello)
                        d->hello = t->alloc(t->alloc_ctx, NULL, SMTPREPLY_TLS_MAX_HELLO);
                    if (d->hello)
                        d->hello_want = ml;
                }
            }
            if (ml == 0)
                goto done;
            continue;
        }
        {
            size_t n = len < d->hs_left ? len : d->hs_left;
            if (d->hello_want) {
                memcpy(d->hello + d->hello_len, p, n);
                d->hello_len += (uint32_t)n;
            }
            p += n;
            len -= n;
            d->hs_left -= (uint32_t)n;
            if (d->hs_left)
                continue;
        }
    done:
        d->hs_hdr_len = 0;
        switch (d->hs_hdr[0]) {
        case HS_CLIENT_HELLO:
            if (d->hello_want)
                tls_client_hello(t, d->hello, d->hello_len);
            break;
        case HS_SERVER_HELLO:
            if (d->hello_want)
                tls_server_hello(t, d->hello, d->hello_len);
            break;
        case HS_FINISHED:
            d->finished = true;
            break;
        case HS_KEY_UPDATE:
            d->key_update = true;
            break;
        default:
            break;
        }
        d->hello_want = 0;
        tls_free_buf(t, &d->hello);
    }
}

/* ---- records ---- */

/* Could h be a record header?  Protected records after a gap are
 * application data, or (TLS 1.2) alert or handshake. */
static bool tls_header_ok(const uint8_t h[5], bool resync)
{
    uint16_t len = get16(h + 3);
    if (h[1] != 3 || h[2] > 4 || len > SMTPREPLY_TLS_MAX_FRAGMENT)
        return false;
    if (resync)
        return h[2] == 3 && len >= 17 && h[0] >= CT_ALERT && h[0] <= CT_APPDATA;
    return h[0] >= CT_CCS && h[0] <= CT_HEARTBEAT;
}

/* Opens a protected record, trying the next sequence numbers after a gap.
 * Returns the plaintext length or -1. */
static long tls_open(struct smtpreply_tls *t, struct tls_dir *d, const uint8_t *h,
                     const uint8_t *frag, size_t len, uint8_t *type)
{
    if (!d->verify) {
        long n = tls_cipher_open(&d->cur, d->seq, h, frag, len, t->pt, type);
        if (n >= 0)
            d->seq++;
        return n;
    }
    /* TLS 1.2 GCM: the explicit nonce is the sender's sequence number in
     * the common implementations; try it first. */
    if (!d->cur.tls13 && d->cur.suite->bulk == TLS_BULK_AES_GCM && len >= 8) {
        uint64_t s = 0;
        for (int i = 0; i < 8; i++)
            s = s << 8 | frag[i];
        if (s >= d->seq && s - d->seq < SMTPREPLY_TLS_RESYNC_TRIES) {
            long n = tls_cipher_open(&d->cur, s, h, frag, len, t->pt, type);
            if (n >= 0) {
                d->seq = s + 1;
                return n;
            }
        }
    }
    for (uint64_t i = 0; i < SMTPREPLY_TLS_RESYNC_TRIES; i++) {
        long n = tls_cipher_open(&d->cur, d->seq + i, h, frag, len, t->pt, type);
        if (n >= 0) {
            d->seq += i + 1;
            return n;
        }
    }
    /* TLS 1.3, lost during the handshake: maybe the Finished was lost too. */
    if (d->cur.tls13 && !d->app && d->have_next) {
        for (uint64_t i = 0; i < SMTPREPLY_TLS_RESYNC_TRIES; i++) {
            long n = tls_cipher_open(&d->next, i, h, frag, len, t->pt, type);
            if (n >= 0) {
                struct tls_cipher tmp = d->cur;
                d->cur = d->next;
                d->next = tmp;
                tls_cipher_clear(&d->next);
                d->have_next = false;
                d->app = true;
                d->seq = i + 1;
                return n;
            }
        }
    }
    return -1;
}

/* One whole record of direction dir.  Returns false when the direction
 * stopped (or must stop scanning: the candidate did not authenticate). */
static bool tls_record(struct smtpreply_tls *t, int dir, const uint8_t *h, const uint8_t *frag,
                       size_t len)
{
    struct tls_dir *d = &t->d[dir];
    uint8_t type = h[0];
    if (!d->verify) /* a candidate after a gap counts once it authenticates */
        t->st.records++;
    if (!d->protected_) {
        if (type == CT_HANDSHAKE) {
            tls_handshake(t, dir, frag, len);
        } else if (type == CT_CCS) {
            if (t->have_sh && t->st.version == 0x0303) {
                d->protected_ = true;
                d->seq = 0;
                if (d->have_next) {
                    d->cur = d->next;
                    memset(&d->next, 0, sizeof d->next);
                    d->have_next = false;
                    d->have_cipher = true;
                }
            }
        } else if (type == CT_APPDATA) {
            /* TLS 1.3 early data follows a ClientHello that offers it,
             * before the ServerHello; its secret is not used here. */
            if (!(dir == 0 && t->have_ch && t->early_data && !t->have_sh))
                t->st.errors |= SMTPREPLY_TLS_ERR_NO_HANDSHAKE;
        }
        return true;
    }
    if (!d->have_cipher) {
        if (!t->suite && !t->have_sh)
            t->st.errors |= SMTPREPLY_TLS_ERR_NO_HANDSHAKE;
        return true;
    }
    /* TLS 1.3 allows unprotected ChangeCipherSpec (middlebox compatibility)
     * and, before the peer could read protected ones, plaintext alerts. */
    bool skip13 = d->cur.tls13 && type != CT_APPDATA;
    if (skip13 && !d->verify)
        return true;
    if (!t->pt) {
        t->pt = t->alloc(t->alloc_ctx, NULL, SMTPREPLY_TLS_MAX_FRAGMENT);
        if (!t->pt) {
            tls_stop(t, d, 0);
            return false;
        }
    }
    uint8_t inner;
    long n = skip13 ? -1 : tls_open(t, d, h, frag, len, &inner);
    if (n < 0) {
        if (d->verify) {
            if (++d->scan_tries < TLS_RESYNC_HEADERS && d->scan)
                return false;
            tls_stop(t, d, SMTPREPLY_TLS_ERR_GAP);
            return false;
        }
        /* TLS 1.3 early data the server refused: skipped like the server does. */
        if (dir == 0 && d->cur.tls13 && !d->app && !d->any_ok && t->early_data)
            return true;
        tls_stop(t, d, SMTPREPLY_TLS_ERR_BAD_MAC);
        return false;
    }
    if (d->verify) {
        t->st.records++;
        d->verify = d->scan = false;
        d->hs_hdr_len = 0;
        d->hs_left = 0;
    }
    d->any_ok = true;
    t->st.decrypted = true;
    if (inner == CT_APPDATA) {
        if (n > 0) {
            t->st.app_bytes[dir] += (uint64_t)n;
            if (t->fn)
                t->fn(t->user, dir, t->pt, (size_t)n);
        }
    } else if (inner == CT_HANDSHAKE) {
        d->finished = d->key_update = false;
        tls_handshake(t, dir, t->pt, (size_t)n);
        if (d->cur.tls13 && d->finished && !d->app && d->have_next) {
            tls_cipher_clear(&d->cur);
            d->cur = d->next;
            memset(&d->next, 0, sizeof d->next);
            d->have_next = false;
            d->app = true;
            d->seq = 0;
        } else if (d->cur.tls13 && d->key_update && d->app) {
            if (!tls_cipher_update13(&d->cur)) {
                tls_stop(t, d, SMTPREPLY_TLS_ERR_BAD_MAC);
                return false;
            }
            d->seq = 0;
        }
    }
    return true;
}

/* Makes room for want bytes in d->rec. */
static bool tls_reserve(struct smtpreply_tls *t, struct tls_dir *d, uint32_t want)
{
    if (want <= d->rec_cap)
        return true;
    uint32_t cap = d->rec_cap ? d->rec_cap : 512;
    while (cap < want)
        cap *= 2;
    if (cap > SMTPREPLY_TLS_MAX_RECORD)
        cap = SMTPREPLY_TLS_MAX_RECORD;
    if (cap < want)
        return false;
    uint8_t *p = t->alloc(t->alloc_ctx, d->rec, cap);
    if (!p)
        return false;
    d->rec = p;
    d->rec_cap = cap;
    return true;
}

/* After a gap: drops bytes until a plausible header starts the buffer
 * (keeping the last 4 when none does: a header's first bytes). */
static void tls_scan(struct tls_dir *d)
{
    uint32_t i = 0;
    while (i + 5 <= d->rec_len && !tls_header_ok(d->rec + i, true))
        i++;
    if (i + 5 > d->rec_len)
        i = d->rec_len >= 4 ? d->rec_len - 4 : 0;
    if (i) {
        memmove(d->rec, d->rec + i, d->rec_len - i);
        d->rec_len -= i;
    }
}

/* Reads the whole records at the start of d->rec, keeping the rest (less
 * than a record).  False when the direction stopped. */
static bool tls_drain(struct smtpreply_tls *t, int dir)
{
    struct tls_dir *d = &t->d[dir];
    while (!d->stopped && d->rec_len >= 5) {
        if (!tls_header_ok(d->rec, d->verify)) {
            /* Not TLS from the start, no record where a gap should end,
             * or a damaged stream. */
            tls_stop(t, d,
                     d->verify       ? SMTPREPLY_TLS_ERR_GAP
                     : t->st.records ? SMTPREPLY_TLS_ERR_TRUNCATED_RECORD
                                     : SMTPREPLY_TLS_ERR_NO_HANDSHAKE);
            break;
        }
        uint32_t want = 5u + get16(d->rec + 3);
        if (d->rec_len < want)
            break;
        tls_record(t, dir, d->rec, d->rec + 5, want - 5);
        if (d->stopped)
            break;
        memmove(d->rec, d->rec + want, d->rec_len - want);
        d->rec_len -= want;
    }
    return !d->stopped;
}

/* After a gap, with no record boundary known: takes up to a record's
 * worth of bytes, looks for a header, and tries each complete candidate.
 * Returns the bytes taken. */
static size_t tls_scan_feed(struct smtpreply_tls *t, int dir, const uint8_t *data, size_t len)
{
    struct tls_dir *d = &t->d[dir];
    if (!tls_reserve(t, d, SMTPREPLY_TLS_MAX_RECORD)) {
        tls_stop(t, d, 0);
        return len;
    }
    size_t n = SMTPREPLY_TLS_MAX_RECORD - d->rec_len;
    if (n > len)
        n = len;
    memcpy(d->rec + d->rec_len, data, n);
    d->rec_len += (uint32_t)n;
    while (d->scan && !d->stopped) {
        tls_scan(d);
        if (d->rec_len < 5 || !tls_header_ok(d->rec, true))
            break;
        uint32_t want = 5u + get16(d->rec + 3);
        if (d->rec_len < want)
            break;
        if (!tls_record(t, dir, d->rec, d->rec + 5, want - 5)) {
            if (d->stopped)
                break;
            /* Not a record after all: look further, one byte on. */
            memmove(d->rec, d->rec + 1, d->rec_len - 1);
            d->rec_len--;
            continue;
        }
        /* In step again: what follows is records. */
        memmove(d->rec, d->rec + want, d->rec_len - want);
        d->rec_len -= want;
        tls_drain(t, dir);
    }
    return n;
}

void smtpreply_tls_feed(struct smtpreply_tls *t, int dir, const uint8_t *data, size_t len)
{
    if (!t || dir < 0 || dir > 1 || !data)
        return;
    struct tls_dir *d = &t->d[dir];
    if (len)
        d->seen_bytes = true;
    while (len && !d->stopped) {
        if (d->skip) {
            size_t n = len < d->skip ? len : (size_t)d->skip;
            d->skip -= n;
            data += n;
            len -= n;
            continue;
        }
        if (d->scan) {
            size_t n = tls_scan_feed(t, dir, data, len);
            data += n;
            len -= n;
            continue;
        }
        /* The whole record in hand: read it where it lies. */
        if (d->rec_len == 0 && len >= 5 && tls_header_ok(data, d->verify) &&
            len >= 5u + get16(data + 3)) {
            size_t rl = 5u + get16(data + 3);
            tls_record(t, dir, data, data + 5, rl - 5);
            data += rl;
            len -= rl;
            continue;
        }
        /* Gather: the header, then the fragment (d->rec holds less than
         * one record here, and its header, once whole, was checked). */
        uint32_t want = d->rec_len >= 5 ? 5u + get16(d->rec + 3) : 5u;
        if (!tls_reserve(t, d, want)) {
            tls_stop(t, d, 0);
            return;
        }
        size_t n = want - d->rec_len;
        if (n > len)
            n = len;
        memcpy(d->rec + d->rec_len, data, n);
        d->rec_len += (uint32_t)n;
        data += n;
        len -= n;
        tls_drain(t, dir);
    }
}

void smtpreply_tls_gap(struct smtpreply_tls *t, int dir, uint64_t missing)
{
    if (!t || dir < 0 || dir > 1 || !missing)
        return;
    struct tls_dir *d = &t->d[dir];
    if (d->stopped)
        return;
    if (!d->protected_ || !d->have_cipher) {
        /* Nothing to resynchronise with: the handshake or the keys are lost. */
        tls_stop(t, d, d->have_cipher || d->have_next ? SMTPREPLY_TLS_ERR_GAP : 0);
        return;
    }
    d->hs_hdr_len = 0;
    d->hs_left = 0;
    d->verify = true;
    d->scan_tries = 0;
    if (d->skip) {
        /* Inside a record already given up. */
        if (missing <= d->skip) {
            d->skip -= missing;
            return;
        }
        d->skip = 0;
        d->scan = true;
        d->seq++;
        return;
    }
    if (d->rec_len >= 5 && !d->scan) {
        uint64_t left = 5u + get16(d->rec + 3) - d->rec_len;
        d->rec_len = 0;
        d->seq++; /* this record is lost */
        if (missing <= left) {
            d->skip = left - missing;
            return;
        }
    }
    d->rec_len = 0;
    d->scan = true;
}

void smtpreply_tls_end(struct smtpreply_tls *t)
{
    if (!t)
        return;
    for (int i = 0; i < 2; i++) {
        struct tls_dir *d = &t->d[i];
        /* Lost bytes with no record authenticated after them: "gap". */
        if (!d->stopped && d->verify)
            t->st.errors |= SMTPREPLY_TLS_ERR_GAP;
        else if (!d->stopped && (d->rec_len || d->skip))
            t->st.errors |= SMTPREPLY_TLS_ERR_TRUNCATED_RECORD;
        d->rec_len = 0;
        d->skip = 0;
    }
    if (!t->have_sh && (t->d[0].seen_bytes || t->d[1].seen_bytes))
        t->st.errors |= SMTPREPLY_TLS_ERR_NO_HANDSHAKE;
    if (t->have_sh && t->st.keys == SMTPREPLY_TLS_KEYS_UNKNOWN)
        t->st.keys = SMTPREPLY_TLS_KEYS_MISSING;
}
