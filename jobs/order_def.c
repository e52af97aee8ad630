/*
 * Order type definitions: the file format of docs/orders.md, checked
 * against the catalog, made into an immutable pv_order_def_t with its
 * canonical JSON; failure policies; the order's input checked with the
 * catalog's own argument checker.
 *
 * Every error names where it is: "SOURCE: steps[2].args.prefix_id: ...".
 * The step's own call or await arguments are "steps[N].args.NAME" (a step
 * has one of the two), a compensation's "steps[N].compensate.args.NAME";
 * N counts from 0, as in the file's array.
 */
#include "jobs/order_def.h"
#include "jobs/order_int.h"

#include "common/alloc.h"
#include "jobs/job.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESC_MAX 1024
#define MAX_OUTPUTS 64
#define POLL_MS_DEFAULT 2000
#define POLL_MS_MIN 100
#define POLL_MS_MAX 3600000
#define AWAIT_DEADLINE_DEFAULT 600000
#define AWAIT_DEADLINE_MAX (7LL * 86400000)
#define TYPE_DEADLINE_MAX (366LL * 86400000)

/* ---- errors ------------------------------------------------------------- */

int ord_fail(ord_parse_t *ps, const ord_path_t *path, const char *fmt, ...)
{
  int n = path && path->len
              ? snprintf(ps->err, ps->errsz, "%s: %s: ", ps->source, path->s)
              : snprintf(ps->err, ps->errsz, "%s: ", ps->source);
  if (n < 0 || (size_t)n >= ps->errsz)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ps->err + n, ps->errsz - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* Unknown members first: a typo is a better message than the "missing"
 * that would follow from it. known is NULL-terminated. */
int ord_check_members(ord_parse_t *ps, ord_path_t *path, const json_t *obj,
                      const char *const *known)
{
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)(uintptr_t)obj, key, v) {
    bool ok = false;
    for (size_t i = 0; known[i] && !ok; i++)
      ok = strcmp(known[i], key) == 0;
    if (ok)
      continue;
    char list[256] = "";
    for (size_t i = 0; known[i]; i++) {
      size_t used = strlen(list);
      snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
               known[i]);
    }
    ord_path_key(path, key);
    return ord_fail(ps, path, "unknown member (known: %s)", list);
  }
  return 0;
}

int ord_get_int(ord_parse_t *ps, ord_path_t *path, const char *key,
                const json_t *obj, int64_t min, int64_t max, int64_t dflt,
                bool required, int64_t *out)
{
  const json_t *v = json_object_get(obj, key);
  size_t mark = ord_path_key(path, key);
  int rc = 0;
  if (!v) {
    if (required)
      rc = ord_fail(ps, path, "missing");
    *out = dflt;
  } else if (!json_is_integer(v)) {
    char val[80];
    ord_shown(v, val, sizeof(val));
    rc = ord_fail(ps, path, "%s: expected an integer, got %s", val,
                  pv_doc_kind(v));
  } else if (json_integer_value(v) < min || json_integer_value(v) > max) {
    rc = ord_fail(ps, path, "%" JSON_INTEGER_FORMAT " out of range [%" PRId64
                  ", %" PRId64 "]", json_integer_value(v), min, max);
  } else {
    *out = json_integer_value(v);
  }
  ord_path_cut(path, mark);
  return rc;
}

/* An optional string member of at most max bytes: *out NULL if absent. */
int ord_get_str(ord_parse_t *ps, ord_path_t *path, const char *key,
                const json_t *obj, size_t max, const char **out)
{
  const json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v)
    return 0;
  size_t mark = ord_path_key(path, key);
  int rc = 0;
  if (!json_is_string(v))
    rc = ord_fail(ps, path, "expected a string, got %s", pv_doc_kind(v));
  else if (json_string_length(v) > max)
    rc = ord_fail(ps, path, "too long (%zu bytes, at most %zu)",
                  json_string_length(v), max);
  else if (strlen(json_string_value(v)) != json_string_length(v))
    rc = ord_fail(ps, path, "contains a NUL byte");
  else
    *out = json_string_value(v);
  ord_path_cut(path, mark);
  return rc;
}

/* The "name" member of a type or a step: required, [a-z0-9_]{1,64}. On
 * success the path is left at "name" for the caller's own checks. */
