/*
 * Order templates: `${...}` references (checked when a definition loads,
 * resolved when a step runs) and await/when conditions (checked and
 * evaluated). docs/orders.md, "References" and "Conditions".
 *
 * Grammar of a reference: `${ROOT.SEG.SEG...|FILTER}` with ROOT one of
 * input, steps, self, order; SEG [A-Za-z0-9_-]+ (a number indexes an
 * array); FILTER optional, "ip" only. `$${` is a literal `${`.
 */
#include "jobs/order_def.h"
#include "jobs/order_int.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "jobs/job.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Templates come from files and pinned rows: bounded anyway, but a
 * recursion over them needs a floor that does not depend on the caller. */
#define TMPL_MAX_DEPTH 64

/* ---- paths in messages -------------------------------------------------- */

void ord_path_init(ord_path_t *p, const char *start)
{
  p->len = 0;
  p->s[0] = '\0';
  if (start) {
    int n = snprintf(p->s, sizeof(p->s), "%s", start);
    p->len = n < 0 ? 0 : (size_t)n < sizeof(p->s) ? (size_t)n
                                                   : sizeof(p->s) - 1;
  }
}

static size_t path_add(ord_path_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_add(ord_path_t *p, const char *fmt, ...)
{
  size_t old = p->len;
  if (p->len < sizeof(p->s) - 1) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->s + p->len, sizeof(p->s) - p->len, fmt, ap);
    va_end(ap);
    if (n > 0)
      p->len = p->len + (size_t)n < sizeof(p->s) ? p->len + (size_t)n
                                                 : sizeof(p->s) - 1;
  }
  return old;
}

size_t ord_path_key(ord_path_t *p, const char *key)
{
  return path_add(p, "%s%.64s", p->len ? "." : "", key);
}

size_t ord_path_idx(ord_path_t *p, size_t i)
{
  return path_add(p, "[%zu]", i);
}

void ord_path_cut(ord_path_t *p, size_t len)
{
  if (len < sizeof(p->s)) {
    p->len = len;
    p->s[len] = '\0';
  }
}

/* "PATH: " for messages, or "" at the root. */
const char *ord_path_pfx(const ord_path_t *p, char *buf, size_t size)
{
  if (!p || !p->len)
    return "";
  snprintf(buf, size, "%s: ", p->s);
  return buf;
}

bool ord_name_ok(const char *name, size_t max)
{
  size_t n = strlen(name);
  if (n == 0 || n > max)
    return false;
  for (const char *c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
      return false;
  return true;
}

static bool seg_char(char c)
{
  return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* "an object", "a string"...: a value's kind in a sentence. */
const char *ord_a_kind(const json_t *v)
{
  const char *k = pv_doc_kind(v);
  return strcmp(k, "object") == 0    ? "an object"
         : strcmp(k, "array") == 0   ? "an array"
         : strcmp(k, "integer") == 0 ? "an integer"
         : strcmp(k, "string") == 0  ? "a string"
         : strcmp(k, "real") == 0    ? "a real"
         : strcmp(k, "boolean") == 0 ? "a boolean"
                                     : "null";
}

static bool all_digits(const char *s)
{
  if (!*s)
    return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return false;
  return true;
}

/* ---- scanning a template string ----------------------------------------- */

/* Called for each literal run (escapes undone) and each reference (the
 * text between `${` and `}`). @returns 0 to go on, -1 to stop. */
typedef int (*part_fn)(void *arg, bool is_ref, const char *p, size_t n);

static int scan(const char *s, size_t len, part_fn fn, void *arg, char *msg,
                size_t msgsz)
{
  size_t i = 0, lit = 0;
  while (i < len) {
    if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
      if (i > lit && fn(arg, false, s + lit, i - lit) < 0)
        return -1;
      if (fn(arg, false, s + i + 1, 2) < 0)
        return -1;
      i += 3;
      lit = i;
      continue;
    }
    if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
      const char *end = memchr(s + i + 2, '}', len - i - 2);
      if (!end) {
        snprintf(msg, msgsz, "\"%.40s\": unterminated reference (a literal "
                 "${ is written $${)", s + i);
        return -1;
      }
      if (i > lit && fn(arg, false, s + lit, i - lit) < 0)
        return -1;
      if (fn(arg, true, s + i + 2, (size_t)(end - (s + i + 2))) < 0)
        return -1;
      i = (size_t)(end - s) + 1;
      lit = i;
      continue;
    }
    i++;
  }
  if (len > lit && fn(arg, false, s + lit, len - lit) < 0)
    return -1;
  return 0;
}

