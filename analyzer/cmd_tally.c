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
 * full (the least recently seen goes first); each leaves a small summary.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pcap/pcap.h>
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

/* ------------------------------------------------------------------ */
/* options                                                            */

enum out_format { FMT_TEXT, FMT_JSON, FMT_CSV };

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
    uint64_t max_memory;    /* bytes the core may hold for all flows together */
};

/* The core allocates through this hook: it keeps a running total of what
 * all sessions and reassembly buffers hold and refuses to go past
 * --max-memory.  The core treats a refusal like a full buffer: counted,
 * and processing goes on.  Each block carries its size in front. */
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
/* per-session tallies                                                */

#define RT_SAMPLES 1024

struct count_entry {
    uint32_t key;           /* reply code, or enhanced code packed */
    uint64_t count;
};

struct count_list {
    struct count_entry *v;
    size_t n, cap;
};

static void count_add(struct count_list *l, uint32_t key, uint64_t by)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].key == key) {
            l->v[i].count += by;
            return;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct count_entry *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].key = key;
    l->v[l->n].count = by;
    l->n++;
}

static uint32_t esc_key(const struct smtpreply_esc *e)
{
    return (uint32_t)e->cls << 20 | (uint32_t)e->subject << 10 | e->detail;
}

static void esc_key_str(uint32_t key, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u", key >> 20, (key >> 10) & 0x3ff, key & 0x3ff);
}

struct summary {
    char client[64], server[64];
    size_t file;                /* index into the file list */
    double start, end;
    uint64_t replies, commands, unanswered;
    struct count_list codes, enhanced;
    uint64_t anomalies[SMTPREPLY_ANOM__COUNT];
    double rt_min, rt_max, rt_median;
    double *rt;                 /* samples while the flow lives; freed at its end */
    size_t rt_cap;
    uint64_t rt_n;              /* replies with a response time */
    bool starttls, implicit_tls;
    bool last_cmd_starttls;
    bool midstream, gaps, closed, tunnel, evicted;
    uint64_t missing_bytes;
};

/* ------------------------------------------------------------------ */
/* flows                                                              */

struct flow_key {
    uint8_t family;
    uint8_t a[16], b[16];
    uint16_t pa, pb;
};

struct run;

struct flow {
    struct flow_key key;        /* a = source of the first segment */
    bool fin[2];
    bool closing;
    double last_seen;
    struct flow *prev, *next;   /* LRU list (open or closing), oldest first */
    struct smtpreply_conn *conn;
    struct summary *sum;
    struct run *run;
};

struct file_info {
    char *path;
    uint64_t packets, bytes;
    json_t *problems;           /* array of strings */
};

struct run {
    struct options *opt;
    FILE *out;
    /* flow table: open addressing over pointers, backward-shift deletion */
    struct flow **table;
    size_t cap, count;
    struct flow *open_head, *open_tail;
    struct flow *close_head, *close_tail;
    /* results */
    struct summary **sessions;
    size_t nsessions, sessions_cap;
    struct file_info *files;
    size_t nfiles, files_cap;
    uint64_t skips[SKIP__COUNT];
    uint64_t evicted, cut_packets;
    bool file_trouble;          /* exit 1 */
    size_t files_read;          /* captures opened */
    uint64_t total_bytes, done_bytes;
    bool progress;
    struct mem_budget mem;
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

static void flow_unlink(struct run *r, struct flow *f)
{
    if (f->closing)
        list_unlink(&r->close_head, &r->close_tail, f);
    else
        list_unlink(&r->open_head, &r->open_tail, f);
}

static void flow_touch(struct run *r, struct flow *f, double now)
{
    f->last_seen = now;
    flow_unlink(r, f);
    if (f->closing)
        list_append(&r->close_head, &r->close_tail, f);
    else
        list_append(&r->open_head, &r->open_tail, f);
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
    for (size_t i = 0; i < o->nports; i++) {
        if (o->ports[i] == port)
            return SMTPREPLY_PORT_SMTP;
    }
    if (port == 465)
        return SMTPREPLY_PORT_IMPLICIT_TLS;
    if (port == 25 || port == 587 || port == 2525)
        return SMTPREPLY_PORT_SMTP;
    return SMTPREPLY_PORT_OTHER;
}

/* ------------------------------------------------------------------ */
/* events                                                             */

static double us_to_s(int64_t us) { return (double)us / 1e6; }

/* Copies reply text for output: control characters and bytes that are
 * not printable ASCII become '?' (JSON and CSV escaping do the rest). */
static void printable_copy(char *dst, size_t size, const char *src, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    dst[n] = '\0';
}

static json_t *anomaly_array(smtpreply_anomaly_set set)
{
    json_t *an = json_array();
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++) {
        if (set & ((smtpreply_anomaly_set)1 << i))
            json_array_append_new(an, json_string(smtpreply_anomaly_name((enum smtpreply_anomaly)i)));
    }
    return an;
}

