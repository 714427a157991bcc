/* SPDX-License-Identifier: MIT */
/*
 * cmd_tally.c - `smtpreply [tally]`: read pcap/pcapng captures, hand every
 * TCP segment to the core's connection layer (one smtpreply_conn per
 * flow), and tally the replies of every SMTP session and in total.
 *
 * A thin adapter: no SMTP logic and no reassembly here.  Memory depends on
 * the flows alive at once, not on the file size: flows leave the table at
 * close (FIN both ways or RST, after a short grace for late segments), when
 * idle for --idle-timeout seconds of capture time, or when the table is
 * full (the least recently seen goes first), and each finished session is
 * written out at once (tally_out.c) and forgotten.
 *
 * -j N reads N files at once, one thread per file.  A worker writes what
 * its file yields (finished sessions, reply lines) to a temporary spool;
 * the main thread replays the spools in file order through the same
 * writer, so the output is byte for byte that of -j 1.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "cli.h"
#include "decode.h"
#include "smtpreply.h"
#include "kbfmt.h"
#include "tally.h"

/* ------------------------------------------------------------------ */
/* options                                                            */

struct options {
    enum out_format format;
    bool replies;           /* --replies: one JSON line per reply */
    bool quiet;
    const char *outfile;
    const char *filter;
    uint16_t ports[64];
    size_t nports;
    struct smtpreply_limits limits;
    uint32_t max_flows;
    double idle_timeout;    /* seconds of capture time */
    uint64_t max_memory;    /* bytes the core may hold for one file's flows */
    uint32_t jobs;          /* files read at once */
};

/* Progress on a terminal: bytes of input consumed, added by the workers. */
struct progress {
    bool on;
    uint64_t total;
    _Atomic uint64_t done;
};

static void progress_print(struct progress *pr)
{
    double pct = 100.0 * (double)atomic_load(&pr->done) / (double)pr->total;
    if (pct > 100.0)
        pct = 100.0;
    int bar = (int)(pct / 2.5);
    fprintf(stderr, "\r[%-40.*s] %5.1f%%", bar, "########################################", pct);
}

/* ------------------------------------------------------------------ */
/* memory budget                                                      */

/* The core allocates through this hook: it keeps a running total of what
 * one file's sessions and reassembly buffers hold and refuses to go past
 * --max-memory.  The core treats a refusal like a full buffer: counted,
 * and processing goes on.  Each block carries its size in front.  The
 * budget is per file, so -j N gives exactly the answers of -j 1. */
struct mem_budget {
    uint64_t used, peak, limit, refused;
};

static void *budget_realloc(void *ctx, void *ptr, size_t size)
{
    struct mem_budget *b = ctx;
    size_t old = 0;
    unsigned char *base = ptr ? (unsigned char *)ptr - 16 : NULL;
    if (base)
        memcpy(&old, base, sizeof old);
    if (size == 0) {
        free(base);
        b->used -= old;
        return NULL;
    }
    if (size > old && b->used + (size - old) > b->limit) {
        b->refused++;
        return NULL;
    }
    unsigned char *nb = realloc(base, size + 16);
    if (nb == NULL)
        return NULL;
    memcpy(nb, &size, sizeof size);
    b->used = b->used - old + size;
    if (b->used > b->peak)
        b->peak = b->used;
    return nb + 16;
}

/* ------------------------------------------------------------------ */
/* flows and jobs                                                     */

#define RT_SAMPLES 1024

struct flow_key {
    uint8_t family;
    uint8_t a[16], b[16];
    uint16_t pa, pb;
};

struct job;

struct flow {
    struct flow_key key;        /* a = source of the first segment */
    uint64_t hash;
    bool fin[2];
    bool closing;
    bool last_cmd_starttls;
    double last_seen;           /* seconds, for the timeouts */
    int64_t start_ns, last_ns;  /* the same times, exact, for the output */
    struct flow *prev, *next;   /* LRU list (open or closing), oldest first */
    struct smtpreply_conn *conn;
    struct job *job;
    struct summary *sum;        /* made at the first event */
    int64_t *rt;                /* response-time samples (us), for the median */
    uint32_t rt_cap;
};

/* One capture file being read, by the main thread or a -j worker. */
struct job {
    const struct options *opt;
    struct file_result *fr;
    struct progress *progress;
    bool show_progress;         /* the main thread reads this file itself */
    /* where results go: straight to the writer, or to a spool for -j */
    struct output *direct;
    FILE *spool;
    /* flow table: open addressing over pointers, backward-shift deletion */
    struct flow **table;
    size_t cap, count;
    struct flow *open_head, *open_tail;
    struct flow *close_head, *close_tail;
    struct mem_budget mem;
    struct sbuf line;           /* one --replies line being built */
    struct sbuf render;         /* -j, JSON: one session's object */
    _Atomic bool finished;
};

static uint64_t hash_key(const struct flow_key *k)
{
    /* FNV-1a over the endpoints in a canonical order, so both directions
     * of a connection land in the same chain. */
    const uint8_t *x = k->a, *y = k->b;
    uint16_t px = k->pa, py = k->pb;
    int c = memcmp(x, y, 16);
    if (c > 0 || (c == 0 && px > py)) {
        x = k->b;
        y = k->a;
        px = k->pb;
        py = k->pa;
    }
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++) h = (h ^ x[i]) * 1099511628211ULL;
    for (int i = 0; i < 16; i++) h = (h ^ y[i]) * 1099511628211ULL;
    h = (h ^ px) * 1099511628211ULL;
    h = (h ^ py) * 1099511628211ULL;
    h = (h ^ k->family) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static bool key_match(const struct flow_key *f, const struct flow_key *k, bool *from_b)
{
    if (f->family != k->family)
        return false;
    if (f->pa == k->pa && f->pb == k->pb && memcmp(f->a, k->a, 16) == 0 &&
        memcmp(f->b, k->b, 16) == 0) {
        *from_b = false;
        return true;
    }
    if (f->pa == k->pb && f->pb == k->pa && memcmp(f->a, k->b, 16) == 0 &&
        memcmp(f->b, k->a, 16) == 0) {
        *from_b = true;
        return true;
    }
    return false;
}