static int get_name(ord_parse_t *ps, ord_path_t *path, const json_t *obj,
                    const char *what, const char **out)
{
  if (ord_get_str(ps, path, "name", obj, PV_ORDER_STEP_NAME_MAX, out) < 0)
    return -1;
  ord_path_key(path, "name");
  if (!*out)
    return ord_fail(ps, path, "missing");
  if (!ord_name_ok(*out, PV_ORDER_STEP_NAME_MAX))
    return ord_fail(ps, path, "\"%s\": %s names are 1-%d of a-z, 0-9 and "
                    "'_'", *out, what, PV_ORDER_STEP_NAME_MAX);
  return 0;
}

/* ---- inputs ------------------------------------------------------------- */

/* The input types by name, and the bounds a declaration gets by default. */
static const struct input_type {
  const char *name;
  pv_arg_type_t type;
  bool bounded;
  int64_t min, max, lo, hi; /* defaults, and the widest allowed */
} input_types[] = {
  {"string", PV_ARG_STR, true, 0, 4096, 0, PV_JOB_MAX_BYTES},
  {"integer", PV_ARG_INT, true, INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX},
  {"boolean", PV_ARG_BOOL, false, 0, 0, 0, 0},
  {"object", PV_ARG_OBJECT, false, 0, 0, 0, 0},
  {"string_list", PV_ARG_STR_LIST, true, 0, 1000, 0, 100000},
  {"array", PV_ARG_ARRAY, true, 0, 1000, 0, 100000},
};
#define N_INPUT_TYPES (sizeof(input_types) / sizeof(input_types[0]))

static const struct input_type *input_type_named(const char *name)
{
  for (size_t i = 0; i < N_INPUT_TYPES; i++)
    if (strcmp(input_types[i].name, name) == 0)
      return &input_types[i];
  return NULL;
}

const char *ord_input_type_name(pv_arg_type_t t)
{
  for (size_t i = 0; i < N_INPUT_TYPES; i++)
    if (input_types[i].type == t)
      return input_types[i].name;
  return pv_arg_type_name(t);
}

static int parse_input(ord_parse_t *ps, ord_path_t *path, const char *name,
                       const json_t *spec, pv_arg_t *a, json_t *canon)
{
  static const char *const known[] = {"type", "required", "min", "max",
                                      "default", "desc", NULL};
  if (!ord_name_ok(name, PV_ORDER_STEP_NAME_MAX))
    return ord_fail(ps, path, "input names are 1-%d of a-z, 0-9 and '_'",
                    PV_ORDER_STEP_NAME_MAX);
  if (strcmp(name, PV_ORDER_INPUT_PROGRESS) == 0)
    return ord_fail(ps, path, "\"%s\" is reserved (a job asks for progress "
                    "events with it)", PV_ORDER_INPUT_PROGRESS);
  if (!json_is_object(spec))
    return ord_fail(ps, path, "expected an object {type, required, min, max, "
                    "default, desc}, got %s", pv_doc_kind(spec));
  if (ord_check_members(ps, path, spec, known) < 0)
    return -1;
  const char *tname, *desc;
  if (ord_get_str(ps, path, "type", spec, 32, &tname) < 0 ||
      ord_get_str(ps, path, "desc", spec, DESC_MAX, &desc) < 0)
    return -1;
  size_t mark = ord_path_key(path, "type");
  if (!tname)
    return ord_fail(ps, path, "missing (string, integer, boolean, object, "
                    "string_list or array)");
  const struct input_type *it = input_type_named(tname);
  if (!it)
    return ord_fail(ps, path, "\"%s\" is not a type (string, integer, boolean, "
                    "object, string_list or array)", tname);
  ord_path_cut(path, mark);

  const json_t *req = json_object_get(spec, "required");
  if (req && !json_is_boolean(req)) {
    ord_path_key(path, "required");
    return ord_fail(ps, path, "expected true or false, got %s",
                    pv_doc_kind(req));
  }
  int64_t min = it->min, max = it->max;
  bool has_min = json_object_get(spec, "min") != NULL;
  bool has_max = json_object_get(spec, "max") != NULL;
  if (!it->bounded && (has_min || has_max)) {
    ord_path_key(path, has_min ? "min" : "max");
    return ord_fail(ps, path, "a %s input has no bounds", it->name);
  }
  if (ord_get_int(ps, path, "min", spec, it->lo, it->hi, it->min, false,
                  &min) < 0 ||
      ord_get_int(ps, path, "max", spec, it->lo, it->hi, it->max, false,
                  &max) < 0)
    return -1;
  if (min > max) {
    ord_path_key(path, "min");
    return ord_fail(ps, path, "%" PRId64 " is above max (%" PRId64 ")", min,
                    max);
  }

  a->name = pv_strdup(name);
  a->type = it->type;
  a->in = PV_IN_CLIENT;
  a->required = json_is_true(req);
  a->min = min;
  a->max = max;
  a->desc = desc ? pv_strdup(desc) : NULL;

  json_t *c = json_pack("{s:s,s:b}", "type", it->name, "required",
                        a->required);
  if (has_min)
    json_object_set_new(c, "min", json_integer(min));
  if (has_max)
    json_object_set_new(c, "max", json_integer(max));
  if (desc)
    json_object_set_new(c, "desc", json_string(desc));
  json_object_set_new(canon, name, c);

  const json_t *dflt = json_object_get(spec, "default");
  if (dflt) {
    mark = ord_path_key(path, "default");
    if (a->required)
      return ord_fail(ps, path, "a required input has no default");
    pv_error_t e;
    if (json_is_null(dflt))
      return ord_fail(ps, path, "null is not a value (leave the default out)");
    if (pv_arg_check(a, dflt, path->s, &e) < 0)
      return ord_fail(ps, NULL, "%s", e.message);
    ord_path_cut(path, mark);
    json_object_set(c, "default", (json_t *)(uintptr_t)dflt);
    a->dflt = json_dumps(dflt, JSON_ENCODE_ANY | JSON_COMPACT);
  }
  return 0;
}

