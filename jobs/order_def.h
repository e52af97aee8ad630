/**
 * @file order_def.h
 * @brief Order types declared as data: one JSON file per type (jobs/orders/,
 * docs/orders.md), checked against the catalog when loaded, and the pure
 * functions an order runner needs: input checks, `${...}` references, await
 * conditions and failure policies.
 *
 * Nothing here does I/O except pv_order_types_load() reading its folder:
 * no Kafka, no PostgreSQL, no HTTP. A definition is immutable once made;
 * an order that started keeps the definition it started with (its canonical
 * JSON, pv_order_def_json(), is pinned in the order's row and made into a
 * definition again with pv_order_def_parse() on resume), so editing a file
 * never changes an order already running.
 *
 * @locality any thread (a definition is read-only once made).
 */
#ifndef PV_JOBS_ORDER_DEF_H
#define PV_JOBS_ORDER_DEF_H

#include "common/error.h"
#include "jobs/catalog.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The service a job names to run an order type (op = the type's name). */
#define PV_ORDER_SERVICE "order"
/** Caps on what a definition may hold (a file is outside input too). */
#define PV_ORDER_FILE_MAX_BYTES (256 * 1024)
#define PV_ORDER_MAX_TYPES 256
#define PV_ORDER_STEP_NAME_MAX 64
#define PV_ORDER_DEF_MAX_STEPS 32
#define PV_ORDER_MAX_INPUTS 64
/** The reserved input a job may add to ask for progress events: a
 *  boolean, never declared by a type, never passed to a step. */
#define PV_ORDER_INPUT_PROGRESS "progress"

typedef enum pv_step_kind {
  PV_STEP_CALL = 0, /**< one catalog op, once */
  PV_STEP_AWAIT     /**< a catalog op polled until a condition holds */
} pv_step_kind_t;

/** What a permanent step failure leads to (docs/orders.md, policies). */
typedef enum pv_order_action {
  PV_ACT_COMPENSATE = 0, /**< undo every completed step; order compensated */
  PV_ACT_COMPENSATE_TO,  /**< undo back to a checkpoint step, then hold */
  PV_ACT_HOLD,           /**< stop, keep everything, wait for an operator */
  PV_ACT_ABORT           /**< stop, keep everything, fail */
} pv_order_action_t;

/** One catalog call with argument templates (may hold `${...}`). */
typedef struct pv_order_call {
  const pv_op_t *op;     /**< from the catalog; never NULL */
  json_t *args;          /**< template object; owned by the definition */
} pv_order_call_t;

typedef struct pv_order_step {
  const char *name;
  pv_step_kind_t kind;
  pv_order_call_t call;
  /* PV_STEP_AWAIT only: */
  json_t *until;          /**< condition on {"result": ...}, its values may
                               hold references: pv_order_step_until(); owned */
  int64_t poll_ms;        /**< between two polls */
  int64_t deadline_ms;    /**< from the first poll */
  /* compensation (NULL op: nothing to undo, or not declared) */
  pv_order_call_t compensate;
  bool compensate_declared; /**< false: the file did not say (undo unknown) */
  json_t *when; /**< NULL: the step always runs; else a condition on the
                     order's context, see pv_order_step_applies(); owned */
} pv_order_step_t;

typedef struct pv_order_def pv_order_def_t;

/**
 * @brief Parses and checks one definition (the text of a file, or a pinned
 * canonical JSON). Every service/op must be in the catalog; literal args
 * are checked against the op's schema; references must name a declared
 * input or an earlier step (compensations may also name `self`).
 * @param source names the text in errors (a file path, or "pinned").
 * @returns the definition, or NULL with err like
 * "jobs/orders/x.json: steps[2].args.prefix_id: ${input.prefx} names no input".
 */
pv_order_def_t *pv_order_def_parse(const char *text, size_t len,
                                   const char *source, char *err,
                                   size_t errsz);

/**
 * @brief An ad-hoc definition for the inline form (any service, op
 * "order", args.steps = [{service, op, args}]): each step a call named
 * "step1".."stepN", without references or compensation. The definition is
 * named "order" (version 1, marked inline), declares one input, "steps",
 * and its policy is abort for every error (nothing declares an undo); a
 * `${` in a step's args is kept literally (escaped in the definition). Its
 * canonical JSON parses back like any pinned definition.
 * @returns NULL with err (bad_args naming the step, or unknown_op) if a
 * step is invalid.
 */
pv_order_def_t *pv_order_def_inline(const json_t *steps, pv_error_t *err);

void pv_order_def_destroy(pv_order_def_t *def);

const char *pv_order_def_name(const pv_order_def_t *def);
int pv_order_def_version(const pv_order_def_t *def);
/** @returns the type's description, "" when it has none. */
const char *pv_order_def_description(const pv_order_def_t *def);
/** @returns true for a definition made by pv_order_def_inline(). */
bool pv_order_def_is_inline(const pv_order_def_t *def);
size_t pv_order_def_steps(const pv_order_def_t *def);
/** @returns the i-th step (0-based), NULL past the end. */
const pv_order_step_t *pv_order_def_step(const pv_order_def_t *def, size_t i);
/** @returns the index of the step named name, or -1. */
int pv_order_def_step_index(const pv_order_def_t *def, const char *name);
/** @returns the type's own default deadline (ms from receipt), 0 = none. */
int64_t pv_order_def_deadline_ms(const pv_order_def_t *def);
/** @returns the output templates (object, may be empty; borrowed). */
const json_t *pv_order_def_outputs(const pv_order_def_t *def);

