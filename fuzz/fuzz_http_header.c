/*
 * Fuzz target: a response's header block as curl hands it to the
 * transport, one line per callback (transports/http.c through
 * http_int.h), and what is then read from the captured values: the
 * Retry-After delay, the content type of a record, the gRPC status of a
 * VOLTHA answer (the clients' error for it).
 *
 * Input: the header block; each line (up to and with its '\n') is one
 * call, as curl delivers "Name: value\r\n".
 *
 * Checks: every captured field stays NUL-terminated in its array,
 * printable (they reach log lines and error messages) and valid UTF-8
 * (they reach JSON replies: jansson refuses anything else); numbers stay in
 * their documented ranges; the delay is bounded; a gRPC error is an error
 * with a class, the mapped HTTP status and a single-line message.
 */
#include "fuzz/fuzz.h"

#include "jobs/job.h"
#include "transports/client_int.h"
#include "transports/http_int.h"
#include "transports/retry_after.h"

#include <string.h>

#define FIELD_OK(f) (pv_fuzz_printable((f), sizeof(f)) && utf8_ok(f))

static bool utf8_ok(const char *s)
{
  json_t *j = json_string(s); /* NULL if s is not valid UTF-8 */
  json_decref(j);
  return j != NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  return 0;
}

static void check_grpc(const pv_http_response_t *resp)
{
  pv_error_t err;
  memset(&err, 0, sizeof(err));
  bool failed = pv_client_grpc_error(resp, &err);
  PV_FUZZ_CHECK(failed == (resp->grpc_status > 0), "grpc_status %d -> %d",
                resp->grpc_status, failed);
  if (!failed)
    return;
  PV_FUZZ_CHECK(err.cls != PV_ERR_NONE, "no class");
  PV_FUZZ_CHECK(err.http_status ==
                    pv_client_grpc_http_status(resp->grpc_status),
                "http_status %d", err.http_status);
  PV_FUZZ_CHECK(FIELD_OK(err.message), "message not a printable line");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pv_http_response_t resp;
  char retry_after[PV_HTTP_RETRY_AFTER_MAX];
  memset(&resp, 0, sizeof(resp));
  pv_http_header_reset(&resp, retry_after);

  const char *p = (const char *)data, *end = p + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
    pv_http_header_line(&resp, retry_after, p, len);
    p += len;
  }

  PV_FUZZ_CHECK(FIELD_OK(resp.reason), "reason");
  PV_FUZZ_CHECK(FIELD_OK(resp.content_type), "content_type");
  PV_FUZZ_CHECK(FIELD_OK(resp.grpc_message), "grpc_message");
  PV_FUZZ_CHECK(FIELD_OK(resp.etag), "etag");
  PV_FUZZ_CHECK(pv_fuzz_printable(retry_after, PV_HTTP_RETRY_AFTER_MAX) &&
                    utf8_ok(retry_after),
                "retry_after");
  PV_FUZZ_CHECK(resp.total >= -1 && resp.total <= 1000000000000000LL,
                "total %lld", resp.total);
  PV_FUZZ_CHECK(resp.grpc_status >= -1 && resp.grpc_status <= 1000,
                "grpc_status %d", resp.grpc_status);

  int64_t delay = -1;
  if (pv_retry_after_parse(retry_after, strlen(retry_after), 1767225600000LL,
                           &delay) == 0)
    PV_FUZZ_CHECK(delay >= 0 && delay <= PV_RETRY_AFTER_MAX_S * 1000,
                  "delay %lld", (long long)delay);

  int fmt = pv_format_from_content_type(resp.content_type);
  PV_FUZZ_CHECK(fmt == -1 || fmt == PV_FMT_MSGPACK || fmt == PV_FMT_JSON,
                "format %d", fmt);

  check_grpc(&resp);

  /* A Kafka record's content-type header is any bytes the producer sent
   * (the engine takes it when it holds no NUL): the same parse, raw. */
  char *raw = malloc(size + 1);
  if (raw) {
    memcpy(raw, data, size);
    raw[size] = '\0';
    fmt = pv_format_from_content_type(raw);
    PV_FUZZ_CHECK(fmt == -1 || fmt == PV_FMT_MSGPACK || fmt == PV_FMT_JSON,
                  "format %d", fmt);
    free(raw);
  }
  return 0;
}