static int parse_inputs(ord_parse_t *ps, pv_order_def_t *def, const json_t *in,
                        json_t *canon)
{
  ord_path_t path;
  ord_path_init(&path, "input");
  json_t *c = json_object();
  json_object_set_new(canon, "input", c);
  if (in && !json_is_object(in))
    return ord_fail(ps, &path, "expected an object of input declarations, got "
                    "%s", pv_doc_kind(in));
  size_t n = in ? json_object_size(in) : 0;
  if (n > PV_ORDER_MAX_INPUTS)
    return ord_fail(ps, &path, "%zu inputs, at most %d", n,
                    PV_ORDER_MAX_INPUTS);
  def->inputs = pv_calloc(n + 1, sizeof(*def->inputs));
  def->input_types = pv_calloc(n + 1, sizeof(*def->input_types));
  def->input_names = pv_calloc(n + 1, sizeof(*def->input_names));
  const char *key;
  json_t *spec;
  if (in) {
    json_object_foreach((json_t *)(uintptr_t)in, key, spec) {
      size_t mark = ord_path_key(&path, key);
      pv_arg_t *a = &def->inputs[def->n_inputs];
      int rc = parse_input(ps, &path, key, spec, a, c);
      if (a->name) {
        def->input_types[def->n_inputs] = a->type;
        def->input_names[def->n_inputs] = a->name;
        def->n_inputs++;
      }
      if (rc < 0)
        return -1;
      ord_path_cut(&path, mark);
    }
  }
  /* The catalog's checker takes an op: this one is the type itself. */
  def->input_op = (pv_op_t){.service = PV_ORDER_SERVICE, .name = def->name,
                            .method = "-", .path = "-", .tmo = PV_TMO_LONG,
                            .norm = PV_NORM_CUSTOM, .args = def->inputs,
                            .desc = ""};
  return 0;
}

/* ---- steps -------------------------------------------------------------- */

static const char *const until_roots[] = {"result", NULL};
static const char *const when_roots[] = {"input", "steps", "order", NULL};

static ord_scope_t scope_of(const pv_order_def_t *def, size_t visible,
                            size_t self)
{
  return (ord_scope_t){.inputs = def->input_names,
                       .input_types = def->input_types,
                       .n_inputs = def->n_inputs,
                       .steps = def->step_names,
                       .step_conditional = def->step_conditional,
                       .n_steps = def->n_steps,
                       .visible = visible,
                       .self = self};
}

