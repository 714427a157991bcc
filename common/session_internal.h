/* SPDX-License-Identifier: MIT */
/*
 * session_internal.h - what the files of the session engine share; not
 * part of the public API (smtpreply.h).
 *
 * Map:
 *   - line limits of RFC 5321 section 4.5.3.1 and its extensions;
 *   - the session struct, grouped by side (client_side, held_bytes,
 *     server_side), and the types it is built from;
 *   - the pending-command FIFO's accessors and line_reset (inline);
 *   - prototypes of the functions one file of the engine calls in another:
 *       session.c         memory, events, FIFO, line assembly, TLS probe, API
 *       session_client.c  held bytes, commands, SASL lines, DATA body, BDAT
 *       session_server.c  reply assembly, pairing with the pending command
 */
#ifndef SMTPREPLY_SESSION_INTERNAL_H
#define SMTPREPLY_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpreply.h"

/* RFC 5321 §4.5.3.1: limits counted with the CRLF. */
#define RFC_REPLY_LINE_MAX 512u
#define RFC_COMMAND_LINE_MAX 512u
#define RFC_TEXT_LINE_MAX 1000u
/* RFC 4954 §4: an AUTH line may be much longer; 12288 is "sufficient". */
#define RFC_AUTH_LINE_MAX 12288u
/* MAIL/RCPT lines grow with every extension parameter (RFC 1870, 3030,
 * 4954, 6531, 2852, 3885, 6710, 4865, 3865, 8689 add up to 1676 octets). */
#define RFC_MAIL_LINE_MAX (512u + 1676u)

#define LINE_TAIL 64u

#define ANOM(a) ((smtpreply_anomaly_set)1u << SMTPREPLY_ANOM_##a)

/* One direction's line being assembled. */
struct line_asm {
    uint8_t *buf;
    uint32_t len; /* bytes kept (<= max_line) */
    uint32_t cap;
    uint64_t total;          /* bytes of the line so far, kept or not */
    bool last_cr;            /* the last byte received was CR */
    uint64_t first_tag;      /* tag of the chunk holding the line's first byte */
    uint8_t tail_n;          /* bytes in tail[] */
    uint8_t tail[LINE_TAIL]; /* the last bytes cut from an over-long line (a
                                greeting cut at max_line may end in a glued
                                reply); kept until the next line starts */
};

enum client_mode {
    C_CMD,  /* command lines */
    C_SASL, /* the next line is a SASL response (after 334) */
    C_BODY, /* DATA body, up to the "." line */
    C_BDAT, /* counting a BDAT chunk's octets */
    C_HOLD, /* holding bytes until the reply to held.seq decides */
};

/* Why a command waits in the FIFO with extra meaning. */
#define PF_SASL_CANCEL 0x01u  /* AUTH exchange cancelled with "*": 501 expected */
#define PF_BODY_FORCED 0x02u  /* DATA's held bytes overflowed: body assumed */
#define PF_HAS_IR 0x04u       /* AUTH with an initial response */
#define PF_PRDR 0x08u         /* end of data of a transaction that asked for PRDR */
#define PF_PRDR_STARTED 0x10u /* its 353 came: per-recipient replies follow */
#define PF_RCPT 0x20u         /* RCPT whose address is in rcpts at rcpt_off */

/* Recipient addresses kept per store (bytes); RFC 5321 §4.5.3.1.3 caps a
 * path at 256 octets. */
#define RCPT_ADDR_MAX 256u
#define RCPT_STORE_MAX 16384u

struct pending {
    struct smtpreply_cmd_ref ref; /* the command, as its events report it */
    uint32_t flags;               /* PF_* */
    uint32_t rcpt_off;            /* PF_RCPT: the address's offset in rcpts */
    uint16_t rcpt_len;            /* PF_RCPT: its length */
};

/* Recipient addresses, back to back: each record is a 2-byte length and
 * the bytes (accepted), or just the bytes with offsets in the FIFO
 * (rcpts).  Grows on demand up to RCPT_STORE_MAX; past it, addresses are
 * not kept (the event's rcpt is then NULL). */
/* The most of a reply's text (all its lines) one reply event carries: the
 * store's own cap. */
#define REPLY_TEXT_MAX RCPT_STORE_MAX

struct rcpt_store {
    uint8_t *buf;
    uint32_t len, cap;
    uint32_t count; /* rcpts: RCPTs waiting for their reply; accepted: records */
    uint32_t next;  /* accepted: offset of the next record a PRDR reply takes */
    uint32_t done;  /* accepted: per-recipient replies given so far */
};

struct probe {
    bool active;  /* the direction's next bytes are tested for a TLS record */
    uint8_t n;    /* bytes of b[] received so far */
    uint8_t b[2]; /* the first two bytes: 0x16 0x03 starts a TLS record */
};

/* What the client's TLS probe stands for. */
enum client_tls {
    CT_IMPLICIT,  /* the first-bytes probe: TLS here is implicit TLS (port 465 style) */
    CT_STARTTLS,  /* the probe after STARTTLS's 2xx reply (RFC 3207 section 4.2) */
    CT_TLS_FIRST, /* the client opened with a TLS record: its bytes are a
                     handshake, not commands; the server decides encryption */
    CT_INSIDE,    /* decrypted data inside TLS: no more probes */
};

