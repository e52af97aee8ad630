/*
 * One catalog call of an order type (a step's call or await, or its
 * compensation) with argument templates: the service and op exist, every
 * argument is known to the op, required ones are there, references are
 * valid where they are written and fit the argument's type when that can
 * be known, and literal values pass the catalog's own checks
 * (pv_arg_check, pv_catalog_check_args). docs/orders.md, "Arguments".
 */
#include "jobs/order_def.h"
#include "jobs/order_int.h"

#include "common/alloc.h"
#include "jobs/job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether a value of input type `in` fits an argument of type `arg`. */
static bool arg_accepts(pv_arg_type_t arg, pv_arg_type_t in)
{
  switch (arg) {
  case PV_ARG_ARRAY:
    return in == PV_ARG_ARRAY || in == PV_ARG_STR_LIST;
  case PV_ARG_REF:
    return in == PV_ARG_INT || in == PV_ARG_OBJECT;
  case PV_ARG_PARAM_VALUES:
    return in == PV_ARG_ARRAY;
  case PV_ARG_STEPS:
    return false;
  default:
    return arg == in;
  }
}

static const char *article(const char *word)
{
  return strchr("aeiou", word[0]) ? "an" : "a";
}

/* A value that passes a's own checks, standing in for a reference while
 * the catalog checks the rules between arguments (one_of, PATCH). */
static json_t *placeholder(const pv_arg_t *a)
{
  json_t *arr;
  switch (a->type) {
  case PV_ARG_INT:
    return json_integer(a->min);
  case PV_ARG_BOOL:
    return json_true();
  case PV_ARG_OBJECT:
    return json_object();
  case PV_ARG_REF:
    return json_integer(1);
  case PV_ARG_STR_LIST:
  case PV_ARG_ARRAY:
  case PV_ARG_PARAM_VALUES:
    arr = json_array();
    for (int64_t i = 0; i < a->min && i < 1000; i++)
      json_array_append_new(arr, a->type == PV_ARG_PARAM_VALUES
                                     ? json_pack("[ss]", "x", "x")
                                     : a->type == PV_ARG_ARRAY
                                           ? json_null()
                                           : json_string("x"));
    return arr;
  default: {
    size_t n = a->min > 0 && a->min < 4096 ? (size_t)a->min : 0;
    char *s = pv_malloc(n + 1);
    memset(s, 'x', n);
    json_t *v = json_stringn(s, n);
    free(s);
    return v;
  }
  }
}

/* One argument's template: references valid, and what can be known of the
 * value checked now. *probe gets a stand-in for the whole-args check. */
static int check_arg(ord_parse_t *ps, ord_path_t *path, const pv_op_t *op,
                     const pv_arg_t *a, const json_t *v,
                     const ord_scope_t *sc, json_t **probe)
{
  char msg[PV_ERROR_MSG_MAX * 2];
  *probe = NULL;
  if (a->type == PV_ARG_STEPS)
    return ord_fail(ps, path, "an order type's step cannot hold steps");
  if (json_is_null(v))
    return ord_fail(ps, path, "null is not a value (leave the argument out)");
  ord_str_kind_t kind = ORD_STR_PLAIN;
  ord_ref_t ref;
  size_t literal = 0;
  if (json_is_string(v) &&
      ord_str_classify(json_string_value(v), json_string_length(v), &kind,
                       &ref, &literal, msg, sizeof(msg)) < 0)
    return ord_fail(ps, path, "%s", msg);
  ord_path_t at;
  ord_path_init(&at, path->s);
  if (ord_tmpl_check(v, sc, &at, msg, sizeof(msg)) < 0)
    return ord_fail(ps, NULL, "%s", msg);

  if (kind == ORD_STR_WHOLE) {
    pv_arg_type_t t;
    if (ord_ref_type(&ref, sc, &t) && !arg_accepts(a->type, t)) {
      bool input = strcmp(ref.seg[0], "input") == 0;
      const char *tn = input ? ord_input_type_name(t) : "string";
      return ord_fail(ps, path, "%s is %s %s%s; argument \"%s\" of %s.%s is "
                      "of type %s", ref.text, input ? article(tn) : "a", tn,
                      input ? " input" : "", a->name, op->service, op->name,
                      pv_arg_type_name(a->type));
    }
    *probe = placeholder(a);
    return 0;
  }
  if (kind == ORD_STR_TEXT) {
    char val[80];
    ord_shown(v, val, sizeof(val));
    if (a->type != PV_ARG_STR)
      return ord_fail(ps, path, "%s: text with references is a string; "
                      "argument \"%s\" of %s.%s is %s", val, a->name,
                      op->service, op->name, pv_arg_type_name(a->type));
    if ((int64_t)literal > a->max)
      return ord_fail(ps, path, "%s: the text around the references is "
                      "already %zu bytes; argument \"%s\" of %s.%s takes at "
                      "most %" PRId64, val, literal, a->name, op->service,
                      op->name, a->max);
  }
  /* Plain values, text, and structures with references inside: the
   * literal parts checked as the catalog checks a job's argument. */
  json_t *p = ord_tmpl_probe(v);
  if (kind == ORD_STR_TEXT && (int64_t)json_string_length(p) < a->min) {
    json_decref(p);
    p = placeholder(a);
  }
  pv_error_t e;
  if (pv_arg_check(a, p, path->s, &e) < 0) {
    json_decref(p);
    char val[80];
    ord_shown(v, val, sizeof(val));
    if (json_is_object(v) || json_is_array(v))
      return ord_fail(ps, NULL, "%s", e.message);
    return ord_fail(ps, NULL, "%s (value %s)", e.message, val);
  }
  *probe = p;
  return 0;
}