static int parse_await_extra(ord_parse_t *ps, ord_path_t *path, const json_t *v,
                             const ord_scope_t *sc, pv_order_step_t *st,
                             json_t *canon)
{
  if (pv_op_writes(st->call.op)) {
    ord_path_key(path, "op");
    return ord_fail(ps, path, "%s.%s changes state; an await polls its op, so "
                    "it must only read", st->call.op->service,
                    st->call.op->name);
  }
  size_t mark = ord_path_key(path, "until");
  const json_t *until = json_object_get(v, "until");
  char msg[PV_ERROR_MSG_MAX * 2];
  if (!until)
    return ord_fail(ps, path, "missing (the condition the await waits for)");
  ord_path_t rel;
  ord_path_init(&rel, path->s);
  if (ord_cond_check(until, until_roots, sc, &rel, msg, sizeof(msg)) < 0)
    return ord_fail(ps, NULL, "%s", msg);
  ord_path_cut(path, mark);
  if (ord_get_int(ps, path, "poll_ms", v, POLL_MS_MIN, POLL_MS_MAX,
                  POLL_MS_DEFAULT, false, &st->poll_ms) < 0 ||
      ord_get_int(ps, path, "deadline_ms", v, 1000, AWAIT_DEADLINE_MAX,
                  AWAIT_DEADLINE_DEFAULT, false, &st->deadline_ms) < 0)
    return -1;
  if (st->deadline_ms < st->poll_ms) {
    ord_path_key(path, "deadline_ms");
    return ord_fail(ps, path, "%" PRId64 " is shorter than poll_ms (%" PRId64
                    ")", st->deadline_ms, st->poll_ms);
  }
  json_object_set(canon, "until", (json_t *)(uintptr_t)until);
  json_object_set_new(canon, "poll_ms", json_integer(st->poll_ms));
  json_object_set_new(canon, "deadline_ms", json_integer(st->deadline_ms));
  return 0;
}

