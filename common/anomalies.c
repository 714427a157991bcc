/* SPDX-License-Identifier: MIT */
/* anomalies.c - names and descriptions of the engine's anomalies, from
 * anomalies.def. */
#include <string.h>

#include "smtpreply.h"

_Static_assert(SMTPREPLY_ANOM__COUNT <= 64, "anomalies travel as a 64-bit set");

static const struct {
    const char *name;
    const char *description;
} anomaly_table[SMTPREPLY_ANOM__COUNT] = {
#define SMTPREPLY_ANOMALY(id, name, desc) [SMTPREPLY_ANOM_##id] = {name, desc},
#include "anomalies.def"
#undef SMTPREPLY_ANOMALY
};

const char *smtpreply_anomaly_name(enum smtpreply_anomaly a)
{
    return (unsigned)a < SMTPREPLY_ANOM__COUNT ? anomaly_table[a].name : "";
}

const char *smtpreply_anomaly_description(enum smtpreply_anomaly a)
{
    return (unsigned)a < SMTPREPLY_ANOM__COUNT ? anomaly_table[a].description : "";
}

enum smtpreply_anomaly smtpreply_anomaly_from_name(const char *name, size_t len)
{
    for (unsigned i = 0; i < SMTPREPLY_ANOM__COUNT; i++) {
        if (strlen(anomaly_table[i].name) == len && memcmp(anomaly_table[i].name, name, len) == 0)
            return (enum smtpreply_anomaly)i;
    }
    return SMTPREPLY_ANOM__COUNT;
}

void smtpreply_limits_default(struct smtpreply_limits *lim)
{
    lim->max_line = 4096;
    lim->max_pending = 1000;
    lim->max_reply_lines = 1000;
    lim->max_held = 65536;
    lim->max_reasm = 262144;
    lim->max_detect = 4096;
}
