/* SPDX-License-Identifier: MIT */
/*
 * tally_int.h - the contract between the files of `smtpreply tally`:
 *   cmd_tally.c  the options and the run as a whole
 *   inputs.c     finding the inputs (arguments, directories walked)
 *   capture.c    reading one capture through its read-ahead ring
 *   flows.c      the flow table: key, hash, LRU lists, sweep, eviction
 *   events.c     what the core reports about a flow, into its summary
 *   jobs.c       one job per capture: in turn, or by -j workers and spools
 *   tls_glue.c   key logs (--keylog, pcapng DSBs) and each flow's TLS decoder
 *   order.c      session numbers in the order of the flows' first packets
 * tally.h is the other side: the summary and the writer (tally_out.c).
 */
#ifndef SMTPREPLY_TALLY_INT_H
#define SMTPREPLY_TALLY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "decode.h"
#include "smtpreply.h"
#include "tally.h"
#include "tls.h"

/* ------------------------------------------------------------------ */
/* cmd_tally.c                                                        */

/* The command line, read once; every job reads it, none writes it. */
struct options {
    enum out_format format;
    bool replies; /* --replies: one JSON line per reply */
    bool redact;  /* --redact: local parts of addresses hashed */
    bool quiet;
    const char *outfile;
    const char *filter;
    uint16_t ports[64];
    size_t nports;
    struct smtpreply_limits limits;
    uint32_t max_flows;
    double idle_timeout;       /* seconds of capture time */
    uint64_t max_memory;       /* bytes the core may hold for one file's flows */
    uint32_t jobs;             /* files read at once */
    uint32_t max_destinations; /* entries kept in servers and in domains */
    uint32_t max_keys;         /* --max-keys: client randoms per key table */
    const char *keylogs[64];   /* --keylog FILEs, in order */
    size_t nkeylogs;
    struct smtpreply_tls_keylog *keys; /* their secrets (tls_glue.c), read-only once read */
};

/* Progress on a terminal: bytes of input consumed, added by the workers. */
struct progress {
    bool on;
    uint64_t total;
    _Atomic uint64_t done;
};

/* Redraws the progress bar on stderr. */
void progress_print(struct progress *pr);

/* What the core holds for one file's flows, against --max-memory
 * (flows.c gives the core an allocator that keeps it). */
struct mem_budget {
    uint64_t used, peak, limit, refused;
};

/* ------------------------------------------------------------------ */
/* flows and jobs, shared by capture.c, flows.c, events.c and jobs.c  */

/* Response times kept per session for its median (events.c). */
#define RT_SAMPLES 1024

struct flow_key {
    uint8_t family;
    uint8_t a[16], b[16];
    uint16_t pa, pb;
};

struct job;

/* Session numbers by first packet (order.c): places in line from the
 * oldest still needed, and the output waiting for its number. */
struct numbering {
    struct ord_slot *v;
    size_t cap;              /* ring of places, a power of two */
    uint64_t base, wm, next; /* places [base, next) kept; [base, wm) numbered */
    struct sbuf q;           /* the queue in memory: items from head to q.n */
    size_t head;
    struct sbuf item; /* an item read back from the spill */
    FILE *spill;      /* the queue past 1/16 of --max-memory */
    uint64_t spill_rd, spill_wr;
};

struct flow {
    struct flow_key key; /* a = source of the first segment */
    uint64_t hash;
    bool fin[2];
    bool closing;
    bool last_cmd_starttls;
    double last_seen;          /* seconds, for the timeouts */
    int64_t start_ns, last_ns; /* the same times, exact, for the output */
    struct flow *prev, *next;  /* LRU list (open or closing), oldest first */
    struct smtpreply_conn *conn;
    struct flow_tls *tls; /* TLS decryption state (tls_glue.c), NULL until TLS starts */
    struct job *job;
    struct summary *sum; /* made at the first event */
    uint64_t ord;        /* place by first packet (order.c); UINT64_MAX: none */
    bool numbered;       /* sum->id is its session number */
    int64_t *rt;         /* response-time samples (us), for the median */
    uint32_t rt_cap;
};

/* One capture file being read, by the main thread or a -j worker. */
struct job {
    const struct options *opt;
    struct file_result *fr;
    struct progress *progress;
    bool show_progress; /* the main thread reads this file itself */
    /* where results go: straight to the writer, or to a spool for -j */
    struct output *direct;
    FILE *spool;
    /* flow table: open addressing over pointers, backward-shift deletion */
    struct flow **table;
    size_t cap, count;
    struct flow *open_head, *open_tail;
    struct flow *close_head, *close_tail;
    struct mem_budget mem;
    struct sbuf line;               /* one --replies line being built */
    struct sbuf red_text, red_rcpt; /* --redact: the reply's text and rcpt */
    struct sbuf render;             /* -j, JSON: one session's object */
    uint64_t next_id;               /* sessions numbered so far in this file */
    struct numbering num;           /* order.c */
    struct dest_table domains;      /* -j: this file's recipient domains */
    struct tls_file *tls;           /* this file's secrets (pcapng DSBs), tls_glue.c */
    _Atomic bool finished;
};

/* ------------------------------------------------------------------ */
/* inputs.c                                                           */

struct inputs {
    struct file_result *v;
    size_t n, cap;
    bool trouble;
    /* Directories already walked (device, inode): a symlink back to one
     * would otherwise make the walk read it again and again, or blow up
     * exponentially with two such links. */
    struct dir_id {
        dev_t dev;
        ino_t ino;
    } * dirs;
    size_t ndirs, dirs_cap;
};