static void reply_line_json(struct run *r, const struct flow *f, const struct smtpreply_event *ev)
{
    const struct summary *s = f->sum;
    char esc[16], text[600];
    json_t *o = json_object();
    json_object_set_new(o, "ts", json_real(us_to_s(ev->ts_us)));
    json_object_set_new(o, "file", json_string(r->files[s->file].path));
    json_object_set_new(o, "client", json_string(s->client));
    json_object_set_new(o, "server", json_string(s->server));
    json_object_set_new(o, "command", ev->has_cmd && ev->cmd.verb[0] ? json_string(ev->cmd.verb)
                                                                      : json_null());
    json_object_set_new(o, "code", json_integer(ev->code));
    json_object_set_new(o, "enhanced", ev->has_esc
                                           ? json_string(smtpreply_esc_format(&ev->esc, esc, sizeof esc))
                                           : json_null());
    json_object_set_new(o, "class", json_integer(ev->code / 100));
    json_object_set_new(o, "stage", json_string(smtpreply_stage_name(ev->stage)));
    json_object_set_new(o, "rt_ms", ev->rt_us >= 0 ? json_real((double)ev->rt_us / 1000.0)
                                                   : json_null());
    json_object_set_new(o, "anomalies", anomaly_array(ev->anomalies));
    printable_copy(text, sizeof text, ev->text, ev->text_len);
    json_object_set_new(o, "text", json_string(text));
    json_dumpf(o, r->out, JSON_COMPACT | JSON_SORT_KEYS);
    fputc('\n', r->out);
    json_decref(o);
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

static void on_event(void *user, const struct smtpreply_event *ev)
{
    struct flow *f = user;
    struct summary *s = f->sum;
    if (s == NULL)
        return;
    if (s->client[0] == '\0')
        fill_endpoints(f);
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++) {
        if (ev->anomalies & ((smtpreply_anomaly_set)1 << i))
            s->anomalies[i]++;
    }
    switch (ev->type) {
    case SMTPREPLY_EV_COMMAND:
        s->commands++;
        s->last_cmd_starttls = ev->cmd.cmd == SMTPREPLY_CMD_STARTTLS;
        break;
    case SMTPREPLY_EV_REPLY:
        s->replies++;
        count_add(&s->codes, ev->code, 1);
        if (ev->has_esc)
            count_add(&s->enhanced, esc_key(&ev->esc), 1);
        if (ev->rt_us >= 0) {
            double ms = (double)ev->rt_us / 1000.0;
            if (s->rt_n == 0 || ms < s->rt_min) s->rt_min = ms;
            if (s->rt_n == 0 || ms > s->rt_max) s->rt_max = ms;
            /* A bounded sample: the median is exact up to RT_SAMPLES
             * timed replies per session; past that, each later reply
             * replaces a deterministic slot (still bounded memory). */
            size_t slot = (size_t)(s->rt_n % RT_SAMPLES);
            if (slot >= s->rt_cap) {
                size_t cap = s->rt_cap ? s->rt_cap * 2 : 16;
                if (cap > RT_SAMPLES)
                    cap = RT_SAMPLES;
                double *v = realloc(s->rt, cap * sizeof *v);
                if (v != NULL) {
                    s->rt = v;
                    s->rt_cap = cap;
                }
            }
            if (slot < s->rt_cap)
                s->rt[slot] = ms;
            s->rt_n++;
        }
        if (f->run->opt->replies)
            reply_line_json(f->run, f, ev);
        break;
    case SMTPREPLY_EV_UNANSWERED:
        s->unanswered++;
        break;
    case SMTPREPLY_EV_TLS:
        if (s->last_cmd_starttls)
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
        free(s->rt);
        free(s->codes.v);
        free(s->enhanced.v);
        free(s);
    }
}

