/* SPDX-License-Identifier: MIT */
/*
 * check.h - the smallest test harness that says what failed and where.
 * CHECK(cond) and CHECK_EQ_*(a, b) count failures; CHECK_DONE() prints the
 * "N passed, N failed" line and returns the exit status.
 */
#ifndef SMTPREPLY_CHECK_H
#define SMTPREPLY_CHECK_H
#include <stdio.h>
#include <string.h>

static unsigned check_passed, check_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            check_passed++;                                                          \
        } else {                                                                     \
            check_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                      \
    do {                                                                                      \
        unsigned long long check_a_ = (unsigned long long)(a);                                \
        unsigned long long check_b_ = (unsigned long long)(b);                                \
        if (check_a_ == check_b_) {                                                           \
            check_passed++;                                                                   \
        } else {                                                                              \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", __FILE__, __LINE__, #a, \
                    #b, check_a_, check_b_);                                                  \
        }                                                                                     \
    } while (0)

#define CHECK_EQ_S(a, b)                                                                      \
    do {                                                                                      \
        const char *check_a_ = (a), *check_b_ = (b);                                          \
        if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                        \
            check_passed++;                                                                   \
        } else {                                                                              \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
                    #a, #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");  \
        }                                                                                     \
    } while (0)

#define CHECK_DONE() \
    (printf("%u passed, %u failed\n", check_passed, check_failed), check_failed ? 1 : 0)

#endif
