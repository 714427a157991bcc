/* SPDX-License-Identifier: MIT */
/*
 * tally_out.c - the tally's writer: text, JSON and CSV, streamed.
 *
 * Each session is written when it ends (out_session) and only added into
 * the totals; files[] and totals close the document (out_end).  JSON is
 * written by hand rather than through a document tree: building the whole
 * tree first was the largest cost of a big run and held every session in
 * memory (perf on the 839 MB benchmark: 2.1 of 5.1 s).  Keys inside each
 * object are sorted, as jansson's JSON_SORT_KEYS wrote them before.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tally.h"

/* ------------------------------------------------------------------ */
/* counts                                                             */

void count_add(struct count_list *l, uint32_t key, uint64_t by)
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

/* Insertion sort: the lists hold a handful of codes, where qsort's calls
 * through a comparator cost more than the sorting. */
void count_sort(struct count_list *l)
{
    for (size_t i = 1; i < l->n; i++) {
        struct count_entry e = l->v[i];
        size_t k = i;
        while (k > 0 && l->v[k - 1].key > e.key) {
            l->v[k] = l->v[k - 1];
            k--;
        }
        l->v[k] = e;
    }
}

uint32_t esc_key(const struct smtpreply_esc *e)
{
    return (uint32_t)e->cls << 20 | (uint32_t)e->subject << 10 | e->detail;
}

static void esc_key_str(uint32_t key, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u", key >> 20, (key >> 10) & 0x3ff, key & 0x3ff);
}

void file_problem(struct file_result *fr, const char *msg)
{
    char **v = realloc(fr->problems, (fr->nproblems + 1) * sizeof *v);
    if (v == NULL)
        return;
    fr->problems = v;
    v[fr->nproblems] = strdup(msg);
    if (v[fr->nproblems])
        fr->nproblems++;
}

/* ------------------------------------------------------------------ */
/* string building                                                    */

static bool sb_reserve(struct sbuf *b, size_t more)
{
    if (b->n + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

void sb_putc(struct sbuf *b, char c)
{
    if (sb_reserve(b, 1))
        b->p[b->n++] = c;
}

void sb_puts(struct sbuf *b, const char *s)
{
    size_t len = strlen(s);
    if (sb_reserve(b, len)) {
        memcpy(b->p + b->n, s, len);
        b->n += len;
    }
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int len = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len < sizeof tmp) {
        if (sb_reserve(b, (size_t)len)) {
            memcpy(b->p + b->n, tmp, (size_t)len);
            b->n += (size_t)len;
        }
        return;
    }
    if (!sb_reserve(b, (size_t)len))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)len;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 if the byte starts none. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
    else return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

void sb_json_str(struct sbuf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    sb_putc(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
            i++;
        } else if (c < 0x20) {
            static const char short_esc[] = "btn?fr";
            if (c >= 8 && c <= 13 && c != 11) {
                sb_putc(b, '\\');
                sb_putc(b, short_esc[c - 8]);
            } else {
                sb_printf(b, "\\u%04x", c);
            }
            i++;
        } else {
            size_t n = utf8_len(s + i, len - i);
            if (n == 0) {
                sb_puts(b, "\\ufffd");
                i++;
            } else if (sb_reserve(b, n)) {
                memcpy(b->p + b->n, s + i, n);
                b->n += n;
                i += n;
            } else {
                i += n;
            }
        }
    }
    sb_putc(b, '"');
}

void sb_u64(struct sbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (sb_reserve(b, sizeof tmp - i)) {
        memcpy(b->p + b->n, tmp + i, sizeof tmp - i);
        b->n += sizeof tmp - i;
    }
}

