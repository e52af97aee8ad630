/*
 * Fuzz target: a Kafka record's value as the worker reads it. Built twice:
 * job_msgpack (PV_FUZZ_FORMAT=PV_FMT_MSGPACK) and job_json (PV_FMT_JSON).
 *
 * 1. The envelope: pv_job_decode() then pv_job_validate() (the catalog's
 *    argument schema, order steps included). A decoded job must hold what
 *    job.h promises: v 1, printable bounded id/tenant/service/op, a valid
 *    topic name in reply_to, args an object, deadline and max_attempts in
 *    range. A refusal must carry the class and a message that is one
 *    printable line of UTF-8 (it goes into the dead letter and the reply).
 * 2. The document codecs: decode -> encode -> decode gives the same
 *    document, in the record's own format and in the other one, and a
 *    second encoding gives the same bytes (the encoders are deterministic:
 *    replies stored in PostgreSQL are compared byte for byte on replay).
 */
#include "fuzz/fuzz.h"

#include "jobs/job.h"

#include <string.h>

#ifndef PV_FUZZ_FORMAT
#error "build with -DPV_FUZZ_FORMAT=PV_FMT_MSGPACK or PV_FMT_JSON"
#endif

static void check_error(const pv_error_t *err, pv_errclass_t want_a,
                        pv_errclass_t want_b)
{
  PV_FUZZ_CHECK(err->cls == want_a || err->cls == want_b,
                "class %s", pv_errclass_name(err->cls));
  PV_FUZZ_CHECK(err->message[0] != '\0', "empty message");
  PV_FUZZ_CHECK(pv_fuzz_printable(err->message, sizeof(err->message)),
                "message not one printable line: \"%s\"", err->message);
  json_t *m = json_string(err->message); /* NULL if not UTF-8 */
  PV_FUZZ_CHECK(m != NULL, "message is not UTF-8: \"%s\"", err->message);
  json_decref(m);
}

static void check_string(const char *s, size_t max, bool required,
                         const char *name)
{
  if (!s) {
    PV_FUZZ_CHECK(!required, "%s missing", name);
    return;
  }
  size_t n = strlen(s);
  PV_FUZZ_CHECK(n >= 1 && n <= max, "%s length %zu", name, n);
  PV_FUZZ_CHECK(pv_fuzz_printable(s, n + 1), "%s has a control character",
                name);
}

static void check_job(const pv_job_t *job)
{
  PV_FUZZ_CHECK(job->v == 1, "v %d", job->v);
  check_string(job->id, PV_JOB_ID_MAX, true, "id");
  check_string(job->tenant, PV_JOB_TENANT_MAX, true, "tenant");
  check_string(job->service, PV_JOB_NAME_MAX, true, "service");
  check_string(job->op, PV_JOB_NAME_MAX, true, "op");
  check_string(job->reply_to, PV_JOB_TOPIC_MAX, false, "reply_to");
  if (job->reply_to) {
    PV_FUZZ_CHECK(strspn(job->reply_to, "abcdefghijklmnopqrstuvwxyz"
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789._-") ==
                      strlen(job->reply_to),
                  "reply_to \"%s\" is not a topic name", job->reply_to);
    PV_FUZZ_CHECK(strcmp(job->reply_to, ".") && strcmp(job->reply_to, ".."),
                  "reply_to \"%s\"", job->reply_to);
  }
  PV_FUZZ_CHECK(json_is_object(job->args), "args is %s",
                pv_doc_kind(job->args));
  PV_FUZZ_CHECK(job->deadline_ms >= 0, "deadline %lld",
                (long long)job->deadline_ms);
  PV_FUZZ_CHECK(job->max_attempts >= 0 && job->max_attempts <= 1000,
                "max_attempts %d", job->max_attempts);
  PV_FUZZ_CHECK(job->format == PV_FUZZ_FORMAT, "format %d", job->format);
}

static void envelope(const uint8_t *data, size_t size)
{
  pv_job_t *job = NULL;
  pv_error_t err;
  if (pv_job_decode(data, size, PV_FUZZ_FORMAT, &job, &err) != 0) {
    PV_FUZZ_CHECK(job == NULL, "job set on failure");
    check_error(&err, PV_ERR_INVALID_JOB, PV_ERR_INVALID_JOB);
    return;
  }
  check_job(job);
  if (pv_job_validate(job, &err) != 0)
    check_error(&err, PV_ERR_UNKNOWN_OP, PV_ERR_BAD_ARGS);
  pv_job_destroy(job);
}

/* Encodes doc in fmt; decodes it again; the two must be equal, and a
 * second encoding must give the same bytes. */
static void round_trip(const json_t *doc, pv_format_t fmt)
{
  char *enc = NULL, *enc2 = NULL;
  size_t len = 0, len2 = 0;
  PV_FUZZ_CHECK(pv_doc_encode(doc, fmt, &enc, &len) == 0,
                "a decoded %s document does not encode",
                pv_doc_kind(doc));
  /* Re-encoding may grow a document (msgpack float32 -> float64, JSON
   * number spelling): past the record cap a refusal is right. */
  if (len > PV_JOB_MAX_BYTES) {
    free(enc);
    return;
  }
  json_t *back = NULL;
  char errstr[256];
  PV_FUZZ_CHECK(pv_doc_decode(enc, len, fmt, &back, errstr,
                              sizeof(errstr)) == 0,
                "own encoding refused (%s): %s",
                fmt == PV_FMT_JSON ? "json" : "msgpack", errstr);
  PV_FUZZ_CHECK(json_equal(doc, back), "round trip changed the document");
  PV_FUZZ_CHECK(pv_doc_encode(back, fmt, &enc2, &len2) == 0,
                "second encoding failed");
  PV_FUZZ_CHECK(len2 == len && memcmp(enc, enc2, len) == 0,
                "encoding is not stable (%zu vs %zu bytes)", len, len2);
  json_decref(back);
  free(enc);
  free(enc2);
}

static void documents(const uint8_t *data, size_t size)
{
  json_t *doc = NULL;
  char errstr[256];
  if (pv_doc_decode(data, size, PV_FUZZ_FORMAT, &doc, errstr,
                    sizeof(errstr)) != 0) {
    PV_FUZZ_CHECK(doc == NULL, "doc set on failure");
    PV_FUZZ_CHECK(errstr[0] != '\0', "no error text");
    return;
  }
  round_trip(doc, PV_FUZZ_FORMAT);
  round_trip(doc, PV_FUZZ_FORMAT == PV_FMT_JSON ? PV_FMT_MSGPACK
                                                : PV_FMT_JSON);
  json_decref(doc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  envelope(data, size);
  documents(data, size);
  return 0;
}