static void list_unlink(struct flow **head, struct flow **tail, struct flow *f)
{
    if (f->prev) f->prev->next = f->next; else *head = f->next;
    if (f->next) f->next->prev = f->prev; else *tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_append(struct flow **head, struct flow **tail, struct flow *f)
{
    f->prev = *tail;
    f->next = NULL;
    if (*tail) (*tail)->next = f; else *head = f;
    *tail = f;
}

static void flow_unlink(struct job *j, struct flow *f)
{
    if (f->closing)
        list_unlink(&j->close_head, &j->close_tail, f);
    else
        list_unlink(&j->open_head, &j->open_tail, f);
}

static void flow_touch(struct job *j, struct flow *f, double now)
{
    f->last_seen = now;
    if (f->closing) {
        if (j->close_tail != f) {
            list_unlink(&j->close_head, &j->close_tail, f);
            list_append(&j->close_head, &j->close_tail, f);
        }
    } else if (j->open_tail != f) {
        list_unlink(&j->open_head, &j->open_tail, f);
        list_append(&j->open_head, &j->open_tail, f);
    }
}

/* ------------------------------------------------------------------ */
/* addresses                                                          */

static void endpoint_str(uint8_t family, const uint8_t *addr, uint16_t port, char *buf,
                         size_t size)
{
    char a[INET6_ADDRSTRLEN];
    if (family == 4) {
        inet_ntop(AF_INET, addr, a, sizeof a);
        snprintf(buf, size, "%s:%u", a, port);
    } else {
        inet_ntop(AF_INET6, addr, a, sizeof a);
        snprintf(buf, size, "[%s]:%u", a, port);
    }
}

static enum smtpreply_port_kind port_kind(const struct options *o, uint16_t port)
{
    bool listed = false;
    for (size_t i = 0; i < o->nports && !listed; i++)
        listed = o->ports[i] == port;
    return smtpreply_port_kind_for(port, listed);
}

/* ------------------------------------------------------------------ */
/* the spool: what a -j worker hands to the writer                    */

enum { SPOOL_SESSION = 'S', SPOOL_LINE = 'L' };

/* A session: the summary, its two lists, and its JSON object when the
 * output is JSON (made here, in the worker, so that serialising runs in
 * parallel; the writer then only copies it). */
static void spool_session(FILE *sp, const struct summary *s, const struct sbuf *json)
{
    uint32_t len = json ? (uint32_t)json->n : 0;
    fputc(SPOOL_SESSION, sp);
    fwrite(s, sizeof *s, 1, sp);
    if (s->codes.n)
        fwrite(s->codes.v, sizeof *s->codes.v, s->codes.n, sp);
    if (s->enhanced.n)
        fwrite(s->enhanced.v, sizeof *s->enhanced.v, s->enhanced.n, sp);
    fwrite(&len, sizeof len, 1, sp);
    if (len)
        fwrite(json->p, 1, len, sp);
}

static void spool_line(FILE *sp, const char *p, size_t n)
{
    uint32_t len = (uint32_t)n;
    fputc(SPOOL_LINE, sp);
    fwrite(&len, sizeof len, 1, sp);
    fwrite(p, 1, n, sp);
}

static bool read_list(FILE *sp, struct count_list *l)
{
    l->cap = l->n;
    l->v = NULL;
    if (l->n == 0)
        return true;
    if (l->n > (1u << 20))
        return false;
    l->v = malloc(l->n * sizeof *l->v);
    return l->v && fread(l->v, sizeof *l->v, l->n, sp) == l->n;
}

/* Replays a finished job's spool through the writer. */
static bool spool_replay(FILE *sp, struct output *o, const char *path)
{
    int type;
    char buf[1 << 16];
    rewind(sp);
    while ((type = fgetc(sp)) != EOF) {
        if (type == SPOOL_SESSION) {
            struct summary s;
            uint32_t len = 0;
            char *json = NULL;
            bool ok = fread(&s, sizeof s, 1, sp) == 1;
            /* The pointers in the spooled copy mean nothing here. */
            s.codes.v = s.enhanced.v = NULL;
            ok = ok && read_list(sp, &s.codes);
            ok = ok && read_list(sp, &s.enhanced);
            ok = ok && fread(&len, sizeof len, 1, sp) == 1;
            if (ok && len) {
                json = malloc(len);
                ok = json && fread(json, 1, len, sp) == len;
            }
            if (ok)
                out_session(o, &s, path, json, len);
            free(json);
            free(s.codes.v);
            free(s.enhanced.v);
            if (!ok)
                return false;
        } else if (type == SPOOL_LINE) {
            uint32_t len;
            if (fread(&len, sizeof len, 1, sp) != 1)
                return false;
            while (len > 0) {
                size_t n = len < sizeof buf ? len : sizeof buf;
                if (fread(buf, 1, n, sp) != n)
                    return false;
                fwrite(buf, 1, n, o->fp);
                len -= (uint32_t)n;
            }
        } else {
            return false;
        }
    }
    return !ferror(sp);
}

/* ------------------------------------------------------------------ */
/* events                                                             */

/* One --replies line, by jansson.  The reply's text is kept as sent:
 * bytes that break UTF-8 become U+FFFD and JSON escapes the rest. */
static void reply_line_json(struct job *j, const struct flow *f, const struct smtpreply_event *ev)
{
    const struct summary *s = f->sum;
    struct sbuf *b = &j->line;
    char esc[16];
    b->n = 0;
    json_t *o = json_object();
    json_t *an = json_array();
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++)
        if (ev->anomalies & ((smtpreply_anomaly_set)1 << i))
            json_array_append_new(an, json_string(smtpreply_anomaly_name((enum smtpreply_anomaly)i)));
    json_object_set_new(o, "anomalies", an);
    json_object_set_new(o, "class", json_integer(ev->code / 100));
    json_object_set_new(o, "client", kbfmt_string_lossy(s->client, strlen(s->client)));
    json_object_set_new(o, "code", json_integer(ev->code));
    json_object_set_new(o, "command", ev->has_cmd && ev->cmd.verb[0]
                                          ? kbfmt_string_lossy(ev->cmd.verb, strlen(ev->cmd.verb))
                                          : json_null());
    json_object_set_new(o, "enhanced", ev->has_esc ? json_string(smtpreply_esc_format(
                                                         &ev->esc, esc, sizeof esc))
                                                   : json_null());
    json_object_set_new(o, "file", kbfmt_string_lossy(j->fr->path, strlen(j->fr->path)));
    json_object_set_new(o, "rt_ms", ev->rt_us >= 0 ? json_real((double)ev->rt_us / 1000.0)
                                                   : json_null());
    json_object_set_new(o, "server", kbfmt_string_lossy(s->server, strlen(s->server)));
    json_object_set_new(o, "stage", json_string(smtpreply_stage_name(ev->stage)));
    json_object_set_new(o, "text", kbfmt_string_lossy(ev->text ? ev->text : "", ev->text_len));
    json_object_set_new(o, "ts", fixed_json(ev->ts_us, 6));
    sb_json(b, o, JSON_COMPACT);
    sb_putc(b, '\n');
    if (j->direct)
        fwrite(b->p, 1, b->n, j->direct->fp);
    else
        spool_line(j->spool, b->p, b->n);
}