static void table_remove(struct run *r, struct flow *f)
{
    size_t mask = r->cap - 1;
    size_t i = (size_t)hash_key(&f->key) & mask;
    while (r->table[i] != f)
        i = (i + 1) & mask;
    r->table[i] = NULL;
    r->count--;
    /* Backward shift: pull later members of the chain into the hole. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (r->table[j] == NULL)
            break;
        size_t home = (size_t)hash_key(&r->table[j]->key) & mask;
        bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            r->table[i] = r->table[j];
            r->table[j] = NULL;
            i = j;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Keeps only the median: a finished session's summary stays small. */
static void settle_median(struct summary *s)
{
    size_t n = s->rt_n < s->rt_cap ? (size_t)s->rt_n : s->rt_cap;
    if (n > 1)
        qsort(s->rt, n, sizeof *s->rt, cmp_double);
    if (n > 0)
        s->rt_median = n % 2 ? s->rt[n / 2] : (s->rt[n / 2 - 1] + s->rt[n / 2]) / 2.0;
    free(s->rt);
    s->rt = NULL;
    s->rt_cap = 0;
}

static void flow_end(struct run *r, struct flow *f, int64_t ts_us, bool evicted)
{
    struct smtpreply_conn_stats cs;
    smtpreply_conn_finish(f->conn, ts_us, 0);
    smtpreply_conn_stats(f->conn, &cs);
    if (f->sum && cs.state == SMTPREPLY_CONN_SMTP) {
        const struct smtpreply_session *ss = smtpreply_conn_session(f->conn);
        struct summary *s = f->sum;
        s->closed = cs.closed;
        s->tunnel = cs.tunnel;
        s->evicted = evicted;
        s->missing_bytes = cs.missing_bytes;
        s->end = f->last_seen;
        fill_endpoints(f);
        settle_median(s);
        if (ss) {
            const struct smtpreply_session_stats *st = smtpreply_session_stats(ss);
            s->midstream = (st->flags & SMTPREPLY_SESSION_MIDSTREAM) != 0;
            s->gaps = (st->flags & SMTPREPLY_SESSION_GAPS) != 0 || cs.gaps > 0;
        }
        if (r->nsessions == r->sessions_cap) {
            size_t cap = r->sessions_cap ? r->sessions_cap * 2 : 64;
            struct summary **v = realloc(r->sessions, cap * sizeof *v);
            if (v) {
                r->sessions = v;
                r->sessions_cap = cap;
            }
        }
        if (r->nsessions < r->sessions_cap) {
            r->sessions[r->nsessions++] = s;
            f->sum = NULL;
        }
    }
    free_summary(f->sum);
    smtpreply_conn_free(f->conn);
    flow_unlink(r, f);
    table_remove(r, f);
    free(f);
}

static void sweep(struct run *r, double now)
{
    /* Closed flows wait 5 s of capture time for late segments. */
    while (r->close_head && now - r->close_head->last_seen > 5.0)
        flow_end(r, r->close_head, (int64_t)(now * 1e6), false);
    while (r->open_head && now - r->open_head->last_seen > r->opt->idle_timeout) {
        r->evicted++;
        flow_end(r, r->open_head, (int64_t)(r->open_head->last_seen * 1e6), true);
    }
}

static void end_all_flows(struct run *r)
{
    while (r->close_head)
        flow_end(r, r->close_head, (int64_t)(r->close_head->last_seen * 1e6), false);
    while (r->open_head)
        flow_end(r, r->open_head, (int64_t)(r->open_head->last_seen * 1e6), false);
}

static struct flow *flow_get(struct run *r, const struct flow_key *k, bool *from_b, double now)
{
    size_t mask = r->cap - 1;
    size_t i = (size_t)hash_key(k) & mask;
    while (r->table[i] != NULL) {
        if (key_match(&r->table[i]->key, k, from_b))
            return r->table[i];
        i = (i + 1) & mask;
    }
    if (r->count >= r->opt->max_flows) {
        /* Full: the least recently seen flow makes room. */
        struct flow *victim = r->close_head ? r->close_head : r->open_head;
        if (victim == NULL)
            return NULL;
        r->evicted++;
        flow_end(r, victim, (int64_t)(now * 1e6), true);
        return flow_get(r, k, from_b, now);
    }
    struct flow *f = calloc(1, sizeof *f);
    struct summary *s = calloc(1, sizeof *s);
    if (f == NULL || s == NULL) {
        free(f);
        free(s);
        return NULL;
    }
    struct smtpreply_conn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.limits = r->opt->limits;
    cfg.port_kind_a = port_kind(r->opt, k->pa);
    cfg.port_kind_b = port_kind(r->opt, k->pb);
    f->conn = smtpreply_conn_new(&cfg, budget_realloc, &r->mem, on_event, f);
    if (f->conn == NULL) {
        free(f);
        free(s);
        return NULL;
    }
    f->key = *k;
    f->run = r;
    f->sum = s;
    s->file = r->nfiles - 1;
    s->start = now;
    r->table[i] = f;
    r->count++;
    list_append(&r->open_head, &r->open_tail, f);
    *from_b = false;
    return f;
}

static void process_segment(struct run *r, const struct tcp_segment *seg, double now,
                            int64_t ts_us, uint64_t tag)
{
    struct flow_key k;
    bool from_b;
    k.family = seg->family;
    memcpy(k.a, seg->src, 16);
    memcpy(k.b, seg->dst, 16);
    k.pa = seg->sport;
    k.pb = seg->dport;

    struct flow *f = flow_get(r, &k, &from_b, now);
    if (f == NULL)
        return;
    flow_touch(r, f, now);
    smtpreply_conn_segment(f->conn, from_b, seg->seq, seg->flags, seg->payload, seg->len, ts_us,
                           tag);
    if (seg->flags & SMTPREPLY_TCP_FIN)
        f->fin[from_b] = true;
    if (!f->closing && ((seg->flags & SMTPREPLY_TCP_RST) || (f->fin[0] && f->fin[1]))) {
        list_unlink(&r->open_head, &r->open_tail, f);
        f->closing = true;
        list_append(&r->close_head, &r->close_tail, f);
    }
}

/* ------------------------------------------------------------------ */
/* reading captures                                                   */

/* Records a file-level problem and says it on stderr, one line. */
static void add_problem(struct run *r, const char *path, const char *msg)
{
    json_array_append_new(r->files[r->nfiles - 1].problems, json_string(msg));
    fprintf(stderr, "smtpreply: %s: %s\n", path, msg);
}

static struct file_info *new_file(struct run *r, const char *path)
{
    if (r->nfiles == r->files_cap) {
        size_t cap = r->files_cap ? r->files_cap * 2 : 16;
        struct file_info *v = realloc(r->files, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        r->files = v;
        r->files_cap = cap;
    }
    struct file_info *fi = &r->files[r->nfiles++];
    memset(fi, 0, sizeof *fi);
    fi->path = strdup(path);
    fi->problems = json_array();
    return fi;
}

static void progress(struct run *r, FILE *fp)
{
    if (!r->progress || fp == NULL)
        return;
    long pos = ftell(fp);
    if (pos < 0 || r->total_bytes == 0)
        return;
    double pct = 100.0 * (double)(r->done_bytes + (uint64_t)pos) / (double)r->total_bytes;
    int bar = (int)(pct / 2.5);
    fprintf(stderr, "\r[%-40.*s] %5.1f%%", bar, "########################################", pct);
}

/* Reads one capture.  Returns false if it could not be opened at all. */
static bool read_capture(struct run *r, const char *path)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p;
    struct file_info *fi = new_file(r, path);
    if (fi == NULL)
        return false;
    if (strcmp(path, "-") == 0)
        p = pcap_fopen_offline_with_tstamp_precision(stdin, PCAP_TSTAMP_PRECISION_NANO, err);
    else
        p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL) {
        char msg[PCAP_ERRBUF_SIZE + 32];
        snprintf(msg, sizeof msg, "cannot read: %s", err);
        add_problem(r, path, msg);
        r->file_trouble = true;
        return false;
    }
    r->files_read++;
    if (r->opt->filter) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, r->opt->filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &prog) != 0) {
            fprintf(stderr, "smtpreply: bad filter '%s': %s\n", r->opt->filter, pcap_geterr(p));
            pcap_close(p);
            exit(EXIT_USAGE);
        }
        pcap_freecode(&prog);
    }
    int dlt = pcap_datalink(p);
    bool dlt_ok = decode_linktype_supported(dlt);
    if (!dlt_ok) {
        const char *name = pcap_datalink_val_to_name(dlt);
        char msg[160];
        snprintf(msg, sizeof msg, "link type %s (%d) not decoded: its packets are skipped",
                 name ? name : "?", dlt);
        add_problem(r, path, msg);
    }
    FILE *fp = strcmp(path, "-") == 0 ? NULL : pcap_file(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    uint64_t n = 0;
    double last_sweep = 0;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        n++;
        fi->packets++;
        fi->bytes += h->caplen;
        if (!dlt_ok) {
            r->skips[SKIP_LINKTYPE]++;
            continue;
        }
        int64_t ts_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec / 1000;
        double now = (double)h->ts.tv_sec + (double)h->ts.tv_usec / 1e9;
        struct tcp_segment seg;
        enum decode_skip why = decode_frame(dlt, data, h->caplen, &seg);
        if (why != SKIP_NONE) {
            r->skips[why]++;
            continue;
        }
        if (seg.cut)
            r->cut_packets++;
        /* Sweep before this packet refreshes its own flow, so a flow that
         * was silent longer than the timeout ends even if it speaks now. */
        if (now - last_sweep >= 1.0 || now < last_sweep) {
            sweep(r, now);
            last_sweep = now;
        }
        if ((n & 0x3fff) == 0)
            progress(r, fp);
        process_segment(r, &seg, now, ts_us, n);
    }
    if (rc == PCAP_ERROR) {
        char msg[PCAP_ERRBUF_SIZE + 64];
        snprintf(msg, sizeof msg, "damaged after packet %" PRIu64 ": %s", n, pcap_geterr(p));
        add_problem(r, path, msg);
        r->file_trouble = true;
    }
    if (fp && r->progress) {
        struct stat st;
        if (stat(path, &st) == 0)
            r->done_bytes += (uint64_t)st.st_size;
    }
    pcap_close(p);
    /* Files are independent captures: their flows end with them. */
    end_all_flows(r);
    return true;
}

