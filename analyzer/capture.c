/* SPDX-License-Identifier: MIT */
/*
 * capture.c - reading one capture file: open it with libpcap (and its
 * filter), decode each frame to a TCP segment, and hand the segments to
 * their flows in order through a small read-ahead ring that fetches each
 * packet's state before its turn comes.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decode.h"
#include "tally_int.h"

/* ------------------------------------------------------------------ */
/* the read-ahead ring                                                */

/* A decoded packet waiting its turn (see LOOKAHEAD): its payload copied
 * out of libpcap's buffer, which the next read reuses. */
struct ahead {
    struct tcp_segment seg;
    struct flow_key key;
    uint64_t hash;
    double now;
    int64_t now_ns;
    uint64_t n; /* frame number: the events' tag */
    uint8_t *buf;
    size_t cap;
};

/* Decoded packets wait LOOKAHEAD packets before they are processed, in
 * order, while their state is fetched (ahead_stage): with thousands of
 * concurrent flows, the cache misses on the flow table, the flow, the
 * connection and the session were most of the per-packet time. */
enum { LOOKAHEAD = 4, RING = LOOKAHEAD + 1 };

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
    a->hash = flow_hash(&a->key);
    a->now = now;
    a->now_ns = now_ns;
    a->n = n;
    return true;
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
    const struct flow *f = flow_lookup(j, &a->key, a->hash);
    if (f)
        smtpreply_conn_prefetch(f->conn, stage - 2);
}

/* ------------------------------------------------------------------ */
/* reading one capture                                                */

/* One capture being read. */
struct reader {
    struct job *j;
    pcap_t *p;
    int dlt;
    bool dlt_ok;           /* a link type decode_frame knows */
    FILE *fp;              /* the file, for progress; NULL on stdin */
    uint64_t pos_reported; /* bytes of it added to the progress */
    uint64_t n;            /* records read (frame number), filtered or not */
    bool filtered;         /* --filter: prog decides which records count */
    struct bpf_program prog;
    double last_sweep;
    struct ahead ring[RING];
    uint64_t pushed, done; /* packets into the ring, and out of it */
};

/* libpcap's filter compiler keeps state across calls in some versions:
 * one compile at a time. */
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

/* Compiles --filter for this file; false (file skipped, said) if it does
 * not fit.  The filter is applied to each record after it is counted
 * (pcap_offline_filter), so that frame numbers count every record as
 * Wireshark numbers them, whatever the filter leaves out. */
static bool set_filter(struct job *j, pcap_t *p, struct bpf_program *prog)
{
    pthread_mutex_lock(&compile_lock);
    int bad = pcap_compile(p, prog, j->opt->filter, 1, PCAP_NETMASK_UNKNOWN);
    pthread_mutex_unlock(&compile_lock);
    if (bad != 0) {
        /* The filter parsed (checked before any file was read) but does
         * not fit this file's link type. */
        char msg[PCAP_ERRBUF_SIZE + 64];
        snprintf(msg, sizeof msg, "filter not applicable, file skipped: %s", pcap_geterr(p));
        job_problem(j, msg, true);
        return false;
    }
    return true;
}

/* Opens the job's capture with its filter; NULL after saying why not. */
static pcap_t *capture_open(struct job *j, struct bpf_program *prog, bool *filtered)
{
    const char *path = j->fr->path;
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p;

    /* Through tls_glue's stream, which picks up a pcapng's secrets on the
     * way; libpcap opens the path itself only to say why it cannot. */
    FILE *fp = tls_file_open(j, path);
    if (fp)
        p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, err);
    else if (strcmp(path, "-") == 0)
        p = pcap_fopen_offline_with_tstamp_precision(stdin, PCAP_TSTAMP_PRECISION_NANO, err);
    else
        p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL && fp)
        fclose(fp);
    if (p == NULL) {
        tls_file_end(j);
        char msg[PCAP_ERRBUF_SIZE + 32];
        snprintf(msg, sizeof msg, "cannot read: %s", err);
        job_problem(j, msg, true);
        return NULL;
    }
    j->fr->opened = true;
    if (j->opt->filter) {
        if (!set_filter(j, p, prog)) {
            pcap_close(p);
            tls_file_end(j);
            return NULL;
        }
        *filtered = true;
    }
    return p;
}

/* Notes a link type whose packets cannot be decoded (they are counted as
 * skipped; the file is still read). */
static void check_linktype(struct reader *r)
{
    r->dlt = pcap_datalink(r->p);
    r->dlt_ok = decode_linktype_supported(r->dlt);
    if (r->dlt_ok)
        return;
    const char *name = pcap_datalink_val_to_name(r->dlt);
    char msg[160];
    if (name)
        snprintf(msg, sizeof msg, "link type %s (%d) not decoded: its packets are skipped", name,
                 r->dlt);
    else
        snprintf(msg, sizeof msg, "link type %d not decoded: its packets are skipped", r->dlt);
    job_problem(r->j, msg, false);
}

/* Counts one packet just read and, if it is a TCP segment, decodes it into
 * the ring and starts fetching its state; false if it was skipped. */
