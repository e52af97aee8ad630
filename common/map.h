/**
 * @file map.h
 * @brief A string-keyed hash map (chained, grows at load 1). Keys are
 * copied; values are borrowed pointers the caller owns.
 *
 * Keys may come from outside (Kafka keys, job ids): they are hashed with
 * SipHash-2-4 under a random per-process key, so no one can choose keys
 * that pile into one bucket.
 *
 * @locality one thread per map (the key is set up once, thread-safely).
 */
#ifndef PV_COMMON_MAP_H
#define PV_COMMON_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pv_map_s pv_map_t;

pv_map_t *pv_map_new(void);
/** @brief Frees the map and its keys, not the values. */
void pv_map_destroy(pv_map_t *map);
void *pv_map_get(const pv_map_t *map, const char *key);
/** @brief Sets key to value (replacing). @returns the previous value or NULL. */
void *pv_map_put(pv_map_t *map, const char *key, void *value);
/** @returns the removed value, or NULL if the key was absent. */
void *pv_map_remove(pv_map_t *map, const char *key);
size_t pv_map_size(const pv_map_t *map);
/** @brief Calls fn for every entry (the map must not change meanwhile). */
void pv_map_each(const pv_map_t *map,
                 void (*fn)(const char *key, void *value, void *arg),
                 void *arg);

/** @returns the keyed hash the map uses (SipHash-2-4 under a key drawn at
 *  random once per process): stable within a process, different across
 *  processes. */
uint64_t pv_map_hash(const char *s);
/** @returns the longest bucket chain (for tests and diagnostics: it stays
 *  small whatever the keys are). */
size_t pv_map_longest_chain(const pv_map_t *map);

#endif
