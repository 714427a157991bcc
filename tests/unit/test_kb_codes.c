/* SPDX-License-Identifier: MIT */
/*
 * test_kb_codes.c - the basic-code knowledge base against the seed lists
 * (read from the shared folder, not copied here), the RFCs, and the
 * table's own invariants.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb.h"
#include "smtpreply.h"

/* RFC 5321 §4.2 ABNF, computed here independently of the library. */
static int syntax_valid(unsigned code)
{
    return code / 100 >= 2 && code / 100 <= 5 && code / 10 % 10 <= 5;
}

static int list_has(const char *list, const char *want)
{
    const char *cur = list, *item;
    size_t len;
    while ((item = smtpreply_list_next(&cur, &len)) != NULL) {
        if (strlen(want) == len && memcmp(item, want, len) == 0)
            return 1;
    }
    return 0;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static int contains_ci(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

static struct smtpreply_code_info explain(unsigned code)
{
    struct smtpreply_code_info info;
    memset(&info, 0, sizeof info);
    CHECK(smtpreply_code_explain(code, &info));
    return info;
}

/* A seed line names a code when, after leading blanks, '|' and '-', it
 * starts with exactly three digits; "200 Codes"-style headings are not
 * codes. */
static int seed_line_code(const char *line, unsigned *code)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '|' || *p == '-')
        p++;
    for (int i = 0; i < 3; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
    }
    if (p[3] >= '0' && p[3] <= '9')
        return 0;
    if (strncmp(p + 3, " Codes", 6) == 0)
        return 0;
    *code = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
    return 1;
}

static void check_seeds(void)
{
    char dir[4096];
    const char *shared = getenv("SHARED");
    DIR *d;
    struct dirent *de;
    unsigned files = 0, codes = 0;
    int seen[1000] = {0};

    snprintf(dir, sizeof dir, "%s/seeds", shared && *shared ? shared : SHARED_DIR);
    d = opendir(dir);
    if (!d) {
        printf("seeds not found at %s: seed checks skipped\n", dir);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char path[8192], line[4096];
        FILE *f;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        files++;
        while (fgets(line, sizeof line, f)) {
            unsigned code;
            struct smtpreply_code_info info;
            if (!seed_line_code(line, &code))
                continue;
            codes++;
            seen[code] = 1;
            info = explain(code);
            if (!info.in_table)
                fprintf(stderr, "seed %s names %u, not in the table\n", de->d_name, code);
            CHECK(info.in_table);
            CHECK_EQ_U(info.cls, code / 100);
            CHECK_EQ_U(info.category, code / 10 % 10);
            CHECK(info.status != SMTPREPLY_STATUS_UNASSIGNED);
            CHECK_EQ_U(info.status == SMTPREPLY_STATUS_INVALID, !syntax_valid(code));
            CHECK(info.meaning[0] != '\0');
        }
        fclose(f);
    }
    closedir(d);
    printf("seeds: %u files, %u code lines\n", files, codes);
    CHECK(files >= 5);
    CHECK(codes >= 150);
    /* The parser itself must find the odd ones (glued text, tabs, tables). */
    CHECK(seen[355] && seen[101] && seen[471] && seen[557] && seen[200] && seen[253]);
    CHECK(!seen[300] && !seen[400]); /* headings, not codes */
}