static bool has_capture_magic(const char *path)
{
    uint8_t m[4];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    if (n != 4)
        return false;
    uint32_t be = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    return be == 0xa1b2c3d4 || be == 0xd4c3b2a1 || be == 0xa1b23c4d || be == 0x4d3cb2a1 ||
           be == 0x0a0d0d0a;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects capture paths: files as given, directories walked (sorted, so
 * results do not depend on the file system's order). */
static void collect(const char *path, char ***list, size_t *n, size_t *cap, int depth,
                    struct run *r)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (depth > 64)
            return;
        DIR *d = opendir(path);
        if (d == NULL) {
            fprintf(stderr, "smtpreply: %s: cannot read directory: %s\n", path, strerror(errno));
            r->file_trouble = true;
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
            size_t l = strlen(path) + strlen(e->d_name) + 2;
            names[nn] = malloc(l);
            if (names[nn] == NULL)
                break;
            snprintf(names[nn], l, "%s/%s", path, e->d_name);
            nn++;
        }
        closedir(d);
        if (nn > 1)
            qsort(names, nn, sizeof *names, cmp_str);
        for (size_t i = 0; i < nn; i++) {
            struct stat s2;
            if (stat(names[i], &s2) == 0 && S_ISDIR(s2.st_mode)) {
                collect(names[i], list, n, cap, depth + 1, r);
            } else if (has_capture_magic(names[i])) {
                collect(names[i], list, n, cap, depth + 1, r);
            } else {
                /* Not a capture: skipped quietly, but listed. */
                struct file_info *fi = new_file(r, names[i]);
                if (fi)
                    json_array_append_new(fi->problems, json_string("skipped: not a capture"));
            }
            free(names[i]);
        }
        free(names);
        return;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        char **v = realloc(*list, *cap * sizeof *v);
        if (v == NULL)
            return;
        *list = v;
    }
    (*list)[(*n)++] = strdup(path);
}

