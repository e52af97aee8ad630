#include "transports/classify.h"

pv_attempt_kind_t pv_classify_curl(CURLcode code, bool sent)
{
  switch (code) {
  case CURLE_OK:
    return PV_ATT_HTTP;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
    return PV_ATT_CONNECT;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    return PV_ATT_TLS_VERIFY;
  case CURLE_OPERATION_TIMEDOUT:
    /* Nothing sent yet means we were still connecting. */
    return sent ? PV_ATT_TIMEOUT : PV_ATT_CONNECT;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_UNSUPPORTED_PROTOCOL:
    /* UNSUPPORTED_PROTOCOL: curl 7.88 also reports a garbled status line
     * this way; it is the server's fault, not ours. */
    return sent ? PV_ATT_RESET : PV_ATT_CONNECT;
  case CURLE_WRITE_ERROR:
    /* Our write callback refused the body: only the size cap does that. */
    return PV_ATT_TOO_LARGE;
  default:
    return PV_ATT_LOCAL;
  }
}

pv_verdict_t pv_classify(const pv_attempt_result_t *r, bool idempotent)
{
  pv_verdict_t v = {false, false, PV_BRK_NEUTRAL, PV_ERR_INTERNAL};
  long st = r->status;

  switch (r->kind) {
  case PV_ATT_HTTP:
    if (st >= 200 && st < 400) {
      v.breaker = PV_BRK_SUCCESS;
      v.cls = PV_ERR_NONE;
    } else if (st == 429) {
      v.retry = true;
      v.honour_retry_after = true;
      v.breaker = PV_BRK_NEUTRAL;
      v.cls = PV_ERR_RATE_LIMITED;
    } else if (st == 503) {
      v.retry = true;
      v.honour_retry_after = true;
      v.breaker = PV_BRK_FAILURE;
      v.cls = PV_ERR_HTTP_5XX;
    } else if (st == 502 || st == 504) {
      v.retry = idempotent;
      v.breaker = PV_BRK_FAILURE;
      v.cls = PV_ERR_HTTP_5XX;
    } else if (st >= 500 && st < 600) {
      v.breaker = PV_BRK_FAILURE;
      v.cls = PV_ERR_HTTP_5XX;
    } else if (st >= 400 && st < 500) {
      v.breaker = PV_BRK_NEUTRAL;
      v.cls = PV_ERR_HTTP_4XX;
    } else {
      /* 1xx as final, or a status outside 100-599: a broken server. */
      v.breaker = PV_BRK_FAILURE;
      v.cls = PV_ERR_HTTP_5XX;
    }
    break;
  case PV_ATT_CONNECT:
    v.retry = true; /* the request never left: always safe */
    v.breaker = PV_BRK_FAILURE;
    v.cls = PV_ERR_CONNECT;
    break;
  case PV_ATT_TLS_VERIFY:
    v.breaker = PV_BRK_FAILURE;
    v.cls = PV_ERR_CONNECT;
    break;
  case PV_ATT_TIMEOUT:
    v.retry = idempotent || !r->sent;
    v.breaker = PV_BRK_FAILURE;
    v.cls = r->sent && !idempotent ? PV_ERR_OUTCOME_UNKNOWN : PV_ERR_TIMEOUT;
    break;
  case PV_ATT_RESET:
    v.retry = idempotent || !r->sent;
    v.breaker = PV_BRK_FAILURE;
    v.cls = r->sent && !idempotent ? PV_ERR_OUTCOME_UNKNOWN : PV_ERR_CONNECT;
    break;
  case PV_ATT_TOO_LARGE:
    v.breaker = PV_BRK_NEUTRAL;
    if (st >= 500)
      v.cls = PV_ERR_HTTP_5XX;
    else if (st >= 400)
      v.cls = PV_ERR_HTTP_4XX;
    else
      v.cls = PV_ERR_INTERNAL;
    break;
  case PV_ATT_LOCAL:
  default:
    break;
  }
  return v;
}

long pv_attempt_timeout(long timeout_ms, int64_t deadline_ms,
                        int64_t now_wall_ms, bool *capped)
{
  *capped = false;
  if (!deadline_ms)
    return timeout_ms;
  int64_t left = deadline_ms - now_wall_ms;
  if (left <= 0)
    return 0;
  if (left < timeout_ms) {
    *capped = true;
    return (long)left;
  }
  return timeout_ms;
}