static void check_invariants(void)
{
    struct smtpreply_code_info info;
    unsigned prev = 0;
    size_t n = 0;
    for (size_t i = 0; smtpreply_code_at(i, &info); i++, n++) {
        const char *cur, *item;
        size_t len;
        if (i > 0)
            CHECK(info.code > prev); /* sorted, no duplicates */
        prev = info.code;
        CHECK(info.in_table);
        CHECK(info.code <= 999);
        CHECK_EQ_U(info.cls, info.code / 100);
        CHECK_EQ_U(info.category, info.code / 10 % 10);
        CHECK(info.meaning[0] != '\0');
        CHECK(info.status != SMTPREPLY_STATUS_UNASSIGNED);
        /* invalid exactly when the ABNF says so; no invalid code claims
         * standard */
        CHECK_EQ_U(info.status == SMTPREPLY_STATUS_INVALID, !syntax_valid(info.code));
        /* standard, historic and registry codes name where they are defined */
        if (info.status == SMTPREPLY_STATUS_STANDARD ||
            info.status == SMTPREPLY_STATUS_HISTORIC ||
            info.status == SMTPREPLY_STATUS_REGISTRY) {
            CHECK(strncmp(info.rfc, "RFC ", 4) == 0);
            cur = info.rfc;
            while ((item = smtpreply_list_next(&cur, &len)) != NULL)
                CHECK(len > 4 && strncmp(item, "RFC ", 4) == 0);
        } else {
            CHECK_EQ_S(info.rfc, "");
        }
        if (info.status == SMTPREPLY_STATUS_NON_STANDARD)
            CHECK(contains_ci(info.notes, "not in any standard"));
        /* The dots-removed heuristic: a non-standard or invalid code whose
         * digits spell a registered enhanced code says which one. */
        if (info.status == SMTPREPLY_STATUS_NON_STANDARD ||
            info.status == SMTPREPLY_STATUS_INVALID) {
            struct smtpreply_esc esc;
            if (smtpreply_code_dotted_note(info.code, &esc)) {
                char want[16];
                smtpreply_esc_format(&esc, want, sizeof want);
                if (!contains(info.notes, want))
                    fprintf(stderr, "%u: notes should name %s\n", info.code, want);
                CHECK(contains(info.notes, want));
            }
        }
        /* no empty list items */
        cur = info.notes;
        while ((item = smtpreply_list_next(&cur, &len)) != NULL)
            CHECK(len > 0);
        /* retry follows the first digit (RFC 5321 §4.2: unknown codes are
         * read by it); only a first digit outside 2-5 aborts */
        if (info.cls < 2 || info.cls > 5)
            CHECK_EQ_U(info.retry, SMTPREPLY_RETRY_ABORT);
        else
            CHECK_EQ_U(info.retry, info.cls - 2);
        /* commands listed for a code really accept it */
        {
            const char *verbs[SMTPREPLY_CMD__COUNT + 1];
            size_t nv = smtpreply_code_commands(info.code, verbs, SMTPREPLY_CMD__COUNT + 1);
            CHECK(nv <= SMTPREPLY_CMD__COUNT + 1);
            for (size_t k = 0; k < nv; k++) {
                if (strcmp(verbs[k], "ANY") == 0) {
                    CHECK_EQ_U(k, 0);
                    continue;
                }
                enum smtpreply_cmd c = smtpreply_cmd_from_verb(verbs[k], strlen(verbs[k]));
                if (strcmp(verbs[k], "CONNECT") == 0)
                    c = SMTPREPLY_CMD_CONNECT;
                if (strcmp(verbs[k], "DATA-END") == 0)
                    c = SMTPREPLY_CMD_DATA_END;
                CHECK(smtpreply_cmd_expects(c, info.code));
            }
        }
    }
    CHECK_EQ_U(n, smtpreply_code_count());
    CHECK(n >= 60);
    /* every code an RFC defines (RFC 5321 §4.2.2-§4.2.3 and the extension
     * RFCs: 38 codes; 538 may be historic, RFC 4954 §6) */
    static const unsigned rfc_codes[] = {
        211, 214, 220, 221, 235, 250, 251, 252, 253, 334, 354, 421, 432,
        450, 451, 452, 453, 454, 455, 458, 459, 500, 501, 502, 503, 504,
        521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
    };
    CHECK_EQ_U(sizeof rfc_codes / sizeof rfc_codes[0], 38);
    for (size_t i = 0; i < sizeof rfc_codes / sizeof rfc_codes[0]; i++) {
        info = explain(rfc_codes[i]);
        CHECK(info.status == SMTPREPLY_STATUS_STANDARD ||
              (rfc_codes[i] == 538 && info.status == SMTPREPLY_STATUS_HISTORIC));
    }
    /* codes known only as associated codes of the IANA enhanced-code registry */
    static const unsigned registry_codes[] = {422, 430, 523, 524, 525, 533};
    for (size_t i = 0; i < sizeof registry_codes / sizeof registry_codes[0]; i++)
        CHECK_EQ_U(explain(registry_codes[i]).status, SMTPREPLY_STATUS_REGISTRY);
}

