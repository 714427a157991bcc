/* SPDX-License-Identifier: MIT */
/*
 * tally.h - what `smtpreply tally` keeps per finished session and per file,
 * and the writer that streams it out (tally_out.c).
 *
 * Sessions are written the moment their flow ends, so the tool holds only
 * the flows alive at once plus the running totals, never a list of every
 * session in the file: memory grows with the sessions open at the same
 * time, not with the size of the capture.  tally_int.h is the reading
 * side's own contract.
 */
#ifndef SMTPREPLY_TALLY_H
#define SMTPREPLY_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "decode.h"
#include "smtpreply.h"

/* A small map from a code to a count: sessions see a handful of codes, so
 * a linear list beats a hash here. */
struct count_entry {
    uint32_t key; /* reply code, or enhanced code packed by esc_key */
    uint64_t count;
};

struct count_list {
    struct count_entry *v;
    size_t n, cap;
};

void count_add(struct count_list *l, uint32_t key, uint64_t by);
void count_sort(struct count_list *l);
uint32_t esc_key(const struct smtpreply_esc *e);

/* Destinations (dests.c): one entry per server address or recipient
 * domain, at most `max` entries; what finds no room is counted in
 * `dropped`. */
#define DEST_NAMES_MAX 8 /* greeting names kept per server */
#define DEST_KEY_MAX 255 /* bytes of a key kept */
struct dest {
    char *key;
    uint64_t sessions, replies, rcpts;
    struct count_list codes, reasons;
    char *names[DEST_NAMES_MAX];
    size_t nnames;
    char *example[SMTPREPLY_REASON__COUNT]; /* text report: one text per reason */
};
struct dest_table {
    struct dest *v;
    size_t n, cap;
    uint32_t *index; /* open addressing over v, UINT32_MAX empty */
    size_t icap;
    size_t max;
    uint64_t dropped;
};
/* The entry of key (made if new); NULL, counted as dropped, when full. */
struct dest *dest_get(struct dest_table *t, const char *key, size_t len);
void dest_add_name(struct dest *d, const char *name);
/* Keeps text as d's example of reason r unless it has one. */
void dest_example(struct dest *d, unsigned r, const char *text);
/* Adds from's entries and drops into into (a -j worker's, in file order). */
void dest_merge(struct dest_table *into, const struct dest_table *from);
/* Sorts the entries by key, and their codes, reasons and names. */
void dest_sort(struct dest_table *t);
/* The object of one entry in `servers` (server) or `domains`. */
json_t *dest_json(const struct dest *d, bool server);
void dest_free(struct dest_table *t);
/* The lower-cased text after the last '@' of addr; false without one. */
bool rcpt_domain(const char *addr, size_t len, char *out, size_t size);
/* The address of a "RCPT TO:<addr> params" line, without the brackets. */
bool rcpt_from_command(const char *line, size_t len, const char **addr, size_t *alen);

/* The text report's view of a failure: its code, reason and text on one
 * line (made by note_text). */
#define NOTE_TEXT 100
#define SESSION_NOTES 4
struct fail_note {
    uint16_t code;
    uint8_t reason;
    char text[NOTE_TEXT + 4];
};
/* text[0..len) on one line for the text report: line breaks as " / ",
 * control characters and bytes that break UTF-8 as \xNN, cut at a
 * character boundary with "..." when longer than NOTE_TEXT bytes. */
void note_text(char *out, const char *text, size_t len);

/* What a session's TLS came to (its "tls" object); seen false: no TLS. */
struct tls_summary {
    bool seen;        /* TLS started: STARTTLS or implicit */
    bool decrypted;   /* a protected record authenticated */
    bool keys_found;  /* the key table had the session's secrets */
    char version[4];  /* "1.2", "1.3", or "" (none, or another) */
    char cipher[64];  /* the suite's IANA name, or "" */
    uint64_t records; /* TLS records read, both directions */
    uint32_t errors;  /* SMTPREPLY_TLS_ERR_* (tls.h) */
};

/* The session's "tls" object (null when no TLS was seen), and its text
 * report line ("" when there is nothing to say); tls_glue.c. */
json_t *tls_summary_json(const struct tls_summary *t);
void tls_summary_text(const struct tls_summary *t, char *out, size_t size);

/* One finished SMTP session: plain data (the two lists aside), so it can be
 * spooled to a temporary file by a -j worker and read back by the writer. */
struct summary {
    char client[64], server[64];
    char name[64];            /* first word of the 220 greeting's text, or "" */
    uint64_t id;              /* number in its file, from 0, in the order of
                                   the sessions' first packets (order.c;
                                   out_session adds the files before) */
    int64_t start_ns, end_ns; /* capture time, ns since the epoch */
    uint64_t replies, commands, unanswered;
    struct count_list codes, enhanced;
    struct count_list reasons; /* key: enum smtpreply_reason */
    uint64_t anomalies[SMTPREPLY_ANOM__COUNT];
    int64_t rt_min_us, rt_max_us;
    int64_t rt_median_x2_us; /* twice the median: exact for an even count */
    uint64_t rt_n;           /* replies with a response time */
    uint64_t missing_bytes;
    uint64_t reasm_overflow;               /* segments dropped or forced by --max-reasm */
    struct fail_note notes[SESSION_NOTES]; /* text report: the first failure of
                                               each reason, at most 4 */
    uint8_t nnotes;
    bool starttls, implicit_tls;
    bool midstream, gaps, closed, tunnel, evicted;
    struct tls_summary tls;
};

