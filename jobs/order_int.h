/**
 * @file order_int.h
 * @brief What order_def.c (the file format) and order_ref.c (references
 * and conditions) share. Not part of the jobs/ API: order_def.h is.
 *
 * @locality any thread (pure functions on caller-owned data).
 */
#ifndef PV_JOBS_ORDER_INT_H
#define PV_JOBS_ORDER_INT_H

#include "jobs/catalog.h"
#include "jobs/order_def.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/** Longest `${...}` expression, and most dot-separated segments in it. */
#define ORD_REF_MAX 512
#define ORD_REF_MAX_SEGS 32
/** Deepest nesting of a condition, and most nodes in one. */
#define ORD_COND_MAX_DEPTH 8
#define ORD_COND_MAX_NODES 64
/** Longest string an interpolation may produce. */
#define ORD_INTERP_MAX (64 * 1024)

/** Where in a document a message points: "steps[2].args.prefix_id". */
typedef struct ord_path {
  char s[512];
  size_t len;
} ord_path_t;

void ord_path_init(ord_path_t *p, const char *start);
/** @brief Appends ".key" ("key" at the start). @returns the old length. */
size_t ord_path_key(ord_path_t *p, const char *key);
/** @brief Appends "[i]". @returns the old length. */
size_t ord_path_idx(ord_path_t *p, size_t i);
/** @brief Cuts the path back to a length ord_path_key/idx returned. */
void ord_path_cut(ord_path_t *p, size_t len);

/** A parsed `${root.seg.seg|filter}`. Segments point into buf. */
typedef struct ord_ref {
  char buf[ORD_REF_MAX + 1];
  const char *seg[ORD_REF_MAX_SEGS];
  size_t nseg;           /**< seg[0] is the root */
  const char *filter;    /**< NULL, or "ip" */
  char text[100]; /**< "${...}" as written (cut), for messages */
} ord_ref_t;

/** What a template string holds. */
typedef enum ord_str_kind {
  ORD_STR_PLAIN = 0, /**< no reference (maybe `$${` escapes) */
  ORD_STR_WHOLE,     /**< exactly one reference and nothing else */
  ORD_STR_TEXT       /**< references inside longer text */
} ord_str_kind_t;

/**
 * @brief Parses the text between `${` and `}` (n bytes at p): names,
 * root and its shape (input.X, steps.X.result, self.result, order.id|
 * tenant|type), filter.
 * @returns 0, or -1 with msg naming the reference.
 */
int ord_ref_parse(const char *p, size_t n, ord_ref_t *ref, char *msg,
                  size_t msgsz);

/** @brief Parses a condition path ("result.items.0.id"): names only, no
 *  root rule. @returns 0, or -1 with msg. */
int ord_path_parse(const char *p, ord_ref_t *ref, char *msg, size_t msgsz);

/** @returns the value at ref's names in doc (borrowed), or NULL. */
const json_t *ord_walk(const json_t *doc, const ord_ref_t *ref);

/** @returns "PATH: " in buf, or "" for an empty path. */
const char *ord_path_pfx(const ord_path_t *p, char *buf, size_t size);

/** @returns "an object", "a string"...: v's kind in a sentence. */
const char *ord_a_kind(const json_t *v);

/**
 * @brief Classifies a template string. For ORD_STR_WHOLE, *ref (if not
 * NULL) is the reference; *literal_len (if not NULL) is the length of the
 * text outside references, escapes counted as what they produce.
 * @returns 0, or -1 with msg (an unterminated or malformed reference).
 */
int ord_str_classify(const char *s, size_t len, ord_str_kind_t *kind,
                     ord_ref_t *ref, size_t *literal_len, char *msg,
                     size_t msgsz);

/**
 * @brief Which references a template may hold where it is written (checked
 * when a definition is loaded).
 */
typedef struct ord_scope {
  const char *const *inputs;           /**< declared input names */
  const pv_arg_type_t *input_types;    /**< and their types */
  size_t n_inputs;
  const char *const *steps;            /**< every step's name, in order */
  const bool *step_conditional;        /**< the step has a "when" */
  size_t n_steps;
  size_t visible;      /**< steps[0..visible) may be named */
  size_t self;         /**< the step whose compensation this is, or SIZE_MAX */
  bool allow_conditional; /**< conditions may read a skippable step */
} ord_scope_t;

/**
 * @brief Checks one reference against a scope: the root exists, an input
 * is declared, a step runs earlier, `self` only in a compensation.
 * @returns 0, or -1 with msg naming the reference.
 */
int ord_ref_check(const ord_ref_t *ref, const ord_scope_t *sc, char *msg,
                  size_t msgsz);

/**
 * @brief The declared type of what a whole-string reference gives, when
 * it is known (an input named whole, `order.*`, a filter): 1 and *type,
 * else 0.
 */
