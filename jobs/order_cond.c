/*
 * Await and `when` conditions (docs/orders.md, "Conditions"): checked when
 * a definition loads, evaluated when a step runs. A condition is
 * {"path": P, OP: V} with OP one of eq, ne, in, exists, gt, gte, lt, lte,
 * or a combinator {"all": [...]}, {"any": [...]}, {"not": C}.
 */
#include "jobs/order_def.h"
#include "jobs/order_int.h"

#include "jobs/job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cmp_ops[] = {"eq", "ne", "in", "exists",
                                      "gt", "gte", "lt", "lte"};
#define N_CMP_OPS (sizeof(cmp_ops) / sizeof(cmp_ops[0]))

static bool is_cmp_op(const char *k)
{
  for (size_t i = 0; i < N_CMP_OPS; i++)
    if (strcmp(k, cmp_ops[i]) == 0)
      return true;
  return false;
}

const char *ord_shown(const json_t *v, char *buf, size_t size)
{
  char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  snprintf(buf, size, "%.60s%s", s ? s : "?", s && strlen(s) > 60 ? "..." : "");
  free(s);
  return buf;
}

static bool numeric_op(const char *op)
{
  return op[0] == 'g' || op[0] == 'l';
}

typedef struct cond_walk {
  const char *const *roots;
  const ord_scope_t *sc;
  int nodes;
  char *msg;
  size_t msgsz;
} cond_walk_t;

