/*
 * The replay driver: runs one fuzz target's entry point over files, without
 * libFuzzer, so any compiler builds it and ctest runs it in `make test`:
 *
 *   replay-<target> DIR_OR_FILE...
 *
 * Every regular file of each directory (names starting with '.' and
 * README* skipped) is one input, in name order. An input that breaks an
 * invariant aborts the program, naming the file first; a missing
 * directory is an error (a renamed corpus must not pass silently), an
 * empty one is not (fuzz/regressions/<target>/ starts empty).
 */
#include "fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Largest input replayed: above `make fuzz`'s -max_len, far below RAM. */
#define REPLAY_MAX_BYTES (4u << 20)

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  uint8_t *buf = malloc(REPLAY_MAX_BYTES);
  if (!buf) {
    fclose(f);
    fprintf(stderr, "replay: out of memory\n");
    return -1;
  }
  size_t n = fread(buf, 1, REPLAY_MAX_BYTES, f);
  int bad = ferror(f) || !feof(f);
  fclose(f);
  if (bad) {
    free(buf);
    fprintf(stderr, "replay: %s: unreadable or over %u bytes\n", path,
            REPLAY_MAX_BYTES);
    return -1;
  }
  /* Said before the run: if the target aborts, this names the input. */
  fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
  /* An exact-size copy, so ASan sees a read past the input's end. */
  uint8_t *in = malloc(n ? n : 1);
  if (!in) {
    free(buf);
    return -1;
  }
  memcpy(in, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
  return 0;
}

static int name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *count)
{
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(names, cap * sizeof(*names));
      if (!grown) {
        rc = -1;
        break;
      }
      names = grown;
    }
    names[n] = strdup(e->d_name);
    if (!names[n]) {
      rc = -1;
      break;
    }
    n++;
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof(*names), name_cmp);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(path) < 0)
        rc = -1;
      else
        (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  LLVMFuzzerInitialize(&argc, &argv);
  int count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      return 1;
    }
    int rc = S_ISDIR(st.st_mode) ? run_dir(argv[i], &count)
                                 : run_file(argv[i]);
    if (rc < 0)
      return 1;
    if (!S_ISDIR(st.st_mode))
      count++;
  }
  printf("replay %s: %d inputs, every invariant held\n", argv[0], count);
  return 0;
}
