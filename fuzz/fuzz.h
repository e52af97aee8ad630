/**
 * @file fuzz.h
 * @brief What every fuzz target shares: the libFuzzer entry points and the
 * check that turns a broken invariant into a crash.
 *
 * A target is one .c file defining LLVMFuzzerTestOneInput (and, if it
 * needs set-up, LLVMFuzzerInitialize). The same file links two ways:
 * with libFuzzer (clang, -fsanitize=fuzzer: build-fuzz/, `make fuzz`), and
 * with fuzz/replay.c as a plain program that runs it over the seed corpus
 * and the regression inputs (any compiler: the `fuzz` tests of `make
 * test`).
 *
 * A parser that returns an error is fine; a crash, a sanitizer report, a
 * hang or a broken PV_FUZZ_CHECK is a finding.
 *
 * @locality the fuzzing thread (targets keep static state for speed).
 */
#ifndef PV_FUZZ_FUZZ_H
#define PV_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * @brief Aborts naming the invariant when cond is false: libFuzzer keeps
 * the input as a crash, the replay test fails on it.
 */
#define PV_FUZZ_CHECK(cond, ...)                                              \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__,    \
              #cond);                                                         \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
      abort();                                                                \
    }                                                                         \
  } while (0)

/** @returns 1 if s[0..size) holds a NUL and no byte below 0x20 or 0x7f
 *  before it: a field that is safe in a log line or a message. */
static inline int pv_fuzz_printable(const char *s, size_t size)
{
  for (size_t i = 0; i < size; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0)
      return 1;
    if (c < 0x20 || c == 0x7f)
      return 0;
  }
  return 0;
}

#endif
