/* SPDX-License-Identifier: MIT */
/*
 * cmd_merge.c - `smtpreply merge A.json B.json ...`: combine the JSON
 * summaries of separate runs (`smtpreply --format json`) into one, with the
 * same keys as a single run.  `files` and `sessions` are concatenated in
 * argument order; every number under `totals` is added key by key,
 * recursively, except peaks, which take the maximum.  Addition is associative and the concatenation keeps order,
 * so an archive summarized per file or per day merges to exactly the
 * answer of one run over all of it, in any grouping.  Session ids are
 * renumbered as one run numbers them: each summary's ids follow those of
 * the summaries before it.  A summary from before these keys existed
 * (no "schema") counts as empty for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tally.h"

enum { OPT_OUTPUT = CLI_FIRST_ID, OPT_JSON, OPT_FORMAT };

/* The output is a summary, JSON only; the spellings every other command
 * takes are accepted (--json everywhere). */
static const struct cli_option options[] = {
    {OPT_OUTPUT, "--output", "-o", "FILE", "write to FILE instead of standard output", 0},
    {OPT_JSON, "--json", NULL, NULL, "accepted: the output is always JSON", 0},
    {OPT_FORMAT, "--format", NULL, "json", "accepted: the output is always JSON", 0},
    CLI_OPT_DASHDASH("summaries"),
    CLI_OPT_HELP,
    CLI_OPT_VERSION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"smtpreply merge", options, "option", true, "see", 22};

static void usage(FILE *out)
{
    fprintf(out, "Usage: smtpreply merge [-o FILE] SUMMARY.json ...\n"
                 "\n"
                 "Combines JSON summaries from separate runs of `smtpreply --format json`\n"
                 "(for example one per machine or per day) into one summary with the same\n"
                 "keys: files and sessions concatenated in argument order, totals added.\n"
                 "Merging is associative: merged summaries can be merged again.\n"
                 "\n");
    cli_print_options(out, &spec, false);
    fprintf(out, "\n"
                 "Exit status: 0 merged, 2 usage error or an input that is not a summary.\n");
}

/* dst += src for every number, recursively; other values: first wins.
 * Keys ending in "_peak" are maxima, not counts: they merge by max (exact,
 * because every file's flows end with the file, so a run's peak is the
 * largest of its files' peaks). */
static bool is_peak(const char *key)
{
    size_t n = strlen(key);
    return n >= 5 && strcmp(key + n - 5, "_peak") == 0;
}

static int add_into(json_t *dst, json_t *src)
{
    const char *key;
    json_t *sv;
    json_object_foreach(src, key, sv)
    {
        json_t *dv = json_object_get(dst, key);
        if (dv == NULL) {
            json_object_set(dst, key, sv);
        } else if (json_is_integer(dv) && json_is_integer(sv) && is_peak(key)) {
            if (json_integer_value(sv) > json_integer_value(dv))
                json_object_set(dst, key, sv);
        } else if (json_is_integer(dv) && json_is_integer(sv)) {
            json_object_set_new(dst, key,
                                json_integer(json_integer_value(dv) + json_integer_value(sv)));
        } else if (json_is_number(dv) && json_is_number(sv)) {
            json_object_set_new(dst, key,
                                json_real(json_number_value(dv) + json_number_value(sv)));
        } else if (json_is_object(dv) && json_is_object(sv)) {
            if (add_into(dv, sv) != 0)
                return -1;
        } else if (!json_equal(dv, sv)) {
            return -1; /* a shape no single run produces */
        }
    }
    return 0;
}

/* The union of two arrays of names, each kept once. */
static void names_union(json_t *dst, json_t *src)
{
    size_t i, k;
    json_t *sv, *dv;
    json_array_foreach(src, i, sv)
    {
        bool seen = false;
        json_array_foreach(dst, k, dv) seen = seen || json_equal(dv, sv);
        if (!seen)
            json_array_append(dst, sv);
    }
}

/* Adds one summary's `servers` or `domains` (an array of objects named by
 * their key field) into by_key (key -> object); false if malformed. */