static void check_contexts(void)
{
    /* Every command-specific meaning is for a known code the command may
     * really return (code_contexts.def agrees with commands.def). */
    for (unsigned code = 0; code < 1000; code++) {
        enum smtpreply_cmd cmd;
        const char *meaning, *rfc;
        for (size_t i = 0; smtpreply_code_context(code, i, &cmd, &meaning, &rfc); i++) {
            CHECK(explain(code).in_table);
            if (!smtpreply_cmd_expects(cmd, code))
                fprintf(stderr, "context %u for %s: command does not expect it\n", code,
                        smtpreply_cmd_verb(cmd));
            CHECK(smtpreply_cmd_expects(cmd, code));
            CHECK(meaning[0] != '\0');
            CHECK(strncmp(rfc, "RFC ", 4) == 0);
            CHECK_EQ_S(smtpreply_code_meaning_for(code, cmd), meaning);
        }
    }
    /* 432 and 454: AUTH vs STARTTLS (RFC 4954 §6, RFC 3207 §4) */
    CHECK(
        contains_ci(smtpreply_code_meaning_for(432, SMTPREPLY_CMD_AUTH), "password transition"));
    CHECK(contains(smtpreply_code_meaning_for(454, SMTPREPLY_CMD_STARTTLS), "TLS not available"));
    CHECK(contains_ci(smtpreply_code_meaning_for(454, SMTPREPLY_CMD_AUTH),
                      "temporary authentication failure"));
    /* 220: greeting vs STARTTLS */
    CHECK(contains(smtpreply_code_meaning_for(220, SMTPREPLY_CMD_CONNECT), "Service ready"));
    CHECK(contains(smtpreply_code_meaning_for(220, SMTPREPLY_CMD_STARTTLS), "start TLS"));
    /* 250 per command, ETRN's overloads (RFC 1985 §5.1) */
    CHECK(contains(smtpreply_code_meaning_for(250, SMTPREPLY_CMD_DATA_END), "responsibility"));
    CHECK(contains(smtpreply_code_meaning_for(250, SMTPREPLY_CMD_ETRN), "queuing for node"));
    CHECK(contains(smtpreply_code_meaning_for(251, SMTPREPLY_CMD_ETRN), "no messages waiting"));
    CHECK(contains(smtpreply_code_meaning_for(252, SMTPREPLY_CMD_ETRN), "pending messages"));
    CHECK(contains(smtpreply_code_meaning_for(453, SMTPREPLY_CMD_ATRN), "no mail"));
    CHECK(contains(smtpreply_code_meaning_for(450, SMTPREPLY_CMD_ATRN), "ATRN request refused"));
    /* no context: the general meaning */
    CHECK_EQ_S(smtpreply_code_meaning_for(250, SMTPREPLY_CMD_UNKNOWN), explain(250).meaning);
    CHECK_EQ_S(smtpreply_code_meaning_for(1000, SMTPREPLY_CMD_RCPT), "");
}