/* Names the client and the server once the core knows which is which. */
static void fill_endpoints(struct flow *f)
{
    struct smtpreply_conn_stats cs;
    struct summary *s = f->sum;
    smtpreply_conn_stats(f->conn, &cs);
    const uint8_t *ca = cs.server_is_b ? f->key.a : f->key.b;
    const uint8_t *sa = cs.server_is_b ? f->key.b : f->key.a;
    uint16_t cp = cs.server_is_b ? f->key.pa : f->key.pb;
    uint16_t sp = cs.server_is_b ? f->key.pb : f->key.pa;
    endpoint_str(f->key.family, ca, cp, s->client, sizeof s->client);
    endpoint_str(f->key.family, sa, sp, s->server, sizeof s->server);
}

/* The summary is made when the flow turns out to be SMTP, so the many
 * flows that never do (scans, SYN floods, other protocols) cost no more
 * than their table entry and connection state. */
static struct summary *flow_summary(struct flow *f)
{
    if (f->sum == NULL) {
        f->sum = calloc(1, sizeof *f->sum);
        if (f->sum) {
            f->sum->start_ns = f->start_ns;
            fill_endpoints(f);
        }
    }
    return f->sum;
}

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct flow *f = user;
    struct summary *s = flow_summary(f);
    if (s == NULL)
        return;
    /* Only the set bits: most events carry none. */
    for (smtpreply_anomaly_set set = ev->anomalies; set; set &= set - 1) {
        unsigned i = (unsigned)__builtin_ctzll((unsigned long long)set);
        if (i < SMTPREPLY_ANOM__COUNT)
            s->anomalies[i]++;
    }
    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND:
        s->commands++;
        f->last_cmd_starttls = ev->cmd.cmd == SMTPREPLY_CMD_STARTTLS;
        break;
    case SMTPREPLY_EV_REPLY:
        s->replies++;
        count_add(&s->codes, ev->code, 1);
        if (ev->has_esc)
            count_add(&s->enhanced, esc_key(&ev->esc), 1);
        if (ev->rt_us >= 0) {
            int64_t us = ev->rt_us;
            if (s->rt_n == 0 || us < s->rt_min_us) s->rt_min_us = us;
            if (s->rt_n == 0 || us > s->rt_max_us) s->rt_max_us = us;
            /* A bounded sample: the median is exact up to RT_SAMPLES
             * timed replies per session; past that, each later reply
             * replaces a deterministic slot (still bounded memory). */
            size_t slot = (size_t)(s->rt_n % RT_SAMPLES);
            if (slot >= f->rt_cap) {
                uint32_t cap = f->rt_cap ? f->rt_cap * 2 : 16;
                if (cap > RT_SAMPLES)
                    cap = RT_SAMPLES;
                int64_t *v = realloc(f->rt, cap * sizeof *v);
                if (v != NULL) {
                    f->rt = v;
                    f->rt_cap = cap;
                }
            }
            if (slot < f->rt_cap)
                f->rt[slot] = us;
            s->rt_n++;
        }
        if (f->job->opt->replies)
            reply_line_json(f->job, f, ev);
        break;
    case SMTPREPLY_EV_UNANSWERED:
        s->unanswered++;
        break;
    case SMTPREPLY_EV_TLS:
        if (f->last_cmd_starttls)
            s->starttls = true;
        else
            s->implicit_tls = true;
        break;
    case SMTPREPLY_EV_ANOMALY:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* flow life                                                          */

static void free_summary(struct summary *s)
{
    if (s) {
        free(s->codes.v);
        free(s->enhanced.v);
        free(s);
    }
}

