#include "common/map.h"

#include "common/alloc.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *next;
  uint64_t hash;
  void *value;
  char key[]; /* NUL-terminated copy */
} entry_t;

struct pv_map_s {
  entry_t **buckets;
  size_t nbuckets; /* a power of two */
  size_t size;
};

/* Keys come from outside (a producer's Kafka keys name the lanes): with an
 * unkeyed hash such as FNV-1a, anyone who can produce a record can choose
 * keys that share a bucket and turn every lookup into a walk of one long
 * chain. SipHash-2-4 (libsodium's crypto_shorthash) under a key drawn at
 * random once per process makes the bucket of a key unpredictable. */
static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
  /* sodium_init() picks the random source; without it there is no key
   * worth having, and no map can be built: stop like any OOM would. */
  if (sodium_init() < 0) {
    fprintf(stderr, "provisiond: libsodium cannot initialise (no random "
                    "source?)\n");
    abort();
  }
  crypto_shorthash_keygen(hash_key);
}

uint64_t pv_map_hash(const char *s)
{
  unsigned char out[crypto_shorthash_BYTES];
  uint64_t h;
  pthread_once(&hash_key_once, hash_key_init);
  crypto_shorthash(out, (const unsigned char *)s, strlen(s), hash_key);
  memcpy(&h, out, sizeof(h));
  return h;
}

pv_map_t *pv_map_new(void)
{
  pthread_once(&hash_key_once, hash_key_init);
  pv_map_t *m = pv_calloc(1, sizeof(*m));
  m->nbuckets = 64;
  m->buckets = pv_calloc(m->nbuckets, sizeof(entry_t *));
  return m;
}

void pv_map_destroy(pv_map_t *m)
{
  if (!m)
    return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    entry_t *e = m->buckets[i];
    while (e) {
      entry_t *next = e->next;
      free(e);
      e = next;
    }
  }
  free(m->buckets);
  free(m);
}

static entry_t **find(const pv_map_t *m, const char *key, uint64_t h)
{
  entry_t **pp = &m->buckets[h & (m->nbuckets - 1)];
  while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key)))
    pp = &(*pp)->next;
  return pp;
}

void *pv_map_get(const pv_map_t *m, const char *key)
{
  entry_t *e = *find(m, key, pv_map_hash(key));
  return e ? e->value : NULL;
}

static void grow(pv_map_t *m)
{
  size_t n = m->nbuckets * 2;
  entry_t **b = pv_calloc(n, sizeof(entry_t *));
  for (size_t i = 0; i < m->nbuckets; i++) {
    entry_t *e = m->buckets[i];
    while (e) {
      entry_t *next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
      e = next;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = n;
}

void *pv_map_put(pv_map_t *m, const char *key, void *value)
{
  uint64_t h = pv_map_hash(key);
  entry_t **pp = find(m, key, h);
  if (*pp) {
    void *old = (*pp)->value;
    (*pp)->value = value;
    return old;
  }
  size_t klen = strlen(key);
  entry_t *e = pv_malloc(sizeof(*e) + klen + 1);
  memcpy(e->key, key, klen + 1);
  e->hash = h;
  e->value = value;
  e->next = NULL;
  *pp = e;
  if (++m->size > m->nbuckets)
    grow(m);
  return NULL;
}

void *pv_map_remove(pv_map_t *m, const char *key)
{
  entry_t **pp = find(m, key, pv_map_hash(key));
  entry_t *e = *pp;
  if (!e)
    return NULL;
  void *v = e->value;
  *pp = e->next;
  free(e);
  m->size--;
  return v;
}

size_t pv_map_size(const pv_map_t *m)
{
  return m->size;
}

void pv_map_each(const pv_map_t *m,
                 void (*fn)(const char *key, void *value, void *arg),
                 void *arg)
{
  for (size_t i = 0; i < m->nbuckets; i++)
    for (entry_t *e = m->buckets[i]; e; e = e->next)
      fn(e->key, e->value, arg);
}

size_t pv_map_longest_chain(const pv_map_t *m)
{
  size_t longest = 0;
  for (size_t i = 0; i < m->nbuckets; i++) {
    size_t n = 0;
    for (const entry_t *e = m->buckets[i]; e; e = e->next)
      n++;
    if (n > longest)
      longest = n;
  }
  return longest;
}