static void check_rfc_answers(void)
{
    struct smtpreply_code_info i;
    const char *verbs[SMTPREPLY_CMD__COUNT + 1];
    size_t n;

    i = explain(534); /* RFC 4954 §6, not "message too big" */
    CHECK_EQ_U(i.status, SMTPREPLY_STATUS_STANDARD);
    CHECK(contains_ci(i.meaning, "mechanism is too weak"));
    CHECK(list_has(i.rfc, "RFC 4954 §6"));
    CHECK(contains(i.notes, "5.3.4") && contains(i.notes, "Exchange"));
    CHECK(!contains_ci(i.meaning, "too big"));
    i = explain(535);
    CHECK(contains_ci(i.meaning, "credentials invalid"));
    CHECK(contains(i.notes, "5.3.5"));
    i = explain(432);
    CHECK_EQ_U(i.status, SMTPREPLY_STATUS_STANDARD);
    CHECK(contains_ci(i.meaning, "password transition"));
    CHECK(list_has(i.rfc, "RFC 4954 §6"));
    i = explain(521);
    CHECK(contains(i.rfc, "RFC 7504"));
    CHECK(contains_ci(i.meaning, "does not accept mail"));
    i = explain(555);
    CHECK(contains(i.rfc, "RFC 5321 §4.1.1.11"));
    CHECK(contains(i.meaning, "parameters not recognized"));
    i = explain(455);
    CHECK(contains(i.rfc, "RFC 5321 §4.1.1.11"));
    i = explain(556);
    CHECK(contains(i.rfc, "RFC 7504"));
    i = explain(453);
    CHECK(contains(i.rfc, "RFC 2645"));
    CHECK(contains_ci(i.meaning, "no mail"));
    i = explain(253);
    CHECK(contains(i.rfc, "RFC 1985"));
    i = explain(355); /* RFC 1845: Experimental, says so */
    CHECK(contains(i.rfc, "RFC 1845"));
    CHECK(contains(i.notes, "Experimental"));
    i = explain(200);
    CHECK_EQ_U(i.status, SMTPREPLY_STATUS_NON_STANDARD);
    CHECK(contains(i.notes, "RFC 876"));
    CHECK_EQ_U(i.retry, SMTPREPLY_RETRY_DONE);
    i = explain(523);
    CHECK_EQ_U(i.status, SMTPREPLY_STATUS_REGISTRY);
    CHECK(contains(i.rfc, "X.7.10"));
    CHECK_EQ_U(explain(510).status, SMTPREPLY_STATUS_NON_STANDARD);
    CHECK_EQ_U(explain(512).status, SMTPREPLY_STATUS_NON_STANDARD);
    CHECK_EQ_U(explain(541).status, SMTPREPLY_STATUS_NON_STANDARD);
    i = explain(538);
    CHECK(i.status == SMTPREPLY_STATUS_HISTORIC || contains_ci(i.notes, "deprecated"));
    /* invalid, in the table and not */
    static const unsigned invalid[] = {101, 471, 571, 600, 0, 99, 169, 299, 465, 999};
    for (size_t k = 0; k < sizeof invalid / sizeof invalid[0]; k++) {
        i = explain(invalid[k]);
        CHECK_EQ_U(i.status, SMTPREPLY_STATUS_INVALID);
        if (invalid[k] / 100 >= 2 && invalid[k] / 100 <= 5)
            CHECK_EQ_U(i.retry, invalid[k] / 100 - 2); /* 471: transient, 571: permanent */
        else
            CHECK_EQ_U(i.retry, SMTPREPLY_RETRY_ABORT);
        CHECK(i.meaning[0] != '\0');
    }
    CHECK(explain(101).in_table && explain(471).in_table && explain(571).in_table);
    CHECK(contains(explain(471).notes, "4.7.1"));
    CHECK_EQ_S(explain(600).class_name, "Invalid");
    CHECK_EQ_S(explain(270).category_name, "Invalid");
    /* unassigned: explained from the digits (RFC 5321 §4.2) */
    i = explain(259);
    CHECK_EQ_U(i.status, SMTPREPLY_STATUS_UNASSIGNED);
    CHECK(!i.in_table);
    CHECK(contains(i.meaning, "positive completion"));
    CHECK(contains(i.meaning, "mail system"));
    CHECK_EQ_S(i.class_name, "Positive Completion");
    CHECK_EQ_S(i.category_name, "Mail system");
    CHECK_EQ_U(explain(432).retry, SMTPREPLY_RETRY_LATER);
    CHECK_EQ_U(explain(354).retry, SMTPREPLY_RETRY_CONTINUE);
    CHECK_EQ_U(explain(550).retry, SMTPREPLY_RETRY_NEVER);
    i = explain(516); /* 5.1.6 is registered: the dots-removed note */
    CHECK_EQ_U(i.status, SMTPREPLY_STATUS_UNASSIGNED);
    CHECK(contains(i.notes, "5.1.6"));
    i = explain(576);
    CHECK_EQ_U(i.status, SMTPREPLY_STATUS_INVALID);
    CHECK(contains(i.notes, "5.7.6"));
    CHECK(!smtpreply_code_explain(1000, &i));

    /* Which commands may return a code: derived from commands.def. */
    n = smtpreply_code_commands(500, verbs, SMTPREPLY_CMD__COUNT + 1);
    CHECK(n >= 1 && strcmp(verbs[0], "ANY") == 0);
    n = smtpreply_code_commands(235, verbs, SMTPREPLY_CMD__COUNT + 1);
    CHECK(n == 1 && strcmp(verbs[0], "AUTH") == 0);
    n = smtpreply_code_commands(253, verbs, SMTPREPLY_CMD__COUNT + 1);
    CHECK(n == 1 && strcmp(verbs[0], "ETRN") == 0);
    n = smtpreply_code_commands(220, verbs, SMTPREPLY_CMD__COUNT + 1);
    CHECK(n == 2 && strcmp(verbs[0], "CONNECT") == 0 && strcmp(verbs[1], "STARTTLS") == 0);
    n = smtpreply_code_commands(556, verbs, SMTPREPLY_CMD__COUNT + 1);
    CHECK(n == 1 && strcmp(verbs[0], "RCPT") == 0);
    n = smtpreply_code_commands(200, verbs, SMTPREPLY_CMD__COUNT + 1);
    CHECK_EQ_U(n, 0);
    n = smtpreply_code_commands(550, verbs, 1); /* more than fit: count all */
    CHECK(n > 1);

    /* status names are the six words of the issue */
    CHECK_EQ_S(smtpreply_status_name(SMTPREPLY_STATUS_STANDARD), "standard");
    CHECK_EQ_S(smtpreply_status_name(SMTPREPLY_STATUS_REGISTRY), "registry");
    CHECK_EQ_S(smtpreply_status_name(SMTPREPLY_STATUS_HISTORIC), "historic");
    CHECK_EQ_S(smtpreply_status_name(SMTPREPLY_STATUS_NON_STANDARD), "non-standard");
    CHECK_EQ_S(smtpreply_status_name(SMTPREPLY_STATUS_INVALID), "invalid");
    CHECK_EQ_S(smtpreply_status_name(SMTPREPLY_STATUS_UNASSIGNED), "unassigned");
    CHECK_EQ_S(smtpreply_status_name(SMTPREPLY_STATUS__COUNT), "");
    for (int r = SMTPREPLY_RETRY_DONE; r <= SMTPREPLY_RETRY_ABORT; r++)
        CHECK(smtpreply_retry_advice((enum smtpreply_retry)r)[0] != '\0');
}

static void check_list_next(void)
{
    const char *cur = "a|bc||d", *item;
    size_t len = 0;
    item = smtpreply_list_next(&cur, &len);
    CHECK(item && len == 1 && item[0] == 'a');
    item = smtpreply_list_next(&cur, &len);
    CHECK(item && len == 2 && memcmp(item, "bc", 2) == 0);
    item = smtpreply_list_next(&cur, &len);
    CHECK(item && len == 0);
    item = smtpreply_list_next(&cur, &len);
    CHECK(item && len == 1 && item[0] == 'd');
    CHECK(smtpreply_list_next(&cur, &len) == NULL);
    cur = "";
    CHECK(smtpreply_list_next(&cur, &len) == NULL);
    CHECK(smtpreply_list_next(NULL, &len) == NULL);
}

int main(void)
{
    check_seeds();
    check_invariants();
    check_contexts();
    check_rfc_answers();
    check_list_next();
    return CHECK_DONE();
}