/* Adds an input named on the command line: a file (read whatever it is;
 * libpcap says if it is not a capture), "-" for standard input, or a
 * directory walked in sorted order, where only regular files that start
 * with a capture magic number are read and the others listed as skipped.
 * An input that cannot be read is listed and said on stderr at once. */
void inputs_collect(struct inputs *in, const char *path);
void inputs_free(struct inputs *in);

/* ------------------------------------------------------------------ */
/* jobs.c                                                             */

/* A finished session, or one --replies line, into a -j worker's spool.
 * json, if not NULL, is the session's JSON object, made in the worker. */
void spool_session(FILE *sp, const struct summary *s, const struct sbuf *json, size_t id_at);
/* A --replies line whose session number (file-local) starts at byte at;
 * add is added to it (a line held for its number says 0 there). */
void spool_line(FILE *sp, const char *p, size_t n, size_t at, uint64_t add);
/* Records a problem of the job's file; trouble: exit status 1. */
void job_problem(struct job *j, const char *msg, bool trouble);
/* Reads every capture of in, one after the other, straight to o. */
void run_serial(struct inputs *in, const struct options *opt, struct output *o,
                struct progress *pr);
/* Reads the captures with nthreads workers and writes their results to o
 * in file order; false (nothing read) if no thread could be started. */
bool run_parallel(struct inputs *in, const struct options *opt, struct output *o,
                  struct progress *pr, uint32_t nthreads);

/* ------------------------------------------------------------------ */
/* capture.c                                                          */

/* Reads one capture into its flows; results go to the writer or the spool.
 * Problems are recorded in the file's result and printed by the caller, in
 * file order. */
void run_job(struct job *j);

/* ------------------------------------------------------------------ */
/* flows.c                                                            */

/* The hash of a flow key, the same for both directions. */
uint64_t flow_hash(const struct flow_key *k);
/* The flow of key k (hash h), if it exists: no insertion, no eviction. */
struct flow *flow_lookup(const struct job *j, const struct flow_key *k, uint64_t h);
/* Hands one TCP segment (key k, hash h; frame n at capture time now) to
 * its flow, made first if new (the least recently seen makes room when
 * the table is full); a flow closed both ways or reset starts closing. */
void flow_segment(struct job *j, const struct flow_key *k, uint64_t h,
                  const struct tcp_segment *seg, double now, int64_t now_ns, uint64_t n);
/* Ends the flows closed more than 5 s of capture time ago and those idle
 * past --idle-timeout. */
void flow_sweep(struct job *j, double now);
/* Ends every flow: the capture is over. */
void flow_end_all(struct job *j);

/* The allocator the core's state of one file's flows goes through: it
 * keeps --max-memory. */
void *flow_budget_realloc(void *ctx, void *ptr, size_t size);

/* ------------------------------------------------------------------ */
/* tls_glue.c                                                         */

/* Reads the --keylog files into opt->keys; false after saying why not. */
bool tls_keys_load(struct options *opt);
void tls_keys_free(struct options *opt);
/* Opens the job's capture for libpcap through a stream that hands every
 * byte read to a pcapng Decryption Secrets Block reader, so a pcapng's own
 * secrets are known before the packets after them.  NULL with errno set
 * when the file cannot be opened (the caller lets libpcap say why). */
FILE *tls_file_open(struct job *j, const char *path);
/* Frees the job's file secrets (after its flows ended). */
void tls_file_end(struct job *j);
/* Sets the connection's TLS hook: every flow follows TLS. */
void tls_flow_config(struct flow *f, struct smtpreply_conn_config *cfg);
/* TLS started on the flow (EV_TLS): its state exists from then on. */
void tls_flow_started(struct flow *f);
/* The flow ends: the TLS status into its summary, the state freed. */
void tls_flow_end(struct flow *f, struct summary *s);

/* ------------------------------------------------------------------ */
/* events.c                                                           */

/* The core's event callback; user is the flow. */
void flow_on_event(void *user, const struct smtpreply_event *ev);
/* The flow's summary, made (client and server named) at its first use;
 * NULL if out of memory. */
struct summary *flow_summary(struct flow *f);
/* Writes out a --replies line whose session number at byte at (the
 * file's own) gets id added. */
void emit_line(struct job *j, const char *p, size_t n, size_t at, uint64_t id);

/* ------------------------------------------------------------------ */
/* flows.c, order.c: session numbers by first packet                  */

/* Writes out a finished session (s->id is its number in the file). */
void emit_session(struct job *j, const struct summary *s);
/* A new flow takes its place in line. */
void order_flow_new(struct job *j, struct flow *f);
/* The flow has become a session (its summary was just made). */
void order_flow_listed(struct job *j, struct flow *f);
/* The flow ends (its session, if any, already written or held). */
void order_flow_end(struct job *j, struct flow *f);
/* True if f's output can be written now: f is numbered, nothing waits. */
bool order_ready(const struct job *j, const struct flow *f);
/* Keeps f's line (its session number, 0, at byte at) or finished session
 * until f's number is known and what came before is written out. */
void order_hold_line(struct job *j, const struct flow *f, const char *p, size_t n, size_t at);
void order_hold_session(struct job *j, const struct flow *f, const struct summary *s);
/* Every flow has ended: writes out what is left and frees the queue. */
void order_finish(struct job *j);

#endif
