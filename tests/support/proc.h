/**
 * @file proc.h
 * @brief Runs a program of ours as a child process in a test: with extra
 * environment, output to a log file, and a stop that escalates from a
 * signal to SIGKILL.
 */
#ifndef PV_TESTS_PROC_H
#define PV_TESTS_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/**
 * @brief Starts argv[0] (a path) with argv, adding env ("NAME=value",
 * NULL-terminated, may be NULL) to the environment, stdout and stderr
 * appended to log_path (NULL: inherited). @returns the pid, or -1.
 */
pid_t pv_proc_start(const char *const *argv, const char *const *env,
                    const char *log_path);

/**
 * @brief Sends sig and waits up to timeout_ms for the exit, then SIGKILL.
 * @returns the exit status as from waitpid (use WIFEXITED...), or -1.
 */
int pv_proc_stop(pid_t pid, int sig, int timeout_ms);

/** @returns true if the child is still running (reaps it if it exited). */
bool pv_proc_alive(pid_t pid, int *status);

/**
 * @brief Waits until path contains needle (e.g. a log line), up to
 * timeout_ms. @returns true if it appeared.
 */
bool pv_proc_wait_for_text(const char *path, const char *needle,
                           int timeout_ms);

#endif
