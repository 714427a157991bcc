/* SPDX-License-Identifier: MIT */
/* cmd_codes.c - placeholder until its issue lands: says so and fails. */
#include <stdio.h>

#include "cli.h"

int cmd_codes(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smtpreply codes: not implemented yet\n");
    return EXIT_USAGE;
}
