/*
 * unit.h: a tiny unit-test runner for Postern's C tests.
 *
 * A test file defines functions with TEST(name) and lists them in main() with RUN(name); CHECK()
 * and CHECK_STR() record failures without stopping the test. UNIT_MAIN_END prints one summary line
 * per file ("unit: test_x: N passed, N failed") that scripts/run-unit.sh adds up.
 */
#ifndef POSTERN_UNIT_H
#define POSTERN_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_current_failed;

#define TEST(name) static void name(void)

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #expr);            \
            unit_current_failed = 1;                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {                           \
            fprintf(stderr, "  %s:%d: %s: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got,    \
                    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                       \
            unit_current_failed = 1;                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_) {                                                                            \
            fprintf(stderr, "  %s:%d: %s: got %lld, want %lld\n", __FILE__, __LINE__, #got, g_,   \
                    w_);                                                                           \
            unit_current_failed = 1;                                                               \
        }                                                                                          \
    } while (0)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        unit_current_failed = 0;                                                                   \
        name();                                                                                    \
        if (unit_current_failed) {                                                                 \
            unit_failed++;                                                                         \
            fprintf(stderr, "FAIL %s\n", #name);                                                   \
        } else {                                                                                   \
            unit_passed++;                                                                         \
        }                                                                                          \
    } while (0)

#define UNIT_MAIN_END(file)                                                                        \
    do {                                                                                           \
        printf("unit: %s: %d passed, %d failed\n", file, unit_passed, unit_failed);                \
        return unit_failed ? 1 : 0;                                                                \
    } while (0)

#endif
