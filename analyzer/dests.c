/* SPDX-License-Identifier: MIT */
/*
 * dests.c - the tally's destination tables: one entry per server address
 * (`servers`) and one per recipient domain (`domains`), each counting
 * sessions, replies, RCPT commands, codes and failure reasons.  A table
 * holds at most --max-destinations entries; what finds no room is counted
 * as dropped, never stored.  Entries are kept in an array with an
 * open-addressing index over it, and sorted by key only when written.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kbfmt.h"
#include "tally.h"

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Rebuilds the index at twice its size, and at least twice the entries
 * (a power of two, so probing always finds an empty slot). */
static bool index_grow(struct dest_table *t)
{
    size_t cap = t->icap ? t->icap * 2 : 64;
    while (cap < (t->n + 1) * 2)
        cap *= 2;
    uint32_t *ix = malloc(cap * sizeof *ix);
    if (ix == NULL)
        return false;
    for (size_t i = 0; i < cap; i++)
        ix[i] = UINT32_MAX;
    for (size_t e = 0; e < t->n; e++) {
        size_t i = key_hash(t->v[e].key, strlen(t->v[e].key)) & (cap - 1);
        while (ix[i] != UINT32_MAX)
            i = (i + 1) & (cap - 1);
        ix[i] = (uint32_t)e;
    }
    free(t->index);
    t->index = ix;
    t->icap = cap;
    return true;
}

struct dest *dest_get(struct dest_table *t, const char *key, size_t len)
{
    if (len > DEST_KEY_MAX)
        len = DEST_KEY_MAX;
    if (t->icap) {
        size_t i = key_hash(key, len) & (t->icap - 1);
        for (; t->index[i] != UINT32_MAX; i = (i + 1) & (t->icap - 1)) {
            struct dest *d = &t->v[t->index[i]];
            if (strncmp(d->key, key, len) == 0 && d->key[len] == 0)
                return d;
        }
    }
    if (t->n >= t->max) {
        t->dropped++;
        return NULL;
    }
    if ((t->n + 1) * 2 > t->icap && !index_grow(t)) {
        t->dropped++;
        return NULL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct dest *v = realloc(t->v, cap * sizeof *v);
        if (v == NULL) {
            t->dropped++;
            return NULL;
        }
        t->v = v;
        t->cap = cap;
    }
    struct dest *d = &t->v[t->n];
    memset(d, 0, sizeof *d);
    d->key = malloc(len + 1);
    if (d->key == NULL) {
        t->dropped++;
        return NULL;
    }
    memcpy(d->key, key, len);
    d->key[len] = 0;
    size_t i = key_hash(key, len) & (t->icap - 1);
    while (t->index[i] != UINT32_MAX)
        i = (i + 1) & (t->icap - 1);
    t->index[i] = (uint32_t)t->n;
    t->n++;
    return d;
}

void dest_add_name(struct dest *d, const char *name)
{
    if (name[0] == 0)
        return;
    for (size_t i = 0; i < d->nnames; i++)
        if (strcmp(d->names[i], name) == 0)
            return;
    if (d->nnames < DEST_NAMES_MAX && (d->names[d->nnames] = strdup(name)) != NULL)
        d->nnames++;
}

void dest_example(struct dest *d, unsigned r, const char *text)
{
    if (r < SMTPREPLY_REASON__COUNT && d->example[r] == NULL && text[0])
        d->example[r] = strdup(text);
}

void dest_merge(struct dest_table *into, const struct dest_table *from)
{
    into->dropped += from->dropped;
    for (size_t e = 0; e < from->n; e++) {
        const struct dest *s = &from->v[e];
        struct dest *d = dest_get(into, s->key, strlen(s->key));
        if (d == NULL)
            continue;
        d->sessions += s->sessions;
        d->replies += s->replies;
        d->rcpts += s->rcpts;
        for (size_t i = 0; i < s->codes.n; i++)
            count_add(&d->codes, s->codes.v[i].key, s->codes.v[i].count);
        for (size_t i = 0; i < s->reasons.n; i++)
            count_add(&d->reasons, s->reasons.v[i].key, s->reasons.v[i].count);
        for (size_t i = 0; i < s->nnames; i++)
            dest_add_name(d, s->names[i]);
        for (unsigned r = 0; r < SMTPREPLY_REASON__COUNT; r++)
            if (s->example[r])
                dest_example(d, r, s->example[r]);
    }
}

