/**
 * @file alloc.h
 * @brief Allocation wrappers with provisiond's out-of-memory policy.
 *
 * provisiond is a supervised daemon: when memory runs out it writes one line
 * naming the size and aborts, so that the supervisor (systemd, Kubernetes)
 * restarts it and Kafka redelivers every job whose offset was not stored.
 * Call sites therefore never check these for NULL. Sizes that come from
 * outside are capped before they reach an allocation.
 */
#ifndef PV_COMMON_ALLOC_H
#define PV_COMMON_ALLOC_H

#include <stddef.h>

void *pv_malloc(size_t size);
void *pv_calloc(size_t nmemb, size_t size);
void *pv_realloc(void *ptr, size_t size);
char *pv_strdup(const char *s);
char *pv_strndup(const char *s, size_t n);
/** @brief printf into a new string (freed with free()). */
char *pv_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
