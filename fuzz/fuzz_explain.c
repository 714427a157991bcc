/* SPDX-License-Identifier: MIT */
/* fuzz_explain.c - `smtpreply explain` end to end: argument classification
 * (basic code, enhanced code, reply line, or neither), the JSON and text
 * printers, and the exit status, for any arguments.  The input is split on
 * NUL bytes into up to 8 arguments; its first byte picks --json or text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The command prints to stdout and stderr; send both to /dev/null.
     * libFuzzer keeps its own copy of stderr taken at start-up, and the
     * sanitizers write their reports to file descriptor 2 directly, so
     * findings are still reported. */
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        stdout = null;
        stderr = null;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAX_ARGS = 8 };
    if (size == 0)
        return 0;
    /* Arguments are C strings: copy, then cut at NULs. */
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *argv[MAX_ARGS + 3];
    int argc = 0;
    argv[argc++] = "explain";
    if (data[0] & 1)
        argv[argc++] = "--json";
    for (size_t start = 0; start < size && argc < MAX_ARGS + 2;) {
        argv[argc++] = buf + start;
        start += strlen(buf + start) + 1;
    }
    argv[argc] = NULL;
    int rc = cmd_explain(argc, argv);
    if (rc != EXIT_OK && rc != EXIT_USAGE)
        abort(); /* the documented statuses: 0, or 2 for a bad argument */
    fflush(stdout);
    free(buf);
    return 0;
}