static int cond_fail(cond_walk_t *w, const ord_path_t *path, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

static int cond_fail(cond_walk_t *w, const ord_path_t *path, const char *fmt,
                     ...)
{
  char pfx[sizeof(path->s) + 2];
  char text[PV_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  snprintf(w->msg, w->msgsz, "%s%s", ord_path_pfx(path, pfx, sizeof(pfx)),
           text);
  return -1;
}

static int cond_check_path(cond_walk_t *w, const json_t *p, ord_path_t *path)
{
  char sub[PV_ERROR_MSG_MAX];
  if (!json_is_string(p))
    return cond_fail(w, path, "path: expected a string, got %s",
                     pv_doc_kind(p));
  ord_ref_t ref;
  if (ord_path_parse(json_string_value(p), &ref, sub, sizeof(sub)) < 0)
    return cond_fail(w, path, "%s", sub);
  bool root_ok = false;
  char roots[96] = "";
  for (size_t i = 0; w->roots[i]; i++) {
    root_ok |= strcmp(ref.seg[0], w->roots[i]) == 0;
    size_t used = strlen(roots);
    snprintf(roots + used, sizeof(roots) - used, "%s%s", i ? ", " : "",
             w->roots[i]);
  }
  if (!root_ok)
    return cond_fail(w, path, "path: %s starts with \"%s\"; here a path "
                     "starts with %s", ref.text, ref.seg[0], roots);
  /* Paths into the order's context name inputs and steps as references
   * do; a path into an await's result has nothing to check. */
  if (strcmp(ref.seg[0], "result") != 0) {
    ord_ref_t as_ref;
    char inner[ORD_REF_MAX + 1];
    snprintf(inner, sizeof(inner), "%s", json_string_value(p));
    if (ord_ref_parse(inner, strlen(inner), &as_ref, sub, sizeof(sub)) < 0 ||
        ord_ref_check(&as_ref, w->sc, sub, sizeof(sub)) < 0)
      return cond_fail(w, path, "path: %s", sub);
  }
  return 0;
}

static int cond_check(cond_walk_t *w, const json_t *c, ord_path_t *path,
                      int depth)
{
  if (++w->nodes > ORD_COND_MAX_NODES)
    return cond_fail(w, path, "more than %d conditions", ORD_COND_MAX_NODES);
  if (depth > ORD_COND_MAX_DEPTH)
    return cond_fail(w, path, "conditions nested deeper than %d",
                     ORD_COND_MAX_DEPTH);
  if (!json_is_object(c))
    return cond_fail(w, path, "expected a condition object, got %s",
                     pv_doc_kind(c));
  const json_t *all = json_object_get(c, "all");
  const json_t *any = json_object_get(c, "any");
  const json_t *not = json_object_get(c, "not");
  if (all || any || not) {
    const char *name = all ? "all" : any ? "any" : "not";
    if (json_object_size(c) != 1)
      return cond_fail(w, path, "\"%s\" must be the only member of its "
                       "object", name);
    size_t mark = ord_path_key(path, name);
    int rc = 0;
    if (not) {
      rc = cond_check(w, not, path, depth + 1);
    } else {
      const json_t *list = all ? all : any;
      if (!json_is_array(list) || json_array_size(list) == 0)
        rc = cond_fail(w, path, "expected a non-empty array of conditions");
      size_t i;
      const json_t *item;
      json_array_foreach(list, i, item) {
        if (rc < 0)
          break;
        size_t m2 = ord_path_idx(path, i);
        rc = cond_check(w, item, path, depth + 1);
        ord_path_cut(path, m2);
      }
    }
    ord_path_cut(path, mark);
    return rc;
  }

  const char *key, *op = NULL;
  const json_t *v, *operand = NULL;
  json_object_foreach((json_t *)(uintptr_t)c, key, v) {
    if (strcmp(key, "path") == 0)
      continue;
    if (!is_cmp_op(key))
      return cond_fail(w, path, "unknown member \"%.40s\" (a condition is "
                       "{\"path\", OP} with OP one of eq, ne, in, exists, "
                       "gt, gte, lt, lte; or all, any, not)", key);
    if (op)
      return cond_fail(w, path, "\"%s\" and \"%s\": one operator per "
                       "condition (combine with \"all\")", op, key);
    op = key;
    operand = v;
  }
  const json_t *p = json_object_get(c, "path");
  if (!p)
    return cond_fail(w, path, "missing \"path\"");
  if (!op)
    return cond_fail(w, path, "missing an operator (eq, ne, in, exists, "
                     "gt, gte, lt, lte)");
  if (cond_check_path(w, p, path) < 0)
    return -1;
  size_t mark = ord_path_key(path, op);
  int rc = 0;
  ord_str_kind_t kind = ORD_STR_PLAIN;
  char sub[PV_ERROR_MSG_MAX];
  if (json_is_string(operand) &&
      ord_str_classify(json_string_value(operand),
                       json_string_length(operand), &kind, NULL, NULL, sub,
                       sizeof(sub)) < 0)
    rc = cond_fail(w, path, "%s", sub);
  else if (strcmp(op, "in") == 0 && !json_is_array(operand) &&
           kind != ORD_STR_WHOLE)
    rc = cond_fail(w, path, "expected an array of values, got %s %s",
                   pv_doc_kind(operand), ord_shown(operand, sub, sizeof(sub)));
  else if (strcmp(op, "exists") == 0 && !json_is_boolean(operand))
    rc = cond_fail(w, path, "expected true or false, got %s %s",
                   pv_doc_kind(operand), ord_shown(operand, sub, sizeof(sub)));
  else if (numeric_op(op) && !json_is_number(operand) &&
           kind != ORD_STR_WHOLE)
    rc = cond_fail(w, path, "expected a number, got %s %s",
                   pv_doc_kind(operand), ord_shown(operand, sub, sizeof(sub)));
  else {
    /* A path may look at a skippable step (absent is an answer); a value
     * is resolved, so it must exist. */
    ord_scope_t vsc = *w->sc;
    vsc.allow_conditional = false;
    rc = ord_tmpl_check(operand, &vsc, path, w->msg, w->msgsz);
  }
  ord_path_cut(path, mark);
  return rc;
}

int ord_cond_check(const json_t *cond, const char *const *roots,
                   const ord_scope_t *sc, ord_path_t *path, char *msg,
                   size_t msgsz)
{
  cond_walk_t w = {roots, sc, 0, msg, msgsz};
  return cond_check(&w, cond, path, 0);
}

/* Numbers compare by value (2 equals 2.0); everything else as JSON. */
static bool values_equal(const json_t *a, const json_t *b)
{
  if (json_is_integer(a) && json_is_integer(b))
    return json_integer_value(a) == json_integer_value(b);
  if (json_is_number(a) && json_is_number(b))
    return json_number_value(a) == json_number_value(b);
  return json_equal((json_t *)(uintptr_t)a, (json_t *)(uintptr_t)b);
}

/* The value at a path, or NULL when it is absent (JSON null counts as
 * absent). @returns -1 with err only for a malformed path. */
static int path_value(const json_t *p, const json_t *doc, const json_t **out,
                      pv_error_t *err)
{
  ord_ref_t ref;
  char msg[PV_ERROR_MSG_MAX];
  *out = NULL;
  if (!json_is_string(p) ||
      ord_path_parse(json_string_value(p), &ref, msg, sizeof(msg)) < 0) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "condition: %s",
                 json_is_string(p) ? msg : "path is not a string");
    return -1;
  }
  const json_t *v = ord_walk(doc, &ref);
  *out = json_is_null(v) ? NULL : v;
  return 0;
}