static int check_args(ord_parse_t *ps, ord_path_t *path, const pv_op_t *op,
                      const json_t *args, const ord_scope_t *sc)
{
  if (!json_is_object(args))
    return ord_fail(ps, path, "expected an object, got %s", pv_doc_kind(args));
  json_t *probe = json_object();
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach((json_t *)(uintptr_t)args, key, v) {
    size_t mark = ord_path_key(path, key);
    const pv_arg_t *a = pv_op_arg(op, key);
    json_t *pv = NULL;
    if (!a) {
      char names[200] = "";
      for (const pv_arg_t *x = op->args; x->name; x++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof(names) - used, "%s%s",
                 x == op->args ? "" : ", ", x->name);
      }
      rc = ord_fail(ps, path, "unknown argument for %s.%s (known: %s)",
                    op->service, op->name, names[0] ? names : "none");
    } else {
      rc = check_arg(ps, path, op, a, v, sc, &pv);
    }
    ord_path_cut(path, mark);
    if (rc < 0)
      goto out;
    json_object_set_new(probe, key, pv);
  }
  for (const pv_arg_t *a = op->args; a->name; a++) {
    if (a->required && !json_object_get(args, a->name)) {
      ord_path_key(path, a->name);
      rc = ord_fail(ps, path, "missing (%s.%s requires it)", op->service,
                    op->name);
      goto out;
    }
  }
  /* What remains are the rules between arguments (one_of, a PATCH with
   * nothing to change): the catalog's own check on stand-ins. */
  pv_error_t e;
  if (pv_catalog_check_args(op, probe, &e) < 0)
    rc = ord_fail(ps, path, "%s", e.message);
out:
  json_decref(probe);
  return rc;
}

/* ord_parse_call: see order_int.h. */
int ord_parse_call(ord_parse_t *ps, ord_path_t *path, const json_t *v,
                   const char *args_path, bool is_await,
                   const ord_scope_t *sc, pv_order_call_t *call,
                      json_t **canon)
{
  static const char *const call_known[] = {"service", "op", "args", NULL};
  static const char *const await_known[] = {"service", "op", "args", "until",
                                            "poll_ms", "deadline_ms", NULL};
  *canon = NULL;
  if (!json_is_object(v))
    return ord_fail(ps, path, "expected an object {service, op, args%s}, "
                    "got %s", is_await ? ", until" : "", pv_doc_kind(v));
  if (ord_check_members(ps, path, v, is_await ? await_known : call_known) < 0)
    return -1;
  const char *svc, *opn;
  if (ord_get_str(ps, path, "service", v, PV_JOB_NAME_MAX, &svc) < 0 ||
      ord_get_str(ps, path, "op", v, PV_JOB_NAME_MAX, &opn) < 0)
    return -1;
  size_t mark = ord_path_key(path, "service");
  if (!svc)
    return ord_fail(ps, path, "missing");
  if (!pv_catalog_has_service(svc))
    return ord_fail(ps, path, "\"%s\" is not a service (voltha, genieacs, "
                    "netbox)", svc);
  ord_path_cut(path, mark);
  ord_path_key(path, "op");
  if (!opn)
    return ord_fail(ps, path, "missing");
  if (strcmp(opn, PV_OP_ORDER) == 0)
    return ord_fail(ps, path, "a step cannot run an order");
  const pv_op_t *op = pv_catalog_find(svc, opn);
  if (!op)
    return ord_fail(ps, path, "\"%s\" is not an op of %s (provctl ops %s)", opn,
                    svc, svc);
  ord_path_cut(path, mark);

  const json_t *args = json_object_get(v, "args");
  ord_path_t apath;
  ord_path_init(&apath, args_path);
  json_t *empty = json_object();
  int rc = check_args(ps, &apath, op, args ? args : empty, sc);
  json_decref(empty);
  if (rc < 0)
    return -1;
  call->op = op;
  *canon = json_pack("{s:s,s:s,s:o}", "service", svc, "op", opn, "args",
                     args ? json_deep_copy(args) : json_object());
  return 0;
}

