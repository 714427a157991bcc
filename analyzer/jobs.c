/* SPDX-License-Identifier: MIT */
/*
 * jobs.c - one job per capture file.  Without -j the main thread reads the
 * files in order and each finished session goes straight to the writer.
 * With -j N, N workers read files at once; a worker writes what its file
 * yields (finished sessions, reply lines) to a temporary spool, and the
 * main thread replays the spools in file order through the same writer,
 * so the output is byte for byte that of -j 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tally_int.h"

/* ------------------------------------------------------------------ */
/* the spool: what a -j worker hands to the writer                    */

enum { SPOOL_SESSION = 'S', SPOOL_LINE = 'L' };

/* A session: the summary, its two lists, and its JSON object when the
 * output is JSON (made here, in the worker, so that serialising runs in
 * parallel; the writer then only copies it). */
void spool_session(FILE *sp, const struct summary *s, const struct sbuf *json, size_t id_at)
{
    uint32_t len = json ? (uint32_t)json->n : 0;
    uint32_t at = (uint32_t)id_at;
    fputc(SPOOL_SESSION, sp);
    fwrite(s, sizeof *s, 1, sp);
    if (s->codes.n)
        fwrite(s->codes.v, sizeof *s->codes.v, s->codes.n, sp);
    if (s->enhanced.n)
        fwrite(s->enhanced.v, sizeof *s->enhanced.v, s->enhanced.n, sp);
    if (s->reasons.n)
        fwrite(s->reasons.v, sizeof *s->reasons.v, s->reasons.n, sp);
    fwrite(&at, sizeof at, 1, sp);
    fwrite(&len, sizeof len, 1, sp);
    if (len)
        fwrite(json->p, 1, len, sp);
}

void spool_line(FILE *sp, const char *p, size_t n, size_t at, uint64_t add)
{
    uint32_t len = (uint32_t)n, a = (uint32_t)at;
    fputc(SPOOL_LINE, sp);
    fwrite(&add, sizeof add, 1, sp);
    fwrite(&a, sizeof a, 1, sp);
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
    rewind(sp);
    while ((type = fgetc(sp)) != EOF) {
        if (type == SPOOL_SESSION) {
            struct summary s;
            uint32_t len = 0, at = 0;
            char *json = NULL;
            bool ok = fread(&s, sizeof s, 1, sp) == 1;
            /* The pointers in the spooled copy mean nothing here. */
            s.codes.v = s.enhanced.v = s.reasons.v = NULL;
            ok = ok && read_list(sp, &s.codes);
            ok = ok && read_list(sp, &s.enhanced);
            ok = ok && read_list(sp, &s.reasons);
            ok = ok && fread(&at, sizeof at, 1, sp) == 1;
            ok = ok && fread(&len, sizeof len, 1, sp) == 1;
            if (ok && len) {
                json = malloc(len);
                ok = json && fread(json, 1, len, sp) == len;
            }
            if (ok)
                out_session(o, &s, path, json, len, at);
            free(json);
            free(s.codes.v);
            free(s.enhanced.v);
            free(s.reasons.v);
            if (!ok)
                return false;
        } else if (type == SPOOL_LINE) {
            uint32_t len, at;
            uint64_t add;
            if (fread(&add, sizeof add, 1, sp) != 1 || fread(&at, sizeof at, 1, sp) != 1 ||
                fread(&len, sizeof len, 1, sp) != 1 || len > (1u << 26))
                return false;
            char *line = malloc(len ? len : 1);
            if (line == NULL || fread(line, 1, len, sp) != len) {
                free(line);
                return false;
            }
            /* The line's session number is the file's own: add the
             * sessions of the files before, as -j 1 numbers them. */
            out_spliced(o->fp, line, len, at, o->id_base + add);
            free(line);
        } else {
            return false;
        }
    }
    return !ferror(sp);
}

void job_problem(struct job *j, const char *msg, bool trouble)
{
    file_problem(j->fr, msg);
    if (trouble)
        j->fr->trouble = true;
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
    size_t next;     /* the next job to start */
    size_t replayed; /* jobs written out by the main thread */
    size_t window;
    pthread_mutex_t lock;
    pthread_cond_t done; /* a job finished */
    pthread_cond_t room; /* a job was written out */
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

static void pool_destroy(struct pool *pl)
{
    free(pl->jobs);
    pthread_mutex_destroy(&pl->lock);
    pthread_cond_destroy(&pl->done);
    pthread_cond_destroy(&pl->room);
}

/* One job per capture to read, in file order, no more threads than jobs
 * (*nthreads) and a window of twice the threads; false if out of memory. */
static bool pool_init(struct pool *pl, struct inputs *in, const struct options *opt,
                      struct progress *pr, uint32_t *nthreads)
{
    memset(pl, 0, sizeof *pl);
    pl->jobs = calloc(in->n, sizeof *pl->jobs);
    if (pl->jobs == NULL)
        return false;
    for (size_t i = 0; i < in->n; i++) {
        if (!in->v[i].capture)
            continue;
        struct job *j = &pl->jobs[pl->njobs++];
        j->opt = opt;
        j->fr = &in->v[i];
        j->progress = pr;
        j->domains.max = opt->max_destinations;
    }
    if (*nthreads > pl->njobs)
        *nthreads = (uint32_t)pl->njobs;
    pl->window = (size_t)*nthreads * 2;
    pthread_mutex_init(&pl->lock, NULL);
    pthread_cond_init(&pl->done, NULL);
    pthread_cond_init(&pl->room, NULL);
    return true;
}

/* Waits for job j, keeping the progress bar moving meanwhile. */
static void pool_wait(struct pool *pl, struct job *j, struct progress *pr)
{
    pthread_mutex_lock(&pl->lock);
    while (!atomic_load(&j->finished)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&pl->done, &pl->lock, &ts);
        if (pr->on)
            progress_print(pr);
    }
    pthread_mutex_unlock(&pl->lock);
}

/* Writes a finished job's results out and makes room for the next job. */
static void pool_write_out(struct pool *pl, struct job *j, struct output *o)
{
    struct file_result *fr = j->fr;
    if (j->spool) {
        if (!spool_replay(j->spool, o, fr->path)) {
            file_problem(fr, "results lost: the temporary spool could not be read back");
            fr->trouble = true;
        }
        fclose(j->spool);
    }
    dest_merge(&o->domains, &j->domains);
    dest_free(&j->domains);
    job_settle(o, fr);
    pthread_mutex_lock(&pl->lock);
    pl->replayed++;
    pthread_cond_broadcast(&pl->room);
    pthread_mutex_unlock(&pl->lock);
}

bool run_parallel(struct inputs *in, const struct options *opt, struct output *o,
                  struct progress *pr, uint32_t nthreads)
{
    struct pool pl;
    if (!pool_init(&pl, in, opt, pr, &nthreads))
        return false;
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    uint32_t started = 0;
    for (uint32_t t = 0; tid && t < nthreads; t++) {
        if (pthread_create(&tid[t], NULL, worker, &pl) != 0)
            break;
        started++;
    }
    if (started == 0) {
        free(tid);
        pool_destroy(&pl);
        return false;
    }
    for (size_t k = 0; k < pl.njobs; k++) {
        pool_wait(&pl, &pl.jobs[k], pr);
        pool_write_out(&pl, &pl.jobs[k], o);
    }
    for (uint32_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    pool_destroy(&pl);
    return true;
}

void run_serial(struct inputs *in, const struct options *opt, struct output *o,
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