int ord_ref_type(const ord_ref_t *ref, const ord_scope_t *sc,
                 pv_arg_type_t *type);

/**
 * @brief Checks every reference in a template (any JSON value).
 * @returns 0, or -1 with msg "PATH: problem" (path extended from *path).
 */
int ord_tmpl_check(const json_t *tmpl, const ord_scope_t *sc,
                   ord_path_t *path, char *msg, size_t msgsz);

/**
 * @brief A copy of a template for literal checks: escapes undone, and
 * every string that holds a reference replaced by its text outside the
 * references, or "x" when that is empty.
 */
json_t *ord_tmpl_probe(const json_t *tmpl);

/** @brief A copy of v in which every `${` is escaped as `$${`. */
json_t *ord_tmpl_escape(const json_t *v);

/**
 * @brief Checks a condition's shape: operators, operand types, paths
 * rooted at one of roots (NULL-terminated), references in values against
 * sc, depth and size caps.
 * @returns 0, or -1 with msg "PATH: problem".
 */
int ord_cond_check(const json_t *cond, const char *const *roots,
                   const ord_scope_t *sc, ord_path_t *path, char *msg,
                   size_t msgsz);

/** @brief A literal for messages ("abc", 12, true), cut to 60 bytes.
 *  @returns buf. */
const char *ord_shown(const json_t *v, char *buf, size_t size);

/** @returns whether name is `[a-z0-9_]{1,max}`. */
bool ord_name_ok(const char *name, size_t max);

/* ---- the definition: order_def.c, order_args.c, order_policy.c ---------- */

/* What one on_error object says, per error class. */
typedef struct ord_policy {
  bool set;
  pv_order_action_t act;
  char *checkpoint; /* compensate_to only; owned */
} ord_policy_t;

typedef struct ord_policies {
  ord_policy_t any;               /* "*" */
  ord_policy_t cls[PV_ERR__COUNT];
} ord_policies_t;

struct pv_order_def {
  json_t *canon; /* canonical JSON; names and templates below point into it */
  const char *name;
  int version;
  const char *description;
  int64_t deadline_ms;
  bool is_inline;
  /* inputs, in the catalog's schema language (pv_catalog_check_args) */
  size_t n_inputs;
  pv_arg_t *inputs;            /* n_inputs + the terminating entry */
  pv_arg_type_t *input_types;
  const char **input_names;
  pv_op_t input_op;
  ord_policies_t on_error;
  size_t n_steps;
  pv_order_step_t *steps;
  ord_policies_t *step_on_error;
  const char **step_names;
  bool *step_conditional;
  json_t *outputs;
};

/** Where a definition's errors go: "SOURCE: PATH: message". */
typedef struct ord_parse {
  const char *source;
  char *err;
  size_t errsz;
} ord_parse_t;

/** @brief Writes "SOURCE: PATH: message" (no PATH when NULL or empty).
 *  @returns -1. */
int ord_fail(ord_parse_t *ps, const ord_path_t *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** @brief Refuses a member of obj not in known (NULL-terminated). */
int ord_check_members(ord_parse_t *ps, ord_path_t *path, const json_t *obj,
                      const char *const *known);
/** @brief An integer member in [min, max]; dflt when absent. */
int ord_get_int(ord_parse_t *ps, ord_path_t *path, const char *key,
                const json_t *obj, int64_t min, int64_t max, int64_t dflt,
                bool required, int64_t *out);
/** @brief An optional string member of at most max bytes (NULL if absent). */
int ord_get_str(ord_parse_t *ps, ord_path_t *path, const char *key,
                const json_t *obj, size_t max, const char **out);
/** @returns the file format's name of an input type ("string_list"). */
const char *ord_input_type_name(pv_arg_type_t t);

/**
 * @brief A `call`, `await` or `compensate` object: service and op in the
 * catalog, args checked against the op (order_args.c). args_path names
 * the args in messages. *canon gets the canonical copy (service, op,
 * args; an await's extra members are the caller's).
 */
int ord_parse_call(ord_parse_t *ps, ord_path_t *path, const json_t *v,
                   const char *args_path, bool is_await,
                   const ord_scope_t *sc, pv_order_call_t *call,
                   json_t **canon);

/**
 * @brief An on_error object (order_policy.c). step: the index of the step
 * it belongs to, or SIZE_MAX for the type's. *canon: its canonical copy
 * (NULL when absent).
 */
int ord_parse_on_error(ord_parse_t *ps, ord_path_t *path, const json_t *v,
                       size_t step, const char *const *steps, size_t n,
                       ord_policies_t *out, json_t **canon);
void ord_policies_free(ord_policies_t *p);

#endif
