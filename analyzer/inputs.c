/* SPDX-License-Identifier: MIT */
/*
 * inputs.c - the inputs of `smtpreply tally`: files as given, directories
 * walked in sorted order, each listed in the output's files[].
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tally_int.h"

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

/* A file found inside a directory: only regular files are opened (a FIFO
 * would block the walk), and only those that start with a capture magic
 * number are read; the others are listed as skipped. */
static void collect_found_file(struct inputs *in, const char *path, const struct stat *st)
{
    if (!S_ISREG(st->st_mode)) {
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
}

/* The entries of directory path but "." and "..", as paths, sorted (so
 * results do not depend on the file system's order): *n of them in
 * *out.  False (errno set) if it cannot be opened. */
static bool dir_entries(const char *path, char ***out, size_t *n)
{
    DIR *d = opendir(path);
    char **names = NULL;
    size_t nn = 0, nc = 0;
    struct dirent *e;
    *out = NULL;
    *n = 0;
    if (d == NULL)
        return false;
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
    *out = names;
    *n = nn;
    return true;
}

static void collect(struct inputs *in, const char *path, bool given, int depth);

/* Walks a directory (at most 64 deep; each directory once). */
static void collect_dir(struct inputs *in, const char *path, const struct stat *st, int depth)
{
    if (depth > 64)
        return;
    if (dir_seen(in, st)) {
        /* Listed, so the output says why it was not read again. */
        struct file_result *fr = add_input(in, path, false);
        if (fr)
            file_problem(fr, "skipped: directory already read (a symlink loop or a repeat)");
        return;
    }
    char **names;
    size_t nn;
    if (!dir_entries(path, &names, &nn)) {
        add_unreadable(in, path, strerror(errno));
        return;
    }
    for (size_t i = 0; i < nn; i++) {
        collect(in, names[i], false, depth + 1);
        free(names[i]);
    }
    free(names);
}

/* Collects capture paths: files as given, directories walked. */
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
    if (S_ISDIR(st.st_mode))
        collect_dir(in, path, &st, depth);
    else if (given)
        /* Named on the command line: read it, whatever it is (a pipe from
         * process substitution is fine); libpcap says if not. */
        add_input(in, path, true);
    else
        collect_found_file(in, path, &st);
}

void inputs_collect(struct inputs *in, const char *path)
{
    collect(in, path, true, 0);
}

void inputs_free(struct inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].path);
        for (size_t k = 0; k < in->v[i].nproblems; k++)
            free(in->v[i].problems[k]);
        free(in->v[i].problems);
    }
    free(in->v);
    free(in->dirs);
}