/* ------------------------------------------------------------------ */
/* output                                                             */

static const char *status_flags(const struct summary *s, const char **flags, size_t *nflags)
{
    size_t n = 0;
    if (s->starttls) flags[n++] = "starttls";
    if (s->implicit_tls) flags[n++] = "encrypted";
    if (s->gaps) flags[n++] = "gaps";
    if (s->midstream) flags[n++] = "midstream";
    if (!s->closed) flags[n++] = "truncated";
    if (s->unanswered > 0) flags[n++] = "unanswered";
    if (s->tunnel) flags[n++] = "tunnel";
    if (s->evicted) flags[n++] = "evicted";
    *nflags = n;
    /* The main word: what most limits what the session's counts say. */
    if (s->starttls) return "starttls";
    if (s->implicit_tls) return "encrypted";
    if (s->gaps) return "gaps";
    if (s->midstream) return "midstream";
    if (!s->closed) return "truncated";
    if (s->unanswered > 0) return "unanswered";
    return "complete";
}


static int cmp_entry(const void *a, const void *b)
{
    const struct count_entry *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static json_t *codes_json(const struct count_list *l)
{
    json_t *o = json_object();
    char k[16];
    for (size_t i = 0; i < l->n; i++) {
        snprintf(k, sizeof k, "%u", l->v[i].key);
        json_object_set_new(o, k, json_integer((json_int_t)l->v[i].count));
    }
    return o;
}

static json_t *enhanced_json(const struct count_list *l)
{
    json_t *o = json_object();
    char k[24];
    for (size_t i = 0; i < l->n; i++) {
        esc_key_str(l->v[i].key, k, sizeof k);
        json_object_set_new(o, k, json_integer((json_int_t)l->v[i].count));
    }
    return o;
}

static json_t *anomalies_json(const uint64_t *a)
{
    json_t *o = json_object();
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++) {
        if (a[i])
            json_object_set_new(o, smtpreply_anomaly_name((enum smtpreply_anomaly)i),
                                json_integer((json_int_t)a[i]));
    }
    return o;
}

struct totals {
    uint64_t sessions, replies;
    struct count_list codes, enhanced;
    uint64_t classes[10];
    uint64_t anomalies[SMTPREPLY_ANOM__COUNT];
};

/* qsort's pointer must be valid even for zero elements: skip empty lists. */
static void sort_counts(struct count_list *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_entry);
}

static void compute_totals(struct run *r, struct totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < r->nsessions; i++) {
        struct summary *s = r->sessions[i];
        sort_counts(&s->codes);
        sort_counts(&s->enhanced);
        t->sessions++;
        t->replies += s->replies;
        for (size_t j = 0; j < s->codes.n; j++) {
            count_add(&t->codes, s->codes.v[j].key, s->codes.v[j].count);
            t->classes[(s->codes.v[j].key / 100) % 10] += s->codes.v[j].count;
        }
        for (size_t j = 0; j < s->enhanced.n; j++)
            count_add(&t->enhanced, s->enhanced.v[j].key, s->enhanced.v[j].count);
        for (unsigned j = 0; j < SMTPREPLY_ANOM__COUNT; j++)
            t->anomalies[j] += s->anomalies[j];
    }
    sort_counts(&t->codes);
    sort_counts(&t->enhanced);
}