/* ---- parsing one reference ---------------------------------------------- */

int ord_ref_parse(const char *p, size_t n, ord_ref_t *ref, char *msg,
                  size_t msgsz)
{
  memset(ref, 0, sizeof(*ref));
  if (n > 90)
    snprintf(ref->text, sizeof(ref->text), "${%.80s...}", p);
  else
    snprintf(ref->text, sizeof(ref->text), "${%.*s}", (int)n, p);
  if (n == 0) {
    snprintf(msg, msgsz, "${}: empty reference");
    return -1;
  }
  if (n > ORD_REF_MAX) {
    snprintf(msg, msgsz, "%.60s...: reference longer than %d bytes",
             ref->text, ORD_REF_MAX);
    return -1;
  }
  memcpy(ref->buf, p, n);
  ref->buf[n] = '\0';
  char *bar = strchr(ref->buf, '|');
  if (bar) {
    *bar = '\0';
    ref->filter = bar + 1;
    if (strcmp(ref->filter, "ip") != 0) {
      snprintf(msg, msgsz, "%s: unknown filter \"%.40s\" (known: ip)",
               ref->text, ref->filter);
      return -1;
    }
  }
  char *s = ref->buf;
  for (;;) {
    char *dot = strchr(s, '.');
    if (dot)
      *dot = '\0';
    if (!*s) {
      snprintf(msg, msgsz, "%s: empty name between dots", ref->text);
      return -1;
    }
    for (const char *c = s; *c; c++) {
      if (!seg_char(*c)) {
        snprintf(msg, msgsz, "%s: '%c' is not allowed in a reference "
                 "(names are letters, digits, '_' and '-')", ref->text,
                 isprint((unsigned char)*c) ? *c : '?');
        return -1;
      }
    }
    if (ref->nseg == ORD_REF_MAX_SEGS) {
      snprintf(msg, msgsz, "%s: more than %d names", ref->text,
               ORD_REF_MAX_SEGS);
      return -1;
    }
    ref->seg[ref->nseg++] = s;
    if (!dot)
      break;
    s = dot + 1;
  }

  const char *root = ref->seg[0];
  if (strcmp(root, "input") == 0) {
    if (ref->nseg < 2) {
      snprintf(msg, msgsz, "%s: name the input (${input.NAME})", ref->text);
      return -1;
    }
  } else if (strcmp(root, "steps") == 0) {
    if (ref->nseg < 3 || strcmp(ref->seg[2], "result") != 0) {
      snprintf(msg, msgsz, "%s: a step's value is its result "
               "(${steps.NAME.result...})", ref->text);
      return -1;
    }
  } else if (strcmp(root, "self") == 0) {
    if (ref->nseg < 2 || strcmp(ref->seg[1], "result") != 0) {
      snprintf(msg, msgsz, "%s: the step's own value is its result "
               "(${self.result...})", ref->text);
      return -1;
    }
  } else if (strcmp(root, "order") == 0) {
    if (ref->nseg != 2 || (strcmp(ref->seg[1], "id") != 0 &&
                           strcmp(ref->seg[1], "tenant") != 0 &&
                           strcmp(ref->seg[1], "type") != 0)) {
      snprintf(msg, msgsz, "%s: the order gives ${order.id}, "
               "${order.tenant} and ${order.type}", ref->text);
      return -1;
    }
  } else {
    snprintf(msg, msgsz, "%s: unknown root \"%.40s\" (input, steps, self, "
             "order)", ref->text, root);
    return -1;
  }
  return 0;
}

/* ---- classifying a template string -------------------------------------- */

typedef struct classify_ctx {
  size_t refs, literal, parts;
  ord_ref_t *ref;
  char *msg;
  size_t msgsz;
} classify_ctx_t;

static int classify_part(void *arg, bool is_ref, const char *p, size_t n)
{
  classify_ctx_t *c = arg;
  c->parts++;
  if (!is_ref) {
    c->literal += n;
    return 0;
  }
  ord_ref_t tmp;
  ord_ref_t *r = c->refs == 0 && c->ref ? c->ref : &tmp;
  c->refs++;
  return ord_ref_parse(p, n, r, c->msg, c->msgsz);
}

