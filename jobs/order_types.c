/*
 * The set of order types in one folder (`[worker] orders_dir`): every
 * NAME.json, one type each, checked as a definition, sorted by name.
 */
#include "jobs/order_def.h"

#include "common/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pv_order_types {
  pv_order_def_t **defs;
  size_t n;
};

static int by_name(const void *a, const void *b)
{
  const pv_order_def_t *const *x = a, *const *y = b;
  return strcmp(pv_order_def_name(*x), pv_order_def_name(*y));
}

static int by_str(const void *a, const void *b)
{
  const char *const *x = a, *const *y = b;
  return strcmp(*x, *y);
}

/* Reads a file of at most PV_ORDER_FILE_MAX_BYTES. @returns a malloc'd,
 * NUL-terminated buffer, or NULL with err. */
static char *read_capped(const char *path, size_t *len, char *err,
                         size_t errsz)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errsz, "%s: not a regular file", path);
    close(fd);
    return NULL;
  }
  if (st.st_size > PV_ORDER_FILE_MAX_BYTES) {
    snprintf(err, errsz, "%s: %lld bytes, at most %d", path,
             (long long)st.st_size, PV_ORDER_FILE_MAX_BYTES);
    close(fd);
    return NULL;
  }
  /* One byte more than allowed: a file that grew since fstat is caught. */
  char *buf = pv_malloc(PV_ORDER_FILE_MAX_BYTES + 2);
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, PV_ORDER_FILE_MAX_BYTES + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(err, errsz, "%s: cannot read: %s", path, strerror(errno));
      free(buf);
      close(fd);
      return NULL;
    }
    if (n == 0)
      break;
    got += (size_t)n;
    if (got > PV_ORDER_FILE_MAX_BYTES) {
      snprintf(err, errsz, "%s: more than %d bytes", path,
               PV_ORDER_FILE_MAX_BYTES);
      free(buf);
      close(fd);
      return NULL;
    }
  }
  close(fd);
  buf[got] = '\0';
  *len = got;
  return buf;
}

static bool is_type_file(const char *name)
{
  size_t n = strlen(name);
  return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static int load_one(pv_order_types_t *t, const char *dir, const char *fname,
                    char *err, size_t errsz)
{
  char path[4096];
  if (snprintf(path, sizeof(path), "%s/%s", dir, fname) >= (int)sizeof(path)) {
    snprintf(err, errsz, "%s: path too long", dir);
    return -1;
  }
  size_t len;
  char *text = read_capped(path, &len, err, errsz);
  if (!text)
    return -1;
  pv_order_def_t *def = pv_order_def_parse(text, len, path, err, errsz);
  free(text);
  if (!def)
    return -1;
  const char *name = pv_order_def_name(def);
  size_t nlen = strlen(name);
  if (pv_order_def_is_inline(def)) {
    snprintf(err, errsz, "%s: inline: only the inline form (op \"order\" "
             "with args.steps) is inline", path);
  } else if (strncmp(fname, name, nlen) != 0 || strcmp(fname + nlen, ".json")) {
    snprintf(err, errsz, "%s: name: \"%s\" does not match the file name "
             "(%s.json)", path, name, name);
  } else {
    for (size_t i = 0; i < t->n; i++) {
      if (strcmp(pv_order_def_name(t->defs[i]), name) == 0) {
        snprintf(err, errsz, "%s: name: \"%s\" is declared twice", path,
                 name);
        pv_order_def_destroy(def);
        return -1;
      }
    }
    t->defs[t->n++] = def;
    return 0;
  }
  pv_order_def_destroy(def);
  return -1;
}

pv_order_types_t *pv_order_types_load(const char *dir, bool must_exist,
                                      char *err, size_t errsz)
{
  err[0] = '\0';
  pv_order_types_t *t = pv_calloc(1, sizeof(*t));
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT && !must_exist)
      return t;
    snprintf(err, errsz, "%s: cannot open the order types folder: %s", dir,
             strerror(errno));
    pv_order_types_destroy(t);
    return NULL;
  }
  /* Names first, sorted, so errors and loading are in a stable order. */
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    if (!is_type_file(e->d_name))
      continue;
    if (n == PV_ORDER_MAX_TYPES) {
      snprintf(err, errsz, "%s: more than %d order type files", dir,
               PV_ORDER_MAX_TYPES);
      rc = -1;
      break;
    }
    names = pv_realloc(names, (n + 1) * sizeof(*names));
    names[n++] = pv_strdup(e->d_name);
  }
  closedir(d);
  if (rc == 0 && n) {
    qsort(names, n, sizeof(*names), by_str);
  }
  t->defs = pv_calloc(n ? n : 1, sizeof(*t->defs));
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = load_one(t, dir, names[i], err, errsz);
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  if (rc < 0) {
    pv_order_types_destroy(t);
    return NULL;
  }
  qsort(t->defs, t->n, sizeof(*t->defs), by_name);
  return t;
}

void pv_order_types_destroy(pv_order_types_t *types)
{
  if (!types)
    return;
  for (size_t i = 0; i < types->n; i++)
    pv_order_def_destroy(types->defs[i]);
  free(types->defs);
  free(types);
}

size_t pv_order_types_count(const pv_order_types_t *types)
{
  return types->n;
}

const pv_order_def_t *pv_order_types_at(const pv_order_types_t *types,
                                        size_t i)
{
  return i < types->n ? types->defs[i] : NULL;
}

const pv_order_def_t *pv_order_types_find(const pv_order_types_t *types,
                                          const char *name)
{
  for (size_t i = 0; i < types->n; i++)
    if (strcmp(pv_order_def_name(types->defs[i]), name) == 0)
      return types->defs[i];
  return NULL;
}
