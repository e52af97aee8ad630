/**
 * @file buf.h
 * @brief A growable byte buffer with a hard cap (curl's dynbuf idea).
 *
 * Every buffer that holds bytes from outside (HTTP bodies, Kafka payloads,
 * request logs) has a maximum; appending past it fails with -1 and frees
 * the contents, so a caller never holds a half-built buffer. The data is
 * always NUL-terminated (the NUL is not counted in len).
 */
#ifndef PV_COMMON_BUF_H
#define PV_COMMON_BUF_H

#include <stddef.h>

typedef struct pv_buf {
  char *data;
  size_t len;
  size_t cap;   /**< allocated bytes */
  size_t max;   /**< the most len may reach */
} pv_buf_t;

void pv_buf_init(pv_buf_t *b, size_t max);
/** @returns 0, or -1 if the cap would be passed (the buffer is then freed). */
int pv_buf_append(pv_buf_t *b, const void *data, size_t len);
int pv_buf_appendf(pv_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pv_buf_reset(pv_buf_t *b);
/** @brief Hands the data to the caller (free() it); the buffer is emptied. */
char *pv_buf_steal(pv_buf_t *b, size_t *len);
void pv_buf_free(pv_buf_t *b);

#endif