/**
 * @brief The definition as canonical JSON (new reference): what is pinned
 * with an order so a resume runs the version it started with.
 */
json_t *pv_order_def_json(const pv_order_def_t *def);

/**
 * @brief The action for a permanent failure of step i with error class
 * cls, by the step's `on_error` (exact class, then "*"), then the type's,
 * then the default (compensate). Transient classes (those that park) never
 * come here. *checkpoint is set for PV_ACT_COMPENSATE_TO. compensate_to a
 * checkpoint that is not before step i has nothing to undo: it gives
 * PV_ACT_HOLD.
 */
pv_order_action_t pv_order_def_action(const pv_order_def_t *def, size_t i,
                                      pv_errclass_t cls,
                                      const char **checkpoint);

/**
 * @brief Checks an order's input (the job's args) against the type's
 * declared inputs, with the catalog's schema language (types, lengths,
 * ranges, required, unknown names refused).
 * @returns 0, or -1 with err (bad_args naming the input).
 */
int pv_order_input_check(const pv_order_def_t *def, const json_t *input,
                         pv_error_t *err);

/**
 * @brief The order's input as steps see it (`ctx.input`): checked as
 * pv_order_input_check() does, declared defaults filled in, the reserved
 * "progress" left out.
 * @returns a new object, or NULL with err (bad_args naming the input).
 */
json_t *pv_order_input_normalize(const pv_order_def_t *def,
                                 const json_t *input, pv_error_t *err);

/**
 * @brief Resolves a template against ctx = {"input": {...}, "steps":
 * {"NAME": {"result": ...}, ...}, "self": {"result": ...}, "order": {"id",
 * "tenant", "type"}}. A string that is exactly one reference takes the
 * referenced value with its JSON type; a reference inside a longer string
 * is replaced by the value's text (strings, numbers, booleans only).
 * `$${` is a literal `${`; `${REF|ip}` is the address part of an
 * "address/length" string. Text is capped at 64 KiB.
 * @returns a new reference, or NULL with err (bad_args naming the path and
 * the reference, e.g. a step result without that member).
 */
json_t *pv_order_resolve(const json_t *tmpl, const json_t *ctx,
                         pv_error_t *err);

/**
 * @brief Evaluates an await condition against doc (= {"result": ...}).
 * @returns 1 (holds), 0 (not yet), or -1 with err if the condition cannot
 * be evaluated (it was checked at load, so only a type mismatch at run
 * time, e.g. gt on a string).
 */
int pv_order_cond_eval(const json_t *cond, const json_t *doc,
                       pv_error_t *err);

/**
 * @brief Whether a step runs: its `when`, references resolved, evaluated
 * against ctx (the same context as pv_order_resolve()). A step that does
 * not run is skipped.
 * @returns 1 (run; also when it has no `when`), 0 (skip), or -1 with err.
 */
int pv_order_step_applies(const pv_order_step_t *step, const json_t *ctx,
                          pv_error_t *err);

/**
 * @brief Whether an await's condition holds for one poll's result: the
 * references in `until` resolved against ctx, then the condition
 * evaluated against {"result": result}.
 * @returns 1 (done), 0 (poll again), or -1 with err.
 */
int pv_order_step_until(const pv_order_step_t *step, const json_t *ctx,
                        const json_t *result, pv_error_t *err);

/* ---- the set of types loaded from orders_dir ---------------------------- */

typedef struct pv_order_types pv_order_types_t;

/**
 * @brief Loads every *.json of dir (one type each, file name = type name +
 * ".json"), checked as pv_order_def_parse() does; two files naming one type
 * are refused, and so is an inline definition. Hidden files and files not
 * ending in .json are ignored; at most PV_ORDER_MAX_TYPES files of at most
 * PV_ORDER_FILE_MAX_BYTES. An empty folder gives an empty set; so does an
 * absent one when must_exist is false.
 * @returns the set, or NULL with err naming the file and the field.
 */
pv_order_types_t *pv_order_types_load(const char *dir, bool must_exist,
                                      char *err, size_t errsz);
void pv_order_types_destroy(pv_order_types_t *types);
size_t pv_order_types_count(const pv_order_types_t *types);
/** @returns the i-th type (sorted by name), NULL past the end. */
const pv_order_def_t *pv_order_types_at(const pv_order_types_t *types,
                                        size_t i);
/** @returns the type named name, or NULL. */
const pv_order_def_t *pv_order_types_find(const pv_order_types_t *types,
                                          const char *name);

/**
 * @brief One fuzz input (jobs/order_fuzz.c): parsed as a definition and,
 * when it parses, checked to round-trip through its canonical JSON (aborts
 * if not); its templates resolved and its conditions evaluated against a
 * fixed context; the input also tried as a template and as a condition.
 * @returns 0 (libFuzzer's convention).
 */
int pv_order_def_fuzz_one(const uint8_t *data, size_t len);

#endif