/* What the session does with TLS (smtpreply_session_set_tls_sink,
 * smtpreply_session_feed_decrypted). */
struct tls_side {
    smtpreply_tls_bytes_fn fn; /* the sink of raw TLS bytes, or NULL */
    void *user;
    bool on;             /* TLS started and a sink is set: raw bytes go to it */
    bool dec;            /* decrypted bytes are being parsed now (ENCRYPTED set) */
    bool stash_off;      /* the implicit-TLS client's first bytes are not kept */
    uint64_t stash_lost; /* of those, bytes lost or beyond max_held */
};

/* Client side: the mode machine and what each mode tracks. */
struct client_side {
    enum client_mode mode; /* what the next client bytes are */
    enum client_tls tls;   /* what the client's TLS probe stands for */
    bool resync;           /* skip lines until one starts with a known verb */
    bool flag_next_cmd;    /* the next command was sent before a refusal: pipelining */
    bool txn_prdr;         /* this transaction's MAIL asked for PRDR, which EHLO offered */
    uint64_t bdat_left;    /* C_BDAT: octets of the chunk still to come */
    uint64_t bdat_seq;     /* C_BDAT: the BDAT whose chunk is being counted */
    bool bdat_started;     /* C_BDAT: a chunk octet (or a gap) was seen */
    bool bdat_refused;     /* C_BDAT: refused before its first octet; the next
                           bytes decide whether a chunk follows at all */
    uint8_t peek_n;        /* bdat_refused: bytes of peek[] kept so far */
    uint8_t peek[10];      /* bdat_refused: the first bytes after the refusal */
    /* C_BODY: the DATA body, scanned line by line without copying. */
    struct {
        bool gap;          /* a gap fell inside the body: a verb line may end it */
        bool cr;           /* the last byte was CR */
        bool flagged_long; /* text-line-too-long was flagged (once per body) */
        bool flagged_lf;   /* bare-lf was flagged (once per body) */
        int first;         /* first byte of the current line, -1 none yet */
        uint64_t len;      /* length of the current line so far */
    } body;
};

/* Bytes held while a reply decides what they are, as records (a header
 * with the chunk's tag and time, then its bytes), so that each released
 * line keeps the tag of the chunk it came in. */
struct held_bytes {
    uint8_t *buf;      /* the records, back to back */
    uint32_t len, cap; /* buffer bytes, headers included */
    uint32_t payload;  /* client bytes only: what max_held bounds */
    uint32_t last;     /* offset of the last record's header */
    uint32_t records;  /* records in buf, at most HELD_RECORDS */
    uint64_t seq;      /* the command whose reply releases them */
};

/* Server side: reply assembly and how strictly replies are judged. */
struct server_side {
    bool spoke;          /* the server sent at least one byte */
    bool resync;         /* skip lines until one parses as a reply */
    bool suppress_nocmd; /* midstream or after a gap: unpaired replies are expected */
    bool any_reply;      /* a complete reply was seen */
    bool greet_strict;   /* the first reply is the greeting, whatever it is */
    bool probe_after;    /* probe the server's bytes for TLS once the current reply ends */
    bool prdr_offered;   /* the last EHLO reply listed PRDR (draft-hall-prdr-00) */
    uint32_t gap_drop;   /* commands that waited when server bytes were lost:
                            the next reply drops them unless it shows the
                            oldest still waits (334 to AUTH, 354 to DATA) */
    uint64_t glued_seq;  /* the EHLO/HELO whose answer may be glued into the
                            greeting line (0: none); the client's next
                            command before any reply confirms it */
    /* The reply being assembled, line by line. */
    struct {
        bool active;     /* a reply has begun and its last line is not in yet */
        bool has_esc;    /* esc holds the reply's first enhanced status code */
        unsigned code;   /* the code of the latest line */
        unsigned nlines; /* lines so far */
        struct smtpreply_esc esc;
        smtpreply_anomaly_set anomalies; /* gathered from every line */
        uint64_t first_tag;              /* tag of the chunk holding the reply's first byte */
        /* Every line's text so far (after code and separator), joined
         * with '\n'; at most REPLY_TEXT_MAX bytes, text_cut past that. */
        struct rcpt_store text;
        bool text_cut;
    } reply;
};

struct smtpreply_session {
    struct smtpreply_limits lim; /* the caller's caps (max_line, max_pending at least 1) */
    smtpreply_realloc_fn alloc;  /* every byte the engine keeps goes through it */
    void *alloc_ctx;
    smtpreply_event_fn fn; /* receives each event; may be NULL */
    void *user;

    struct line_asm line[2]; /* indexed by enum smtpreply_dir */
    struct probe probe[2];   /* indexed by enum smtpreply_dir */

    struct client_side c;
    struct held_bytes held;

    /* Pending commands: a ring that grows up to max_pending. */
    struct pending *fifo;
    uint32_t fifo_cap, fifo_head, fifo_count;
    uint64_t cmd_seq; /* seq of the last command queued (the first is 1) */

