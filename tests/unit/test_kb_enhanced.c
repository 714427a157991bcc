/* SPDX-License-Identifier: MIT */
/*
 * test_kb_enhanced.c - RFC 3463 parsing, the IANA registry (every row
 * parses and round-trips), the RFC 3463 §2 fallbacks, and the enhanced
 * codes of the user's seed list (read from ../shared when present).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb.h"
#include "smtpreply.h"

static size_t parse(const char *s, struct smtpreply_esc *e)
{
    return smtpreply_esc_parse(s, strlen(s), e);
}

static void check_parser(void)
{
    struct smtpreply_esc e;
    static const struct {
        const char *s;
        size_t n;
        unsigned c, sub, det;
    } good[] = {
        {"5.1.1", 5, 5, 1, 1},         {"2.0.0 Ok", 5, 2, 0, 0},    {"4.7.12\tx", 6, 4, 7, 12},
        {"5.999.999", 9, 5, 999, 999}, {"4.4.316 x", 7, 4, 4, 316}, {"5.0.0", 5, 5, 0, 0},
        {"2.6.10", 6, 2, 6, 10},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        memset(&e, 0xff, sizeof e);
        CHECK_EQ_U(parse(good[i].s, &e), good[i].n);
        CHECK_EQ_U(e.cls, good[i].c);
        CHECK_EQ_U(e.subject, good[i].sub);
        CHECK_EQ_U(e.detail, good[i].det);
    }
    /* RFC 3463 §2: class 2/4/5; 1-3 digits; no leading zeros; whole token */
    static const char *const bad[] = {
        "5.01.1", "6.1.1", "5.1.1000", "5.1",      "5.1.",   "5..1",  "5.1.1x",
        "05.1.1", "3.1.1", "1.1.1",    "5.1.01",   "5.1.1.", "",      "5",
        "5.",     ".1.1",  "5.1.1,",   "5.0001.1", "5-1-1",  "x.1.1", "5.1.1:",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &e) != 0)
            fprintf(stderr, "accepted bad enhanced code \"%s\"\n", bad[i]);
        CHECK_EQ_U(parse(bad[i], &e), 0);
    }
    /* the length bounds the input: no NUL needed, none read past len */
    CHECK_EQ_U(smtpreply_esc_parse("5.1.10", 5, &e), 5);
    CHECK_EQ_U(e.detail, 1);
    CHECK_EQ_U(smtpreply_esc_parse("5.1.1", 4, &e), 0);
    CHECK_EQ_U(smtpreply_esc_parse(NULL, 5, &e), 0);
    CHECK_EQ_U(smtpreply_esc_parse("5.1.1", 5, NULL), 5);

    /* format */
    char buf[16];
    struct smtpreply_esc f = {5, 7, 30};
    CHECK_EQ_S(smtpreply_esc_format(&f, buf, sizeof buf), "5.7.30");
    f = (struct smtpreply_esc){4, 999, 0};
    CHECK_EQ_S(smtpreply_esc_format(&f, buf, 12), "4.999.0");
    CHECK_EQ_S(smtpreply_esc_format(&f, buf, 5), ""); /* too small: empty, no overflow */
}

static void check_registry(void)
{
    struct smtpreply_esc code;
    struct smtpreply_esc_info info;
    unsigned per_subject[8] = {0};
    unsigned prev = 0;
    size_t n = 0;
    int saw_deprecated = 0;

    for (size_t i = 0; smtpreply_esc_at(i, &code, &info); i++, n++) {
        unsigned key = code.subject * 1000u + code.detail;
        CHECK_EQ_U(code.cls, 0);
        if (i > 0)
            CHECK(key > prev); /* sorted, no duplicates */
        prev = key;
        CHECK(code.subject <= 7);
        if (code.subject <= 7)
            per_subject[code.subject]++;
        CHECK_EQ_U(info.status, SMTPREPLY_STATUS_STANDARD);
        CHECK(info.meaning[0] != '\0');
        CHECK(info.subject_name[0] != '\0');
        CHECK(info.rfc[0] != '\0');
        if (strstr(info.notes, "eprecated"))
            saw_deprecated = 1;
        /* every row, in every class, formats, parses back and explains to
         * itself */
        static const unsigned classes[] = {2, 4, 5};
        for (size_t k = 0; k < 3; k++) {
            char text[16];
            struct smtpreply_esc e = {(uint8_t)classes[k], code.subject, code.detail}, back;
            struct smtpreply_esc_info ex;
            smtpreply_esc_format(&e, text, sizeof text);
            CHECK_EQ_U(parse(text, &back), strlen(text));
            CHECK(back.cls == e.cls && back.subject == e.subject && back.detail == e.detail);
            smtpreply_esc_explain(&back, &ex);
            CHECK_EQ_U(ex.status, SMTPREPLY_STATUS_STANDARD);
            CHECK_EQ_S(ex.meaning, info.meaning);
            CHECK_EQ_S(ex.rfc, info.rfc);
            CHECK(ex.class_name[0] != '\0');
        }
        /* associated basic codes are valid reply codes */
        const char *cur = info.assoc, *item;
        size_t len;
        while ((item = smtpreply_list_next(&cur, &len)) != NULL) {
            CHECK_EQ_U(len, 3);
            CHECK(item[0] >= '2' && item[0] <= '5' && item[1] >= '0' && item[1] <= '5');
        }
    }
    /* the IANA registry (RFC 5248) X.0.0 ... X.7.30: 81 rows */
    CHECK_EQ_U(n, 81);
    CHECK_EQ_U(n, smtpreply_esc_count());
    static const unsigned want[8] = {1, 11, 5, 7, 8, 7, 11, 31};
    for (int s = 0; s < 8; s++)
        CHECK_EQ_U(per_subject[s], want[s]);
    CHECK(saw_deprecated); /* X.6.10 */

    /* specific rows */
    struct smtpreply_esc e;
    parse("5.1.1", &e);
    smtpreply_esc_explain(&e, &info);
    CHECK_EQ_S(info.meaning, "Bad destination mailbox address");
    CHECK_EQ_S(info.subject_name, "Addressing Status");
    CHECK_EQ_S(info.class_name, "Permanent Failure");
    CHECK_EQ_S(info.assoc, "451|550");
    parse("4.7.12", &e);
    smtpreply_esc_explain(&e, &info);
    CHECK(strstr(info.meaning, "password transition") != NULL);
    CHECK(strstr(info.rfc, "RFC 4954") != NULL);
    parse("5.7.30", &e);
    smtpreply_esc_explain(&e, &info);
    CHECK(strstr(info.rfc, "RFC 8689") != NULL);
    parse("2.6.10", &e);
    smtpreply_esc_explain(&e, &info);
    CHECK(strstr(info.notes, "eprecated") != NULL);
}