static int parse_step(ord_parse_t *ps, pv_order_def_t *def, size_t i,
                      const json_t *v, json_t *canon_steps)
{
  static const char *const known[] = {"name", "description", "call", "await",
                                      "when", "compensate", "on_error", NULL};
  pv_order_step_t *st = &def->steps[i];
  ord_path_t path;
  char start[32], args_path[48], cargs_path[64];
  snprintf(start, sizeof(start), "steps[%zu]", i);
  snprintf(args_path, sizeof(args_path), "steps[%zu].args", i);
  snprintf(cargs_path, sizeof(cargs_path), "steps[%zu].compensate.args", i);
  ord_path_init(&path, start);
  if (ord_check_members(ps, &path, v, known) < 0)
    return -1;
  json_t *c = json_object();
  json_array_append_new(canon_steps, c);
  json_object_set_new(c, "name", json_string(def->step_names[i]));
  const char *desc;
  if (ord_get_str(ps, &path, "description", v, DESC_MAX, &desc) < 0)
    return -1;
  if (desc)
    json_object_set_new(c, "description", json_string(desc));

  const json_t *call = json_object_get(v, "call");
  const json_t *await = json_object_get(v, "await");
  if (call && await)
    return ord_fail(ps, &path, "has both \"call\" and \"await\": a step is one "
                    "or the other");
  if (!call && !await)
    return ord_fail(ps, &path, "needs \"call\" or \"await\"");
  st->kind = call ? PV_STEP_CALL : PV_STEP_AWAIT;
  const char *kname = call ? "call" : "await";
  ord_scope_t sc = scope_of(def, i, SIZE_MAX);
  size_t mark = ord_path_key(&path, kname);
  json_t *cc;
  if (ord_parse_call(ps, &path, call ? call : await, args_path, await != NULL,
                     &sc, &st->call, &cc) < 0)
    return -1;
  json_object_set_new(c, kname, cc);
  if (await && parse_await_extra(ps, &path, await, &sc, st, cc) < 0)
    return -1;
  ord_path_cut(&path, mark);

  const json_t *when = json_object_get(v, "when");
  if (when) {
    char msg[PV_ERROR_MSG_MAX * 2];
    ord_scope_t wsc = sc;
    wsc.allow_conditional = true;
    ord_path_t rel;
    mark = ord_path_key(&path, "when");
    ord_path_init(&rel, path.s);
    if (ord_cond_check(when, when_roots, &wsc, &rel, msg, sizeof(msg)) < 0)
      return ord_fail(ps, NULL, "%s", msg);
    ord_path_cut(&path, mark);
    json_object_set(c, "when", (json_t *)(uintptr_t)when);
  }

  const json_t *comp = json_object_get(v, "compensate");
  mark = ord_path_key(&path, "compensate");
  if (comp && !json_is_null(comp)) {
    ord_scope_t csc = scope_of(def, i, i);
    if (ord_parse_call(ps, &path, comp, cargs_path, false, &csc,
                       &st->compensate, &cc) < 0)
      return -1;
    json_object_set_new(c, "compensate", cc);
    if (!st->compensate.op->idempotent) {
      ord_path_key(&path, "op");
      return ord_fail(ps, &path, "%s.%s is not idempotent; a compensation may "
                      "run again after a crash", st->compensate.op->service,
                      st->compensate.op->name);
    }
  } else if (comp) {
    json_object_set_new(c, "compensate", json_null());
  } else if (st->kind == PV_STEP_CALL && pv_op_writes(st->call.op) &&
             !def->is_inline) {
    return ord_fail(ps, &path, "missing: %s.%s changes state; declare its undo "
                    "({service, op, args}), or null when there is nothing to "
                    "undo", st->call.op->service, st->call.op->name);
  }
  st->compensate_declared = comp != NULL;
  ord_path_cut(&path, mark);

  mark = ord_path_key(&path, "on_error");
  json_t *pc;
  if (ord_parse_on_error(ps, &path, json_object_get(v, "on_error"), i,
                         def->step_names, def->n_steps, &def->step_on_error[i],
                         &pc) < 0)
    return -1;
  if (pc && json_object_size(pc))
    json_object_set_new(c, "on_error", pc);
  else
    json_decref(pc);
  ord_path_cut(&path, mark);

  /* Templates point into the canonical JSON, which the definition owns. */
  st->name = def->step_names[i];
  json_t *kc = json_object_get(c, kname);
  st->call.args = json_object_get(kc, "args");
  st->until = json_object_get(kc, "until");
  st->when = json_object_get(c, "when");
  if (st->compensate.op)
    st->compensate.args =
        json_object_get(json_object_get(c, "compensate"), "args");
  return 0;
}

/* Names first: a reference may name any step, and the messages say
 * whether it runs earlier or later. */
static int parse_step_names(ord_parse_t *ps, pv_order_def_t *def,
                            const json_t *steps)
{
  ord_path_t path;
  ord_path_init(&path, "steps");
  if (!steps)
    return ord_fail(ps, &path, "missing");
  if (!json_is_array(steps))
    return ord_fail(ps, &path, "expected an array of steps, got %s",
                    pv_doc_kind(steps));
  size_t n = json_array_size(steps);
  if (n == 0 || n > PV_ORDER_DEF_MAX_STEPS)
    return ord_fail(ps, &path, "%zu steps, expected 1 to %d", n,
                    PV_ORDER_DEF_MAX_STEPS);
  def->steps = pv_calloc(n, sizeof(*def->steps));
  def->step_on_error = pv_calloc(n, sizeof(*def->step_on_error));
  def->step_names = pv_calloc(n, sizeof(*def->step_names));
  def->step_conditional = pv_calloc(n, sizeof(*def->step_conditional));
  def->n_steps = n;
  for (size_t i = 0; i < n; i++) {
    const json_t *st = json_array_get(steps, i);
    size_t mark = ord_path_idx(&path, i);
    if (!json_is_object(st))
      return ord_fail(ps, &path, "expected a step object, got %s",
                      pv_doc_kind(st));
    const char *name;
    if (get_name(ps, &path, st, "step", &name) < 0)
      return -1;
    for (size_t k = 0; k < i; k++)
      if (strcmp(def->step_names[k], name) == 0)
        return ord_fail(ps, &path, "\"%s\" is also the name of steps[%zu]",
                        name, k);
    def->step_names[i] = name;
    def->step_conditional[i] = json_object_get(st, "when") != NULL;
    ord_path_cut(&path, mark);
  }
  return 0;
}

