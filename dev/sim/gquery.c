/* The part of GenieACS's MongoDB query language the simulator needs
 * (SOUTHBOUND.md §2.2): field equality (with array membership, as for
 * _tags), $eq $ne $gt $gte $lt $lte $in $nin $exists, $and $or $nor, and
 * '*' wildcards in string values. Device parameter keys get "._value"
 * appended unless their last segment starts with '_'. A string value also
 * matches a number that it spells, as GenieACS tries strings as numbers. */
#include "dev/sim/sim.h"

#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 512

json_t *sim_json_path(const json_t *doc, const char *path)
{
  char buf[PATH_MAX_LEN];
  if (strlen(path) >= sizeof(buf))
    return NULL;
  snprintf(buf, sizeof(buf), "%s", path);
  json_t *cur = (json_t *)(uintptr_t)doc;
  char *p = buf;
  while (cur && p) {
    char *dot = strchr(p, '.');
    if (dot)
      *dot = '\0';
    cur = json_is_object(cur) ? json_object_get(cur, p) : NULL;
    p = dot ? dot + 1 : NULL;
  }
  return cur;
}

static bool glob_match(const char *pat, const char *s)
{
  /* Iterative '*' matching with one backtrack point. */
  const char *star = NULL, *ss = NULL;
  while (*s) {
    if (*pat == '*') {
      star = pat++;
      ss = s;
    } else if (*pat == *s) {
      pat++;
      s++;
    } else if (star) {
      pat = star + 1;
      s = ++ss;
    } else {
      return false;
    }
  }
  while (*pat == '*')
    pat++;
  return *pat == '\0';
}

static bool scalar_eq(const json_t *q, const json_t *d)
{
  if (json_equal((json_t *)(uintptr_t)q, (json_t *)(uintptr_t)d))
    return true;
  if (json_is_string(q) && json_is_number(d)) {
    char *end = NULL;
    const char *s = json_string_value(q);
    double x = strtod(s, &end);
    return *s && end && *end == '\0' && x == json_number_value(d);
  }
  if (json_is_string(q) && json_is_string(d) &&
      strchr(json_string_value(q), '*'))
    return glob_match(json_string_value(q), json_string_value(d));
  return false;
}

/* Equality the Mongo way: an array field matches when any element does. */
static bool eq(const json_t *q, const json_t *d)
{
  if (!d)
    return json_is_null(q);
  if (scalar_eq(q, d))
    return true;
  if (json_is_array(d)) {
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)(uintptr_t)d, i, e)
    {
      if (scalar_eq(q, e))
        return true;
    }
  }
  return false;
}

/* @returns <0, 0, >0, or 2 when q and d cannot be compared. */
static int cmp(const json_t *q, const json_t *d)
{
  if (!d)
    return 2;
  if (json_is_number(d)) {
    double x;
    if (json_is_number(q)) {
      x = json_number_value(q);
    } else if (json_is_string(q)) {
      char *end = NULL;
      x = strtod(json_string_value(q), &end);
      if (!end || *end)
        return 2;
    } else {
      return 2;
    }
    double y = json_number_value(d);
    return y < x ? -1 : y > x ? 1 : 0;
  }
  if (json_is_string(d) && json_is_string(q)) {
    int c = strcmp(json_string_value(d), json_string_value(q));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return 2;
}

static int match(const json_t *query, const json_t *doc, bool expand,
                 char *err, size_t errlen);

static int cond(const json_t *qv, const json_t *dv, const char *field,
                char *err, size_t errlen)
{
  if (!json_is_object(qv))
    return eq(qv, dv);
  const char *op;
  json_t *arg;
  bool any_op = false;
  json_object_foreach((json_t *)(uintptr_t)qv, op, arg)
  {
    if (op[0] == '$')
      any_op = true;
  }
  if (!any_op)
    return eq(qv, dv);
  json_object_foreach((json_t *)(uintptr_t)qv, op, arg)
  {
    int r;
    if (strcmp(op, "$eq") == 0) {
      r = eq(arg, dv);
    } else if (strcmp(op, "$ne") == 0) {
      r = !eq(arg, dv);
    } else if (strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0 ||
               strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0) {
      int c = cmp(arg, dv);
      if (c == 2)
        r = 0;
      else if (op[2] == 't' && op[3] == '\0')
        r = op[1] == 'g' ? c > 0 : c < 0;
      else
        r = op[1] == 'g' ? c >= 0 : c <= 0;
    } else if (strcmp(op, "$in") == 0 || strcmp(op, "$nin") == 0) {
      if (!json_is_array(arg)) {
        snprintf(err, errlen, "%s needs an array", op);
        return -1;
      }
      bool found = false;
      size_t i;
      json_t *e;
      json_array_foreach(arg, i, e)
      {
        if (eq(e, dv))
          found = true;
      }
      r = op[1] == 'i' ? found : !found;
    } else if (strcmp(op, "$exists") == 0) {
      r = json_is_true(arg) ? dv != NULL : dv == NULL;
    } else {
      snprintf(err, errlen, "unsupported operator %.32s on %.64s", op, field);
      return -1;
    }
    if (r <= 0)
      return r;
  }
  return 1;
}

static int logical(const char *op, const json_t *arg, const json_t *doc,
                   bool expand, char *err, size_t errlen)
{
  if (!json_is_array(arg) || json_array_size(arg) == 0) {
    snprintf(err, errlen, "%s needs a non-empty array", op);
    return -1;
  }
  bool is_and = strcmp(op, "$and") == 0;
  bool any = false, all = true;
  size_t i;
  json_t *q;
  json_array_foreach((json_t *)(uintptr_t)arg, i, q)
  {
    int r = match(q, doc, expand, err, errlen);
    if (r < 0)
      return r;
    any = any || r;
    all = all && r;
  }
  if (is_and)
    return all;
  if (strcmp(op, "$or") == 0)
    return any;
  return !any; /* $nor */
}

static int match(const json_t *query, const json_t *doc, bool expand,
                 char *err, size_t errlen)
{
  if (!json_is_object(query)) {
    snprintf(err, errlen, "query must be a JSON object");
    return -1;
  }
  const char *key;
  json_t *qv;
  json_object_foreach((json_t *)(uintptr_t)query, key, qv)
  {
    int r;
    if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0 ||
        strcmp(key, "$nor") == 0) {
      r = logical(key, qv, doc, expand, err, errlen);
    } else if (key[0] == '$') {
      snprintf(err, errlen, "unsupported operator %.32s", key);
      return -1;
    } else {
      char path[PATH_MAX_LEN];
      const char *last = strrchr(key, '.');
      last = last ? last + 1 : key;
      if (expand && last[0] != '_')
        snprintf(path, sizeof(path), "%s._value", key);
      else
        snprintf(path, sizeof(path), "%s", key);
      r = cond(qv, sim_json_path(doc, path), key, err, errlen);
    }
    if (r <= 0)
      return r;
  }
  return 1;
}

int sim_gquery_match(const json_t *query, const json_t *doc,
                     bool expand_values, char *err, size_t errlen)
{
  return match(query, doc, expand_values, err, errlen);
}