static void check_fallbacks(void)
{
    struct smtpreply_esc e;
    struct smtpreply_esc_info info;
    /* unknown detail: the subject (RFC 3463 §2) */
    parse("5.1.99", &e);
    smtpreply_esc_explain(&e, &info);
    CHECK_EQ_U(info.status, SMTPREPLY_STATUS_UNASSIGNED);
    CHECK_EQ_S(info.subject_name, "Addressing Status");
    CHECK_EQ_S(info.meaning, "Addressing Status");
    parse("5.7.31", &e); /* nothing past X.7.30 was registered */
    smtpreply_esc_explain(&e, &info);
    CHECK_EQ_U(info.status, SMTPREPLY_STATUS_UNASSIGNED);
    CHECK_EQ_S(info.subject_name, "Security or Policy Status");
    /* unknown subject: the class */
    parse("4.9.1", &e);
    smtpreply_esc_explain(&e, &info);
    CHECK_EQ_U(info.status, SMTPREPLY_STATUS_UNASSIGNED);
    CHECK_EQ_S(info.subject_name, "");
    CHECK_EQ_S(info.class_name, "Persistent Transient Failure");
    CHECK(strstr(info.meaning, "transient") != NULL);
    /* invalid structs (built by hand, not parsed) */
    e = (struct smtpreply_esc){6, 1, 1};
    smtpreply_esc_explain(&e, &info);
    CHECK_EQ_U(info.status, SMTPREPLY_STATUS_INVALID);
    e = (struct smtpreply_esc){5, 1, 1000};
    smtpreply_esc_explain(&e, &info);
    CHECK_EQ_U(info.status, SMTPREPLY_STATUS_INVALID);

    /* class vs basic code (RFC 3463 §2, RFC 2034 §4) */
    parse("5.1.1", &e);
    CHECK(smtpreply_esc_class_agrees(550, &e));
    CHECK(!smtpreply_esc_class_agrees(450, &e));
    CHECK(!smtpreply_esc_class_agrees(354, &e));
    CHECK(!smtpreply_esc_class_agrees(550, NULL));

    /* the dots-removed heuristic */
    struct smtpreply_esc d;
    const char *note = smtpreply_code_dotted_note(534, &d);
    CHECK(note && strstr(note, "5.3.4") && strstr(note, "Message too big for system"));
    CHECK(d.cls == 5 && d.subject == 3 && d.detail == 4);
    CHECK(smtpreply_code_dotted_note(557, NULL) == NULL); /* 5.5.7 unregistered */
    CHECK(smtpreply_code_dotted_note(101, NULL) == NULL); /* class 1 */
    CHECK(smtpreply_code_dotted_note(4000, NULL) == NULL);

    /* subjects */
    unsigned subject;
    const char *name, *rfc, *scope;
    size_t ns = 0;
    while (smtpreply_esc_subject_at(ns, &subject, &name, &rfc, &scope)) {
        CHECK_EQ_U(subject, ns);
        CHECK(name[0] && scope[0] && strncmp(rfc, "RFC 3463 §3.", 13) == 0);
        ns++;
    }
    CHECK_EQ_U(ns, 8);
}

/* Seed 003 lists "x.S.D Name" rows: every one is in the registry. */
static void check_seed_enhanced(void)
{
    char dir[4096];
    const char *shared = getenv("SHARED");
    DIR *d;
    struct dirent *de;
    unsigned found = 0;

    snprintf(dir, sizeof dir, "%s/seeds", shared && *shared ? shared : SHARED_DIR);
    d = opendir(dir);
    if (!d) {
        printf("seeds not found: skipped\n");
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char path[8192], line[4096];
        FILE *f;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        while (fgets(line, sizeof line, f)) {
            struct smtpreply_esc e;
            struct smtpreply_esc_info info;
            char *sp;
            if ((line[0] != 'x' && line[0] != 'X') || line[1] != '.')
                continue;
            line[0] = '5';
            sp = strpbrk(line, " \t\r\n");
            if (!sp || smtpreply_esc_parse(line, (size_t)(sp - line), &e) == 0)
                continue;
            found++;
            smtpreply_esc_explain(&e, &info);
            CHECK_EQ_U(info.status, SMTPREPLY_STATUS_STANDARD);
        }
        fclose(f);
    }
    closedir(d);
    printf("seed enhanced codes: %u\n", found);
    CHECK(found >= 30);
}

int main(void)
{
    check_parser();
    check_registry();
    check_fallbacks();
    check_seed_enhanced();
    return CHECK_DONE();
}
