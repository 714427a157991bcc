/* SPDX-License-Identifier: MIT */
/*
 * reason_internal.h - for tests and fuzz targets of reason.c only; not
 * part of the public API.
 */
#ifndef SMTPREPLY_REASON_INTERNAL_H
#define SMTPREPLY_REASON_INTERNAL_H

#include <stddef.h>

#include "smtpreply.h"

/* The text layer's answer computed the slow, obvious way (each applicable
 * pattern row in order, searched for in turn) instead of through the
 * trigram index: the pattern that decides, or NULL.  Must always equal
 * smtpreply_reason_classify's pattern for the same reply. */
const char *smtpreply__reason_pattern_reference(unsigned code, const struct smtpreply_esc *esc,
                                                enum smtpreply_cmd cmd, const char *text,
                                                size_t len);

#endif