static int cmp_eval(const json_t *c, const json_t *doc, pv_error_t *err)
{
  const char *key, *op = NULL;
  const json_t *v, *operand = NULL;
  json_object_foreach((json_t *)(uintptr_t)c, key, v) {
    if (is_cmp_op(key)) {
      op = key;
      operand = v;
    }
  }
  const json_t *p = json_object_get(c, "path");
  if (!op || !p) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "condition: needs \"path\" and an operator");
    return -1;
  }
  const json_t *val;
  if (path_value(p, doc, &val, err) < 0)
    return -1;
  if (strcmp(op, "exists") == 0) {
    if (!json_is_boolean(operand)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "condition %s: exists needs true or false",
                   json_string_value(p));
      return -1;
    }
    return (val != NULL) == json_is_true(operand);
  }
  /* Absent: not (yet) there, whatever the comparison. */
  if (!val)
    return 0;
  if (strcmp(op, "eq") == 0)
    return values_equal(val, operand);
  if (strcmp(op, "ne") == 0)
    return !values_equal(val, operand);
  if (strcmp(op, "in") == 0) {
    if (!json_is_array(operand)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "condition %s: in needs an "
                   "array, got %s", json_string_value(p),
                   pv_doc_kind(operand));
      return -1;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(operand, i, item)
      if (values_equal(val, item))
        return 1;
    return 0;
  }
  if (!json_is_number(operand)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "condition %.128s: %s needs a number, got %s",
                 json_string_value(p), op, ord_a_kind(operand));
    return -1;
  }
  if (!json_is_number(val)) {
    char shown[48] = "";
    if (json_is_string(val))
      snprintf(shown, sizeof(shown), " \"%.32s\"", json_string_value(val));
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "condition %.128s: %s compares numbers; the value is %s%s",
                 json_string_value(p), op, ord_a_kind(val), shown);
    return -1;
  }
  double a = json_number_value(val), b = json_number_value(operand);
  if (json_is_integer(val) && json_is_integer(operand)) {
    json_int_t x = json_integer_value(val), y = json_integer_value(operand);
    return strcmp(op, "gt") == 0    ? x > y
           : strcmp(op, "gte") == 0 ? x >= y
           : strcmp(op, "lt") == 0  ? x < y
                                    : x <= y;
  }
  return strcmp(op, "gt") == 0    ? a > b
         : strcmp(op, "gte") == 0 ? a >= b
         : strcmp(op, "lt") == 0  ? a < b
                                  : a <= b;
}

static int cond_eval(const json_t *c, const json_t *doc, int depth,
                     pv_error_t *err)
{
  if (depth > ORD_COND_MAX_DEPTH) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "condition nested deeper than %d", ORD_COND_MAX_DEPTH);
    return -1;
  }
  if (!json_is_object(c)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "condition: expected an object, got %s", pv_doc_kind(c));
    return -1;
  }
  const json_t *not = json_object_get(c, "not");
  if (not) {
    int r = cond_eval(not, doc, depth + 1, err);
    return r < 0 ? -1 : !r;
  }
  const json_t *all = json_object_get(c, "all");
  const json_t *any = json_object_get(c, "any");
  if (all || any) {
    const json_t *list = all ? all : any;
    if (!json_is_array(list)) {
      pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                   "condition: %s needs an array", all ? "all" : "any");
      return -1;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item) {
      int r = cond_eval(item, doc, depth + 1, err);
      if (r < 0)
        return -1;
      if (all && !r)
        return 0;
      if (any && r)
        return 1;
    }
    return all ? 1 : 0;
  }
  return cmp_eval(c, doc, err);
}

int pv_order_cond_eval(const json_t *cond, const json_t *doc,
                       pv_error_t *err)
{
  return cond_eval(cond, doc, 0, err);
}

/* A step's condition: its references resolved against ctx first (a
 * definition may compare with an input or an earlier result), then
 * evaluated against doc. */
static int eval_resolved(const json_t *cond, const json_t *ctx,
                         const json_t *doc, pv_error_t *err)
{
  json_t *c = pv_order_resolve(cond, ctx, err);
  if (!c)
    return -1;
  int r = cond_eval(c, doc, 0, err);
  json_decref(c);
  return r;
}

int pv_order_step_applies(const pv_order_step_t *step, const json_t *ctx,
                          pv_error_t *err)
{
  if (!step->when)
    return 1;
  int r = eval_resolved(step->when, ctx, ctx, err);
  if (r < 0) {
    char msg[PV_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", err->message);
    pv_error_set(err, err->cls, 0, "when: %s", msg);
  }
  return r;
}

int pv_order_step_until(const pv_order_step_t *step, const json_t *ctx,
                        const json_t *result, pv_error_t *err)
{
  if (!step->until) {
    pv_error_set(err, PV_ERR_INTERNAL, 0, "step %s has no condition",
                 step->name);
    return -1;
  }
  json_t *doc = json_pack("{s:O}", "result",
                          result ? (json_t *)(uintptr_t)result : json_null());
  int r = eval_resolved(step->until, ctx, doc, err);
  json_decref(doc);
  return r;
}