int ord_str_classify(const char *s, size_t len, ord_str_kind_t *kind,
                     ord_ref_t *ref, size_t *literal_len, char *msg,
                     size_t msgsz)
{
  classify_ctx_t c = {.ref = ref, .msg = msg, .msgsz = msgsz};
  if (scan(s, len, classify_part, &c, msg, msgsz) < 0)
    return -1;
  *kind = c.refs == 0                    ? ORD_STR_PLAIN
          : c.refs == 1 && c.parts == 1 ? ORD_STR_WHOLE
                                        : ORD_STR_TEXT;
  if (literal_len)
    *literal_len = c.literal;
  return 0;
}

/* ---- checking references against what is declared ----------------------- */

static long find_name(const char *const *names, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0)
      return (long)i;
  return -1;
}

static void name_list(const char *const *names, size_t n, char *buf,
                      size_t size)
{
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used < size; i++) {
    int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                     names[i]);
    if (w < 0)
      break;
    used += (size_t)w;
  }
  if (n == 0)
    snprintf(buf, size, "none");
}

int ord_ref_check(const ord_ref_t *ref, const ord_scope_t *sc, char *msg,
                  size_t msgsz)
{
  const char *root = ref->seg[0];
  if (strcmp(root, "input") == 0) {
    if (find_name(sc->inputs, sc->n_inputs, ref->seg[1]) < 0) {
      char names[200];
      name_list(sc->inputs, sc->n_inputs, names, sizeof(names));
      snprintf(msg, msgsz, "%s names no input (declared: %s)", ref->text,
               names);
      return -1;
    }
    return 0;
  }
  if (strcmp(root, "steps") == 0) {
    long i = find_name(sc->steps, sc->n_steps, ref->seg[1]);
    if (i < 0) {
      snprintf(msg, msgsz, "%s names no step", ref->text);
      return -1;
    }
    if ((size_t)i == sc->self) {
      snprintf(msg, msgsz, "%s names the step this compensation undoes: "
               "use ${self.result...}", ref->text);
      return -1;
    }
    if ((size_t)i == sc->visible) {
      snprintf(msg, msgsz, "%s names its own step: a step reads only "
               "steps before it", ref->text);
      return -1;
    }
    if ((size_t)i > sc->visible) {
      snprintf(msg, msgsz, "%s names step %s, which runs later", ref->text,
               sc->steps[i]);
      return -1;
    }
    if (sc->step_conditional[i] && !sc->allow_conditional) {
      snprintf(msg, msgsz, "%s names step %s, which may be skipped (it has "
               "a \"when\"): its result may not exist", ref->text,
               sc->steps[i]);
      return -1;
    }
    return 0;
  }
  if (strcmp(root, "self") == 0 && sc->self == SIZE_MAX) {
    snprintf(msg, msgsz, "%s: self is only known in a compensation",
             ref->text);
    return -1;
  }
  return 0;
}

int ord_ref_type(const ord_ref_t *ref, const ord_scope_t *sc,
                 pv_arg_type_t *type)
{
  if (ref->filter || strcmp(ref->seg[0], "order") == 0) {
    *type = PV_ARG_STR;
    return 1;
  }
  if (strcmp(ref->seg[0], "input") == 0 && ref->nseg == 2) {
    long i = find_name(sc->inputs, sc->n_inputs, ref->seg[1]);
    if (i >= 0) {
      *type = sc->input_types[i];
      return 1;
    }
  }
  return 0;
}

typedef struct check_ctx {
  const ord_scope_t *sc;
  char *msg;
  size_t msgsz;
} check_ctx_t;

static int check_part(void *arg, bool is_ref, const char *p, size_t n)
{
  check_ctx_t *c = arg;
  if (!is_ref)
    return 0;
  ord_ref_t ref;
  if (ord_ref_parse(p, n, &ref, c->msg, c->msgsz) < 0)
    return -1;
  return ord_ref_check(&ref, c->sc, c->msg, c->msgsz);
}