void sb_fixed(struct sbuf *b, int64_t v, unsigned decimals)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++)
        scale *= 10;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        sb_putc(b, '-');
    sb_u64(b, mag / scale);
    sb_putc(b, '.');
    uint64_t frac = mag % scale;
    if (frac == 0) {
        sb_putc(b, '0');
        return;
    }
    /* The fraction's digits with leading zeros kept, trailing ones cut. */
    char tmp[24];
    unsigned n = decimals;
    for (unsigned i = decimals; i-- > 0;) {
        tmp[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    while (n > 1 && tmp[n - 1] == '0')
        n--;
    if (sb_reserve(b, n)) {
        memcpy(b->p + b->n, tmp, n);
        b->n += n;
    }
}

static void sb_json_key(struct sbuf *b, const char *key)
{
    sb_json_str(b, key, strlen(key));
    sb_puts(b, ": ");
}

static void sb_flush(struct output *o)
{
    if (o->sb.n)
        fwrite(o->sb.p, 1, o->sb.n, o->fp);
    o->sb.n = 0;
}

/* ------------------------------------------------------------------ */
/* pieces shared by the formats                                       */

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

static void json_codes(struct sbuf *b, const struct count_list *l, bool enhanced)
{
    sb_putc(b, '{');
    for (size_t i = 0; i < l->n; i++) {
        uint32_t key = l->v[i].key;
        sb_puts(b, i ? ", \"" : "\"");
        if (enhanced) {
            sb_u64(b, key >> 20);
            sb_putc(b, '.');
            sb_u64(b, (key >> 10) & 0x3ff);
            sb_putc(b, '.');
            sb_u64(b, key & 0x3ff);
        } else {
            sb_u64(b, key);
        }
        sb_puts(b, "\": ");
        sb_u64(b, l->v[i].count);
    }
    sb_putc(b, '}');
}

static void json_anomalies(struct sbuf *b, const uint64_t *a)
{
    bool first = true;
    sb_putc(b, '{');
    /* Sorted by name, as every other object here. */
    const char *names[SMTPREPLY_ANOM__COUNT];
    unsigned idx[SMTPREPLY_ANOM__COUNT], n = 0;
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++) {
        if (a[i] == 0)
            continue;
        const char *name = smtpreply_anomaly_name((enum smtpreply_anomaly)i);
        unsigned j = n++;
        while (j > 0 && strcmp(names[j - 1], name) > 0) {
            names[j] = names[j - 1];
            idx[j] = idx[j - 1];
            j--;
        }
        names[j] = name;
        idx[j] = i;
    }
    for (unsigned j = 0; j < n; j++) {
        sb_puts(b, first ? "\"" : ", \"");
        sb_puts(b, names[j]);
        sb_puts(b, "\": ");
        sb_u64(b, a[idx[j]]);
        first = false;
    }
    sb_putc(b, '}');
}

/* RFC 4180 quoting. */
static void csv_field(struct sbuf *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        sb_puts(b, s);
        return;
    }
    sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            sb_putc(b, '"');
        sb_putc(b, *s);
    }
    sb_putc(b, '"');
}

/* ------------------------------------------------------------------ */
/* the stream                                                         */

void out_begin(struct output *o)
{
    if (!o->summary)
        return;
    switch (o->format) {
    case FMT_JSON:
        fputs("{\n  \"sessions\": [", o->fp);
        break;
    case FMT_CSV:
        fputs("file,client,server,status,code,count,meaning\n", o->fp);
        break;
    case FMT_TEXT:
        fprintf(o->fp, "%-4s %-40s %-40s %-19s %9s  %-10s  %s\n", "#", "client", "server",
                "start (UTC)", "duration", "status", "replies by code");
        break;
    }
}