    struct server_side srv;

    struct rcpt_store rcpts;    /* addresses of RCPTs waiting for their reply */
    struct rcpt_store accepted; /* addresses of this transaction's accepted RCPTs */

    struct tls_side tls;

    struct smtpreply_session_stats stats; /* what smtpreply_session_stats returns */
};

/* Bytes fed now are parsed: before TLS, or decrypted data inside it. */
static inline bool sess_parsing(const struct smtpreply_session *s)
{
    return !(s->stats.flags & SMTPREPLY_SESSION_ENCRYPTED) || s->tls.dec;
}

/* ---------------------------------------------------------------------- */
/* Pending-command FIFO accessors and line reset (session.c has the rest) */

static inline struct pending *fifo_at(struct smtpreply_session *s, uint32_t i)
{
    return &s->fifo[(s->fifo_head + i) % s->fifo_cap];
}

static inline struct pending *fifo_front(struct smtpreply_session *s)
{
    return s->fifo_count ? fifo_at(s, 0) : NULL;
}

static inline struct pending *fifo_back(struct smtpreply_session *s)
{
    return s->fifo_count ? fifo_at(s, s->fifo_count - 1) : NULL;
}

static inline void fifo_pop(struct smtpreply_session *s)
{
    if (!s->fifo_count)
        return;
    s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
    s->fifo_count--;
}

static inline void line_reset(struct line_asm *l)
{
    l->len = 0;
    l->total = 0;
    l->last_cr = false;
}

/* ---------------------------------------------------------------------- */
/* session.c */

void *sess_mem(struct smtpreply_session *s, void *p, size_t old, size_t size);
void sess_emit(struct smtpreply_session *s, struct smtpreply_event *ev);
void sess_event_init(struct smtpreply_event *ev, enum smtpreply_event_type type, int64_t ts,
                     uint64_t tag);
void sess_emit_anomaly(struct smtpreply_session *s, enum smtpreply_anomaly a,
                       enum smtpreply_dir dir, int64_t ts, uint64_t tag);
void sess_emit_anomaly_set(struct smtpreply_session *s, smtpreply_anomaly_set set,
                           enum smtpreply_dir dir, int64_t ts, uint64_t tag);
void sess_go_encrypted(struct smtpreply_session *s, enum smtpreply_dir dir, int64_t ts,
                       uint64_t tag);
bool sess_store_append(struct smtpreply_session *s, struct rcpt_store *st, const void *p,
                       size_t n);
struct pending *sess_fifo_push(struct smtpreply_session *s, const struct smtpreply_cmd_ref *ref,
                               smtpreply_anomaly_set *flags);
size_t sess_line_take(struct smtpreply_session *s, struct line_asm *l, const uint8_t *p, size_t n,
                      uint64_t tag, bool *done, bool *bare_lf);
smtpreply_anomaly_set sess_line_end_anomalies(struct smtpreply_session *s,
                                              const struct line_asm *l, bool bare_lf);
size_t sess_probe_bytes(struct smtpreply_session *s, enum smtpreply_dir dir, const uint8_t *p,
                        size_t n, int64_t ts, uint64_t tag);
/* Raw bytes of dir that came after TLS started (the rest of a chunk):
 * to the sink, if any. */
void sess_tls_rest(struct smtpreply_session *s, enum smtpreply_dir dir, const uint8_t *p,
                   size_t n, int64_t ts, uint64_t tag);

/* ---------------------------------------------------------------------- */
/* session_client.c */

void sess_held_clear(struct smtpreply_session *s);
void sess_held_release(struct smtpreply_session *s);
/* An implicit-TLS client's bytes while the server has not said whether it
 * speaks TLS: kept in the held buffer (only with a TLS sink); p NULL: n
 * bytes were lost. */
void sess_tls_stash(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                    uint64_t tag);
/* Hands the kept bytes to the TLS sink (or their loss), then forgets them. */
void sess_tls_stash_out(struct smtpreply_session *s);
/* Forgets them: the server spoke plaintext. */
void sess_tls_stash_drop(struct smtpreply_session *s);
void sess_client_line(struct smtpreply_session *s, bool bare_lf, int64_t ts, uint64_t tag);
void sess_body_start(struct smtpreply_session *s);
void sess_body_end(struct smtpreply_session *s, smtpreply_anomaly_set flags, int64_t ts,
                   uint64_t tag);
void sess_client_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                       uint64_t tag);
/* Keeps a RCPT line's address for its reply (sets PF_RCPT on q). */
void sess_rcpt_keep(struct smtpreply_session *s, struct pending *q, const uint8_t *p, size_t len);
/* The reply to BDAT `seq` refused it before any chunk octet came. */
void sess_bdat_refused(struct smtpreply_session *s, uint64_t seq);

/* ---------------------------------------------------------------------- */
/* session_server.c */

void sess_server_line(struct smtpreply_session *s, bool bare_lf, int64_t ts, uint64_t tag);
void sess_server_bytes(struct smtpreply_session *s, const uint8_t *p, size_t n, int64_t ts,
                       uint64_t tag);

#endif