static int tmpl_check(const json_t *t, const ord_scope_t *sc, ord_path_t *path,
                      int depth, char *msg, size_t msgsz)
{
  char pfx[sizeof(path->s) + 2];
  if (depth > TMPL_MAX_DEPTH) {
    snprintf(msg, msgsz, "%snested deeper than %d", ord_path_pfx(path, pfx,
             sizeof(pfx)), TMPL_MAX_DEPTH);
    return -1;
  }
  if (json_is_string(t)) {
    char sub[PV_ERROR_MSG_MAX];
    check_ctx_t c = {sc, sub, sizeof(sub)};
    if (scan(json_string_value(t), json_string_length(t), check_part, &c, sub,
             sizeof(sub)) < 0) {
      snprintf(msg, msgsz, "%s%s", ord_path_pfx(path, pfx, sizeof(pfx)), sub);
      return -1;
    }
    return 0;
  }
  if (json_is_object(t)) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)t, key, v) {
      size_t mark = ord_path_key(path, key);
      int rc = tmpl_check(v, sc, path, depth + 1, msg, msgsz);
      ord_path_cut(path, mark);
      if (rc < 0)
        return -1;
    }
  } else if (json_is_array(t)) {
    size_t i;
    json_t *v;
    json_array_foreach(t, i, v) {
      size_t mark = ord_path_idx(path, i);
      int rc = tmpl_check(v, sc, path, depth + 1, msg, msgsz);
      ord_path_cut(path, mark);
      if (rc < 0)
        return -1;
    }
  }
  return 0;
}

int ord_tmpl_check(const json_t *tmpl, const ord_scope_t *sc,
                   ord_path_t *path, char *msg, size_t msgsz)
{
  return tmpl_check(tmpl, sc, path, 0, msg, msgsz);
}

/* ---- copies: probe (for literal checks) and escape ---------------------- */

typedef struct text_ctx {
  pv_buf_t buf;
  bool refs;
} text_ctx_t;

static int literal_part(void *arg, bool is_ref, const char *p, size_t n)
{
  text_ctx_t *c = arg;
  if (is_ref) {
    c->refs = true;
    return 0;
  }
  return pv_buf_append(&c->buf, p, n);
}

/* A copy of v with every string replaced by fn(string). */
static json_t *map_strings(const json_t *v, json_t *(*fn)(const json_t *))
{
  if (json_is_string(v))
    return fn(v);
  const char *key;
  size_t i;
  json_t *item;
  if (json_is_object(v)) {
    json_t *o = json_object();
    json_object_foreach((json_t *)(uintptr_t)v, key, item)
      json_object_set_new(o, key, map_strings(item, fn));
    return o;
  }
  if (json_is_array(v)) {
    json_t *a = json_array();
    json_array_foreach(v, i, item)
      json_array_append_new(a, map_strings(item, fn));
    return a;
  }
  return json_copy((json_t *)(uintptr_t)v);
}

/* The text outside references, escapes undone; "x" for a string that is
 * references only (a stand-in that passes a length check). */
static json_t *probe_string(const json_t *str)
{
  text_ctx_t c = {.refs = false};
  char msg[8];
  pv_buf_init(&c.buf, ORD_INTERP_MAX);
  int rc = scan(json_string_value(str), json_string_length(str),
                literal_part, &c, msg, sizeof(msg));
  json_t *out = rc < 0 || (c.refs && c.buf.len == 0)
                    ? json_string("x")
                    : json_stringn(c.buf.data ? c.buf.data : "", c.buf.len);
  pv_buf_free(&c.buf);
  return out;
}

json_t *ord_tmpl_probe(const json_t *tmpl)
{
  return map_strings(tmpl, probe_string);
}

/* Every "${" gains one '$': the text reads back as itself. */
static json_t *escape_string(const json_t *str)
{
  const char *s = json_string_value(str);
  size_t len = json_string_length(str);
  if (!memmem(s, len, "${", 2))
    return json_copy((json_t *)(uintptr_t)str);
  char *out = pv_malloc(len + len / 2 + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '$' && i + 1 < len && s[i + 1] == '{')
      out[o++] = '$';
    out[o++] = s[i];
  }
  json_t *r = json_stringn(out, o);
  free(out);
  return r;
}

json_t *ord_tmpl_escape(const json_t *v)
{
  return map_strings(v, escape_string);
}

/* ---- resolving ---------------------------------------------------------- */

/* One name down: a member of an object, or an item of an array when the
 * name is a number. @returns NULL when there is nothing there. */
static const json_t *step_into(const json_t *v, const char *seg)
{
  if (json_is_object(v))
    return json_object_get(v, seg);
  if (json_is_array(v) && all_digits(seg)) {
    unsigned long long idx = strtoull(seg, NULL, 10);
    return idx < json_array_size(v) ? json_array_get(v, (size_t)idx) : NULL;
  }
  return NULL;
}

const json_t *ord_walk(const json_t *doc, const ord_ref_t *ref)
{
  const json_t *v = doc;
  for (size_t k = 0; k < ref->nseg && v; k++)
    v = step_into(v, ref->seg[k]);
  return v;
}

