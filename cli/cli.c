#include "cli/cli.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "kafka/sync.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *config_path;

void pv_cli_set_config_path(const char *path)
{
  config_path = path;
}

void pv_cli_err(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("provctl: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

pv_config_t *pv_cli_load_config(void)
{
  char err[1024];
  const char *path = config_path ? config_path : getenv("PROVISIOND_CONFIG");
  pv_config_t *conf = pv_config_load(path, err, sizeof(err));
  if (!conf)
    pv_cli_err("%s", err);
  return conf;
}

pv_pg_sync_t *pv_cli_db_connect(const pv_config_t *conf)
{
  char err[512], where[256];
  pv_pg_sync_t *db = pv_pg_sync_connect(conf->pg_conninfo, err, sizeof(err));
  if (db)
    return db;
  /* name the server, never the password */
  if (pv_pg_conninfo_describe(conf->pg_conninfo, where, sizeof(where)) < 0)
    snprintf(where, sizeof(where), "(unparsable conninfo)");
  err[strcspn(err, "\n")] = '\0';
  pv_cli_err("PostgreSQL unreachable (%s): %s", where, err);
  return NULL;
}

int pv_cli_kafka_check(const pv_config_t *conf)
{
  char err[512];
  if (pv_ksync_ping(conf->kafka_brokers, 5000, err, sizeof(err)) == 0)
    return 0;
  pv_cli_err("Kafka unreachable (%s): %s", conf->kafka_brokers, err);
  return -1;
}

int pv_cli_parse_ll(const char *opt, const char *text, long long min,
                    long long max, long long *out)
{
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (!*text || *end || errno || v < min || v > max) {
    pv_cli_err("%s \"%s\": expected a whole number from %lld to %lld", opt,
               text, min, max);
    return -1;
  }
  *out = v;
  return 0;
}

int pv_cli_parse_duration(const char *opt, const char *text, long long *secs)
{
  static const long long max = 10LL * 366 * 86400;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  long long mul = 0;
  if (end != text && !errno && v > 0) {
    if (!strcmp(end, "") || !strcmp(end, "s"))
      mul = 1;
    else if (!strcmp(end, "m"))
      mul = 60;
    else if (!strcmp(end, "h"))
      mul = 3600;
    else if (!strcmp(end, "d"))
      mul = 86400;
  }
  if (!mul || v > max / mul) {
    pv_cli_err("%s \"%s\": expected a duration such as 90s, 15m, 1h or 2d "
               "(at most 10 years)", opt, text);
    return -1;
  }
  *secs = v * mul;
  return 0;
}

const char *pv_cli_os_user(void)
{
  static char name[64];
  if (name[0])
    return name;
  const struct passwd *pw = getpwuid(geteuid());
  const char *n = pw && pw->pw_name ? pw->pw_name : getenv("USER");
  if (n && *n)
    snprintf(name, sizeof(name), "%s", n);
  else
    snprintf(name, sizeof(name), "uid%ld", (long)geteuid());
  return name;
}

char *pv_cli_new_job_id(void)
{
  unsigned char r[8];
  FILE *f = fopen("/dev/urandom", "rb");
  bool ok = f && fread(r, 1, sizeof(r), f) == sizeof(r);
  if (f)
    fclose(f);
  if (!ok) {
    /* no randomness: the clock and pid still make ids unique enough on
     * one host */
    uint64_t x = pv_clock_mono_us() ^ ((uint64_t)getpid() << 32);
    memcpy(r, &x, sizeof(r));
  }
  return pv_asprintf("provctl-%lld-%02x%02x%02x%02x%02x%02x%02x%02x",
                     (long long)pv_clock_wall_ms(), r[0], r[1], r[2], r[3],
                     r[4], r[5], r[6], r[7]);
}

/* Display width of UTF-8 text: code points (good enough for a table). */
static size_t text_width(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

/* Writes s cut to at most w code points (the last one "…" when cut),
 * then pads to w when pad. */
static void put_cell(FILE *out, const char *s, size_t w, bool pad)
{
  size_t n = text_width(s);
  if (n <= w) {
    fputs(s, out);
  } else {
    size_t cps = 0;
    const char *p = s;
    for (; *p; p++) {
      if (((unsigned char)*p & 0xC0) != 0x80) {
        if (cps == w - 1)
          break;
        cps++;
      }
    }
    fwrite(s, 1, (size_t)(p - s), out);
    fputs("\xe2\x80\xa6", out);
    n = w;
  }
  for (; pad && n < w; n++)
    fputc(' ', out);
}

void pv_cli_table(FILE *out, const char *const *headers, size_t ncols,
                  const char *const *cells, size_t nrows, size_t max_width)
{
  size_t *w = pv_calloc(ncols, sizeof(size_t));
  for (size_t c = 0; c < ncols; c++)
    w[c] = text_width(headers[c]);
  for (size_t r = 0; r < nrows; r++)
    for (size_t c = 0; c < ncols; c++) {
      const char *s = cells[r * ncols + c] ? cells[r * ncols + c] : "-";
      size_t n = text_width(s);
      if (n > w[c])
        w[c] = n;
    }
  for (size_t c = 0; c < ncols; c++)
    if (w[c] > max_width)
      w[c] = max_width;
  for (size_t c = 0; c < ncols; c++) {
    put_cell(out, headers[c], w[c], c + 1 < ncols);
    fputs(c + 1 < ncols ? "  " : "\n", out);
  }
  for (size_t r = 0; r < nrows; r++)
    for (size_t c = 0; c < ncols; c++) {
      const char *s = cells[r * ncols + c] ? cells[r * ncols + c] : "-";
      /* one line per row: control characters would break the table */
      char *clean = pv_strdup(s);
      for (char *p = clean; *p; p++)
        if ((unsigned char)*p < 0x20)
          *p = ' ';
      put_cell(out, clean, w[c], c + 1 < ncols);
      free(clean);
      fputs(c + 1 < ncols ? "  " : "\n", out);
    }
  free(w);
}

void pv_cli_err_ambiguous_id(const char *id, const pv_pg_result_t *r,
                             int tenant_col)
{
  char *names = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&names, &len);
  int n = pv_pg_result_ntuples(r);
  for (int i = 0; i < n && mem; i++)
    fprintf(mem, "%s%s", i ? ", " : "", pv_pg_result_get(r, i, tenant_col));
  if (mem)
    fclose(mem);
  pv_cli_err("job id \"%s\" exists under %d tenants (%s): give --tenant", id,
             n, names ? names : "?");
  free(names);
}
