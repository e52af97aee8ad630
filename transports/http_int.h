/**
 * @file http_int.h
 * @brief The transport's parsing of response header lines, exposed for the
 * fuzz targets and their replay tests (fuzz/). Private to transports/ and
 * fuzz/: the clients read the parsed values from pv_http_response_t.
 *
 * @locality any thread (pure: touches only what it is given).
 */
#ifndef PV_TRANSPORTS_HTTP_INT_H
#define PV_TRANSPORTS_HTTP_INT_H

#include "transports/http.h"

#include <stddef.h>

/** Bytes kept of a Retry-After value, NUL included (longer ones are cut,
 *  and a cut value no longer parses: the backoff applies instead). */
#define PV_HTTP_RETRY_AFTER_MAX 48

/**
 * @brief Forgets what earlier header lines set: reason, content_type,
 * total, grpc_status, grpc_message, etag and retry_after. Status, body and
 * the rest of resp are left alone.
 * @param retry_after PV_HTTP_RETRY_AFTER_MAX bytes.
 */
void pv_http_header_reset(pv_http_response_t *resp, char *retry_after);

/**
 * @brief Takes one header line as curl hands it (CRLF included, not
 * NUL-terminated, any bytes): a status line ("HTTP/...") starts a new
 * response and keeps its reason phrase; Content-Type, Total, grpc-status,
 * grpc-message, ETag and Retry-After are kept, cleaned to printable bytes
 * and cut to their fields' sizes; numbers out of range are ignored.
 * @param retry_after PV_HTTP_RETRY_AFTER_MAX bytes, raw value for
 *        pv_retry_after_parse().
 */
void pv_http_header_line(pv_http_response_t *resp, char *retry_after,
                         const char *line, size_t len);

#endif
