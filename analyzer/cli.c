/* SPDX-License-Identifier: MIT */
/* cli.c - small helpers every sub-command uses (kept out of main.c so the
 * sub-commands can be linked without it, as fuzz/fuzz_explain.c does). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "smtpreply.h"

int cli_is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

void cli_print_version(void)
{
    printf("smtpreply %s\n", SMTPREPLY_VERSION);
}
