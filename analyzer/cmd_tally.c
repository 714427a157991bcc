/* SPDX-License-Identifier: MIT */
/*
 * cmd_tally.c - `smtpreply [tally]`: read pcap/pcapng captures, hand every
 * TCP segment to the core's connection layer (one smtpreply_conn per
 * flow), and tally the replies of every SMTP session and in total.
 *
 * A thin adapter: no SMTP logic and no reassembly here.  This file holds
 * the options and the run as a whole; tally_int.h says where the rest is.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "tally_int.h"

/* ------------------------------------------------------------------ */
/* progress                                                           */

void progress_print(struct progress *pr)
{
    double pct = 100.0 * (double)atomic_load(&pr->done) / (double)pr->total;
    if (pct > 100.0)
        pct = 100.0;
    int bar = (int)(pct / 2.5);
    fprintf(stderr, "\r[%-40.*s] %5.1f%%", bar, "########################################", pct);
}

/* ------------------------------------------------------------------ */
/* command line                                                       */

enum {
    OPT_FORMAT = CLI_FIRST_ID,
    OPT_JSON,
    OPT_REPLIES,
    OPT_OUTPUT,
    OPT_FILTER,
    OPT_PORT,
    OPT_JOBS,
    OPT_QUIET,
    OPT_MAX_LINE,
    OPT_MAX_PENDING,
    OPT_MAX_REPLY_LINES,
    OPT_MAX_HELD,
    OPT_MAX_DETECT,
    OPT_MAX_REASM,
    OPT_MAX_SESSIONS,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_MEMORY,
    OPT_MAX_DESTINATIONS,
    OPT_REDACT,
    OPT_KEYLOG,
    OPT_MAX_KEYS
};

