/**
 * @file trace.h
 * @brief The W3C Trace Context `traceparent` header a job may carry
 * (forwarded to every southbound request of the job).
 *
 * @locality any thread (pure).
 */
#ifndef PV_JOBS_TRACE_H
#define PV_JOBS_TRACE_H

#include <stdbool.h>
#include <stddef.h>

/** Longest traceparent forwarded (a later version may append fields). */
#define PV_TRACEPARENT_MAX 256

/**
 * @brief Checks a traceparent value of len bytes against W3C Trace Context
 * (level 1, section 3.2): version, trace-id, parent-id and trace-flags as
 * lowercase hex separated by '-'; version "ff", an all-zero trace-id and
 * an all-zero parent-id are invalid; version 00 is exactly 55 bytes; a
 * later version may continue after byte 55 with '-' and visible ASCII, up
 * to PV_TRACEPARENT_MAX bytes.
 * @param why set to a short reason (static text) when invalid; may be NULL.
 * @returns true if valid.
 */
bool pv_traceparent_valid(const char *s, size_t len, const char **why);

#endif
