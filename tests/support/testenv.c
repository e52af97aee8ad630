#include "tests/support/testenv.h"

#include <criterion/criterion.h>
#include <stdlib.h>

const char *pv_test_build_dir(void)
{
  const char *d = getenv("PV_BUILD_DIR");
  return d && *d ? d : PV_SOURCE_DIR "/build";
}

const char *pv_test_source_dir(void)
{
  const char *d = getenv("PV_SOURCE_DIR");
  return d && *d ? d : PV_SOURCE_DIR;
}

const char *pv_test_require_env(const char *name)
{
  const char *v = getenv(name);
  if (!v || !*v)
    cr_assert_fail("%s is not set: start the dev stack with `make up` and "
             "`. .dev/env`, or run the suite through `make test`", name);
  return v;
}
