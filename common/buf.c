#include "common/buf.h"

#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pv_buf_init(pv_buf_t *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

int pv_buf_append(pv_buf_t *b, const void *data, size_t len)
{
  if (len > b->max || b->len > b->max - len) {
    pv_buf_free(b);
    return -1;
  }
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + len + 1)
      cap *= 2;
    if (cap > b->max + 1)
      cap = b->max + 1;
    b->data = pv_realloc(b->data, cap);
    b->cap = cap;
  }
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int pv_buf_appendf(pv_buf_t *b, const char *fmt, ...)
{
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0)
    return -1;
  if ((size_t)n < sizeof(small))
    return pv_buf_append(b, small, (size_t)n);
  char *big = pv_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int rc = pv_buf_append(b, big, (size_t)n);
  free(big);
  return rc;
}

void pv_buf_reset(pv_buf_t *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

char *pv_buf_steal(pv_buf_t *b, size_t *len)
{
  char *d = b->data;
  if (!d)
    d = pv_strdup("");
  if (len)
    *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}

void pv_buf_free(pv_buf_t *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
