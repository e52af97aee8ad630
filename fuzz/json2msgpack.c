/*
 * json2msgpack IN OUT: writes the msgpack encoding of a JSON document, as
 * the worker's own encoder makes it (pv_doc_encode). fuzz/corpus.sh uses it
 * to derive the job_msgpack seeds from the job_json ones.
 */
#include "jobs/job.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: %s IN.json OUT.msgpack\n", argv[0]);
    return 2;
  }
  json_error_t jerr;
  /* Not pv_doc_decode: the corpus keeps documents the worker refuses
   * (too deep, duplicate keys are not representable here anyway). */
  json_t *doc = json_load_file(argv[1], JSON_DECODE_ANY | JSON_ALLOW_NUL,
                               &jerr);
  if (!doc) {
    fprintf(stderr, "%s:%d: %s\n", argv[1], jerr.line, jerr.text);
    return 1;
  }
  char *out = NULL;
  size_t len = 0;
  int rc = pv_doc_encode(doc, PV_FMT_MSGPACK, &out, &len);
  json_decref(doc);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot encode\n", argv[1]);
    return 1;
  }
  FILE *f = fopen(argv[2], "wb");
  if (!f || fwrite(out, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "%s: cannot write\n", argv[2]);
    free(out);
    return 1;
  }
  free(out);
  return 0;
}
