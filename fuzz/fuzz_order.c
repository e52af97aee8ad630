/*
 * Fuzz target: an order type definition (jobs/order_def.c), as a file in
 * orders_dir holds it: any bytes. jobs/order_fuzz.c parses it, round-trips
 * its canonical JSON, and tries the input as a reference template and as
 * an await condition against a fixed context; a refusal is fine, a crash,
 * a sanitizer report or a canonical form that does not parse back the
 * same is a finding.
 */
#include "fuzz/fuzz.h"

#include "jobs/order_def.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  return pv_order_def_fuzz_one(data, size);
}
