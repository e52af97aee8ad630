#include "common/backoff.h"

uint64_t pv_backoff_rand(uint64_t *state)
{
  /* splitmix64: tiny, fast and good enough to spread retries; this is not
   * a security boundary. */
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t pv_backoff_ceiling(int retry, int base_ms, int cap_ms)
{
  int64_t base = base_ms > 0 ? base_ms : 0;
  int64_t cap = cap_ms > 0 ? cap_ms : 0;
  int64_t ceil = base;

  if (retry < 1)
    retry = 1;
  /* Double until the cap is reached; stopping early keeps the shift from
   * overflowing for large retry numbers. */
  for (int i = 1; i < retry && ceil < cap; i++)
    ceil *= 2;
  return ceil < cap ? ceil : cap;
}

int64_t pv_backoff_full_jitter(int retry, int base_ms, int cap_ms, uint64_t rnd)
{
  int64_t ceil = pv_backoff_ceiling(retry, base_ms, cap_ms);
  /* The modulo bias is at most ceil / 2^64: irrelevant for millisecond
   * waits. */
  return (int64_t)(rnd % ((uint64_t)ceil + 1u));
}