/* ---- the whole definition ----------------------------------------------- */

static int parse_head(ord_parse_t *ps, pv_order_def_t *def, const json_t *root,
                      json_t *canon)
{
  static const char *const known[] = {"name", "version", "description",
                                      "deadline_ms", "inline", "input",
                                      "on_error", "steps", "outputs", NULL};
  ord_path_t path;
  ord_path_init(&path, NULL);
  if (!json_is_object(root))
    return ord_fail(ps, NULL, "expected an order type object, got %s",
                    pv_doc_kind(root));
  if (ord_check_members(ps, &path, root, known) < 0)
    return -1;
  const json_t *inl = json_object_get(root, "inline");
  if (inl && !json_is_boolean(inl)) {
    ord_path_key(&path, "inline");
    return ord_fail(ps, &path, "expected true or false, got %s",
                    pv_doc_kind(inl));
  }
  def->is_inline = json_is_true(inl);
  const char *name;
  if (get_name(ps, &path, root, "type", &name) < 0)
    return -1;
  if ((strcmp(name, PV_OP_ORDER) == 0) != def->is_inline)
    return ord_fail(ps, &path, def->is_inline
                    ? "\"%s\": an inline definition is named \"order\""
                    : "\"%s\" is reserved for the inline form (op \"order\" "
                      "with args.steps)", name);
  ord_path_cut(&path, 0);
  int64_t version, deadline;
  const char *desc;
  if (ord_get_int(ps, &path, "version", root, 1, INT32_MAX, 0, true,
                  &version) < 0 ||
      ord_get_str(ps, &path, "description", root, DESC_MAX, &desc) < 0 ||
      ord_get_int(ps, &path, "deadline_ms", root, 1000, TYPE_DEADLINE_MAX, 0,
                  false, &deadline) < 0)
    return -1;
  def->name = name;
  def->version = (int)version;
  def->description = desc ? desc : "";
  def->deadline_ms = deadline;
  json_object_set_new(canon, "name", json_string(name));
  json_object_set_new(canon, "version", json_integer(version));
  if (desc)
    json_object_set_new(canon, "description", json_string(desc));
  if (deadline)
    json_object_set_new(canon, "deadline_ms", json_integer(deadline));
  if (def->is_inline)
    json_object_set_new(canon, "inline", json_true());
  return 0;
}

static int parse_outputs(ord_parse_t *ps, pv_order_def_t *def,
                         const json_t *out, json_t *canon)
{
  ord_path_t path;
  ord_path_init(&path, "outputs");
  if (out && !json_is_object(out))
    return ord_fail(ps, &path, "expected an object {NAME: template}, got %s",
                    pv_doc_kind(out));
  if (out && json_object_size(out) > MAX_OUTPUTS)
    return ord_fail(ps, &path, "%zu outputs, at most %d", json_object_size(out),
                    MAX_OUTPUTS);
  ord_scope_t sc = scope_of(def, def->n_steps, SIZE_MAX);
  const char *key;
  json_t *v;
  if (out) {
    json_object_foreach((json_t *)(uintptr_t)out, key, v) {
      size_t mark = ord_path_key(&path, key);
      char msg[PV_ERROR_MSG_MAX * 2];
      if (!ord_name_ok(key, PV_ORDER_STEP_NAME_MAX))
        return ord_fail(ps, &path, "output names are 1-%d of a-z, 0-9 and '_'",
                        PV_ORDER_STEP_NAME_MAX);
      ord_path_t rel;
      ord_path_init(&rel, path.s);
      if (ord_tmpl_check(v, &sc, &rel, msg, sizeof(msg)) < 0)
        return ord_fail(ps, NULL, "%s", msg);
      ord_path_cut(&path, mark);
    }
  }
  json_t *c = out ? json_deep_copy(out) : json_object();
  json_object_set_new(canon, "outputs", c);
  def->outputs = c;
  return 0;
}

