/* SPDX-License-Identifier: MIT */
/* cmd_explain.c - placeholder until its issue lands: says so and fails. */
#include <stdio.h>

#include "cli.h"

int cmd_explain(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smtpreply explain: not implemented yet\n");
    return EXIT_USAGE;
}