/* Walks ref's segments through ctx. @returns the value (borrowed), or NULL
 * with msg naming where the walk stopped. */
static const json_t *ref_lookup(const ord_ref_t *ref, const json_t *ctx,
                                char *msg, size_t msgsz)
{
  const json_t *v = ctx;
  char at[ORD_REF_MAX + 1] = "";
  for (size_t k = 0; k < ref->nseg; k++) {
    const char *seg = ref->seg[k];
    const json_t *next = step_into(v, seg);
    if (!next && json_is_array(v) && all_digits(seg)) {
      snprintf(msg, msgsz, "%s: %s has no item %s (%zu items)", ref->text,
               at, seg, json_array_size(v));
      return NULL;
    }
    if (!next && !json_is_object(v) && k > 0) {
      if (json_is_array(v))
        snprintf(msg, msgsz, "%s: %s is an array; \"%.40s\" is not an item "
                 "number", ref->text, at, seg);
      else
        snprintf(msg, msgsz, "%s: %s is %s, not an object", ref->text, at,
                 ord_a_kind(v));
      return NULL;
    }
    if (!next) {
      if (k == 0)
        snprintf(msg, msgsz, "%s: \"%s\" is not known here", ref->text, seg);
      else if (k == 1 && strcmp(ref->seg[0], "input") == 0)
        snprintf(msg, msgsz, "%s: input \"%s\" was not given", ref->text,
                 seg);
      else if (k == 1 && strcmp(ref->seg[0], "steps") == 0)
        snprintf(msg, msgsz, "%s: step %s has no result (it has not "
                 "succeeded)", ref->text, seg);
      else
        snprintf(msg, msgsz, "%s: %s has no member \"%s\"", ref->text, at,
                 seg);
      return NULL;
    }
    size_t used = strlen(at);
    snprintf(at + used, sizeof(at) - used, "%s%s", k ? "." : "", seg);
    v = next;
  }
  return v;
}

/* The value a reference stands for, filter applied: a new reference. */
static json_t *ref_value(const ord_ref_t *ref, const json_t *ctx, char *msg,
                         size_t msgsz)
{
  const json_t *v = ref_lookup(ref, ctx, msg, msgsz);
  if (!v)
    return NULL;
  if (!ref->filter)
    return json_deep_copy(v);
  /* "ip": the address of "address/prefix-length" (NetBox's form). */
  if (!json_is_string(v)) {
    snprintf(msg, msgsz, "%s: the ip filter needs a string such as "
             "\"10.0.0.2/24\", got %s", ref->text, pv_doc_kind(v));
    return NULL;
  }
  const char *s = json_string_value(v);
  const char *slash = strchr(s, '/');
  return json_stringn(s, slash ? (size_t)(slash - s) : json_string_length(v));
}

typedef struct interp_ctx {
  pv_buf_t buf;
  const json_t *ctx;
  char *msg;
  size_t msgsz;
} interp_ctx_t;

static int interp_part(void *arg, bool is_ref, const char *p, size_t n)
{
  interp_ctx_t *c = arg;
  if (!is_ref) {
    if (pv_buf_append(&c->buf, p, n) < 0)
      goto too_long;
    return 0;
  }
  ord_ref_t ref;
  if (ord_ref_parse(p, n, &ref, c->msg, c->msgsz) < 0)
    return -1;
  json_t *v = ref_value(&ref, c->ctx, c->msg, c->msgsz);
  if (!v)
    return -1;
  int rc = 0;
  if (json_is_string(v))
    rc = pv_buf_append(&c->buf, json_string_value(v), json_string_length(v));
  else if (json_is_integer(v))
    rc = pv_buf_appendf(&c->buf, "%" JSON_INTEGER_FORMAT,
                        json_integer_value(v));
  else if (json_is_real(v))
    rc = pv_buf_appendf(&c->buf, "%.17g", json_real_value(v));
  else if (json_is_boolean(v))
    rc = pv_buf_appendf(&c->buf, "%s", json_is_true(v) ? "true" : "false");
  else {
    snprintf(c->msg, c->msgsz, "%s is %s: only strings, numbers and "
             "booleans can go inside text", ref.text, ord_a_kind(v));
    json_decref(v);
    return -1;
  }
  json_decref(v);
  if (rc < 0)
    goto too_long;
  return 0;
too_long:
  snprintf(c->msg, c->msgsz, "text longer than %d bytes", ORD_INTERP_MAX);
  return -1;
}

