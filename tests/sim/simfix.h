/**
 * @file simfix.h
 * @brief Shared fixture of the simulator suites: one private, small
 * southbound-sim per test (started in .init, stopped in .fini).
 */
#ifndef PV_TESTS_SIM_SIMFIX_H
#define PV_TESTS_SIM_SIMFIX_H

#include "tests/sim/simhttp.h"
#include "tests/support/simproc.h"

#include <criterion/criterion.h>
#include <stdio.h>

extern pv_sim_t sim;

/** Small inventory: 2 OLTs x 4 ONUs, 20 CPEs, 2 small prefixes. */
void simfix_start(void);
/** The same plus extra arguments (NULL-terminated). */
void simfix_start_args(const char *const *extra);
void simfix_stop(void);

/** url = base + path (printf-style path). */
#define SIMURL(buf, base, ...)                                        \
  do {                                                                \
    int n_ = snprintf((buf), sizeof(buf), "%s", (base));              \
    snprintf((buf) + n_, sizeof(buf) - (size_t)n_, __VA_ARGS__);      \
  } while (0)

#endif