static void table_remove(struct job *j, struct flow *f)
{
    size_t mask = j->cap - 1;
    size_t i = (size_t)f->hash & mask;
    while (j->table[i] != f)
        i = (i + 1) & mask;
    j->table[i] = NULL;
    j->count--;
    /* Backward shift: pull later members of the chain into the hole. */
    size_t k = i;
    for (;;) {
        k = (k + 1) & mask;
        if (j->table[k] == NULL)
            break;
        size_t home = (size_t)j->table[k]->hash & mask;
        bool movable = (i <= k) ? (home <= i || home > k) : (home <= i && home > k);
        if (movable) {
            j->table[i] = j->table[k];
            j->table[k] = NULL;
            i = k;
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Twice the median, so an even count's mean of the middle two is exact. */
static int64_t median_x2(int64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_i64);
    return n % 2 ? 2 * v[n / 2] : v[n / 2 - 1] + v[n / 2];
}

static void flow_end(struct job *j, struct flow *f, int64_t ts_us, bool evicted)
{
    struct smtpreply_conn_stats cs;
    smtpreply_conn_finish(f->conn, ts_us, 0);
    smtpreply_conn_stats(f->conn, &cs);
    /* A flow with no data at all (SYN only, refused, a stray ACK) holds no
     * dialogue: it is counted, not listed as a session. */
    if (cs.state == SMTPREPLY_CONN_SMTP && !cs.payload)
        j->fr->counters.empty++;
    else if (cs.state == SMTPREPLY_CONN_SMTP && flow_summary(f) != NULL) {
        const struct smtpreply_session *ss = smtpreply_conn_session(f->conn);
        struct summary *s = f->sum;
        s->closed = cs.closed;
        s->tunnel = cs.tunnel;
        s->evicted = evicted;
        s->missing_bytes = cs.missing_bytes;
        s->reasm_overflow = cs.reasm_overflow;
        s->end_ns = f->last_ns;
        s->rt_median_x2_us = median_x2(f->rt, s->rt_n < f->rt_cap ? (size_t)s->rt_n : f->rt_cap);
        if (ss) {
            const struct smtpreply_session_stats *st = smtpreply_session_stats(ss);
            s->midstream = (st->flags & SMTPREPLY_SESSION_MIDSTREAM) != 0;
            s->gaps = (st->flags & SMTPREPLY_SESSION_GAPS) != 0 || cs.gaps > 0;
        }
        count_sort(&s->codes);
        count_sort(&s->enhanced);
        if (j->direct) {
            out_session(j->direct, s, j->fr->path, NULL, 0);
        } else if (j->opt->format == FMT_JSON && !j->opt->replies) {
            j->render.n = 0;
            out_session_json(&j->render, s, j->fr->path);
            spool_session(j->spool, s, &j->render);
        } else {
            spool_session(j->spool, s, NULL);
        }
    }
    free_summary(f->sum);
    free(f->rt);
    smtpreply_conn_free(f->conn);
    flow_unlink(j, f);
    table_remove(j, f);
    free(f);
}

static void sweep(struct job *j, double now)
{
    /* Closed flows wait 5 s of capture time for late segments. */
    while (j->close_head && now - j->close_head->last_seen > 5.0)
        flow_end(j, j->close_head, (int64_t)(now * 1e6), false);
    while (j->open_head && now - j->open_head->last_seen > j->opt->idle_timeout) {
        j->fr->counters.evicted++;
        flow_end(j, j->open_head, (int64_t)(j->open_head->last_seen * 1e6), true);
    }
}

static void end_all_flows(struct job *j)
{
    while (j->close_head)
        flow_end(j, j->close_head, (int64_t)(j->close_head->last_seen * 1e6), false);
    while (j->open_head)
        flow_end(j, j->open_head, (int64_t)(j->open_head->last_seen * 1e6), false);
}

/* Doubles the table (kept at most half full).  It starts small and grows
 * with the flows really alive, so a capture with few concurrent sessions
 * probes a table that stays in cache. */
static bool table_grow(struct job *j)
{
    size_t cap = j->cap * 2, mask = cap - 1;
    struct flow **t = calloc(cap, sizeof *t);
    if (t == NULL)
        return false;
    for (size_t i = 0; i < j->cap; i++) {
        struct flow *f = j->table[i];
        if (f == NULL)
            continue;
        size_t k = (size_t)f->hash & mask;
        while (t[k] != NULL)
            k = (k + 1) & mask;
        t[k] = f;
    }
    free(j->table);
    j->table = t;
    j->cap = cap;
    return true;
}

/* The slot holding the flow of key k (hash h), or the empty slot that ends
 * its chain; *from_b says which way round k is when found. */
static size_t flow_probe(const struct job *j, const struct flow_key *k, uint64_t h, bool *from_b)
{
    size_t mask = j->cap - 1;
    size_t i = (size_t)h & mask;
    while (j->table[i] != NULL &&
           !(j->table[i]->hash == h && key_match(&j->table[i]->key, k, from_b)))
        i = (i + 1) & mask;
    return i;
}

static struct flow *flow_get(struct job *j, const struct flow_key *k, uint64_t h, bool *from_b,
                             double now, int64_t now_ns)
{
    size_t i = flow_probe(j, k, h, from_b);
    if (j->table[i] != NULL)
        return j->table[i];
    if (j->count >= j->opt->max_flows) {
        /* Full: the least recently seen flow makes room. */
        struct flow *victim = j->close_head ? j->close_head : j->open_head;
        if (victim == NULL)
            return NULL;
        j->fr->counters.evicted++;
        flow_end(j, victim, (int64_t)(now * 1e6), true);
        return flow_get(j, k, h, from_b, now, now_ns);
    }
    if ((j->count + 1) * 2 > j->cap) {
        if (!table_grow(j))
            return NULL;
        return flow_get(j, k, h, from_b, now, now_ns);
    }
    struct flow *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.limits = j->opt->limits;
    cfg.port_kind_a = port_kind(j->opt, k->pa);
    cfg.port_kind_b = port_kind(j->opt, k->pb);
    f->conn = smtpreply_conn_new(&cfg, budget_realloc, &j->mem, on_event, f);
    if (f->conn == NULL) {
        free(f);
        return NULL;
    }
    f->key = *k;
    f->hash = h;
    f->job = j;
    f->start_ns = now_ns;
    j->table[i] = f;
    j->count++;
    list_append(&j->open_head, &j->open_tail, f);
    *from_b = false;
    return f;
}

/* A decoded packet waiting its turn (see LOOKAHEAD): its payload copied
 * out of libpcap's buffer, which the next read reuses. */
struct ahead {
    struct tcp_segment seg;
    struct flow_key key;
    uint64_t hash;
    double now;
    int64_t now_ns;
    uint64_t n;                 /* frame number: the events' tag */
    uint8_t *buf;
    size_t cap;
};

static bool ahead_fill(struct ahead *a, const struct tcp_segment *seg, double now, int64_t now_ns,
                       uint64_t n)
{
    if (seg->len > a->cap) {
        size_t cap = a->cap ? a->cap : 2048;
        while (cap < seg->len)
            cap *= 2;
        uint8_t *b = realloc(a->buf, cap);
        if (b == NULL)
            return false;
        a->buf = b;
        a->cap = cap;
    }
    a->seg = *seg;
    if (seg->len)
        memcpy(a->buf, seg->payload, seg->len);
    a->seg.payload = a->buf;
    a->key.family = seg->family;
    memcpy(a->key.a, seg->src, 16);
    memcpy(a->key.b, seg->dst, 16);
    a->key.pa = seg->sport;
    a->key.pb = seg->dport;
    a->hash = hash_key(&a->key);
    a->now = now;
    a->now_ns = now_ns;
    a->n = n;
    return true;
}

/* The flow a packet belongs to, if it exists: no insertion, no eviction. */
static struct flow *flow_find(const struct job *j, const struct ahead *a)
{
    bool from_b;
    return j->table[flow_probe(j, &a->key, a->hash, &from_b)];
}

/* The stages of looking ahead, by distance from the packet being
 * processed: its table slot, then its flow, then its connection, then its
 * session are fetched, each once the previous one has arrived.  Each stage
 * looks the flow up afresh, so it only ever reads live memory; a prefetch
 * of something freed before its packet comes up is harmless. */
static void ahead_stage(const struct job *j, const struct ahead *a, int stage)
{
    if (stage == 0) {
        __builtin_prefetch(&j->table[(size_t)a->hash & (j->cap - 1)]);
        return;
    }
    if (stage == 1) {
        const struct flow *f = j->table[(size_t)a->hash & (j->cap - 1)];
        if (f) {
            __builtin_prefetch(f);
            __builtin_prefetch((const char *)f + 64);
        }
        return;
    }
    const struct flow *f = flow_find(j, a);
    if (f)
        smtpreply_conn_prefetch(f->conn, stage - 2);
}

static void process_segment(struct job *j, const struct ahead *a)
{
    bool from_b;
    const struct tcp_segment *seg = &a->seg;
    struct flow *f = flow_get(j, &a->key, a->hash, &from_b, a->now, a->now_ns);
    if (f == NULL)
        return;
    flow_touch(j, f, a->now);
    f->last_ns = a->now_ns;
    smtpreply_conn_segment_frame(f->conn, from_b, seg->seq, seg->flags, seg->payload, seg->len,
                                 seg->declared, seg->wire_len, seg->cap_len, a->now_ns / 1000,
                                 a->n);
    if (seg->flags & SMTPREPLY_TCP_FIN)
        f->fin[from_b] = true;
    if (!f->closing && ((seg->flags & SMTPREPLY_TCP_RST) || (f->fin[0] && f->fin[1]))) {
        list_unlink(&j->open_head, &j->open_tail, f);
        f->closing = true;
        list_append(&j->close_head, &j->close_tail, f);
    }
}

/* ------------------------------------------------------------------ */
/* reading one capture                                                */

/* libpcap's filter compiler keeps state across calls in some versions:
 * one compile at a time. */
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

static void job_problem(struct job *j, const char *msg, bool trouble)
{
    file_problem(j->fr, msg);
    if (trouble)
        j->fr->trouble = true;
}

/* Reads one capture into its flows; results go to the writer or the spool.
 * Problems are recorded in the file's result and printed by the caller, in
 * file order. */
static void run_job(struct job *j)
{
    struct file_result *fr = j->fr;
    const char *path = fr->path;
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p;

    if (strcmp(path, "-") == 0)
        p = pcap_fopen_offline_with_tstamp_precision(stdin, PCAP_TSTAMP_PRECISION_NANO, err);
    else
        p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL) {
        char msg[PCAP_ERRBUF_SIZE + 32];
        snprintf(msg, sizeof msg, "cannot read: %s", err);
        job_problem(j, msg, true);
        return;
    }
    fr->opened = true;
    if (j->opt->filter) {
        struct bpf_program prog;
        pthread_mutex_lock(&compile_lock);
        int bad = pcap_compile(p, &prog, j->opt->filter, 1, PCAP_NETMASK_UNKNOWN);
        pthread_mutex_unlock(&compile_lock);
        if (bad == 0) {
            bad = pcap_setfilter(p, &prog);
            pcap_freecode(&prog);
        }
        if (bad != 0) {
            /* The filter parsed (checked before any file was read) but
             * does not fit this file's link type. */
            char msg[PCAP_ERRBUF_SIZE + 64];
            snprintf(msg, sizeof msg, "filter not applicable, file skipped: %s", pcap_geterr(p));
            job_problem(j, msg, true);
            pcap_close(p);
            return;
        }
    }
    int dlt = pcap_datalink(p);
    bool dlt_ok = decode_linktype_supported(dlt);
    if (!dlt_ok) {
        const char *name = pcap_datalink_val_to_name(dlt);
        char msg[160];
        if (name)
            snprintf(msg, sizeof msg, "link type %s (%d) not decoded: its packets are skipped",
                     name, dlt);
        else
            snprintf(msg, sizeof msg, "link type %d not decoded: its packets are skipped", dlt);
        job_problem(j, msg, false);
    }

    /* The flow table starts small and doubles as flows come (table_grow). */
    j->cap = 1024;
    j->table = calloc(j->cap, sizeof *j->table);
    if (j->table == NULL) {
        job_problem(j, "out of memory for the flow table", true);
        pcap_close(p);
        return;
    }
    j->mem.limit = j->opt->max_memory;

    FILE *fp = strcmp(path, "-") == 0 ? NULL : pcap_file(p);
    uint64_t pos_reported = 0;
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    uint64_t n = 0;
    double last_sweep = 0;
    struct file_counters *c = &fr->counters;
    /* Decoded packets wait LOOKAHEAD packets before they are processed, in
     * order, while their state is fetched (ahead_stage): with thousands of
     * concurrent flows, the cache misses on the flow table, the flow, the
     * connection and the session were most of the per-packet time. */
    enum { LOOKAHEAD = 4, RING = LOOKAHEAD + 1 };
    struct ahead ring[RING];
    uint64_t pushed = 0, done = 0;
    memset(ring, 0, sizeof ring);
    bool reading = true;
    rc = 0;
    for (;;) {
        if (reading && (rc = pcap_next_ex(p, &h, &data)) != 1)
            reading = false;   /* end of file or damage: never read again */
        if (reading) {
            n++;
            fr->packets++;
            fr->bytes += h->caplen;
            if (!dlt_ok) {
                c->skips[SKIP_LINKTYPE]++;
                continue;
            }
            /* Opened with nanosecond precision: tv_usec holds nanoseconds.
             * pcapng's 64-bit timestamps can name any second up to ~10^13;
             * past about year 2255 the nanosecond count would overflow
             * int64_t, so such times are held at that limit (both clocks
             * below from the same clamped value, so they agree). */
            const int64_t max_sec = 9000000000;
            int64_t sec = (int64_t)h->ts.tv_sec;
            int64_t nsec = (int64_t)h->ts.tv_usec;
            sec = sec > max_sec ? max_sec : sec < -max_sec ? -max_sec : sec;
            nsec = nsec < 0 ? 0 : nsec > 999999999 ? 999999999 : nsec;
            int64_t now_ns = sec * 1000000000 + nsec;
            double now = (double)sec + (double)nsec / 1e9;
            struct tcp_segment seg;
            enum decode_skip why = decode_frame(dlt, data, h->caplen, h->len, &seg);
            if (why != SKIP_NONE) {
                c->skips[why]++;
                continue;
            }
            if (seg.cut)
                c->cut_packets++;
            if (!ahead_fill(&ring[pushed % RING], &seg, now, now_ns, n)) {
                job_problem(j, "out of memory: a packet was dropped", true);
                continue;
            }
            pushed++;
            for (int stage = 0; stage < LOOKAHEAD && (uint64_t)stage < pushed - done; stage++)
                ahead_stage(j, &ring[(pushed - 1 - (uint64_t)stage) % RING], stage);
            if (pushed - done <= LOOKAHEAD)
                continue;
        } else if (done == pushed) {
            break;   /* nothing left waiting */
        }
        const struct ahead *a = &ring[done++ % RING];
        /* Sweep before this packet refreshes its own flow, so a flow that
         * was silent longer than the timeout ends even if it speaks now. */
        if (a->now - last_sweep >= 1.0 || a->now < last_sweep) {
            sweep(j, a->now);
            last_sweep = a->now;
        }
        if ((a->n & 0x3fff) == 0 && j->progress->on && fp) {
            long pos = ftell(fp);
            if (pos > 0 && (uint64_t)pos > pos_reported) {
                atomic_fetch_add(&j->progress->done, (uint64_t)pos - pos_reported);
                pos_reported = (uint64_t)pos;
            }
            if (j->show_progress)
                progress_print(j->progress);
        }
        process_segment(j, a);
    }
    for (int i = 0; i < RING; i++)
        free(ring[i].buf);
    if (rc == PCAP_ERROR) {
        char msg[PCAP_ERRBUF_SIZE + 64];
        snprintf(msg, sizeof msg, "damaged after packet %" PRIu64 ": %s", n, pcap_geterr(p));
        job_problem(j, msg, true);
    }
    if (j->progress->on && fp) {
        struct stat st;
        if (stat(path, &st) == 0 && (uint64_t)st.st_size > pos_reported)
            atomic_fetch_add(&j->progress->done, (uint64_t)st.st_size - pos_reported);
    }
    pcap_close(p);
    /* Files are independent captures: their flows end with them. */
    end_all_flows(j);
    c->mem_peak = j->mem.peak;
    c->refused = j->mem.refused;
    free(j->table);
    j->table = NULL;
    free(j->line.p);
    free(j->render.p);
    j->render.p = NULL;
    j->line.p = NULL;
}

/* ------------------------------------------------------------------ */
/* finding the inputs                                                 */

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
    } *dirs;
    size_t ndirs, dirs_cap;
};