static json_t *resolve_string(const json_t *t, const json_t *ctx, char *msg,
                              size_t msgsz)
{
  const char *s = json_string_value(t);
  size_t len = json_string_length(t);
  ord_str_kind_t kind;
  ord_ref_t ref;
  if (ord_str_classify(s, len, &kind, &ref, NULL, msg, msgsz) < 0)
    return NULL;
  if (kind == ORD_STR_WHOLE)
    return ref_value(&ref, ctx, msg, msgsz);
  interp_ctx_t c = {.ctx = ctx, .msg = msg, .msgsz = msgsz};
  pv_buf_init(&c.buf, ORD_INTERP_MAX);
  if (scan(s, len, interp_part, &c, msg, msgsz) < 0) {
    pv_buf_free(&c.buf);
    return NULL;
  }
  json_t *out = json_stringn(c.buf.data ? c.buf.data : "", c.buf.len);
  pv_buf_free(&c.buf);
  return out;
}

static json_t *resolve(const json_t *t, const json_t *ctx, ord_path_t *path,
                       int depth, pv_error_t *err)
{
  char pfx[sizeof(path->s) + 2];
  if (depth > TMPL_MAX_DEPTH) {
    pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%snested deeper than %d",
                 ord_path_pfx(path, pfx, sizeof(pfx)), TMPL_MAX_DEPTH);
    return NULL;
  }
  if (json_is_string(t)) {
    char msg[PV_ERROR_MSG_MAX];
    json_t *v = resolve_string(t, ctx, msg, sizeof(msg));
    if (!v)
      pv_error_set(err, PV_ERR_BAD_ARGS, 0, "%s%s",
                   ord_path_pfx(path, pfx, sizeof(pfx)), msg);
    return v;
  }
  const char *key;
  size_t i;
  json_t *item;
  if (json_is_object(t)) {
    json_t *o = json_object();
    json_object_foreach((json_t *)(uintptr_t)t, key, item) {
      size_t mark = ord_path_key(path, key);
      json_t *v = resolve(item, ctx, path, depth + 1, err);
      ord_path_cut(path, mark);
      if (!v) {
        json_decref(o);
        return NULL;
      }
      json_object_set_new(o, key, v);
    }
    return o;
  }
  if (json_is_array(t)) {
    json_t *a = json_array();
    json_array_foreach(t, i, item) {
      size_t mark = ord_path_idx(path, i);
      json_t *v = resolve(item, ctx, path, depth + 1, err);
      ord_path_cut(path, mark);
      if (!v) {
        json_decref(a);
        return NULL;
      }
      json_array_append_new(a, v);
    }
    return a;
  }
  if (!t) {
    pv_error_set(err, PV_ERR_INTERNAL, 0, "no template");
    return NULL;
  }
  return json_copy((json_t *)(uintptr_t)t);
}

json_t *pv_order_resolve(const json_t *tmpl, const json_t *ctx,
                         pv_error_t *err)
{
  ord_path_t path;
  ord_path_init(&path, NULL);
  return resolve(tmpl, ctx, &path, 0, err);
}

/* ---- condition paths ---------------------------------------------------- */

/* A condition path "result.items.0.id": the same names as a reference,
 * without `${}`. @returns 0 with *ref filled, or -1 with msg. */
int ord_path_parse(const char *p, ord_ref_t *ref, char *msg, size_t msgsz)
{
  memset(ref, 0, sizeof(*ref));
  size_t n = strlen(p);
  if (n > 90)
    snprintf(ref->text, sizeof(ref->text), "\"%.80s...\"", p);
  else
    snprintf(ref->text, sizeof(ref->text), "\"%s\"", p);
  if (n == 0 || n > ORD_REF_MAX) {
    snprintf(msg, msgsz, "path: %s", n ? "too long" : "empty");
    return -1;
  }
  memcpy(ref->buf, p, n + 1);
  char *s = ref->buf;
  for (;;) {
    char *dot = strchr(s, '.');
    if (dot)
      *dot = '\0';
    bool ok = *s != '\0';
    for (const char *c = s; *c && ok; c++)
      ok = seg_char(*c);
    if (!ok || ref->nseg == ORD_REF_MAX_SEGS) {
      snprintf(msg, msgsz, "path: %s is not a path (names of letters, "
               "digits, '_' and '-' joined by dots)", ref->text);
      return -1;
    }
    ref->seg[ref->nseg++] = s;
    if (!dot)
      break;
    s = dot + 1;
  }
  return 0;
}
