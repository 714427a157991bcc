/* SPDX-License-Identifier: MIT */
/*
 * kb_internal.h - helpers shared by the knowledge-base files (kb_*.c).
 * Not part of the public API.
 */
#ifndef SMTPREPLY_KB_INTERNAL_H
#define SMTPREPLY_KB_INTERNAL_H

#include <stdbool.h>

#include "smtpreply.h"

/* True if commands.def lists `code` for command c. */
bool kb_cmd_lists(enum smtpreply_cmd c, unsigned code);
/* True if every client command may get `code` (421, 500, 501, ...). */
bool kb_code_any_command(unsigned code);

#endif