static void write_json(struct run *r, const struct totals *t)
{
    json_t *root = json_object();
    json_t *files = json_array();
    for (size_t i = 0; i < r->nfiles; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "path", json_string(r->files[i].path));
        json_object_set_new(f, "packets", json_integer((json_int_t)r->files[i].packets));
        json_object_set_new(f, "bytes", json_integer((json_int_t)r->files[i].bytes));
        json_object_set(f, "problems", r->files[i].problems);
        json_array_append_new(files, f);
    }
    json_object_set_new(root, "files", files);

    json_t *sessions = json_array();
    for (size_t i = 0; i < r->nsessions; i++) {
        const struct summary *s = r->sessions[i];
        const char *flags[8];
        size_t nflags;
        const char *status = status_flags(s, flags, &nflags);
        json_t *o = json_object();
        json_object_set_new(o, "client", json_string(s->client));
        json_object_set_new(o, "server", json_string(s->server));
        json_object_set_new(o, "file", json_string(r->files[s->file].path));
        json_object_set_new(o, "start", json_real(s->start));
        json_object_set_new(o, "end", json_real(s->end));
        json_object_set_new(o, "status", json_string(status));
        json_t *fl = json_array();
        for (size_t j = 0; j < nflags; j++)
            json_array_append_new(fl, json_string(flags[j]));
        json_object_set_new(o, "flags", fl);
        json_object_set_new(o, "replies", json_integer((json_int_t)s->replies));
        json_object_set_new(o, "commands", json_integer((json_int_t)s->commands));
        json_object_set_new(o, "unanswered", json_integer((json_int_t)s->unanswered));
        json_object_set_new(o, "codes", codes_json(&s->codes));
        json_object_set_new(o, "enhanced", enhanced_json(&s->enhanced));
        json_object_set_new(o, "anomalies", anomalies_json(s->anomalies));
        if (s->rt_n > 0) {
            json_t *rt = json_object();
            json_object_set_new(rt, "min", json_real(s->rt_min));
            json_object_set_new(rt, "median", json_real(s->rt_median));
            json_object_set_new(rt, "max", json_real(s->rt_max));
            json_object_set_new(o, "rt_ms", rt);
        } else {
            json_object_set_new(o, "rt_ms", json_null());
        }
        json_object_set_new(o, "missing_bytes", json_integer((json_int_t)s->missing_bytes));
        json_array_append_new(sessions, o);
    }
    json_object_set_new(root, "sessions", sessions);

    json_t *tot = json_object();
    json_object_set_new(tot, "sessions", json_integer((json_int_t)t->sessions));
    json_object_set_new(tot, "replies", json_integer((json_int_t)t->replies));
    json_object_set_new(tot, "codes", codes_json(&t->codes));
    json_t *cls = json_object();
    for (int c = 2; c <= 5; c++) {
        char k[2] = {(char)('0' + c), 0};
        json_object_set_new(cls, k, json_integer((json_int_t)t->classes[c]));
    }
    /* Invalid codes (first digit not 2-5) are still replies: keep the sum. */
    for (int c = 0; c <= 9; c++) {
        if ((c < 2 || c > 5) && t->classes[c]) {
            char k[2] = {(char)('0' + c), 0};
            json_object_set_new(cls, k, json_integer((json_int_t)t->classes[c]));
        }
    }
    json_object_set_new(tot, "classes", cls);
    json_object_set_new(tot, "enhanced", enhanced_json(&t->enhanced));
    json_object_set_new(tot, "anomalies", anomalies_json(t->anomalies));
    json_t *sk = json_object();
    for (int i = 1; i < SKIP__COUNT; i++) {
        if (r->skips[i])
            json_object_set_new(sk, decode_skip_names[i], json_integer((json_int_t)r->skips[i]));
    }
    json_object_set_new(tot, "skipped_packets", sk);
    json_object_set_new(tot, "snaplen_cut_packets", json_integer((json_int_t)r->cut_packets));
    json_object_set_new(tot, "evicted_flows", json_integer((json_int_t)r->evicted));
    json_object_set_new(tot, "core_memory_peak", json_integer((json_int_t)r->mem.peak));
    json_object_set_new(tot, "allocations_refused", json_integer((json_int_t)r->mem.refused));
    json_object_set_new(root, "totals", tot);
    json_dumpf(root, r->out, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', r->out);
    json_decref(root);
}

/* RFC 4180 quoting. */
static void csv_field(FILE *out, const char *s)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (!quote) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void write_csv(struct run *r)
{
    fputs("file,client,server,status,code,count,meaning\n", r->out);
    for (size_t i = 0; i < r->nsessions; i++) {
        const struct summary *s = r->sessions[i];
        const char *flags[8];
        size_t nflags;
        const char *status = status_flags(s, flags, &nflags);
        for (size_t j = 0; j < s->codes.n; j++) {
            struct smtpreply_code_info ci;
            smtpreply_code_explain(s->codes.v[j].key, &ci);
            csv_field(r->out, r->files[s->file].path);
            fputc(',', r->out);
            csv_field(r->out, s->client);
            fputc(',', r->out);
            csv_field(r->out, s->server);
            fprintf(r->out, ",%s,%u,%" PRIu64 ",", status, s->codes.v[j].key, s->codes.v[j].count);
            csv_field(r->out, ci.meaning);
            fputc('\n', r->out);
        }
    }
}

