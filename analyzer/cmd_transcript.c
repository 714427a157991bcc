/* SPDX-License-Identifier: MIT */
/* cmd_transcript.c - placeholder until its issue lands: says so and fails. */
#include <stdio.h>

#include "cli.h"

int cmd_transcript(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smtpreply transcript: not implemented yet\n");
    return EXIT_USAGE;
}
