/* SPDX-License-Identifier: MIT */
/*
 * fuzz_explain.c - `smtpreply explain` end to end: argument parsing,
 * classification (code, enhanced code, reply line), the text and the JSON
 * output (analyzer/cmd_explain.c, analyzer/kbfmt_json.c, jansson).
 *
 * Input: the first byte picks a prefix (bit 0: "--json" first, bit 1:
 * "--" first, bit 2: "--command VERB" first, VERB picked by bits 3-5 from
 * good and bad ones); the rest is split on NUL bytes into up to MAX_ARGS
 * arguments, each an exactly-sized heap string so ASan sees over-reads.
 * argv = {"explain", [prefix...], args...}.  Standard input (read for an
 * argument "-") is the last argument's bytes when bit 6 is set, otherwise
 * empty; a memory stream or /dev/null, so no run waits for a terminal.
 *
 * Properties: no crash, no sanitizer report, no leak (LeakSanitizer),
 * and the exit status is 0 or 2 (cli.h: explain never returns 1).
 *
 * The command prints to stdout and stderr; during each call the C stdout
 * and stderr streams point at /dev/null, so runs are not flooded (and the
 * replay driver's own messages still show).  libFuzzer keeps its own
 * duplicate of the original stderr for its messages, and sanitizer reports
 * are written to file descriptor 2 directly, so crashes are still reported
 * (checked with a planted crash when this target was written).
 */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_ARGS 8

static FILE *devnull, *nullin;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    if (!nullin)
        nullin = fopen("/dev/null", "r");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 6]; /* "explain", four prefix words, args, NULL */
    char *owned[MAX_ARGS];
    int argc = 0, nowned = 0, rc;
    size_t pos = 1;
    FILE *saved_out = stdout, *saved_err = stderr, *saved_in = stdin, *in;
    static const char *const verbs[8] = {"RCPT", ".",    "greeting", "data",
                                         "AUTH", "BDAT", "bogus",    ""};

    if (size == 0)
        return 0;
    if (!devnull) /* the replay driver does not call LLVMFuzzerInitialize */
        LLVMFuzzerInitialize(NULL, NULL);
    argv[argc++] = (char *)"explain";
    if (data[0] & 1)
        argv[argc++] = (char *)"--json";
    if (data[0] & 4) {
        argv[argc++] = (char *)"--command";
        argv[argc++] = (char *)verbs[(data[0] >> 3) & 7];
    }
    if (data[0] & 2)
        argv[argc++] = (char *)"--";
    /* Split the rest on NUL: "a\0b" is two arguments, "a\0" is "a" and "". */
    while (pos <= size && nowned < MAX_ARGS) {
        const uint8_t *nul = pos < size ? memchr(data + pos, 0, size - pos) : NULL;
        size_t len = nul ? (size_t)(nul - (data + pos)) : size - pos;
        char *a = malloc(len + 1);
        if (!a)
            break;
        memcpy(a, data + pos, len);
        a[len] = '\0';
        owned[nowned++] = a;
        argv[argc++] = a;
        pos += len + 1;
    }
    argv[argc] = NULL;
    in = NULL;
    if ((data[0] & 0x40) && nowned > 0 && owned[nowned - 1][0])
        in = fmemopen(owned[nowned - 1], strlen(owned[nowned - 1]), "r");
    if (in)
        stdin = in;
    else if (nullin) {
        clearerr(nullin);
        stdin = nullin;
    }
    if (devnull)
        stdout = stderr = devnull;
    rc = cmd_explain(argc, argv);
    fflush(stdout);
    stdout = saved_out;
    stderr = saved_err;
    stdin = saved_in;
    if (in)
        fclose(in);
    if (rc != EXIT_OK && rc != EXIT_USAGE)
        abort();
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    return 0;
}