static bool dests_add(json_t *by_key, json_t *arr, const char *field)
{
    size_t i;
    json_t *e;
    if (arr == NULL)
        return true; /* an older summary: no destinations */
    if (!json_is_array(arr))
        return false;
    json_array_foreach(arr, i, e)
    {
        const char *key = json_string_value(json_object_get(e, field));
        if (!json_is_object(e) || key == NULL)
            return false;
        json_t *d = json_object_get(by_key, key);
        if (d == NULL) {
            json_object_set_new(by_key, key, json_deep_copy(e));
            continue;
        }
        const char *k;
        json_t *sv;
        json_object_foreach(e, k, sv)
        {
            json_t *dv = json_object_get(d, k);
            if (json_is_array(dv) && json_is_array(sv))
                names_union(dv, sv);
            else if (dv == NULL)
                json_object_set(d, k, sv);
            else if (json_is_integer(dv) && json_is_integer(sv))
                json_object_set_new(d, k,
                                    json_integer(json_integer_value(dv) +
                                                 json_integer_value(sv)));
            else if (json_is_object(dv) && json_is_object(sv)) {
                if (add_into(dv, sv) != 0)
                    return false;
            } else if (!json_equal(dv, sv))
                return false;
        }
    }
    return true;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* by_key's objects as an array sorted by key, names sorted too. */
static json_t *dests_sorted(json_t *by_key)
{
    size_t n = json_object_size(by_key), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    if (keys == NULL)
        return arr;
    json_object_foreach(by_key, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_cstr);
    for (i = 0; i < n; i++) {
        json_t *d = json_object_get(by_key, keys[i]);
        json_t *names = json_object_get(d, "names");
        size_t m = json_array_size(names);
        if (m > 1) {
            const char **nv = calloc(m, sizeof *nv);
            json_t *sorted = json_array();
            for (size_t j = 0; nv && j < m; j++)
                nv[j] = json_string_value(json_array_get(names, j));
            bool ok = nv != NULL;
            for (size_t j = 0; ok && j < m; j++)
                ok = nv[j] != NULL;
            if (ok) {
                qsort(nv, m, sizeof *nv, cmp_cstr);
                for (size_t j = 0; j < m; j++)
                    json_array_append_new(sorted, json_string(nv[j]));
                json_object_set(d, "names", sorted);
            }
            json_decref(sorted);
            free(nv);
        }
        json_array_append(arr, d);
    }
    free(keys);
    return arr;
}

/* Adds one summary (a path, or "-") into files, sessions, totals and the
 * destinations; false after saying why not. */
static bool merge_one(const char *a, json_t *files, json_t *sessions, json_t *totals,
                      json_t *servers, json_t *domains)
{
    json_error_t err;
    json_t *doc = strcmp(a, "-") == 0 ? json_loadf(stdin, 0, &err) : json_load_file(a, 0, &err);
    json_t *f = doc ? json_object_get(doc, "files") : NULL;
    json_t *s = doc ? json_object_get(doc, "sessions") : NULL;
    json_t *t = doc ? json_object_get(doc, "totals") : NULL;
    if (doc == NULL) {
        fprintf(stderr, "smtpreply merge: %s: %s (line %d)\n", a, err.text, err.line);
        return false;
    }
    if (!json_is_array(f) || !json_is_array(s) || !json_is_object(t)) {
        fprintf(stderr,
                "smtpreply merge: %s: not a smtpreply JSON summary "
                "(needs files, sessions, totals)\n",
                a);
        json_decref(doc);
        return false;
    }
    json_array_extend(files, f);
    size_t base = json_array_size(sessions);
    size_t i;
    json_t *sv;
    json_array_foreach(s, i, sv)
    {
        if (!json_is_object(sv))
            continue;
        json_t *id = json_object_get(sv, "id");
        json_int_t local = json_is_integer(id) ? json_integer_value(id) : (json_int_t)i;
        json_t *copy = json_copy(sv);
        json_object_set_new(copy, "id", json_integer((json_int_t)base + local));
        if (!json_is_object(json_object_get(copy, "reasons")))
            json_object_set_new(copy, "reasons", json_object());
        json_array_append_new(sessions, copy);
    }
    if (add_into(totals, t) != 0) {
        fprintf(stderr, "smtpreply merge: %s: totals do not match the others' shape\n", a);
        json_decref(doc);
        return false;
    }
    if (!dests_add(servers, json_object_get(doc, "servers"), "server") ||
        !dests_add(domains, json_object_get(doc, "domains"), "domain")) {
        fprintf(stderr,
                "smtpreply merge: %s: servers or domains do not match the others' "
                "shape\n",
                a);
        json_decref(doc);
        return false;
    }
    json_decref(doc);
    return true;
}

/* Writes the merged summary to outfile (NULL: standard output). */
static int merge_write(const char *outfile, json_t *files, json_t *sessions, json_t *totals,
                       json_t *servers, json_t *domains)
{
    FILE *out = stdout;
    if (outfile && (out = fopen(outfile, "w")) == NULL) {
        fprintf(stderr, "smtpreply merge: %s: %s\n", outfile, strerror(errno));
        return EXIT_USAGE;
    }
    json_t *root = json_object();
    int werr = 0, status = EXIT_OK;
    json_object_set_new(root, "schema", json_integer(TALLY_SCHEMA));
    if (!json_is_object(json_object_get(totals, "reasons")))
        json_object_set_new(totals, "reasons", json_object());
    if (json_object_get(totals, "destinations_dropped") == NULL)
        json_object_set_new(totals, "destinations_dropped", json_integer(0));
    json_object_set_new(root, "servers", dests_sorted(servers));
    json_object_set_new(root, "domains", dests_sorted(domains));
    json_object_set(root, "files", files);
    json_object_set(root, "sessions", sessions);
    json_object_set(root, "totals", totals);
    /* A failed write can leave nothing for fclose to fail on (the flush
     * that failed dropped its bytes): look at every step.  Standard output
     * is checked in main. */
    if (json_dumpf(root, out, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || fputc('\n', out) == EOF ||
        ferror(out))
        werr = errno ? errno : EIO;
    json_decref(root);
    if (out != stdout) {
        if (fclose(out) != 0 && werr == 0)
            werr = errno;
        if (werr) {
            fprintf(stderr, "smtpreply merge: %s: %s\n", outfile, strerror(werr));
            status = EXIT_USAGE;
        }
    }
    return status;
}

int cmd_merge(int argc, char **argv)
{
    static const char *const names[] = {"json", NULL};
    const char *outfile = NULL;
    json_t *files = json_array(), *sessions = json_array(), *totals = json_object();
    json_t *servers = json_object(), *domains = json_object();
    int status = EXIT_OK, inputs = 0;
    struct cli_parser cp;
    int id;

    /* Summaries are read as they come, between the options. */
    cli_init(&cp, &spec, argc, argv);
    while (status == EXIT_OK && (id = cli_next(&cp)) != CLI_END) {
        switch (id) {
        case CLI_HELP:
            usage(stdout);
            goto out;
        case CLI_VERSION:
            cli_print_version();
            goto out;
        case OPT_OUTPUT:
            outfile = cp.value;
            break;
        case OPT_JSON:
            break;
        case OPT_FORMAT:
            if (cli_format("smtpreply merge", cp.value, names) < 0)
                status = EXIT_USAGE;
            break;
        case CLI_ARG:
            if (!merge_one(cp.value, files, sessions, totals, servers, domains))
                status = EXIT_USAGE;
            inputs++;
            break;
        default:
            status = EXIT_USAGE;
            break;
        }
    }
    if (status != EXIT_OK)
        goto out;
    if (inputs == 0) {
        fprintf(stderr, "smtpreply merge: no summary given (see --help)\n");
        status = EXIT_USAGE;
        goto out;
    }
    status = merge_write(outfile, files, sessions, totals, servers, domains);
out:
    json_decref(files);
    json_decref(sessions);
    json_decref(totals);
    json_decref(servers);
    json_decref(domains);
    return status;
}
