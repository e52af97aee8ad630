/**
 * @file testenv.h
 * @brief Small helpers every test suite shares: where the build is, and
 * reading the dev stack's addresses from the environment.
 */
#ifndef PV_TESTS_TESTENV_H
#define PV_TESTS_TESTENV_H

/** @returns the build directory ($PV_BUILD_DIR, set by ctest). */
const char *pv_test_build_dir(void);
/** @returns the source directory ($PV_SOURCE_DIR, set by ctest). */
const char *pv_test_source_dir(void);
/**
 * @returns the value of an environment variable the test needs; fails the
 * test with a message naming the variable and `make up` when it is unset.
 */
const char *pv_test_require_env(const char *name);

/** @returns a TCP port of 127.0.0.1 that was free when asked (the kernel's
 *  pick; a race with other programs is possible but rare). */
int pv_test_free_port(void);
/** @brief Sleeps ms milliseconds. */
void pv_test_sleep_ms(long ms);
/** @returns the monotonic clock in milliseconds. */
long long pv_test_now_ms(void);

#endif