/* True if the directory was walked before; otherwise remembers it. */
static bool dir_seen(struct inputs *in, const struct stat *st)
{
    for (size_t i = 0; i < in->ndirs; i++) {
        if (in->dirs[i].dev == st->st_dev && in->dirs[i].ino == st->st_ino)
            return true;
    }
    if (in->ndirs == in->dirs_cap) {
        size_t cap = in->dirs_cap ? in->dirs_cap * 2 : 16;
        struct dir_id *v = realloc(in->dirs, cap * sizeof *v);
        if (v == NULL)
            return false;
        in->dirs = v;
        in->dirs_cap = cap;
    }
    in->dirs[in->ndirs++] = (struct dir_id){st->st_dev, st->st_ino};
    return false;
}

static struct file_result *add_input(struct inputs *in, const char *path, bool capture)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 16;
        struct file_result *v = realloc(in->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        in->v = v;
        in->cap = cap;
    }
    struct file_result *fr = &in->v[in->n];
    memset(fr, 0, sizeof *fr);
    fr->path = strdup(path);
    if (fr->path == NULL)
        return NULL;
    fr->capture = capture;
    in->n++;
    return fr;
}

/* An input that cannot be read at all: listed with its problem, said on
 * stderr at once. */
static void add_unreadable(struct inputs *in, const char *path, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof msg, "cannot read: %s", why);
    struct file_result *fr = add_input(in, path, false);
    if (fr) {
        file_problem(fr, msg);
        fr->trouble = true;
    }
    fprintf(stderr, "smtpreply: %s: %s\n", path, msg);
    in->trouble = true;
}

