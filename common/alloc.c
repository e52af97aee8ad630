#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(size_t size)
{
  char line[96];
  int n = snprintf(line, sizeof(line),
                   "provisiond: out of memory allocating %zu bytes\n", size);
  if (n > 0)
    (void)!write(STDERR_FILENO, line, (size_t)n);
  abort();
}

void *pv_malloc(size_t size)
{
  void *p = malloc(size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

void *pv_calloc(size_t nmemb, size_t size)
{
  void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
  if (!p)
    oom(nmemb * size);
  return p;
}

void *pv_realloc(void *ptr, size_t size)
{
  void *p = realloc(ptr, size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

char *pv_strdup(const char *s)
{
  return pv_strndup(s, strlen(s));
}

char *pv_strndup(const char *s, size_t n)
{
  size_t len = strnlen(s, n);
  char *p = pv_malloc(len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *pv_asprintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    abort(); /* only an invalid format string can do this: a bug */
  char *p = pv_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}
