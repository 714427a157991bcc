/* SPDX-License-Identifier: MIT */
/*
 * cli.c - small helpers every sub-command shares (declared in cli.h).
 * Kept apart from main.c so a sub-command can be linked without main(),
 * as the fuzz target for `explain` does.
 */
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