/* Builds a definition from a parsed document. @returns NULL with ps->err. */
static pv_order_def_t *def_build(const json_t *root, ord_parse_t *ps)
{
  pv_order_def_t *def = pv_calloc(1, sizeof(*def));
  def->canon = json_object();
  json_t *canon_steps = json_array();
  json_t *pc = NULL;
  if (parse_head(ps, def, root, def->canon) < 0 ||
      parse_inputs(ps, def, json_object_get(root, "input"), def->canon) < 0 ||
      parse_step_names(ps, def, json_object_get(root, "steps")) < 0)
    goto bad;
  for (size_t i = 0; i < def->n_steps; i++) {
    if (parse_step(ps, def, i, json_array_get(json_object_get(root, "steps"),
                                              i), canon_steps) < 0)
      goto bad;
  }
  ord_path_t path;
  ord_path_init(&path, "on_error");
  if (ord_parse_on_error(ps, &path, json_object_get(root, "on_error"),
                         SIZE_MAX, def->step_names, def->n_steps,
                         &def->on_error, &pc) < 0)
    goto bad;
  /* Members in reading order (jansson keeps it): head, input, on_error,
   * steps, outputs. */
  json_object_set_new(def->canon, "on_error", pc ? pc : json_object());
  pc = NULL;
  json_object_set_new(def->canon, "steps", canon_steps);
  canon_steps = NULL;
  if (parse_outputs(ps, def, json_object_get(root, "outputs"), def->canon) < 0)
    goto bad;
  /* Names pointed into the source document so far: point them at the
   * canonical copy, which the definition owns. */
  def->name = json_string_value(json_object_get(def->canon, "name"));
  def->description = json_string_value(
      json_object_get(def->canon, "description"));
  if (!def->description)
    def->description = "";
  def->input_op.name = def->name;
  const json_t *steps = json_object_get(def->canon, "steps");
  for (size_t i = 0; i < def->n_steps; i++) {
    def->step_names[i] = json_string_value(
        json_object_get(json_array_get(steps, i), "name"));
    def->steps[i].name = def->step_names[i];
  }
  return def;
bad:
  json_decref(pc);
  json_decref(canon_steps);
  /* Names borrowed from root must not outlive this call. */
  pv_order_def_destroy(def);
  return NULL;
}

pv_order_def_t *pv_order_def_parse(const char *text, size_t len,
                                   const char *source, char *err,
                                   size_t errsz)
{
  ord_parse_t ps = {source ? source : "order type", err, errsz};
  err[0] = '\0';
  if (len > PV_ORDER_FILE_MAX_BYTES) {
    ord_fail(&ps, NULL, "%zu bytes, at most %d", len, PV_ORDER_FILE_MAX_BYTES);
    return NULL;
  }
  json_error_t je;
  /* Duplicate members are refused: a second "args" silently winning is
   * exactly the kind of mistake a definition must not hide. */
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    ord_fail(&ps, NULL, "invalid JSON at line %d, column %d: %s", je.line,
             je.column, je.text);
    return NULL;
  }
  pv_order_def_t *def = def_build(root, &ps);
  json_decref(root);
  return def;
}

pv_order_def_t *pv_order_def_inline(const json_t *steps, pv_error_t *err)
{
  json_t *args = json_pack("{s:O}", "steps", (json_t *)(uintptr_t)steps);
  int rc = pv_catalog_check_args(pv_catalog_find("voltha", PV_OP_ORDER), args,
                                 err);
  json_decref(args);
  if (rc < 0)
    return NULL;
  json_t *csteps = json_array();
  size_t i;
  const json_t *st;
  json_array_foreach(steps, i, st) {
    const json_t *a = json_object_get(st, "args");
    json_t *call = json_pack("{s:O,s:O,s:o}", "service",
                             json_object_get(st, "service"), "op",
                             json_object_get(st, "op"), "args",
                             a ? ord_tmpl_escape(a) : json_object());
    char name[32];
    snprintf(name, sizeof(name), "step%zu", i + 1);
    json_array_append_new(csteps, json_pack("{s:s,s:o}", "name", name, "call",
                                            call));
  }
  json_t *root = json_pack(
      "{s:s,s:i,s:b,s:s,s:{s:{s:s,s:b,s:i,s:i}},s:{s:s},s:o,s:{}}", "name",
      PV_OP_ORDER, "version", 1, "inline", 1, "description",
      "inline order (op \"order\" with args.steps)", "input", "steps", "type",
      "array", "required", 1, "min", 1, "max", PV_ORDER_MAX_STEPS, "on_error",
      "*", "abort", "steps", csteps, "outputs");
  char msg[1024];
  ord_parse_t ps = {"inline order", msg, sizeof(msg)};
  pv_order_def_t *def = def_build(root, &ps);
  json_decref(root);
  if (!def)
    pv_error_set(err, PV_ERR_INTERNAL, 0, "%s", msg);
  return def;
}