static void write_text(struct run *r, const struct totals *t)
{
    FILE *o = r->out;
    fprintf(o, "%-4s %-40s %-40s %-19s %9s  %-10s  %s\n", "#", "client", "server", "start (UTC)",
            "duration", "status", "replies by code");
    for (size_t i = 0; i < r->nsessions; i++) {
        const struct summary *s = r->sessions[i];
        const char *flags[8];
        size_t nflags;
        const char *status = status_flags(s, flags, &nflags);
        char when[32] = "";
        time_t sec = (time_t)s->start;
        struct tm tm;
        if (gmtime_r(&sec, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(o, "%-4zu %-40s %-40s %-19s %8.3fs  %-10s ", i + 1, s->client, s->server, when,
                s->end - s->start, status);
        for (size_t j = 0; j < s->codes.n; j++)
            fprintf(o, " %u:%" PRIu64, s->codes.v[j].key, s->codes.v[j].count);
        if (s->codes.n == 0)
            fputs(" (no replies)", o);
        fputc('\n', o);
    }
    fprintf(o, "\n%" PRIu64 " SMTP session%s, %" PRIu64 " repl%s\n", t->sessions,
            t->sessions == 1 ? "" : "s", t->replies, t->replies == 1 ? "y" : "ies");
    static const char *const class_names[10] = {
        [2] = "positive completion", [3] = "positive intermediate",
        [4] = "transient negative", [5] = "permanent negative"};
    for (int c = 0; c <= 9; c++) {
        if (t->classes[c] == 0)
            continue;
        fprintf(o, "\n%dyz %-22s %8" PRIu64 "\n", c, class_names[c] ? class_names[c] : "invalid",
                t->classes[c]);
        for (size_t j = 0; j < t->codes.n; j++) {
            unsigned code = t->codes.v[j].key;
            if (code / 100 != (unsigned)c)
                continue;
            struct smtpreply_code_info ci;
            smtpreply_code_explain(code, &ci);
            fprintf(o, "  %3u %8" PRIu64 "  %-12s %s\n", code, t->codes.v[j].count,
                    smtpreply_status_name(ci.status), ci.meaning);
        }
    }
    if (t->enhanced.n) {
        fputs("\nenhanced status codes\n", o);
        for (size_t j = 0; j < t->enhanced.n; j++) {
            char k[24];
            struct smtpreply_esc e = {(uint8_t)(t->enhanced.v[j].key >> 20),
                                      (uint16_t)((t->enhanced.v[j].key >> 10) & 0x3ff),
                                      (uint16_t)(t->enhanced.v[j].key & 0x3ff)};
            struct smtpreply_esc_info ei;
            smtpreply_esc_explain(&e, &ei);
            esc_key_str(t->enhanced.v[j].key, k, sizeof k);
            fprintf(o, "  %-9s %8" PRIu64 "  %s\n", k, t->enhanced.v[j].count, ei.meaning);
        }
    }
    bool any = false;
    for (unsigned j = 0; j < SMTPREPLY_ANOM__COUNT; j++) {
        if (t->anomalies[j] == 0)
            continue;
        if (!any)
            fputs("\nanomalies\n", o);
        any = true;
        fprintf(o, "  %-30s %8" PRIu64 "  %s\n", smtpreply_anomaly_name((enum smtpreply_anomaly)j),
                t->anomalies[j], smtpreply_anomaly_description((enum smtpreply_anomaly)j));
    }
    uint64_t skipped = 0;
    for (int i = 1; i < SKIP__COUNT; i++)
        skipped += r->skips[i];
    if (skipped || r->evicted || r->cut_packets || r->mem.refused) {
        fputs("\npackets not decoded:", o);
        for (int i = 1; i < SKIP__COUNT; i++) {
            if (r->skips[i])
                fprintf(o, " %s %" PRIu64 ";", decode_skip_names[i], r->skips[i]);
        }
        if (r->cut_packets)
            fprintf(o, " payload cut by snaplen %" PRIu64 ";", r->cut_packets);
        if (r->evicted)
            fprintf(o, " flows evicted %" PRIu64 ";", r->evicted);
        if (r->mem.refused)
            fprintf(o, " allocations refused by --max-memory %" PRIu64 ";", r->mem.refused);
        fputc('\n', o);
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
            "and in total, with their meaning and what looked wrong.\n"
            "\n"
            "Options:\n"
            "  --format FMT        text (default), json or csv\n"
            "  --json              same as --format json\n"
            "  --replies           one JSON object per reply per line (no summary)\n"
            "  -o FILE             write to FILE instead of standard output\n"
            "  -F EXPR             read only packets matching the BPF filter EXPR\n"
            "  --port N            also treat TCP port N as SMTP (repeatable)\n"
            "  -q                  no progress bar, no chatter (errors still go to stderr)\n"
            "Limits (hitting one is counted in the output; processing goes on):\n"
            "  --max-line N        bytes kept per line (default 4096)\n"
            "  --max-pending N     commands awaiting replies per session (default 1000)\n"
            "  --max-reply-lines N lines counted into one reply (default 1000)\n"
            "  --max-reasm N       out-of-order bytes buffered per direction (default 262144)\n"
            "  --max-sessions N    flows tracked at once (default 100000)\n"
            "  --idle-timeout S    seconds of capture time before an idle flow ends (default 300)\n"
            "  --max-memory MB     memory for all sessions and reassembly together (default 1024)\n"
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
    if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

int cmd_tally(int argc, char **argv)
{
    struct options opt;
    memset(&opt, 0, sizeof opt);
    smtpreply_limits_default(&opt.limits);
    opt.max_flows = 100000;
    opt.idle_timeout = 300;
    opt.max_memory = (uint64_t)1024 << 20;
    char **inputs = NULL;
    size_t ninputs = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t u;
#define NEED_VALUE()                                                              \
    do {                                                                          \
        if (val == NULL) {                                                        \
            fprintf(stderr, "smtpreply: %s needs a value (see --help)\n", a);     \
            return EXIT_USAGE;                                                    \
        }                                                                         \
        i++;                                                                      \
    } while (0)
#define BAD_VALUE()                                                               \
    do {                                                                          \
        fprintf(stderr, "smtpreply: bad value for %s: '%s'\n", a, val);           \
        return EXIT_USAGE;                                                        \
    } while (0)
        if (cli_is_help(a)) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            cli_print_version();
            return EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            opt.format = FMT_JSON;
        } else if (strcmp(a, "--format") == 0) {
            NEED_VALUE();
            if (strcmp(val, "text") == 0) opt.format = FMT_TEXT;
            else if (strcmp(val, "json") == 0) opt.format = FMT_JSON;
            else if (strcmp(val, "csv") == 0) opt.format = FMT_CSV;
            else BAD_VALUE();
        } else if (strcmp(a, "--replies") == 0) {
            opt.replies = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            opt.quiet = true;
        } else if (strcmp(a, "-o") == 0) {
            NEED_VALUE();
            opt.outfile = val;
        } else if (strcmp(a, "-F") == 0) {
            NEED_VALUE();
            opt.filter = val;
        } else if (strcmp(a, "--port") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 1, 65535, &u) || opt.nports == 64) BAD_VALUE();
            opt.ports[opt.nports++] = (uint16_t)u;
        } else if (strcmp(a, "--max-line") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 64, 1u << 24, &opt.limits.max_line)) BAD_VALUE();
        } else if (strcmp(a, "--max-pending") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 1, 1u << 20, &opt.limits.max_pending)) BAD_VALUE();
        } else if (strcmp(a, "--max-reply-lines") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 1, 1u << 24, &opt.limits.max_reply_lines)) BAD_VALUE();
        } else if (strcmp(a, "--max-reasm") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 0, 1u << 30, &opt.limits.max_reasm)) BAD_VALUE();
        } else if (strcmp(a, "--max-sessions") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 1, 1u << 26, &opt.max_flows)) BAD_VALUE();
        } else if (strcmp(a, "--idle-timeout") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 1, 1u << 30, &u)) BAD_VALUE();
            opt.idle_timeout = u;
        } else if (strcmp(a, "--max-memory") == 0) {
            NEED_VALUE();
            if (!parse_u32(val, 1, 1u << 20, &u)) BAD_VALUE();
            opt.max_memory = (uint64_t)u << 20;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "smtpreply: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        } else {
            char **v = realloc(inputs, (ninputs + 1) * sizeof *v);
            if (v == NULL)
                return EXIT_USAGE;
            inputs = v;
            inputs[ninputs++] = argv[i];
        }
    }
    if (ninputs == 0) {
        fprintf(stderr, "smtpreply: no capture given (see --help)\n");
        return EXIT_USAGE;
    }

    struct run r;
    memset(&r, 0, sizeof r);
    r.opt = &opt;
    r.out = stdout;
    r.mem.limit = opt.max_memory;
    /* The table is twice the flow cap, rounded to a power of two. */
    r.cap = 1024;
    while (r.cap < (size_t)opt.max_flows * 2)
        r.cap *= 2;
    r.table = calloc(r.cap, sizeof *r.table);
    if (r.table == NULL) {
        fprintf(stderr, "smtpreply: out of memory\n");
        return EXIT_USAGE;
    }
    if (opt.outfile) {
        r.out = fopen(opt.outfile, "w");
        if (r.out == NULL) {
            fprintf(stderr, "smtpreply: %s: %s\n", opt.outfile, strerror(errno));
            return EXIT_USAGE;
        }
    }

    char **paths = NULL;
    size_t npaths = 0, paths_cap = 0;
    for (size_t i = 0; i < ninputs; i++) {
        struct stat st;
        if (strcmp(inputs[i], "-") != 0 && stat(inputs[i], &st) != 0) {
            /* Listed with its problem, like any unreadable capture. */
            struct file_info *fi = new_file(&r, inputs[i]);
            if (fi) {
                char msg[300];
                snprintf(msg, sizeof msg, "cannot read: %s", strerror(errno));
                json_array_append_new(fi->problems, json_string(msg));
                fprintf(stderr, "smtpreply: %s: %s\n", inputs[i], msg);
            }
            r.file_trouble = true;
            continue;
        }
        collect(inputs[i], &paths, &npaths, &paths_cap, 0, &r);
    }
    if (!opt.quiet && isatty(2)) {
        for (size_t i = 0; i < npaths; i++) {
            struct stat st;
            if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0)
                r.total_bytes += (uint64_t)st.st_size;
        }
        r.progress = r.total_bytes > 64u * 1024 * 1024;
    }
    for (size_t i = 0; i < npaths; i++) {
        read_capture(&r, paths[i]);
        free(paths[i]);
    }
    free(paths);
    free(inputs);
    if (r.progress)
        fputs("\r\033[K", stderr);

    struct totals t;
    compute_totals(&r, &t);
    if (!opt.replies) {
        switch (opt.format) {
        case FMT_JSON: write_json(&r, &t); break;
        case FMT_CSV: write_csv(&r); break;
        case FMT_TEXT: write_text(&r, &t); break;
        }
    }
    int status = r.files_read == 0 ? EXIT_USAGE : r.file_trouble ? EXIT_PARTIAL : EXIT_OK;
    if (r.out != stdout && fclose(r.out) != 0) {
        fprintf(stderr, "smtpreply: %s: %s\n", opt.outfile, strerror(errno));
        status = EXIT_USAGE;
    } else if (r.out == stdout && fflush(stdout) != 0) {
        status = EXIT_USAGE;
    }
    for (size_t i = 0; i < r.nsessions; i++)
        free_summary(r.sessions[i]);
    free(r.sessions);
    for (size_t i = 0; i < r.nfiles; i++) {
        free(r.files[i].path);
        json_decref(r.files[i].problems);
    }
    free(r.files);
    free(t.codes.v);
    free(t.enhanced.v);
    free(r.table);
    return status;
}
