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
#include "tally_int.h"

/* ------------------------------------------------------------------ */
/* options                                                            */

void progress_print(struct progress *pr)
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
void *budget_realloc(void *ctx, void *ptr, size_t size)
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

uint64_t flow_hash(const struct flow_key *k)
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

void flow_sweep(struct job *j, double now)
{
    /* Closed flows wait 5 s of capture time for late segments. */
    while (j->close_head && now - j->close_head->last_seen > 5.0)
        flow_end(j, j->close_head, (int64_t)(now * 1e6), false);
    while (j->open_head && now - j->open_head->last_seen > j->opt->idle_timeout) {
        j->fr->counters.evicted++;
        flow_end(j, j->open_head, (int64_t)(j->open_head->last_seen * 1e6), true);
    }
}

void flow_end_all(struct job *j)
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

struct flow *flow_lookup(const struct job *j, const struct flow_key *k, uint64_t h)
{
    bool from_b;
    return j->table[flow_probe(j, k, h, &from_b)];
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

void flow_segment(struct job *j, const struct flow_key *k, uint64_t h,
                  const struct tcp_segment *seg, double now, int64_t now_ns, uint64_t n)
{
    bool from_b;
    struct flow *f = flow_get(j, k, h, &from_b, now, now_ns);
    if (f == NULL)
        return;
    flow_touch(j, f, now);
    f->last_ns = now_ns;
    smtpreply_conn_segment_cut(f->conn, from_b, seg->seq, seg->flags, seg->payload, seg->len,
                               seg->sent, now_ns / 1000, n);
    if (seg->flags & SMTPREPLY_TCP_FIN)
        f->fin[from_b] = true;
    if (!f->closing && ((seg->flags & SMTPREPLY_TCP_RST) || (f->fin[0] && f->fin[1]))) {
        list_unlink(&j->open_head, &j->open_tail, f);
        f->closing = true;
        list_append(&j->close_head, &j->close_tail, f);
    }
}

/* ------------------------------------------------------------------ */
/* command line                                                       */

enum {
    OPT_FORMAT = CLI_FIRST_ID, OPT_JSON, OPT_REPLIES, OPT_OUTPUT, OPT_FILTER, OPT_PORT, OPT_JOBS,
    OPT_QUIET, OPT_MAX_LINE, OPT_MAX_PENDING, OPT_MAX_REPLY_LINES, OPT_MAX_HELD, OPT_MAX_DETECT,
    OPT_MAX_REASM, OPT_MAX_SESSIONS, OPT_IDLE_TIMEOUT, OPT_MAX_MEMORY
};

static const struct cli_option options[] = {
    {OPT_FORMAT, "--format", NULL, "FMT", "text (default), json or csv", 0},
    {OPT_JSON, "--json", NULL, NULL, "same as --format json", 0},
    {OPT_REPLIES, "--replies", NULL, NULL, "one JSON object per reply per line (no summary)", 0},
    {OPT_OUTPUT, "--output", "-o", "FILE", "write to FILE instead of standard output", 0},
    {OPT_FILTER, "--filter", "-F", "EXPR", "read only packets matching the BPF filter EXPR", 0},
    {OPT_PORT, "--port", NULL, "N", "also treat TCP port N as SMTP (repeatable)", 0},
    {OPT_JOBS, "--jobs", "-j", "N",
     "read N files at once (default 1; 0 = one per core);\n"
     "the output is the same as with -j 1; also -jN", CLI_ATTACHED_NUMBER},
    {OPT_QUIET, "--quiet", "-q", NULL, "no progress bar, no chatter (errors still go to stderr)",
     0},
    CLI_OPT_DASHDASH("inputs"),
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    {OPT_MAX_LINE, "--max-line", NULL, "N", "bytes kept per line (64-16777216, default 4096)",
     CLI_GROUP2},
    {OPT_MAX_PENDING, "--max-pending", NULL, "N",
     "commands awaiting replies per session (default 1000)", CLI_GROUP2},
    {OPT_MAX_REPLY_LINES, "--max-reply-lines", NULL, "N",
     "lines counted into one reply (default 1000)", CLI_GROUP2},
    {OPT_MAX_HELD, "--max-held", NULL, "N",
     "client bytes held until the reply that decides what they\n"
     "are (DATA awaiting 354, AUTH awaiting 334; default 65536)", CLI_GROUP2},
    {OPT_MAX_DETECT, "--max-detect", NULL, "N",
     "bytes examined to decide whether a stream is SMTP\n(default 4096)", CLI_GROUP2},
    {OPT_MAX_REASM, "--max-reasm", NULL, "N",
     "out-of-order bytes buffered per direction (default 262144)", CLI_GROUP2},
    {OPT_MAX_SESSIONS, "--max-sessions", NULL, "N",
     "flows tracked at once per file (default 100000)", CLI_GROUP2},
    {OPT_IDLE_TIMEOUT, "--idle-timeout", NULL, "S",
     "seconds of capture time before an idle flow ends (default 300)", CLI_GROUP2},
    {OPT_MAX_MEMORY, "--max-memory", NULL, "MB",
     "memory for all sessions and reassembly of one file\n"
     "together (default 1024; with -j N, per file being read)", CLI_GROUP2},
    {0, NULL, NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"smtpreply", options, "option", true, "see", 22};

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
            "Options:\n");
    cli_print_options(out, &spec, false);
    fprintf(out, "Long options also take --name=VALUE.\n"
                 "Limits (hitting one is counted in the output; processing goes on):\n");
    cli_print_options(out, &spec, true);
    fprintf(out,
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

/* The limits a number option may take, and where its value goes. */
static bool number_option(struct options *o, int id, const char *name, const char *val)
{
    uint32_t u;
    switch (id) {
    case OPT_JOBS:
        return number_opt(name, val, 0, 1024, &o->jobs);
    case OPT_PORT:
        if (!number_opt(name, val, 1, 65535, &u))
            return false;
        if (o->nports == 64) {
            fprintf(stderr, "smtpreply: at most 64 --port options\n");
            return false;
        }
        o->ports[o->nports++] = (uint16_t)u;
        return true;
    case OPT_MAX_LINE:
        return number_opt(name, val, 64, 1u << 24, &o->limits.max_line);
    case OPT_MAX_PENDING:
        return number_opt(name, val, 1, 1u << 20, &o->limits.max_pending);
    case OPT_MAX_REPLY_LINES:
        return number_opt(name, val, 1, 1u << 24, &o->limits.max_reply_lines);
    case OPT_MAX_HELD:
        return number_opt(name, val, 512, 1u << 26, &o->limits.max_held);
    case OPT_MAX_DETECT:
        return number_opt(name, val, 64, 1u << 20, &o->limits.max_detect);
    case OPT_MAX_REASM:
        return number_opt(name, val, 0, 1u << 30, &o->limits.max_reasm);
    case OPT_MAX_SESSIONS:
        return number_opt(name, val, 1, 1u << 26, &o->max_flows);
    case OPT_IDLE_TIMEOUT:
        if (!number_opt(name, val, 1, 1u << 30, &u))
            return false;
        o->idle_timeout = u;
        return true;
    case OPT_MAX_MEMORY:
        if (!number_opt(name, val, 1, 1u << 20, &u))
            return false;
        o->max_memory = (uint64_t)u << 20;
        return true;
    }
    return false;
}

/* Reads the command line into opt and the inputs into args.  Returns -1
 * to go on, or the exit status (--help, --version, a usage error). */
static int parse_options(int argc, char **argv, struct options *opt, const char **args,
                         size_t *nargs)
{
    static const char *const names[] = {"text", "json", "csv", NULL};
    static const enum out_format formats[] = {FMT_TEXT, FMT_JSON, FMT_CSV};
    struct cli_parser cp;
    int id, k;
    cli_init(&cp, &spec, argc, argv);
    while ((id = cli_next(&cp)) != CLI_END) {
        switch (id) {
        case CLI_ARG:
            args[(*nargs)++] = cp.value;
            break;
        case CLI_ERROR:
            return EXIT_USAGE;
        case CLI_HELP:
            usage(stdout);
            return EXIT_OK;
        case CLI_VERSION:
            cli_print_version();
            return EXIT_OK;
        case OPT_JSON:
            opt->format = FMT_JSON;
            break;
        case OPT_FORMAT:
            if ((k = cli_format("smtpreply", cp.value, names)) < 0)
                return EXIT_USAGE;
            opt->format = formats[k];
            break;
        case OPT_REPLIES:
            opt->replies = true;
            break;
        case OPT_QUIET:
            opt->quiet = true;
            break;
        case OPT_OUTPUT:
            opt->outfile = cp.value;
            break;
        case OPT_FILTER:
            opt->filter = cp.value;
            break;
        default:
            /* "-j4" is named -j in a message, "-j 4" and "--jobs 4" --jobs. */
            if (!number_option(opt, id, cp.attached ? cp.spelling : cp.opt->name, cp.value))
                return EXIT_USAGE;
            break;
        }
    }
    return -1;
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

    int parsed = parse_options(argc, argv, &opt, args, &nargs);
    if (parsed >= 0) {
        status = parsed;
        goto done;
    }
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
        inputs_collect(&in, args[i]);
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
    inputs_free(&in);
done:
    free(args);
    return status;
}