/* Run-wide counters of one file; added into the totals in file order. */
struct file_counters {
    uint64_t skips[SKIP__COUNT];
    uint64_t evicted, cut_packets;
    uint64_t mem_peak, refused;
    uint64_t empty;             /* SMTP-port flows that carried no data */
    uint64_t sessions_numbered; /* session numbers the file used */
};

/* One input as listed in the output's files[]. */
struct file_result {
    char *path;
    bool capture; /* to be read (else only listed) */
    bool opened;  /* libpcap opened it */
    bool trouble; /* exit status 1 */
    uint64_t packets, bytes;
    char **problems;
    size_t nproblems;
    struct file_counters counters;
};

void file_problem(struct file_result *fr, const char *msg);

/* A growable byte buffer for building output lines. */
struct sbuf {
    char *p;
    size_t n, cap;
};
/* Room for more bytes (and a NUL) after b->n; false if out of memory. */
bool sb_reserve(struct sbuf *b, size_t more);
void sb_putc(struct sbuf *b, char c);
void sb_puts(struct sbuf *b, const char *s);
bool sb_putn(struct sbuf *b, const char *p, size_t n);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Serialises j with jansson (keys in the order they were set, which the
 * writer keeps alphabetical: sorting on every dump cost 1% of a big run;
 * 16 significant digits: exact microseconds for times since the epoch)
 * plus `flags`, then drops the reference. */
#define TALLY_JSON_FLAGS (JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16))
void sb_json(struct sbuf *b, json_t *j, size_t flags);
/* v / 10^decimals as a JSON real, the integer part and the fraction
 * converted apart so times since the epoch keep their microseconds. */
json_t *fixed_json(int64_t v, unsigned decimals);

/* JSON values appended to b exactly as sb_json dumps them (jsonw.c):
 * a string that may not be UTF-8 (as kbfmt_string_lossy, escaped), a C
 * string or null, integers, a real, and v / 10^decimals (fixed_json). */
void jw_str(struct sbuf *b, const char *s, size_t n);
void jw_cstr(struct sbuf *b, const char *s);
void jw_uint(struct sbuf *b, uint64_t v);
void jw_int(struct sbuf *b, int64_t v);
void jw_real(struct sbuf *b, double v);
void jw_fixed(struct sbuf *b, int64_t v, unsigned decimals);
/* j as json_dump_callback writes it with TALLY_JSON_FLAGS and no indent
 * (compact: no space after ',' and ':'); false if it holds a type it does
 * not know. */
bool jw_json(struct sbuf *b, const json_t *j, bool compact);

/* The JSON summary's "schema": 2 added ids, reasons, servers, domains. */
#define TALLY_SCHEMA 2

enum out_format { FMT_TEXT, FMT_JSON, FMT_CSV };

/* The writer: the one place that knows the output formats. */
struct output {
    FILE *fp;
    enum out_format format;
    bool summary; /* false with --replies: only reply lines */
    bool any_session;
    uint64_t sessions, replies, reasm_overflow;
    uint64_t tls_decrypted, tls_not_decrypted; /* sessions with TLS */
    uint64_t id_base; /* sessions numbered in the files before this one */
    struct count_list codes, enhanced, reasons;
    struct dest_table servers, domains;
    uint64_t classes[10];
    uint64_t anomalies[SMTPREPLY_ANOM__COUNT];
    struct file_counters counters;
    struct sbuf sb;
    char *last_file; /* text: the file whose sessions are being listed */
};

void out_begin(struct output *o);
/* Writes one finished session (its lists sorted) and adds it to the
 * totals.  json, if not NULL, is the session's JSON object already made by
 * out_session_json (a -j worker makes it, so serialising runs in parallel). */
void out_session(struct output *o, const struct summary *s, const char *file, const char *json,
                 size_t json_len, size_t json_id_at);
/* The JSON object of one session, appended to b, with id as its "id";
 * *id_at (if not NULL) is where the id's digits start in b. */
void out_session_json(struct sbuf *b, const struct summary *s, const char *file, uint64_t id,
                      size_t *id_at);
/* Writes p[0..n) with the decimal number at p + at (len digits) replaced
 * by that number plus add: how a -j worker's file-local session numbers
 * become the run's. */
void out_spliced(FILE *fp, const char *p, size_t n, size_t at, uint64_t add);
/* Serialises before, then "key": val, then after (two objects whose keys
 * sort before and after key), as one object; compact: no spaces.  *at is
 * where the value's digits start in b.  Drops both references. */
void sb_json_with_int(struct sbuf *b, json_t *before, const char *key, uint64_t val,
                      json_t *after, size_t flags, size_t *at);
json_t *reasons_json(const struct count_list *l);
/* One CSV field of server or client text (RFC 4180): bytes that break
 * UTF-8 become U+FFFD, control characters other than LF and TAB are shown
 * as \xNN, and the field is quoted when it holds a comma, quote or LF. */
void sb_csv_text(struct sbuf *b, const char *p, size_t len);
/* --replies --format csv: one row per reply under this header. */
#define REPLIES_CSV_HEADER \
    "ts,file,session,frame,client,server,command,rcpt,code,enhanced,reason,text"
void out_file_counters(struct output *o, const struct file_counters *c);
void out_end(struct output *o, const struct file_result *files, size_t nfiles);
void out_free(struct output *o);

#endif
