#include "tests/sim/simfix.h"

#include <string.h>

pv_sim_t sim;

void simfix_start_args(const char *const *extra)
{
  const char *argv[40] = {"--olts", "2", "--onus-per-olt", "4", "--cpes",
                          "20", "--prefixes", "2", "--activate-delay-ms",
                          "200"};
  size_t n = 10;
  for (size_t i = 0; extra && extra[i] && n < 39; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  cr_assert_eq(pv_sim_start(&sim, argv), 0, "southbound-sim did not start");
}

void simfix_start(void)
{
  simfix_start_args(NULL);
}

/* A clean exit also means no sanitizer report in ASan builds. */
void simfix_stop(void)
{
  cr_assert_eq(pv_sim_stop_status(&sim), 0,
               "southbound-sim did not exit cleanly (see its stderr)");
}
