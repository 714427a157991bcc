/* SPDX-License-Identifier: MIT */
/*
 * tally_out.c - the tally's writer: text, JSON and CSV, streamed.
 *
 * Each session is written when it ends (out_session) and only added into
 * the totals; files[] and totals close the document (out_end).  Every JSON
 * value is made and serialised by jansson, one session (or file, or the
 * totals) at a time; only the outer object's three keys are written here.
 * Building one tree of the whole document first was the largest cost of a
 * big run and held every session in memory (perf on the 839 MB benchmark:
 * 2.1 of 5.1 s).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kbfmt.h"
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

/* v in decimal at p; returns the end (no snprintf: it ran per key). */
static char *put_u32(char *p, uint32_t v)
{
    char tmp[10];
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(p, tmp + k, sizeof tmp - k);
    return p + (sizeof tmp - k);
}

/* "X.Y.Z" of a packed enhanced code; buf holds at least 24 bytes. */
static void esc_key_str(uint32_t key, char *buf)
{
    char *p = put_u32(buf, key >> 20);
    *p++ = '.';
    p = put_u32(p, (key >> 10) & 0x3ff);
    *p++ = '.';
    p = put_u32(p, key & 0x3ff);
    *p = 0;
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

bool sb_reserve(struct sbuf *b, size_t more)
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

bool sb_putn(struct sbuf *b, const char *p, size_t n)
{
    if (!sb_reserve(b, n))
        return false;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return true;
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

static int sb_dump_cb(const char *buf, size_t size, void *data)
{
    return sb_putn(data, buf, size) ? 0 : -1;
}

void sb_json(struct sbuf *b, json_t *j, size_t flags)
{
    /* Without indentation jsonw.c writes what jansson would, in a fifth
     * of the time (no callback per token, no snprintf per integer). */
    size_t n = b->n;
    if (j && ((flags & JSON_MAX_INDENT) != 0 || !jw_json(b, j, (flags & JSON_COMPACT) != 0))) {
        b->n = n;
        json_dump_callback(j, sb_dump_cb, b, flags | TALLY_JSON_FLAGS);
    }
    json_decref(j);
}

void sb_json_with_int(struct sbuf *b, json_t *before, const char *key, uint64_t val,
                      json_t *after, size_t flags, size_t *at)
{
    bool compact = (flags & JSON_COMPACT) != 0;
    const char *sep = compact ? "," : ", ";
    size_t start = b->n;
    sb_json(b, before, flags);
    if (b->n > start && b->p[b->n - 1] == '}')
        b->n--;
    if (b->n > start + 1)
        sb_puts(b, sep);
    else if (b->n == start)
        sb_putc(b, '{');
    sb_printf(b, "\"%s\"%s", key, compact ? ":" : ": ");
    *at = b->n;
    sb_printf(b, "%" PRIu64, val);
    struct sbuf tail = {0};
    sb_json(&tail, after, flags);
    if (tail.n > 2) {
        sb_puts(b, sep);
        sb_putn(b, tail.p + 1, tail.n - 1); /* "{...}" without its '{' */
    } else {
        sb_putc(b, '}');
    }
    free(tail.p);
}

void out_spliced(FILE *fp, const char *p, size_t n, size_t at, uint64_t add)
{
    size_t end = at;
    uint64_t v = 0;
    while (end < n && p[end] >= '0' && p[end] <= '9')
        v = v * 10 + (uint64_t)(p[end++] - '0');
    if (add == 0 || end == at) {
        fwrite(p, 1, n, fp);
        return;
    }
    fwrite(p, 1, at, fp);
    fprintf(fp, "%" PRIu64, v + add);
    fwrite(p + end, 1, n - end, fp);
}

/* A time or duration from an integer count of 10^-decimals units, split so
 * that seconds since the epoch keep their fraction in a double.  A double
 * holds times since the epoch to about 0.24 us, so they are given in whole
 * microseconds (nanosecond captures are truncated, as --replies' ts is). */
json_t *fixed_json(int64_t v, unsigned decimals)
{
    int64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++)
        scale *= 10;
    return json_real((double)(v / scale) + (double)(v % scale) / (double)scale);
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
    if (s->starttls)
        flags[n++] = "starttls";
    if (s->implicit_tls)
        flags[n++] = "encrypted";
    if (s->tls.decrypted)
        flags[n++] = "decrypted";
    if (s->gaps)
        flags[n++] = "gaps";
    if (s->midstream)
        flags[n++] = "midstream";
    if (!s->closed)
        flags[n++] = "truncated";
    if (s->unanswered > 0)
        flags[n++] = "unanswered";
    if (s->tunnel)
        flags[n++] = "tunnel";
    if (s->evicted)
        flags[n++] = "evicted";
    *nflags = n;
    /* The main word: what most limits what the session's counts say.
     * Decrypted, TLS limits nothing: the usual word for how it ended. */
    if (s->starttls && !s->tls.decrypted)
        return "starttls";
    if (s->implicit_tls && !s->tls.decrypted)
        return "encrypted";
    if (s->gaps)
        return "gaps";
    if (s->midstream)
        return "midstream";
    if (!s->closed)
        return "truncated";
    if (s->unanswered > 0)
        return "unanswered";
    return "complete";
}

static json_t *codes_json(const struct count_list *l, bool enhanced)
{
    json_t *o = json_object();
    char key[24];
    for (size_t i = 0; i < l->n; i++) {
        if (enhanced)
            esc_key_str(l->v[i].key, key);
        else
            *put_u32(key, l->v[i].key) = 0;
        json_object_set_new(o, key, json_integer((json_int_t)l->v[i].count));
    }
    return o;
}

/* The anomalies that occurred, by name in alphabetical order. */
static json_t *anomalies_json(const uint64_t *a)
{
    json_t *o = json_object();
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
    for (unsigned j = 0; j < n; j++)
        json_object_set_new(o, names[j], json_integer((json_int_t)a[idx[j]]));
    return o;
}

/* Reasons by identifier, in the order of reasons.def. */
json_t *reasons_json(const struct count_list *l)
{
    json_t *o = json_object();
    for (size_t i = 0; i < l->n; i++) {
        const char *name = smtpreply_reason_name((enum smtpreply_reason)l->v[i].key);
        if (name)
            json_object_set_new(o, name, json_integer((json_int_t)l->v[i].count));
    }
    return o;
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

void sb_csv_text(struct sbuf *b, const char *p, size_t len)
{
    /* Valid UTF-8 first, as JSON gets it: bytes that break it become
     * U+FFFD. */
    json_t *j = kbfmt_string_lossy(p ? p : "", p ? len : 0);
    const char *s = json_string_value(j);
    size_t n = s ? json_string_length(j) : 0;
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (quote)
        sb_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            sb_puts(b, "\"\"");
        else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            sb_printf(b, "\\x%02x", c); /* CR, NUL, ESC...: shown, not sent */
        else
            sb_putc(b, (char)c);
    }
    if (quote)
        sb_putc(b, '"');
    json_decref(j);
}

/* ------------------------------------------------------------------ */
/* the stream                                                         */

void out_begin(struct output *o)
{
    if (!o->summary) {
        if (o->format == FMT_CSV)
            fputs(REPLIES_CSV_HEADER "\n", o->fp);
        return;
    }
    switch (o->format) {
    case FMT_JSON:
        fprintf(o->fp, "{\n  \"schema\": %d,\n  \"sessions\": [", TALLY_SCHEMA);
        break;
    case FMT_CSV:
        fputs("file,client,server,status,code,count,meaning\n", o->fp);
        break;
    case FMT_TEXT:
        fprintf(o->fp, "%-4s %-21s %-21s %-19s %9s  %-10s  %s\n", "#", "client", "server",
                "start (UTC)", "duration", "status", "replies by code");
        break;
    }
}

void out_session_json(struct sbuf *b, const struct summary *s, const char *file, uint64_t id,
                      size_t *id_at)
{
    const char *flags[9];
    size_t nflags;
    const char *status = status_flags(s, flags, &nflags);
    json_t *j = json_object();
    json_object_set_new(j, "anomalies", anomalies_json(s->anomalies));
    json_object_set_new(j, "client", kbfmt_string_lossy(s->client, strlen(s->client)));
    json_object_set_new(j, "codes", codes_json(&s->codes, false));
    json_object_set_new(j, "commands", json_integer((json_int_t)s->commands));
    json_object_set_new(j, "end", fixed_json(s->end_ns / 1000, 6));
    json_object_set_new(j, "enhanced", codes_json(&s->enhanced, true));
    json_object_set_new(j, "file", kbfmt_string_lossy(file, strlen(file)));
    json_t *fl = json_array();
    for (size_t i = 0; i < nflags; i++)
        json_array_append_new(fl, json_string(flags[i]));
    json_object_set_new(j, "flags", fl);
    json_t *k = json_object();
    json_object_set_new(k, "missing_bytes", json_integer((json_int_t)s->missing_bytes));
    json_object_set_new(k, "reasm_overflow", json_integer((json_int_t)s->reasm_overflow));
    json_object_set_new(k, "reasons", reasons_json(&s->reasons));
    json_object_set_new(k, "replies", json_integer((json_int_t)s->replies));
    /* Always the three keys (docs/contracts.md); null when no reply was timed.
     * The median of an even count is a half microsecond. */
    json_t *rt = json_object();
    json_object_set_new(rt, "max", s->rt_n ? fixed_json(s->rt_max_us, 3) : json_null());
    json_object_set_new(rt, "median",
                        s->rt_n ? fixed_json(s->rt_median_x2_us * 5, 4) : json_null());
    json_object_set_new(rt, "min", s->rt_n ? fixed_json(s->rt_min_us, 3) : json_null());
    json_object_set_new(k, "rt_ms", rt);
    json_object_set_new(k, "server", kbfmt_string_lossy(s->server, strlen(s->server)));
    json_object_set_new(k, "start", fixed_json(s->start_ns / 1000, 6));
    json_object_set_new(k, "status", json_string(status));
    json_object_set_new(k, "tls", tls_summary_json(&s->tls));
    json_object_set_new(k, "unanswered", json_integer((json_int_t)s->unanswered));
    size_t at;
    sb_json_with_int(b, j, "id", id, k, 0, &at);
    if (id_at)
        *id_at = at;
}

/* The columns every row of a session starts with: file, client, server,
 * status. */
static void csv_session(struct sbuf *b, const struct summary *s, const char *file,
                        const char *status)
{
    csv_field(b, file);
    sb_putc(b, ',');
    csv_field(b, s->client);
    sb_putc(b, ',');
    csv_field(b, s->server);
    sb_putc(b, ',');
    sb_puts(b, status);
}

static void session_csv(struct output *o, const struct summary *s, const char *file)
{
    struct sbuf *b = &o->sb;
    const char *flags[9];
    size_t nflags;
    const char *status = status_flags(s, flags, &nflags);
    if (s->codes.n == 0) {
        /* A session without replies (one-sided, encrypted from the start)
         * still gets its row: empty code, count 0. */
        csv_session(b, s, file, status);
        sb_puts(b, ",,0,\n");
        return;
    }
    for (size_t j = 0; j < s->codes.n; j++) {
        struct smtpreply_code_info ci;
        smtpreply_code_explain(s->codes.v[j].key, &ci);
        csv_session(b, s, file, status);
        sb_printf(b, ",%u,%" PRIu64 ",", s->codes.v[j].key, s->codes.v[j].count);
        csv_field(b, ci.meaning);
        sb_putc(b, '\n');
    }
}

static void session_text(struct output *o, const struct summary *s, const char *file)
{
    struct sbuf *b = &o->sb;
    /* Each file's sessions under its name, so a directory run says which
     * file a session came from. */
    if (o->last_file == NULL || strcmp(o->last_file, file) != 0) {
        free(o->last_file);
        o->last_file = strdup(file);
        sb_puts(b, "-- ");
        sb_puts(b, file);
        sb_putc(b, '\n');
    }
    const char *flags[9];
    size_t nflags;
    const char *status = status_flags(s, flags, &nflags);
    char when[32] = "";
    time_t sec = (time_t)(s->start_ns / 1000000000);
    struct tm tm;
    if (gmtime_r(&sec, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    /* "#" is the session's number, as --replies' session and JSON's id. */
    sb_printf(b, "%-4" PRIu64 " %-21s %-21s %-19s %8.3fs  %-10s ", o->id_base + s->id, s->client,
              s->server, when, (double)(s->end_ns - s->start_ns) / 1e9, status);
    for (size_t j = 0; j < s->codes.n; j++)
        sb_printf(b, " %u:%" PRIu64, s->codes.v[j].key, s->codes.v[j].count);
    if (s->codes.n == 0)
        sb_puts(b, " (no replies)");
    sb_putc(b, '\n');
    char tls[160];
    tls_summary_text(&s->tls, tls, sizeof tls);
    if (tls[0]) {
        sb_puts(b, "       ");
        sb_puts(b, tls);
        sb_putc(b, '\n');
    }
    /* Its failures: the first of each reason, with how many had it. */
    for (unsigned i = 0; i < s->nnotes; i++) {
        const struct fail_note *n = &s->notes[i];
        uint64_t count = 0;
        for (size_t k = 0; k < s->reasons.n; k++)
            if (s->reasons.v[k].key == n->reason)
                count = s->reasons.v[k].count;
        sb_printf(b, "       %u %s", n->code,
                  smtpreply_reason_name((enum smtpreply_reason)n->reason));
        if (count > 1)
            sb_printf(b, " (%" PRIu64 ")", count);
        sb_puts(b, ": ");
        sb_puts(b, n->text);
        sb_putc(b, '\n');
    }
    uint64_t fails = 0, shown = 0;
    for (size_t k = 0; k < s->reasons.n; k++) {
        fails += s->reasons.v[k].count;
        for (unsigned i = 0; i < s->nnotes; i++)
            if (s->notes[i].reason == s->reasons.v[k].key)
                shown += s->reasons.v[k].count;
    }
    if (fails > shown)
        sb_printf(b, "       (%" PRIu64 " more failure%s)\n", fails - shown,
                  fails - shown == 1 ? "" : "s");
}

/* The text report's table of failures by destination: for each server or
 * domain with failures, its count per reason and one example text. */
static void dest_text(FILE *f, const struct dest_table *t, const char *what)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct dest *d = &t->v[i];
        if (d->reasons.n == 0)
            continue;
        fprintf(f, "  %s ", what);
        kbfmt_print_text(f, d->key, strlen(d->key));
        for (size_t k = 0; k < d->nnames; k++) {
            fputs(k ? ", " : " (", f);
            kbfmt_print_text(f, d->names[k], strlen(d->names[k]));
        }
        fputs(d->nnames ? ")\n" : "\n", f);
        for (size_t k = 0; k < d->reasons.n; k++) {
            unsigned r = d->reasons.v[k].key;
            fprintf(f, "    %-22s %8" PRIu64 "  %s\n",
                    smtpreply_reason_name((enum smtpreply_reason)r), d->reasons.v[k].count,
                    r < SMTPREPLY_REASON__COUNT && d->example[r] ? d->example[r] : "");
        }
    }
}

/* Writes one finished session (its lists sorted) and adds it to the totals. */
void out_session(struct output *o, const struct summary *s, const char *file, const char *json,
                 size_t json_len, size_t json_id_at)
{
    o->sessions++;
    o->replies += s->replies;
    o->reasm_overflow += s->reasm_overflow;
    if (s->tls.seen) {
        if (s->tls.decrypted)
            o->tls_decrypted++;
        else
            o->tls_not_decrypted++;
    }
    for (size_t j = 0; j < s->codes.n; j++) {
        count_add(&o->codes, s->codes.v[j].key, s->codes.v[j].count);
        o->classes[(s->codes.v[j].key / 100) % 10] += s->codes.v[j].count;
    }
    for (size_t j = 0; j < s->enhanced.n; j++)
        count_add(&o->enhanced, s->enhanced.v[j].key, s->enhanced.v[j].count);
    for (size_t j = 0; j < s->reasons.n; j++)
        count_add(&o->reasons, s->reasons.v[j].key, s->reasons.v[j].count);
    struct dest *d = dest_get(&o->servers, s->server, strlen(s->server));
    if (d) {
        d->sessions++;
        d->replies += s->replies;
        for (size_t j = 0; j < s->codes.n; j++)
            count_add(&d->codes, s->codes.v[j].key, s->codes.v[j].count);
        for (size_t j = 0; j < s->reasons.n; j++)
            count_add(&d->reasons, s->reasons.v[j].key, s->reasons.v[j].count);
        dest_add_name(d, s->name);
        for (unsigned i = 0; i < s->nnotes; i++)
            dest_example(d, s->notes[i].reason, s->notes[i].text);
    }
    for (unsigned j = 0; j < SMTPREPLY_ANOM__COUNT; j++)
        o->anomalies[j] += s->anomalies[j];
    if (!o->summary)
        return;
    switch (o->format) {
    case FMT_JSON:
        sb_puts(&o->sb, o->any_session ? ",\n    " : "\n    ");
        if (json) {
            sb_flush(o);
            out_spliced(o->fp, json, json_len, json_id_at, o->id_base);
        } else {
            out_session_json(&o->sb, s, file, o->id_base + s->id, NULL);
        }
        break;
    case FMT_CSV:
        session_csv(o, s, file);
        break;
    case FMT_TEXT:
        session_text(o, s, file);
        break;
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
    o->counters.empty += c->empty;
    o->id_base += c->sessions_numbered;
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
        json_t *j = json_object();
        json_object_set_new(j, "bytes", json_integer((json_int_t)f->bytes));
        json_object_set_new(j, "packets", json_integer((json_int_t)f->packets));
        json_object_set_new(j, "path", kbfmt_string_lossy(f->path, strlen(f->path)));
        json_t *pr = json_array();
        for (size_t k = 0; k < f->nproblems; k++)
            json_array_append_new(pr, kbfmt_string_lossy(f->problems[k], strlen(f->problems[k])));
        json_object_set_new(j, "problems", pr);
        sb_puts(b, i ? ",\n    " : "\n    ");
        sb_json(b, j, 0);
        sb_flush(o);
    }
    sb_puts(b, nfiles ? "\n  ],\n" : "],\n");
    static const char *const tname[2] = {"servers", "domains"};
    struct dest_table *tabs[2] = {&o->servers, &o->domains};
    for (int k = 0; k < 2; k++) {
        sb_printf(b, "  \"%s\": [", tname[k]);
        for (size_t i = 0; i < tabs[k]->n; i++) {
            sb_puts(b, i ? ",\n    " : "\n    ");
            sb_json(b, dest_json(&tabs[k]->v[i], k == 0), 0);
            sb_flush(o);
        }
        sb_puts(b, tabs[k]->n ? "\n  ],\n" : "],\n");
    }
    sb_puts(b, "  \"totals\": ");
    json_t *t = json_object();
    json_object_set_new(t, "allocations_refused", json_integer((json_int_t)c->refused));
    json_object_set_new(t, "anomalies", anomalies_json(o->anomalies));
    /* Classes "2".."5" (docs/contracts.md); a code with another first digit is
     * still a reply and still listed under codes. */
    json_t *cl = json_object();
    for (int k = 2; k <= 5; k++) {
        char key[2] = {(char)('0' + k), 0};
        json_object_set_new(cl, key, json_integer((json_int_t)o->classes[k]));
    }
    json_object_set_new(t, "classes", cl);
    json_object_set_new(t, "codes", codes_json(&o->codes, false));
    json_object_set_new(t, "core_memory_peak", json_integer((json_int_t)c->mem_peak));
    json_object_set_new(t, "destinations_dropped",
                        json_integer((json_int_t)(o->servers.dropped + o->domains.dropped)));
    json_object_set_new(t, "empty_connections", json_integer((json_int_t)c->empty));
    json_object_set_new(t, "enhanced", codes_json(&o->enhanced, true));
    json_object_set_new(t, "evicted_flows", json_integer((json_int_t)c->evicted));
    json_object_set_new(t, "reasm_overflow", json_integer((json_int_t)o->reasm_overflow));
    json_object_set_new(t, "reasons", reasons_json(&o->reasons));
    json_object_set_new(t, "replies", json_integer((json_int_t)o->replies));
    json_object_set_new(t, "sessions", json_integer((json_int_t)o->sessions));
    json_t *sk = json_object();
    for (int i = 1; i < SKIP__COUNT; i++)
        if (c->skips[i])
            json_object_set_new(sk, decode_skip_names[i], json_integer((json_int_t)c->skips[i]));
    json_object_set_new(t, "skipped_packets", sk);
    json_object_set_new(t, "snaplen_cut_packets", json_integer((json_int_t)c->cut_packets));
    json_object_set_new(t, "tls_decrypted", json_integer((json_int_t)o->tls_decrypted));
    json_object_set_new(t, "tls_not_decrypted", json_integer((json_int_t)o->tls_not_decrypted));
    /* Indented one level deeper than jansson starts (JSON strings hold
     * no raw newline, so each one is a line break of the layout). */
    struct sbuf tb = {0};
    sb_json(&tb, t, JSON_INDENT(2));
    for (size_t i = 0; i < tb.n; i++) {
        sb_putc(b, tb.p[i]);
        if (tb.p[i] == '\n')
            sb_puts(b, "  ");
    }
    free(tb.p);
    sb_puts(b, "\n}\n");
    sb_flush(o);
}

static void end_text(struct output *o)
{
    FILE *f = o->fp;
    const struct file_counters *c = &o->counters;
    fprintf(f, "\n%" PRIu64 " SMTP session%s, %" PRIu64 " repl%s\n", o->sessions,
            o->sessions == 1 ? "" : "s", o->replies, o->replies == 1 ? "y" : "ies");
    static const char *const class_names[10] = {[2] = "positive completion",
                                                [3] = "positive intermediate",
                                                [4] = "transient negative",
                                                [5] = "permanent negative"};
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
            esc_key_str(key, k);
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
        fprintf(f, "  %-30s %8" PRIu64 "  %s\n",
                smtpreply_anomaly_name((enum smtpreply_anomaly)j), o->anomalies[j],
                smtpreply_anomaly_description((enum smtpreply_anomaly)j));
    }
    if (o->reasons.n) {
        fputs("\nfailures by reason\n", f);
        for (size_t j = 0; j < o->reasons.n; j++) {
            enum smtpreply_reason r = (enum smtpreply_reason)o->reasons.v[j].key;
            fprintf(f, "  %-22s %8" PRIu64 "  %-17s %s\n", smtpreply_reason_name(r),
                    o->reasons.v[j].count, smtpreply_party_name(smtpreply_reason_party(r)),
                    smtpreply_reason_advice(r));
        }
        fputs("\nfailures by destination\n", f);
        dest_text(f, &o->servers, "server");
        dest_text(f, &o->domains, "domain");
    }
    uint64_t skipped = 0;
    for (int i = 1; i < SKIP__COUNT; i++)
        skipped += c->skips[i];
    if (c->empty)
        fprintf(f, "\n%" PRIu64 " connection%s on SMTP ports carried no data (not sessions)\n",
                c->empty, c->empty == 1 ? "" : "s");
    if (skipped || c->evicted || c->cut_packets || c->refused || o->reasm_overflow) {
        const char *sep = "\npackets not decoded: ";
        for (int i = 1; i < SKIP__COUNT; i++) {
            if (c->skips[i]) {
                fprintf(f, "%s%s %" PRIu64, sep, decode_skip_names[i], c->skips[i]);
                sep = "; ";
            }
        }
        if (c->cut_packets) {
            fprintf(f, "%spayload cut by snaplen %" PRIu64, sep, c->cut_packets);
            sep = "; ";
        }
        /* Ends the packets line, or else is the blank line before this one. */
        fputc('\n', f);
        sep = "limits hit: ";
        if (c->evicted) {
            fprintf(f, "%sflows evicted by --max-sessions %" PRIu64, sep, c->evicted);
            sep = "; ";
        }
        if (c->refused) {
            fprintf(f, "%sallocations refused by --max-memory %" PRIu64, sep, c->refused);
            sep = "; ";
        }
        if (o->reasm_overflow) {
            fprintf(f, "%ssegments over --max-reasm %" PRIu64, sep, o->reasm_overflow);
            sep = "; ";
        }
        if (sep[0] == ';')
            fputc('\n', f);
    }
}

void out_end(struct output *o, const struct file_result *files, size_t nfiles)
{
    if (!o->summary)
        return;
    count_sort(&o->codes);
    count_sort(&o->enhanced);
    count_sort(&o->reasons);
    dest_sort(&o->servers);
    dest_sort(&o->domains);
    switch (o->format) {
    case FMT_JSON:
        end_json(o, files, nfiles);
        break;
    case FMT_CSV:
        break;
    case FMT_TEXT:
        end_text(o);
        break;
    }
}

void out_free(struct output *o)
{
    free(o->codes.v);
    free(o->enhanced.v);
    free(o->reasons.v);
    dest_free(&o->servers);
    dest_free(&o->domains);
    free(o->sb.p);
    free(o->last_file);
}