static void session_json(struct output *o, const struct summary *s, const char *file)
{
    struct sbuf *b = &o->sb;
    const char *flags[8];
    size_t nflags;
    const char *status = status_flags(s, flags, &nflags);
    sb_puts(b, o->any_session ? ",\n    {" : "\n    {");
    sb_json_key(b, "anomalies");
    json_anomalies(b, s->anomalies);
    sb_puts(b, ", ");
    sb_json_key(b, "client");
    sb_json_str(b, s->client, strlen(s->client));
    sb_puts(b, ", ");
    sb_json_key(b, "codes");
    json_codes(b, &s->codes, false);
    sb_puts(b, ", \"commands\": ");
    sb_u64(b, s->commands);
    sb_puts(b, ", \"end\": ");
    sb_fixed(b, s->end_ns, 9);
    sb_puts(b, ", ");
    sb_json_key(b, "enhanced");
    json_codes(b, &s->enhanced, true);
    sb_puts(b, ", ");
    sb_json_key(b, "file");
    sb_json_str(b, file, strlen(file));
    sb_puts(b, ", \"flags\": [");
    for (size_t i = 0; i < nflags; i++) {
        sb_puts(b, i ? ", \"" : "\"");
        sb_puts(b, flags[i]);
        sb_putc(b, '"');
    }
    sb_puts(b, "], \"missing_bytes\": ");
    sb_u64(b, s->missing_bytes);
    sb_puts(b, ", \"reasm_overflow\": ");
    sb_u64(b, s->reasm_overflow);
    sb_puts(b, ", \"replies\": ");
    sb_u64(b, s->replies);
    sb_puts(b, ", \"rt_ms\": ");
    if (s->rt_n > 0) {
        /* Microseconds are exact in milliseconds with 3 decimals; half
         * microseconds (an even count's median) with 4. */
        sb_puts(b, "{\"max\": ");
        sb_fixed(b, s->rt_max_us, 3);
        sb_puts(b, ", \"median\": ");
        sb_fixed(b, s->rt_median_x2_us * 5, 4);
        sb_puts(b, ", \"min\": ");
        sb_fixed(b, s->rt_min_us, 3);
        sb_putc(b, '}');
    } else {
        sb_puts(b, "null");
    }
    sb_puts(b, ", ");
    sb_json_key(b, "server");
    sb_json_str(b, s->server, strlen(s->server));
    sb_puts(b, ", \"start\": ");
    sb_fixed(b, s->start_ns, 9);
    sb_puts(b, ", \"status\": \"");
    sb_puts(b, status);
    sb_puts(b, "\", \"unanswered\": ");
    sb_u64(b, s->unanswered);
    sb_putc(b, '}');
}

static void session_csv(struct output *o, const struct summary *s, const char *file)
{
    struct sbuf *b = &o->sb;
    const char *flags[8];
    size_t nflags;
    const char *status = status_flags(s, flags, &nflags);
    for (size_t j = 0; j < s->codes.n; j++) {
        struct smtpreply_code_info ci;
        smtpreply_code_explain(s->codes.v[j].key, &ci);
        csv_field(b, file);
        sb_putc(b, ',');
        csv_field(b, s->client);
        sb_putc(b, ',');
        csv_field(b, s->server);
        sb_printf(b, ",%s,%u,%" PRIu64 ",", status, s->codes.v[j].key, s->codes.v[j].count);
        csv_field(b, ci.meaning);
        sb_putc(b, '\n');
    }
}

