/* SPDX-License-Identifier: MIT */
/*
 * tls_glue.c - TLS decryption in `smtpreply tally`: the secrets of the
 * --keylog files (one table for the run, at most --max-keys client
 * randoms) and of each pcapng's Decryption Secrets Blocks (one table per
 * file, asked first, the run's behind it), and per flow a TLS decoder
 * (common/tls.h) fed by the connection's TLS hook, whose decrypted data
 * goes back to the connection (smtpreply_conn_decrypted).
 *
 * Per flow, the decoder holds at most one record per direction, one
 * record's plaintext and the hello being read in each direction: under
 * 90 KiB (docs/tls.md), allocated through the file's memory budget
 * (--max-memory) and freed when the flow ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally_int.h"
#include "tls.h"

/* The most of one key-log file read (a key log holds a few hundred bytes
 * a session; past this the rest of the file is not read, and said). */
#define KEYLOG_FILE_MAX (256u << 20)
/* A Decryption Secrets Block larger than this is skipped (counted). */
#define DSB_MAX (16u << 20)

/* ------------------------------------------------------------------ */
/* the run's key logs                                                 */

bool tls_keys_load(struct options *opt)
{
    opt->keys = smtpreply_tls_keylog_new(opt->max_keys, NULL, NULL);
    if (opt->keys == NULL) {
        fprintf(stderr, "smtpreply: out of memory for the key table\n");
        return false;
    }
    for (size_t i = 0; i < opt->nkeylogs; i++) {
        const char *path = opt->keylogs[i];
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            fprintf(stderr, "smtpreply: %s: %s\n", path, strerror(errno));
            return false;
        }
        /* In pieces that end at a line end, so no line is split. */
        char *buf = malloc(1u << 16);
        size_t have = 0, total = 0, r;
        while (buf && (r = fread(buf + have, 1, (1u << 16) - have, f)) > 0) {
            have += r;
            total += r;
            size_t cut = have;
            while (cut > 0 && buf[cut - 1] != '\n')
                cut--;
            if (cut == 0 && have == (1u << 16))
                cut = have; /* a line longer than the buffer: junk anyway */
            smtpreply_tls_keylog_add(opt->keys, buf, cut);
            memmove(buf, buf + cut, have - cut);
            have -= cut;
            if (total >= KEYLOG_FILE_MAX) {
                fprintf(stderr, "smtpreply: %s: only its first %u MiB read\n", path,
                        KEYLOG_FILE_MAX >> 20);
                break;
            }
        }
        if (buf && have)
            smtpreply_tls_keylog_add(opt->keys, buf, have);
        bool bad = ferror(f) != 0;
        fclose(f);
        free(buf);
        if (buf == NULL || bad) {
            fprintf(stderr, "smtpreply: %s: cannot read it\n", path);
            return false;
        }
    }
    const struct smtpreply_tls_keylog_stats *st = smtpreply_tls_keylog_stats(opt->keys);
    if (st->dropped && !opt->quiet)
        fprintf(stderr,
                "smtpreply: key table full (--max-keys %u): %llu secrets of other sessions "
                "not kept\n",
                opt->max_keys, (unsigned long long)st->dropped);
    return true;
}

void tls_keys_free(struct options *opt)
{
    smtpreply_tls_keylog_free(opt->keys);
    opt->keys = NULL;
}

/* ------------------------------------------------------------------ */
/* a file's own secrets                                               */

struct tls_file {
    FILE *under; /* the file libpcap reads, through the stream below */
    bool is_stdin;
    struct smtpreply_tls_keylog *kl;
    struct smtpreply_tls_pcapng *png; /* NULL once the bytes are not pcapng */
    uint64_t pos;
};

static ssize_t tee_read(void *cookie, char *buf, size_t size)
{
    struct tls_file *t = cookie;
    size_t n = fread(buf, 1, size, t->under);
    if (n == 0 && ferror(t->under))
        return -1;
    if (n && t->png && !smtpreply_tls_pcapng_feed(t->png, (const uint8_t *)buf, n)) {
        smtpreply_tls_pcapng_free(t->png); /* a pcap file, or damage: no more secrets */
        t->png = NULL;
    }
    t->pos += n;
    return (ssize_t)n;
}

/* Only telling the position (the progress bar's ftell) is supported. */
static int tee_seek(void *cookie, off64_t *off, int whence)
{
    struct tls_file *t = cookie;
    if (whence != SEEK_CUR || *off != 0) {
        errno = ESPIPE;
        return -1;
    }
    *off = (off64_t)t->pos;
    return 0;
}

static int tee_close(void *cookie)
{
    struct tls_file *t = cookie;
    if (!t->is_stdin && t->under)
        fclose(t->under);
    t->under = NULL;
    return 0;
}

FILE *tls_file_open(struct job *j, const char *path)
{
    struct tls_file *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->is_stdin = strcmp(path, "-") == 0;
    t->under = t->is_stdin ? stdin : fopen(path, "rb");
    if (t->under == NULL) {
        free(t);
        return NULL;
    }
    t->kl = smtpreply_tls_keylog_new(j->opt->max_keys, NULL, NULL);
    if (t->kl) {
        smtpreply_tls_keylog_set_fallback(t->kl, j->opt->keys);
        t->png = smtpreply_tls_pcapng_new(t->kl, DSB_MAX, NULL, NULL);
    }
    cookie_io_functions_t io = {tee_read, NULL, tee_seek, tee_close};
    FILE *fp = fopencookie(t, "rb", io);
    if (fp == NULL) {
        tee_close(t);
        smtpreply_tls_pcapng_free(t->png);
        smtpreply_tls_keylog_free(t->kl);
        free(t);
        return NULL;
    }
    setvbuf(fp, NULL, _IOFBF, 1u << 16);
    j->tls = t;
    return fp;
}