void pv_order_def_destroy(pv_order_def_t *def)
{
  if (!def)
    return;
  for (size_t i = 0; i < def->n_inputs; i++) {
    free((char *)(uintptr_t)def->inputs[i].name);
    free((char *)(uintptr_t)def->inputs[i].desc);
    free((char *)(uintptr_t)def->inputs[i].dflt);
  }
  free(def->inputs);
  free(def->input_types);
  free(def->input_names);
  ord_policies_free(&def->on_error);
  for (size_t i = 0; i < def->n_steps && def->step_on_error; i++)
    ord_policies_free(&def->step_on_error[i]);
  free(def->step_on_error);
  free(def->steps);
  free(def->step_names);
  free(def->step_conditional);
  json_decref(def->canon);
  free(def);
}

/* ---- accessors ---------------------------------------------------------- */

const char *pv_order_def_name(const pv_order_def_t *def)
{
  return def->name;
}

int pv_order_def_version(const pv_order_def_t *def)
{
  return def->version;
}

const char *pv_order_def_description(const pv_order_def_t *def)
{
  return def->description;
}

bool pv_order_def_is_inline(const pv_order_def_t *def)
{
  return def->is_inline;
}

size_t pv_order_def_steps(const pv_order_def_t *def)
{
  return def->n_steps;
}

const pv_order_step_t *pv_order_def_step(const pv_order_def_t *def, size_t i)
{
  return i < def->n_steps ? &def->steps[i] : NULL;
}

int pv_order_def_step_index(const pv_order_def_t *def, const char *name)
{
  for (size_t i = 0; i < def->n_steps; i++)
    if (strcmp(def->step_names[i], name) == 0)
      return (int)i;
  return -1;
}

int64_t pv_order_def_deadline_ms(const pv_order_def_t *def)
{
  return def->deadline_ms;
}

const json_t *pv_order_def_outputs(const pv_order_def_t *def)
{
  return def->outputs;
}

json_t *pv_order_def_json(const pv_order_def_t *def)
{
  return json_deep_copy(def->canon);
}

/* ---- the order's input -------------------------------------------------- */

int pv_order_input_check(const pv_order_def_t *def, const json_t *input,
                         pv_error_t *err)
{
  if (!json_is_object(input)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "args: expected object, got %s",
                 pv_doc_kind(input));
    return -1;
  }
  const json_t *progress = json_object_get(input, PV_ORDER_INPUT_PROGRESS);
  if (progress && !json_is_boolean(progress)) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0,
                 "argument \"%s\": expected boolean, got %s",
                 PV_ORDER_INPUT_PROGRESS, pv_doc_kind(progress));
    return -1;
  }
  if (!progress)
    return pv_catalog_check_args(&def->input_op, input, err);
  json_t *rest = json_copy((json_t *)(uintptr_t)input);
  json_object_del(rest, PV_ORDER_INPUT_PROGRESS);
  int rc = pv_catalog_check_args(&def->input_op, rest, err);
  json_decref(rest);
  return rc;
}

json_t *pv_order_input_normalize(const pv_order_def_t *def,
                                 const json_t *input, pv_error_t *err)
{
  if (pv_order_input_check(def, input, err) < 0)
    return NULL;
  json_t *out = json_deep_copy(input);
  json_object_del(out, PV_ORDER_INPUT_PROGRESS);
  const json_t *decl = json_object_get(def->canon, "input");
  for (size_t i = 0; i < def->n_inputs; i++) {
    const char *name = def->inputs[i].name;
    const json_t *dflt = json_object_get(json_object_get(decl, name),
                                         "default");
    if (dflt && !json_object_get(out, name))
      json_object_set_new(out, name, json_deep_copy(dflt));
  }
  return out;
}