static void session_text(struct output *o, const struct summary *s)
{
    struct sbuf *b = &o->sb;
    const char *flags[8];
    size_t nflags;
    const char *status = status_flags(s, flags, &nflags);
    char when[32] = "";
    time_t sec = (time_t)(s->start_ns / 1000000000);
    struct tm tm;
    if (gmtime_r(&sec, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    sb_printf(b, "%-4" PRIu64 " %-40s %-40s %-19s %8.3fs  %-10s ", o->sessions, s->client,
              s->server, when, (double)(s->end_ns - s->start_ns) / 1e9, status);
    for (size_t j = 0; j < s->codes.n; j++)
        sb_printf(b, " %u:%" PRIu64, s->codes.v[j].key, s->codes.v[j].count);
    if (s->codes.n == 0)
        sb_puts(b, " (no replies)");
    sb_putc(b, '\n');
}

/* Writes one finished session (its lists sorted) and adds it to the totals. */
void out_session(struct output *o, const struct summary *s, const char *file)
{
    o->sessions++;
    o->replies += s->replies;
    o->reasm_overflow += s->reasm_overflow;
    for (size_t j = 0; j < s->codes.n; j++) {
        count_add(&o->codes, s->codes.v[j].key, s->codes.v[j].count);
        o->classes[(s->codes.v[j].key / 100) % 10] += s->codes.v[j].count;
    }
    for (size_t j = 0; j < s->enhanced.n; j++)
        count_add(&o->enhanced, s->enhanced.v[j].key, s->enhanced.v[j].count);
    for (unsigned j = 0; j < SMTPREPLY_ANOM__COUNT; j++)
        o->anomalies[j] += s->anomalies[j];
    if (!o->summary)
        return;
    switch (o->format) {
    case FMT_JSON: session_json(o, s, file); break;
    case FMT_CSV: session_csv(o, s, file); break;
    case FMT_TEXT: session_text(o, s); break;
    }
    o->any_session = true;
    sb_flush(o);
}

void out_file_counters(struct output *o, const struct file_counters *c)
{
    for (int i = 0; i < SKIP__COUNT; i++)
        o->counters.skips[i] += c->skips[i];
    o->counters.evicted += c->evicted;
    o->counters.cut_packets += c->cut_packets;
    o->counters.refused += c->refused;
    /* Every file's flows end with it, so the run's peak is the largest
     * file's peak (the same with -j N, where each file has its budget). */
    if (c->mem_peak > o->counters.mem_peak)
        o->counters.mem_peak = c->mem_peak;
}

static void end_json(struct output *o, const struct file_result *files, size_t nfiles)
{
    struct sbuf *b = &o->sb;
    const struct file_counters *c = &o->counters;
    sb_puts(b, o->any_session ? "\n  ],\n  \"files\": [" : "],\n  \"files\": [");
    for (size_t i = 0; i < nfiles; i++) {
        const struct file_result *f = &files[i];
        sb_printf(b, "%s\n    {\"bytes\": %" PRIu64 ", \"packets\": %" PRIu64 ", \"path\": ",
                  i ? "," : "", f->bytes, f->packets);
        sb_json_str(b, f->path, strlen(f->path));
        sb_puts(b, ", \"problems\": [");
        for (size_t j = 0; j < f->nproblems; j++) {
            if (j)
                sb_puts(b, ", ");
            sb_json_str(b, f->problems[j], strlen(f->problems[j]));
        }
        sb_puts(b, "]}");
        sb_flush(o);
    }
    sb_puts(b, nfiles ? "\n  ],\n  \"totals\": {\n" : "],\n  \"totals\": {\n");
    sb_printf(b, "    \"allocations_refused\": %" PRIu64 ",\n    \"anomalies\": ", c->refused);
    json_anomalies(b, o->anomalies);
    sb_puts(b, ",\n    \"classes\": {");
    /* Classes 2-5 always; invalid first digits only when seen (they are
     * still replies: keep the sum equal to "replies"). */
    bool first = true;
    for (int k = 0; k <= 9; k++) {
        if ((k >= 2 && k <= 5) || o->classes[k]) {
            sb_printf(b, "%s\"%d\": %" PRIu64, first ? "" : ", ", k, o->classes[k]);
            first = false;
        }
    }
    sb_puts(b, "},\n    \"codes\": ");
    json_codes(b, &o->codes, false);
    sb_printf(b, ",\n    \"core_memory_peak\": %" PRIu64 ",\n    \"enhanced\": ", c->mem_peak);
    json_codes(b, &o->enhanced, true);
    sb_printf(b, ",\n    \"evicted_flows\": %" PRIu64 ",\n    \"reasm_overflow\": %" PRIu64
                 ",\n    \"replies\": %" PRIu64 ",\n    \"sessions\": %" PRIu64
                 ",\n    \"skipped_packets\": {",
              c->evicted, o->reasm_overflow, o->replies, o->sessions);
    /* decode_skip_names are in enum order; print them sorted by name. */
    const char *names[SKIP__COUNT];
    int idx[SKIP__COUNT], n = 0;
    for (int i = 1; i < SKIP__COUNT; i++) {
        if (c->skips[i] == 0)
            continue;
        int j = n++;
        while (j > 0 && strcmp(names[j - 1], decode_skip_names[i]) > 0) {
            names[j] = names[j - 1];
            idx[j] = idx[j - 1];
            j--;
        }
        names[j] = decode_skip_names[i];
        idx[j] = i;
    }
    for (int j = 0; j < n; j++)
        sb_printf(b, "%s\"%s\": %" PRIu64, j ? ", " : "", names[j], c->skips[idx[j]]);
    sb_printf(b, "},\n    \"snaplen_cut_packets\": %" PRIu64 "\n  }\n}\n", c->cut_packets);
    sb_flush(o);
}

static void end_text(struct output *o)
{
    FILE *f = o->fp;
    const struct file_counters *c = &o->counters;
    fprintf(f, "\n%" PRIu64 " SMTP session%s, %" PRIu64 " repl%s\n", o->sessions,
            o->sessions == 1 ? "" : "s", o->replies, o->replies == 1 ? "y" : "ies");
    static const char *const class_names[10] = {
        [2] = "positive completion", [3] = "positive intermediate",
        [4] = "transient negative", [5] = "permanent negative"};
    for (int k = 0; k <= 9; k++) {
        if (o->classes[k] == 0)
            continue;
        fprintf(f, "\n%dyz %-22s %8" PRIu64 "\n", k, class_names[k] ? class_names[k] : "invalid",
                o->classes[k]);
        for (size_t j = 0; j < o->codes.n; j++) {
            unsigned code = o->codes.v[j].key;
            if (code / 100 != (unsigned)k)
                continue;
            struct smtpreply_code_info ci;
            smtpreply_code_explain(code, &ci);
            fprintf(f, "  %3u %8" PRIu64 "  %-12s %s\n", code, o->codes.v[j].count,
                    smtpreply_status_name(ci.status), ci.meaning);
        }
    }
    if (o->enhanced.n) {
        fputs("\nenhanced status codes\n", f);
        for (size_t j = 0; j < o->enhanced.n; j++) {
            uint32_t key = o->enhanced.v[j].key;
            char k[24];
            struct smtpreply_esc e = {(uint8_t)(key >> 20), (uint16_t)((key >> 10) & 0x3ff),
                                      (uint16_t)(key & 0x3ff)};
            struct smtpreply_esc_info ei;
            smtpreply_esc_explain(&e, &ei);
            esc_key_str(key, k, sizeof k);
            fprintf(f, "  %-9s %8" PRIu64 "  %s\n", k, o->enhanced.v[j].count, ei.meaning);
        }
    }
    bool any = false;
    for (unsigned j = 0; j < SMTPREPLY_ANOM__COUNT; j++) {
        if (o->anomalies[j] == 0)
            continue;
        if (!any)
            fputs("\nanomalies\n", f);
        any = true;
        fprintf(f, "  %-30s %8" PRIu64 "  %s\n", smtpreply_anomaly_name((enum smtpreply_anomaly)j),
                o->anomalies[j], smtpreply_anomaly_description((enum smtpreply_anomaly)j));
    }
    uint64_t skipped = 0;
    for (int i = 1; i < SKIP__COUNT; i++)
        skipped += c->skips[i];
    if (skipped || c->evicted || c->cut_packets || c->refused || o->reasm_overflow) {
        fputs("\npackets not decoded:", f);
        for (int i = 1; i < SKIP__COUNT; i++) {
            if (c->skips[i])
                fprintf(f, " %s %" PRIu64 ";", decode_skip_names[i], c->skips[i]);
        }
        if (c->cut_packets)
            fprintf(f, " payload cut by snaplen %" PRIu64 ";", c->cut_packets);
        if (c->evicted)
            fprintf(f, " flows evicted %" PRIu64 ";", c->evicted);
        if (c->refused)
            fprintf(f, " allocations refused by --max-memory %" PRIu64 ";", c->refused);
        if (o->reasm_overflow)
            fprintf(f, " segments over --max-reasm %" PRIu64 ";", o->reasm_overflow);
        fputc('\n', f);
    }
}

void out_end(struct output *o, const struct file_result *files, size_t nfiles)
{
    if (!o->summary)
        return;
    count_sort(&o->codes);
    count_sort(&o->enhanced);
    switch (o->format) {
    case FMT_JSON: end_json(o, files, nfiles); break;
    case FMT_CSV: break;
    case FMT_TEXT: end_text(o); break;
    }
}

void out_free(struct output *o)
{
    free(o->codes.v);
    free(o->enhanced.v);
    free(o->sb.p);
}