void tls_file_end(struct job *j)
{
    struct tls_file *t = j->tls;
    if (t == NULL)
        return;
    smtpreply_tls_pcapng_free(t->png);
    smtpreply_tls_keylog_free(t->kl);
    free(t);
    j->tls = NULL;
}

/* The table a flow of this job decrypts with. */
static const struct smtpreply_tls_keylog *job_keys(const struct job *j)
{
    return j->tls && j->tls->kl ? j->tls->kl : j->opt->keys;
}

/* ------------------------------------------------------------------ */
/* one flow                                                           */

struct flow_tls {
    struct flow *f;
    struct smtpreply_tls *tls;
    int64_t ts_us; /* of the bytes being fed: the decrypted data's */
    uint64_t tag;
};

static void on_plain(void *user, int dir, const uint8_t *data, size_t len)
{
    struct flow_tls *t = user;
    smtpreply_conn_decrypted(t->f->conn, dir ? SMTPREPLY_DIR_SERVER : SMTPREPLY_DIR_CLIENT, data,
                             len, t->ts_us, t->tag);
}

static struct flow_tls *flow_tls_get(struct flow *f)
{
    if (f->tls == NULL) {
        struct flow_tls *t = calloc(1, sizeof *t);
        if (t == NULL)
            return NULL;
        t->f = f;
        t->tls =
            smtpreply_tls_new(job_keys(f->job), on_plain, t, flow_budget_realloc, &f->job->mem);
        if (t->tls == NULL) {
            free(t);
            return NULL;
        }
        f->tls = t;
    }
    return f->tls;
}

static void on_tls_bytes(void *user, enum smtpreply_dir dir, const uint8_t *data, size_t len,
                         uint64_t missing, int64_t ts_us, uint64_t tag)
{
    struct flow_tls *t = flow_tls_get(user);
    if (t == NULL)
        return;
    int d = dir == SMTPREPLY_DIR_SERVER;
    t->ts_us = ts_us;
    t->tag = tag;
    if (missing)
        smtpreply_tls_gap(t->tls, d, missing);
    if (len)
        smtpreply_tls_feed(t->tls, d, data, len);
}

void tls_flow_config(struct flow *f, struct smtpreply_conn_config *cfg)
{
    cfg->tls_bytes = on_tls_bytes;
    cfg->tls_user = f;
}

void tls_flow_started(struct flow *f)
{
    (void)flow_tls_get(f);
}

void tls_flow_end(struct flow *f, struct summary *s)
{
    struct flow_tls *t = f->tls;
    if (t == NULL)
        return;
    if (s) {
        struct smtpreply_tls_status st;
        smtpreply_tls_end(t->tls);
        smtpreply_tls_status(t->tls, &st);
        struct tls_summary *ts = &s->tls;
        memset(ts, 0, sizeof *ts);
        ts->seen = true;
        ts->decrypted = st.decrypted;
        ts->keys_found = st.keys == SMTPREPLY_TLS_KEYS_FOUND;
        if (st.version_name)
            snprintf(ts->version, sizeof ts->version, "%s", st.version_name);
        if (st.cipher_name)
            snprintf(ts->cipher, sizeof ts->cipher, "%s", st.cipher_name);
        ts->records = st.records;
        ts->errors = st.errors;
        return; /* freed by the second call, once the summary is out */
    }
    smtpreply_tls_free(t->tls);
    free(t);
    f->tls = NULL;
}

/* ------------------------------------------------------------------ */
/* output                                                             */

json_t *tls_summary_json(const struct tls_summary *t)
{
    if (!t->seen)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "cipher", t->cipher[0] ? json_string(t->cipher) : json_null());
    json_object_set_new(o, "decrypted", json_boolean(t->decrypted));
    json_t *e = json_array();
    for (unsigned i = 0; i < SMTPREPLY_TLS_NERRORS; i++)
        if (t->errors & (1u << i))
            json_array_append_new(e, json_string(smtpreply_tls_error_word(i)));
    json_object_set_new(o, "errors", e);
    json_object_set_new(o, "keys", json_string(t->keys_found ? "found" : "missing"));
    json_object_set_new(o, "records", json_integer((json_int_t)t->records));
    json_object_set_new(o, "version", t->version[0] ? json_string(t->version) : json_null());
    return o;
}

/* Said only when keys were there to try (found, or decryption failed
 * after finding them): without key logs the text report is as before. */
void tls_summary_text(const struct tls_summary *t, char *out, size_t size)
{
    out[0] = 0;
    if (!t->seen || !t->keys_found)
        return;
    size_t n = (size_t)snprintf(out, size, "tls %s %s: %s, %llu records",
                                t->version[0] ? t->version : "?",
                                t->cipher[0] ? t->cipher : "(cipher not decrypted here)",
                                t->decrypted ? "decrypted" : "not decrypted",
                                (unsigned long long)t->records);
    for (unsigned i = 0; i < SMTPREPLY_TLS_NERRORS && n < size; i++)
        if (t->errors & (1u << i))
            n += (size_t)snprintf(out + n, size - n, "%s%s", n && strchr(out, '[') ? " " : " [",
                                  smtpreply_tls_error_word(i));
    if (t->errors && n + 1 < size)
        strcat(out, "]");
}