static int cmp_dest(const void *a, const void *b)
{
    return strcmp(((const struct dest *)a)->key, ((const struct dest *)b)->key);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void dest_sort(struct dest_table *t)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, cmp_dest);
    /* The index is stale after sorting: rebuild it for later lookups. */
    free(t->index);
    t->index = NULL;
    t->icap = 0;
    if (t->n)
        index_grow(t);
    for (size_t e = 0; e < t->n; e++) {
        struct dest *d = &t->v[e];
        count_sort(&d->codes);
        count_sort(&d->reasons);
        if (d->nnames > 1)
            qsort(d->names, d->nnames, sizeof *d->names, cmp_str);
    }
}

static json_t *codes_obj(const struct count_list *l)
{
    json_t *o = json_object();
    char key[16];
    for (size_t i = 0; i < l->n; i++) {
        snprintf(key, sizeof key, "%u", l->v[i].key);
        json_object_set_new(o, key, json_integer((json_int_t)l->v[i].count));
    }
    return o;
}

json_t *dest_json(const struct dest *d, bool server)
{
    json_t *j = json_object();
    json_object_set_new(j, "codes", codes_obj(&d->codes));
    if (server) {
        json_t *names = json_array();
        for (size_t i = 0; i < d->nnames; i++)
            json_array_append_new(names, kbfmt_string_lossy(d->names[i], strlen(d->names[i])));
        json_object_set_new(j, "names", names);
        json_object_set_new(j, "reasons", reasons_json(&d->reasons));
        json_object_set_new(j, "replies", json_integer((json_int_t)d->replies));
        json_object_set_new(j, "server", kbfmt_string_lossy(d->key, strlen(d->key)));
        json_object_set_new(j, "sessions", json_integer((json_int_t)d->sessions));
    } else {
        json_object_set_new(j, "domain", kbfmt_string_lossy(d->key, strlen(d->key)));
        json_object_set_new(j, "rcpts", json_integer((json_int_t)d->rcpts));
        json_object_set_new(j, "reasons", reasons_json(&d->reasons));
    }
    return j;
}

void dest_free(struct dest_table *t)
{
    for (size_t e = 0; e < t->n; e++) {
        struct dest *d = &t->v[e];
        free(d->key);
        free(d->codes.v);
        free(d->reasons.v);
        for (size_t i = 0; i < d->nnames; i++)
            free(d->names[i]);
        for (unsigned r = 0; r < SMTPREPLY_REASON__COUNT; r++)
            free(d->example[r]);
    }
    free(t->v);
    free(t->index);
    t->v = NULL;
    t->index = NULL;
    t->n = t->cap = t->icap = 0;
}

bool rcpt_domain(const char *addr, size_t len, char *out, size_t size)
{
    size_t at = len;
    for (size_t i = len; i > 0; i--) {
        if (addr[i - 1] == '@') {
            at = i - 1;
            break;
        }
    }
    if (at == len || at + 1 == len)
        return false;
    size_t n = 0;
    for (size_t i = at + 1; i < len && n + 1 < size; i++) {
        char c = addr[i];
        out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = 0;
    return true;
}

bool rcpt_from_command(const char *line, size_t len, const char **addr, size_t *alen)
{
    static const char to[] = "TO:";
    size_t i = 0;
    /* "RCPT" then spaces, then "TO:" in any case */
    while (i < len && line[i] != ' ')
        i++;
    while (i < len && line[i] == ' ')
        i++;
    for (size_t k = 0; k < 3; k++, i++) {
        if (i >= len)
            return false;
        char c = line[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != to[k])
            return false;
    }
    while (i < len && line[i] == ' ')
        i++;
    size_t start = i, end;
    if (i < len && line[i] == '<') {
        start = ++i;
        while (i < len && line[i] != '>')
            i++;
        end = i;
    } else {
        while (i < len && line[i] != ' ')
            i++;
        end = i;
    }
    *addr = line + start;
    *alen = end - start;
    return end > start;
}

void note_text(char *out, const char *text, size_t len)
{
    size_t n = 0;
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        char piece[8];
        size_t k = 1, plen;
        unsigned char c = u[i];
        if (c == '\n') {
            memcpy(piece, " / ", 3);
            plen = 3;
        } else if (c < 0x20 || c == 0x7f) {
            plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x", c);
        } else if (c < 0x80) {
            piece[0] = (char)c;
            plen = 1;
        } else {
            /* a whole UTF-8 sequence, or \xNN for a byte that breaks it */
            k = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            bool ok = k > 0 && i + k <= len;
            for (size_t m = 1; ok && m < k; m++)
                ok = (u[i + m] & 0xc0) == 0x80;
            if (ok) {
                memcpy(piece, u + i, k);
                plen = k;
            } else {
                k = 1;
                plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x", c);
            }
        }
        if (n + plen > NOTE_TEXT) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        memcpy(out + n, piece, plen);
        n += plen;
        i += k;
    }
    out[n] = 0;
}