static bool push_packet(struct reader *r, const struct pcap_pkthdr *h, const u_char *data)
{
    struct file_result *fr = r->j->fr;
    struct file_counters *c = &fr->counters;
    r->n++;
    if (r->filtered && pcap_offline_filter(&r->prog, h, data) == 0)
        return false;
    fr->packets++;
    fr->bytes += h->caplen;
    if (!r->dlt_ok) {
        c->skips[SKIP_LINKTYPE]++;
        return false;
    }
    /* Opened with nanosecond precision: tv_usec holds nanoseconds.
     * pcapng's 64-bit timestamps can name any second up to ~10^13; past
     * about year 2255 the nanosecond count would overflow int64_t, so such
     * times are held at that limit (both clocks below from the same
     * clamped value, so they agree). */
    const int64_t max_sec = 9000000000;
    int64_t sec = (int64_t)h->ts.tv_sec;
    int64_t nsec = (int64_t)h->ts.tv_usec;
    sec = sec > max_sec ? max_sec : sec < -max_sec ? -max_sec : sec;
    nsec = nsec < 0 ? 0 : nsec > 999999999 ? 999999999 : nsec;
    int64_t now_ns = sec * 1000000000 + nsec;
    double now = (double)sec + (double)nsec / 1e9;
    struct tcp_segment seg;
    enum decode_skip why = decode_frame(r->dlt, data, h->caplen, h->len, &seg);
    if (why != SKIP_NONE) {
        c->skips[why]++;
        return false;
    }
    if (seg.cut)
        c->cut_packets++;
    if (!ahead_fill(&r->ring[r->pushed % RING], &seg, now, now_ns, r->n)) {
        job_problem(r->j, "out of memory: a packet was dropped", true);
        return false;
    }
    r->pushed++;
    for (int stage = 0; stage < LOOKAHEAD && (uint64_t)stage < r->pushed - r->done; stage++)
        ahead_stage(r->j, &r->ring[(r->pushed - 1 - (uint64_t)stage) % RING], stage);
    return true;
}

/* Adds the bytes read so far to the progress (every 16384 packets). */
static void report_progress(struct reader *r)
{
    struct job *j = r->j;
    long pos = ftell(r->fp);
    if (pos > 0 && (uint64_t)pos > r->pos_reported) {
        atomic_fetch_add(&j->progress->done, (uint64_t)pos - r->pos_reported);
        r->pos_reported = (uint64_t)pos;
    }
    if (j->show_progress)
        progress_print(j->progress);
}

/* Processes the oldest packet of the ring. */
static void take_packet(struct reader *r)
{
    const struct ahead *a = &r->ring[r->done++ % RING];
    /* Sweep before this packet refreshes its own flow, so a flow that was
     * silent longer than the timeout ends even if it speaks now. */
    if (a->now - r->last_sweep >= 1.0 || a->now < r->last_sweep) {
        flow_sweep(r->j, a->now);
        r->last_sweep = a->now;
    }
    if ((a->n & 0x3fff) == 0 && r->j->progress->on && r->fp)
        report_progress(r);
    flow_segment(r->j, &a->key, a->hash, &a->seg, a->now, a->now_ns, a->n);
}

/* Reads every packet; returns pcap_next_ex's last answer (PCAP_ERROR if
 * the file is damaged).  Packets wait in the ring until LOOKAHEAD more
 * have been read, or the file has ended. */
static int capture_loop(struct reader *r)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    bool reading = true;
    int rc = 0;
    for (;;) {
        if (reading && (rc = pcap_next_ex(r->p, &h, &data)) != 1)
            reading = false; /* end of file or damage: never read again */
        if (reading) {
            if (!push_packet(r, h, data) || r->pushed - r->done <= LOOKAHEAD)
                continue;
        } else if (r->done == r->pushed) {
            break; /* nothing left waiting */
        }
        take_packet(r);
    }
    return rc;
}

/* Says if the file was damaged, ends its flows, keeps its memory figures
 * and frees what reading it took. */
static void capture_finish(struct reader *r, int rc)
{
    struct job *j = r->j;
    struct file_counters *c = &j->fr->counters;
    for (int i = 0; i < RING; i++)
        free(r->ring[i].buf);
    if (rc == PCAP_ERROR) {
        char msg[PCAP_ERRBUF_SIZE + 64];
        snprintf(msg, sizeof msg, "damaged after packet %" PRIu64 ": %s", r->n,
                 pcap_geterr(r->p));
        job_problem(j, msg, true);
    }
    if (j->progress->on && r->fp) {
        struct stat st;
        if (stat(j->fr->path, &st) == 0 && (uint64_t)st.st_size > r->pos_reported)
            atomic_fetch_add(&j->progress->done, (uint64_t)st.st_size - r->pos_reported);
    }
    pcap_close(r->p);
    if (r->filtered)
        pcap_freecode(&r->prog);
    /* Files are independent captures: their flows end with them. */
    flow_end_all(j);
    tls_file_end(j);
    order_finish(j);
    c->sessions_numbered = j->next_id;
    c->mem_peak = j->mem.peak;
    c->refused = j->mem.refused;
    free(j->table);
    j->table = NULL;
    free(j->line.p);
    free(j->red_text.p);
    free(j->red_rcpt.p);
    j->red_text.p = j->red_rcpt.p = NULL;
    free(j->render.p);
    j->render.p = NULL;
    j->line.p = NULL;
}

void run_job(struct job *j)
{
    struct reader r;
    memset(&r, 0, sizeof r);
    r.j = j;
    r.p = capture_open(j, &r.prog, &r.filtered);
    if (r.p == NULL)
        return;
    check_linktype(&r);
    /* The flow table starts small and doubles as flows come. */
    j->cap = 1024;
    j->table = calloc(j->cap, sizeof *j->table);
    if (j->table == NULL) {
        job_problem(j, "out of memory for the flow table", true);
        pcap_close(r.p);
        tls_file_end(j);
        if (r.filtered)
            pcap_freecode(&r.prog);
        return;
    }
    j->mem.limit = j->opt->max_memory;
    r.fp = strcmp(j->fr->path, "-") == 0 ? NULL : pcap_file(r.p);
    capture_finish(&r, capture_loop(&r));
}
