/*
 * pv-catalog-doc: writes the operation catalog.
 *
 *   build/pv-catalog-doc docs/operations.md   regenerate the docs page
 *   build/pv-catalog-doc                      markdown to stdout
 *   build/pv-catalog-doc --text [SERVICE]     the CLI table
 */
#include "jobs/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
  if (argc >= 2 && strcmp(argv[1], "--text") == 0) {
    const char *service = argc >= 3 ? argv[2] : NULL;
    if (pv_catalog_dump(stdout, service, false) < 0) {
      fprintf(stderr, "pv-catalog-doc: unknown service \"%s\"\n", service);
      return 2;
    }
    return 0;
  }
  if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    fprintf(stdout, "usage: pv-catalog-doc [FILE] | --text [SERVICE]\n");
    return 0;
  }
  if (argc < 2)
    return pv_catalog_dump(stdout, NULL, true) < 0 ? 1 : 0;

  FILE *out = fopen(argv[1], "w");
  if (!out) {
    fprintf(stderr, "pv-catalog-doc: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int rc = pv_catalog_dump(out, NULL, true);
  if (fclose(out) != 0)
    rc = -1;
  if (rc < 0) {
    fprintf(stderr, "pv-catalog-doc: writing %s failed\n", argv[1]);
    return 1;
  }
  return 0;
}
