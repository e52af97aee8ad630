/**
 * @file echosrv.h
 * @brief A tiny HTTP/1.1 server for tests, on 127.0.0.1 and a port of its
 * own, that answers each request with bytes the test builds from the
 * request (method, path, Authorization value): raw status line, headers
 * and body, so a test can send what no real server would, e.g. a reason
 * phrase quoting the caller's token. One connection at a time, closed
 * after each answer.
 *
 * @locality its own thread; the builder runs there.
 */
#ifndef PV_TESTS_SUPPORT_ECHOSRV_H
#define PV_TESTS_SUPPORT_ECHOSRV_H

#include "common/buf.h"

typedef struct pv_echo pv_echo_t;

/** Appends the whole answer (status line, headers, blank line, body) to
 *  out. authorization is "" when the request had none. */
typedef void (*pv_echo_fn)(const char *method, const char *path,
                           const char *authorization, pv_buf_t *out,
                           void *arg);

/** @brief Starts listening; fails the test if it cannot. */
pv_echo_t *pv_echo_start(pv_echo_fn fn, void *arg);
/** @returns the port it listens on. */
int pv_echo_port(const pv_echo_t *echo);
/** @returns requests answered so far. */
int pv_echo_requests(pv_echo_t *echo);
/** @brief Stops the thread and frees. NULL is fine. */
void pv_echo_stop(pv_echo_t *echo);

#endif