static const struct cli_option options[] = {
    {OPT_FORMAT, "--format", NULL, "FMT", "text (default), json or csv", 0},
    {OPT_JSON, "--json", NULL, NULL, "same as --format json", 0},
    {OPT_REPLIES, "--replies", NULL, NULL, "one line per reply, JSON (or CSV rows), no summary",
     0},
    {OPT_REDACT, "--redact", NULL, NULL,
     "hide the local part of every mail address (rcpt, reply\n"
     "texts) behind a stable hash; domains stay",
     0},
    {OPT_OUTPUT, "--output", "-o", "FILE", "write to FILE instead of standard output", 0},
    {OPT_FILTER, "--filter", "-F", "EXPR", "read only packets matching the BPF filter EXPR", 0},
    {OPT_PORT, "--port", NULL, "N", "also treat TCP port N as SMTP (repeatable)", 0},
    {OPT_JOBS, "--jobs", "-j", "N",
     "read N files at once (default 1; 0 = one per core);\n"
     "the output is the same as with -j 1; also -jN",
     CLI_ATTACHED_NUMBER},
    {OPT_QUIET, "--quiet", "-q", NULL, "no progress bar, no chatter (errors still go to stderr)",
     0},
    {OPT_KEYLOG, "--keylog", NULL, "FILE",
     "decrypt STARTTLS and implicit TLS with the secrets of the\n"
     "NSS key log FILE (repeatable); a pcapng's own Decryption\n"
     "Secrets Blocks are used without it",
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
     "are (DATA awaiting 354, AUTH awaiting 334; default 65536)",
     CLI_GROUP2},
    {OPT_MAX_DETECT, "--max-detect", NULL, "N",
     "bytes examined to decide whether a stream is SMTP\n(default 4096)", CLI_GROUP2},
    {OPT_MAX_REASM, "--max-reasm", NULL, "N",
     "out-of-order bytes buffered per direction (default 262144)", CLI_GROUP2},
    {OPT_MAX_SESSIONS, "--max-sessions", NULL, "N",
     "flows tracked at once per file (default 100000)", CLI_GROUP2},
    {OPT_MAX_DESTINATIONS, "--max-destinations", NULL, "N",
     "servers, and recipient domains, listed at most; the rest\n"
     "are counted in totals.destinations_dropped (default 10000)",
     CLI_GROUP2},
    {OPT_IDLE_TIMEOUT, "--idle-timeout", NULL, "S",
     "seconds of capture time before an idle flow ends (default 300)", CLI_GROUP2},
    {OPT_MAX_MEMORY, "--max-memory", NULL, "MB",
     "memory for all sessions and reassembly of one file\n"
     "together (default 1024; with -j N, per file being read);\n"
     "output waiting for its session number keeps 1/16 of it\n"
     "in memory, the rest in a temporary file",
     CLI_GROUP2},
    {OPT_MAX_KEYS, "--max-keys", NULL, "N",
     "TLS sessions whose secrets are kept, per key table (the\n"
     "--keylog files', and each pcapng's own; default 100000)",
     CLI_GROUP2},
    {0, NULL, NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"smtpreply", options, "option", true, "see", 22};

static void usage(FILE *out)
{
    fprintf(out, "Usage: smtpreply [tally] [OPTIONS] FILE|DIR|- ...\n"
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
    fprintf(out, "TLS: a session being decrypted holds under 90 KiB (one record and its\n"
                 "plaintext each way, the hellos), inside --max-memory.\n"
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
static bool number_opt(const char *name, const char *val, uint32_t lo, uint32_t hi, uint32_t *out)
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
    case OPT_MAX_DESTINATIONS:
        return number_opt(name, val, 0, 1u << 24, &o->max_destinations);
    case OPT_MAX_KEYS:
        return number_opt(name, val, 1, 1u << 24, &o->max_keys);
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
        case OPT_REDACT:
            opt->redact = true;
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
        case OPT_KEYLOG:
            if (opt->nkeylogs == sizeof opt->keylogs / sizeof opt->keylogs[0]) {
                fprintf(stderr, "smtpreply: at most 64 --keylog options\n");
                return EXIT_USAGE;
            }
            opt->keylogs[opt->nkeylogs++] = cp.value;
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

/* Checks what the options together ask for; false after saying why not. */
static bool options_usable(struct options *opt, size_t nargs)
{
    if (nargs == 0) {
        fprintf(stderr, "smtpreply: no capture given (see --help)\n");
        return false;
    }
    if (opt->filter && !filter_ok(opt->filter))
        return false;
    if (!tls_keys_load(opt))
        return false;
    if (opt->jobs == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        opt->jobs = ncpu > 0 ? (uint32_t)ncpu : 1;
    }
    return true;
}

/* The writer, on standard output or -o FILE; false after saying why not. */
static bool output_open(struct output *o, const struct options *opt)
{
    memset(o, 0, sizeof *o);
    o->fp = stdout;
    o->format = opt->format;
    o->summary = !opt->replies;
    o->servers.max = o->domains.max = opt->max_destinations;
    if (opt->outfile) {
        o->fp = fopen(opt->outfile, "w");
        if (o->fp == NULL) {
            fprintf(stderr, "smtpreply: %s: %s\n", opt->outfile, strerror(errno));
            return false;
        }
    }
    return true;
}

/* Flushes and closes the output; the exit status becomes 2 if any write
 * failed.  A write that failed earlier leaves only the error flag (a
 * buffer that could not be written is dropped, and fclose may then
 * succeed). */
static int output_close(struct output *o, const char *outfile, int status)
{
    if (o->fp != stdout) {
        bool failed = fflush(o->fp) != 0 || ferror(o->fp);
        int err = errno ? errno : EIO;
        if (fclose(o->fp) != 0 && !failed) {
            failed = true;
            err = errno;
        }
        if (failed) {
            fprintf(stderr, "smtpreply: cannot write %s: %s\n", outfile, strerror(err));
            status = EXIT_USAGE;
        }
    } else if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "smtpreply: cannot write the output: %s\n",
                strerror(errno ? errno : EIO));
        status = EXIT_USAGE;
    }
    out_free(o);
    return status;
}

/* Collects the inputs and sizes the progress bar (on a terminal, for more
 * than 64 MiB of captures); returns the number of captures to read. */
static size_t inputs_gather(struct inputs *in, const char **args, size_t nargs,
                            const struct options *opt, struct progress *pr)
{
    size_t ncaptures = 0;
    memset(in, 0, sizeof *in);
    memset(pr, 0, sizeof *pr);
    for (size_t i = 0; i < nargs; i++)
        inputs_collect(in, args[i]);
    for (size_t i = 0; i < in->n; i++) {
        struct stat st;
        if (!in->v[i].capture)
            continue;
        ncaptures++;
        if (strcmp(in->v[i].path, "-") != 0 && stat(in->v[i].path, &st) == 0)
            pr->total += (uint64_t)st.st_size;
    }
    pr->on = !opt->quiet && isatty(2) && pr->total > 64u * 1024 * 1024;
    return ncaptures;
}

/* 0 all read, 1 some trouble, 2 nothing could be opened. */
static int run_status(const struct inputs *in)
{
    bool any_opened = false, trouble = in->trouble;
    for (size_t i = 0; i < in->n; i++) {
        any_opened |= in->v[i].opened;
        trouble |= in->v[i].trouble;
    }
    /* Say it when nothing at all was read: an empty directory, or one of
     * text files only, would otherwise end with status 2 and no word. */
    if (!any_opened && !trouble)
        fprintf(stderr, "smtpreply: no capture found in the input given (see --help)\n");
    return !any_opened ? EXIT_USAGE : trouble ? EXIT_PARTIAL : EXIT_OK;
}

/* Reads the inputs and writes the results: the run proper. */
static int tally(struct options *opt, const char **args, size_t nargs)
{
    struct output o;
    struct inputs in;
    struct progress pr;
    if (!output_open(&o, opt))
        return EXIT_USAGE;
    size_t ncaptures = inputs_gather(&in, args, nargs, opt, &pr);
    out_begin(&o);
    if (opt->jobs <= 1 || ncaptures <= 1 || !run_parallel(&in, opt, &o, &pr, opt->jobs))
        run_serial(&in, opt, &o, &pr);
    if (pr.on)
        fputs("\r\033[K", stderr);
    out_end(&o, in.v, in.n);
    int status = run_status(&in);
    status = output_close(&o, opt->outfile, status);
    inputs_free(&in);
    return status;
}

int cmd_tally(int argc, char **argv)
{
    struct options opt;
    memset(&opt, 0, sizeof opt);
    smtpreply_limits_default(&opt.limits);
    opt.max_flows = 100000;
    opt.max_destinations = 10000;
    opt.max_keys = 100000;
    opt.idle_timeout = 300;
    opt.max_memory = (uint64_t)1024 << 20;
    opt.jobs = 1;
    const char **args = calloc((size_t)argc + 1, sizeof *args);
    size_t nargs = 0;
    if (args == NULL)
        return EXIT_USAGE;
    int status = parse_options(argc, argv, &opt, args, &nargs);
    if (status < 0)
        status = options_usable(&opt, nargs) ? tally(&opt, args, nargs) : EXIT_USAGE;
    tls_keys_free(&opt);
    free(args);
    return status;
}