/* 1 if the file starts with a pcap or pcapng magic number, 0 if not,
 * -1 (errno set) if it cannot be opened or read. */
static int capture_magic(const char *path)
{
    uint8_t m[4];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(m, 1, 4, f);
    int rd_err = ferror(f) ? errno : 0;
    fclose(f);
    if (rd_err) {
        errno = rd_err;
        return -1;
    }
    if (n != 4)
        return 0;
    uint32_t be = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    return be == 0xa1b2c3d4 || be == 0xd4c3b2a1 || be == 0xa1b23c4d || be == 0x4d3cb2a1 ||
           be == 0x0a0d0d0a;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects capture paths: files as given, directories walked (sorted, so
 * results do not depend on the file system's order).  Inside a directory
 * only regular files are opened (a FIFO would block the walk), and only
 * those that start with a capture magic number are read. */
static void collect(struct inputs *in, const char *path, bool given, int depth)
{
    struct stat st;
    if (strcmp(path, "-") == 0) {
        add_input(in, path, true);
        return;
    }
    if (stat(path, &st) != 0) {
        add_unreadable(in, path, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (given) {
            /* Named on the command line: read it, whatever it is (a pipe
             * from process substitution is fine); libpcap says if not. */
            add_input(in, path, true);
            return;
        }
        if (!S_ISREG(st.st_mode)) {
            struct file_result *fr = add_input(in, path, false);
            if (fr)
                file_problem(fr, "skipped: not a regular file");
            return;
        }
        int magic = capture_magic(path);
        if (magic < 0) {
            add_unreadable(in, path, strerror(errno));
        } else if (magic == 0) {
            /* Not a capture: skipped quietly, but listed. */
            struct file_result *fr = add_input(in, path, false);
            if (fr)
                file_problem(fr, "skipped: not a capture");
        } else {
            add_input(in, path, true);
        }
        return;
    }
    if (depth > 64)
        return;
    if (dir_seen(in, &st)) {
        /* Listed, so the output says why it was not read again. */
        struct file_result *fr = add_input(in, path, false);
        if (fr)
            file_problem(fr, "skipped: directory already read (a symlink loop or a repeat)");
        return;
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        add_unreadable(in, path, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t nn = 0, nc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (nn == nc) {
            nc = nc ? nc * 2 : 32;
            char **v = realloc(names, nc * sizeof *v);
            if (v == NULL)
                break;
            names = v;
        }
        size_t plen = strlen(path);
        bool slash = plen > 0 && path[plen - 1] == '/';
        size_t l = plen + strlen(e->d_name) + 2;
        names[nn] = malloc(l);
        if (names[nn] == NULL)
            break;
        snprintf(names[nn], l, "%s%s%s", path, slash ? "" : "/", e->d_name);
        nn++;
    }
    closedir(d);
    if (nn > 1)
        qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        collect(in, names[i], false, depth + 1);
        free(names[i]);
    }
    free(names);
}

/* ------------------------------------------------------------------ */
/* running the jobs                                                   */

/* Prints a file's problems (stderr, one line each) and adds its counters:
 * called in file order, whichever thread read it. */
static void job_settle(struct output *o, struct file_result *fr)
{
    for (size_t i = 0; i < fr->nproblems; i++)
        fprintf(stderr, "smtpreply: %s: %s\n", fr->path, fr->problems[i]);
    out_file_counters(o, &fr->counters);
}

/* The -j workers take files in order.  Each spools its file's results to
 * a temporary file made when the job starts; the main thread writes the
 * spools out in file order.  At most `window` jobs may be started and not
 * yet written out, so open files and spool space stay bounded however many
 * files there are and however slow the first one is. */
struct pool {
    struct job *jobs;
    size_t njobs;
    size_t next;                /* the next job to start */
    size_t replayed;            /* jobs written out by the main thread */
    size_t window;
    pthread_mutex_t lock;
    pthread_cond_t done;        /* a job finished */
    pthread_cond_t room;        /* a job was written out */
};

static void *worker(void *arg)
{
    struct pool *pl = arg;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        while (pl->next < pl->njobs && pl->next >= pl->replayed + pl->window)
            pthread_cond_wait(&pl->room, &pl->lock);
        if (pl->next >= pl->njobs)
            break;
        struct job *j = &pl->jobs[pl->next++];
        pthread_mutex_unlock(&pl->lock);
        j->spool = tmpfile();
        if (j->spool == NULL) {
            char msg[200];
            snprintf(msg, sizeof msg, "not read: no temporary file to spool its results (%s)",
                     strerror(errno));
            job_problem(j, msg, true);
        } else {
            run_job(j);
            if (fflush(j->spool) != 0 || ferror(j->spool))
                job_problem(j, "results lost: cannot spool them to a temporary file", true);
        }
        pthread_mutex_lock(&pl->lock);
        atomic_store(&j->finished, true);
        pthread_cond_broadcast(&pl->done);
    }
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

/* Reads the captures with nthreads workers and writes their results in
 * file order; false (nothing read) if no thread could be started. */
static bool run_parallel(struct inputs *in, struct options *opt, struct output *o,
                         struct progress *pr, uint32_t nthreads)
{
    struct pool pl;
    memset(&pl, 0, sizeof pl);
    pl.jobs = calloc(in->n, sizeof *pl.jobs);
    if (pl.jobs == NULL)
        return false;
    for (size_t i = 0; i < in->n; i++) {
        if (!in->v[i].capture)
            continue;
        struct job *j = &pl.jobs[pl.njobs++];
        j->opt = opt;
        j->fr = &in->v[i];
        j->progress = pr;
    }
    if (nthreads > pl.njobs)
        nthreads = (uint32_t)pl.njobs;
    pl.window = (size_t)nthreads * 2;
    pthread_mutex_init(&pl.lock, NULL);
    pthread_cond_init(&pl.done, NULL);
    pthread_cond_init(&pl.room, NULL);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    uint32_t started = 0;
    for (uint32_t t = 0; tid && t < nthreads; t++) {
        if (pthread_create(&tid[t], NULL, worker, &pl) != 0)
            break;
        started++;
    }
    if (started == 0) {
        free(tid);
        free(pl.jobs);
        pthread_mutex_destroy(&pl.lock);
        pthread_cond_destroy(&pl.done);
        pthread_cond_destroy(&pl.room);
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++) {
        struct file_result *fr = &in->v[i];
        if (!fr->capture)
            continue;
        struct job *j = &pl.jobs[k++];
        pthread_mutex_lock(&pl.lock);
        while (!atomic_load(&j->finished)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 250000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&pl.done, &pl.lock, &ts);
            if (pr->on)
                progress_print(pr);
        }
        pthread_mutex_unlock(&pl.lock);
        if (j->spool) {
            if (!spool_replay(j->spool, o, fr->path)) {
                file_problem(fr, "results lost: the temporary spool could not be read back");
                fr->trouble = true;
            }
            fclose(j->spool);
        }
        job_settle(o, fr);
        pthread_mutex_lock(&pl.lock);
        pl.replayed++;
        pthread_cond_broadcast(&pl.room);
        pthread_mutex_unlock(&pl.lock);
    }
    for (uint32_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    free(pl.jobs);
    pthread_mutex_destroy(&pl.lock);
    pthread_cond_destroy(&pl.done);
    pthread_cond_destroy(&pl.room);
    return true;
}

static void run_serial(struct inputs *in, struct options *opt, struct output *o,
                       struct progress *pr)
{
    for (size_t i = 0; i < in->n; i++) {
        if (!in->v[i].capture)
            continue;
        struct job j;
        memset(&j, 0, sizeof j);
        j.opt = opt;
        j.fr = &in->v[i];
        j.progress = pr;
        j.show_progress = true;
        j.direct = o;
        run_job(&j);
        job_settle(o, &in->v[i]);
    }
}

/* ------------------------------------------------------------------ */
/* command line                                                       */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: smtpreply [tally] [OPTIONS] FILE|DIR|- ...\n"
            "\n"
            "Reads pcap and pcapng captures (directories recursively; - is standard\n"
            "input), reassembles TCP, finds SMTP sessions (ports 25, 587, 2525 and\n"
            "--port; 465 as implicit TLS; any other port by content, also inside SOCKS5\n"
            "and HTTP CONNECT tunnels) and tallies the servers' reply codes per session\n"
            "and in total, with their meaning and what looked wrong.  Each session is\n"
            "written when it ends, so memory depends on the sessions open at once, not\n"
            "on the size of the input.\n"
            "\n"
            "Options:\n"
            "  --format FMT        text (default), json or csv\n"
            "  --json              same as --format json\n"
            "  --replies           one JSON object per reply per line (no summary)\n"
            "  -o, --output FILE   write to FILE instead of standard output\n"
            "  -F, --filter EXPR   read only packets matching the BPF filter EXPR\n"
            "  --port N            also treat TCP port N as SMTP (repeatable)\n"
            "  -j N, --jobs N      read N files at once (default 1; 0 = one per core);\n"
            "                      the output is the same as with -j 1\n"
            "  -q, --quiet         no progress bar, no chatter (errors still go to stderr)\n"
            "  --                  the arguments after it are inputs, even if they start with -\n"
            "Long options also take --name=VALUE.\n"
            "Limits (hitting one is counted in the output; processing goes on):\n"
            "  --max-line N        bytes kept per line (64-16777216, default 4096)\n"
            "  --max-pending N     commands awaiting replies per session (default 1000)\n"
            "  --max-reply-lines N lines counted into one reply (default 1000)\n"
            "  --max-held N        client bytes held until the reply that decides what they\n"
            "                      are (DATA awaiting 354, AUTH awaiting 334; default 65536)\n"
            "  --max-detect N      bytes examined to decide whether a stream is SMTP\n"
            "                      (default 4096)\n"
            "  --max-reasm N       out-of-order bytes buffered per direction (default 262144)\n"
            "  --max-sessions N    flows tracked at once per file (default 100000)\n"
            "  --idle-timeout S    seconds of capture time before an idle flow ends (default 300)\n"
            "  --max-memory MB     memory for all sessions and reassembly of one file\n"
            "                      together (default 1024; with -j N, per file being read)\n"
            "  -h, --help          this help;  --version  the version\n"
            "\n"
            "Exit status:\n"
            "  0  every input read completely\n"
            "  1  some input unreadable, not a capture, truncated or damaged (results for\n"
            "     everything readable are still printed; packet-level skips do not count)\n"
            "  2  usage error, or nothing readable\n");
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < min || v > max || s[0] == '-')
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Checks the filter's grammar once, before anything is read or written. */
static bool filter_ok(const char *filter)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
    struct bpf_program prog;
    if (dead == NULL)
        return true;
    bool ok = pcap_compile(dead, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (ok)
        pcap_freecode(&prog);
    else
        fprintf(stderr, "smtpreply: bad filter '%s': %s\n", filter, pcap_geterr(dead));
    pcap_close(dead);
    return ok;
}

/* A whole number in [lo, hi]; otherwise one line naming the range. */
static bool number_opt(const char *name, const char *val, uint32_t lo, uint32_t hi,
                       uint32_t *out)
{
    if (parse_u32(val, lo, hi, out))
        return true;
    fprintf(stderr, "smtpreply: bad value for %s: '%s' (a whole number from %u to %u)\n", name,
            val, lo, hi);
    return false;
}

int cmd_tally(int argc, char **argv)
{
    struct options opt;
    memset(&opt, 0, sizeof opt);
    smtpreply_limits_default(&opt.limits);
    opt.max_flows = 100000;
    opt.idle_timeout = 300;
    opt.max_memory = (uint64_t)1024 << 20;
    opt.jobs = 1;
    const char **args = calloc((size_t)argc + 1, sizeof *args);
    size_t nargs = 0;
    int status = EXIT_USAGE;
    if (args == NULL)
        return EXIT_USAGE;

    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        uint32_t u;
        int got = 0;
        /* "--name VALUE" or "--name=VALUE"; a missing value ends the run. */
#define VALUE_OPT(name)                                                                   \
    ((got = cli_option_value("smtpreply", argc, argv, &i, (name), &val)) != 0)
#define NUMBER(name, lo, hi, dst)                                                         \
    do {                                                                                  \
        if (got < 0 || !number_opt((name), val, (lo), (hi), (dst)))                       \
            goto done;                                                                    \
    } while (0)
        if (options_done || a[0] != '-' || a[1] == '\0') {
            args[nargs++] = a; /* "-" is standard input */
        } else if (strcmp(a, "--") == 0) {
            options_done = true; /* captures whose names start with '-' follow */
        } else if (cli_is_help(a)) {
            usage(stdout);
            status = EXIT_OK;
            goto done;
        } else if (strcmp(a, "--version") == 0) {
            cli_print_version();
            status = EXIT_OK;
            goto done;
        } else if (strcmp(a, "--json") == 0) {
            opt.format = FMT_JSON;
        } else if (VALUE_OPT("--format")) {
            static const char *const names[] = {"text", "json", "csv", NULL};
            static const enum out_format formats[] = {FMT_TEXT, FMT_JSON, FMT_CSV};
            int k = got < 0 ? -1 : cli_format("smtpreply", val, names);
            if (k < 0)
                goto done;
            opt.format = formats[k];
        } else if (strcmp(a, "--replies") == 0) {
            opt.replies = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            opt.quiet = true;
        } else if (VALUE_OPT("-o") || VALUE_OPT("--output")) {
            if (got < 0)
                goto done;
            opt.outfile = val;
        } else if (VALUE_OPT("-F") || VALUE_OPT("--filter")) {
            if (got < 0)
                goto done;
            opt.filter = val;
        } else if (VALUE_OPT("-j") || VALUE_OPT("--jobs")) {
            NUMBER("--jobs", 0, 1024, &opt.jobs);
        } else if (strncmp(a, "-j", 2) == 0 && a[2] >= '0' && a[2] <= '9') {
            got = 1;
            val = a + 2;
            NUMBER("-j", 0, 1024, &opt.jobs);
        } else if (VALUE_OPT("--port")) {
            NUMBER("--port", 1, 65535, &u);
            if (opt.nports == 64) {
                fprintf(stderr, "smtpreply: at most 64 --port options\n");
                goto done;
            }
            opt.ports[opt.nports++] = (uint16_t)u;
        } else if (VALUE_OPT("--max-line")) {
            NUMBER("--max-line", 64, 1u << 24, &opt.limits.max_line);
        } else if (VALUE_OPT("--max-pending")) {
            NUMBER("--max-pending", 1, 1u << 20, &opt.limits.max_pending);
        } else if (VALUE_OPT("--max-reply-lines")) {
            NUMBER("--max-reply-lines", 1, 1u << 24, &opt.limits.max_reply_lines);
        } else if (VALUE_OPT("--max-held")) {
            NUMBER("--max-held", 512, 1u << 26, &opt.limits.max_held);
        } else if (VALUE_OPT("--max-detect")) {
            NUMBER("--max-detect", 64, 1u << 20, &opt.limits.max_detect);
        } else if (VALUE_OPT("--max-reasm")) {
            NUMBER("--max-reasm", 0, 1u << 30, &opt.limits.max_reasm);
        } else if (VALUE_OPT("--max-sessions")) {
            NUMBER("--max-sessions", 1, 1u << 26, &opt.max_flows);
        } else if (VALUE_OPT("--idle-timeout")) {
            NUMBER("--idle-timeout", 1, 1u << 30, &u);
            opt.idle_timeout = u;
        } else if (VALUE_OPT("--max-memory")) {
            NUMBER("--max-memory", 1, 1u << 20, &u);
            opt.max_memory = (uint64_t)u << 20;
        } else {
            fprintf(stderr, "smtpreply: unknown option '%s' (see --help)\n", a);
            goto done;
        }
    }
#undef VALUE_OPT
#undef NUMBER
    if (nargs == 0) {
        fprintf(stderr, "smtpreply: no capture given (see --help)\n");
        goto done;
    }
    if (opt.filter && !filter_ok(opt.filter))
        goto done;
    if (opt.jobs == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        opt.jobs = ncpu > 0 ? (uint32_t)ncpu : 1;
    }

    struct output o;
    memset(&o, 0, sizeof o);
    o.fp = stdout;
    o.format = opt.format;
    o.summary = !opt.replies;
    if (opt.outfile) {
        o.fp = fopen(opt.outfile, "w");
        if (o.fp == NULL) {
            fprintf(stderr, "smtpreply: %s: %s\n", opt.outfile, strerror(errno));
            goto done;
        }
    }

    struct inputs in;
    memset(&in, 0, sizeof in);
    size_t ncaptures = 0;
    for (size_t i = 0; i < nargs; i++)
        collect(&in, args[i], true, 0);
    struct progress pr;
    memset(&pr, 0, sizeof pr);
    for (size_t i = 0; i < in.n; i++) {
        struct stat st;
        if (!in.v[i].capture)
            continue;
        ncaptures++;
        if (strcmp(in.v[i].path, "-") != 0 && stat(in.v[i].path, &st) == 0)
            pr.total += (uint64_t)st.st_size;
    }
    pr.on = !opt.quiet && isatty(2) && pr.total > 64u * 1024 * 1024;

    out_begin(&o);
    if (opt.jobs <= 1 || ncaptures <= 1 || !run_parallel(&in, &opt, &o, &pr, opt.jobs))
        run_serial(&in, &opt, &o, &pr);
    if (pr.on)
        fputs("\r\033[K", stderr);
    out_end(&o, in.v, in.n);

    bool any_opened = false, trouble = in.trouble;
    for (size_t i = 0; i < in.n; i++) {
        any_opened |= in.v[i].opened;
        trouble |= in.v[i].trouble;
    }
    status = !any_opened ? EXIT_USAGE : trouble ? EXIT_PARTIAL : EXIT_OK;
    /* Say it when nothing at all was read: an empty directory, or one of
     * text files only, would otherwise end with status 2 and no word. */
    if (!any_opened && !trouble)
        fprintf(stderr, "smtpreply: no capture found in the input given (see --help)\n");
    /* A write that failed earlier leaves only the error flag (a buffer that
     * could not be written is dropped, and fclose may then succeed). */
    if (o.fp != stdout) {
        bool failed = fflush(o.fp) != 0 || ferror(o.fp);
        int err = errno ? errno : EIO;
        if (fclose(o.fp) != 0 && !failed) {
            failed = true;
            err = errno;
        }
        if (failed) {
            fprintf(stderr, "smtpreply: cannot write %s: %s\n", opt.outfile, strerror(err));
            status = EXIT_USAGE;
        }
    } else if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "smtpreply: cannot write the output: %s\n", strerror(errno ? errno : EIO));
        status = EXIT_USAGE;
    }
    out_free(&o);
    for (size_t i = 0; i < in.n; i++) {
        free(in.v[i].path);
        for (size_t k = 0; k < in.v[i].nproblems; k++)
            free(in.v[i].problems[k]);
        free(in.v[i].problems);
    }
    free(in.v);
    free(in.dirs);
done:
    free(args);
    return status;
}
