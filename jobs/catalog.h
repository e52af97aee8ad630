/**
 * @file catalog.h
 * @brief The operation catalog: the one table of every operation provisiond
 * can run against VOLTHA, GenieACS and NetBox.
 *
 * Validation (pv_job_validate), the clients (transports/clients.c), the CLI
 * (`provctl ops`) and docs/operations.md are all derived from this table;
 * there is no second list anywhere. Each entry gives the HTTP method, the
 * path template, the argument schema, the timeout class, whether the call
 * may be repeated safely, and how the answer is normalised.
 */
#ifndef PV_JOBS_CATALOG_H
#define PV_JOBS_CATALOG_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** The pseudo-op that runs a list of steps in sequence (any service). */
#define PV_OP_ORDER "order"
/** Most steps one order may carry. */
#define PV_ORDER_MAX_STEPS 16

typedef enum pv_arg_type {
  PV_ARG_STR = 0,   /**< string, length in [min, max] bytes, no NUL byte */
  PV_ARG_INT,       /**< integer in [min, max] */
  PV_ARG_BOOL,
  PV_ARG_OBJECT,    /**< JSON object (a Mongo query, a sort, custom fields) */
  PV_ARG_STR_LIST,  /**< array of [min, max] strings, each 1..1024 bytes */
  PV_ARG_ARRAY,     /**< array of [min, max] JSON values */
  PV_ARG_REF,       /**< NetBox foreign key: id (int >= 1) or an object of
                         unique attributes such as {"name": "x"} */
  PV_ARG_PARAM_VALUES, /**< GenieACS [[path, value, "xsd:type"?], ...] with
                            [min, max] entries */
  PV_ARG_STEPS,     /**< order steps: [{service, op, args}], [min, max] */
  PV_ARG_U64,       /**< unsigned 64-bit integer (OpenFlow cookies): a JSON
                         integer >= 0 or a decimal string, sent as given */
  PV_ARG_BASE64,    /**< RFC 4648 base64 text of [min, max] bytes, decoded
                         before it is sent (binary file contents) */
} pv_arg_type_t;

/** Where an argument goes in the request. */
typedef enum pv_arg_in {
  PV_IN_PATH = 0, /**< replaces {name} in the path, percent-encoded; with a
                       `wire` name it is also sent as that body member
                       (VOLTHA's FlowTableUpdate repeats the path's id) */
  PV_IN_QUERY,    /**< query parameter `wire` (or name), percent-encoded */
  PV_IN_BODY,     /**< JSON body member `wire` (or name); a dotted wire
                       name ("flow_mod.priority") nests into objects */
  PV_IN_CLIENT,   /**< read by the client code (paging, task options...) */
  PV_IN_HEADER,   /**< request header `wire`; control characters refused */
  PV_IN_RAW,      /**< the whole request body, sent as is (no JSON) */
} pv_arg_in_t;

typedef struct pv_arg {
  const char *name;
  pv_arg_type_t type;
  pv_arg_in_t in;
  bool required;
  int64_t min, max;  /**< see pv_arg_type_t */
  const char *wire;  /**< name on the wire when it differs, else NULL */
  const char *dflt;  /**< default written in JSON ("true", "100"), or NULL */
  const char *desc;
} pv_arg_t;

/** Timeouts per attempt (SOUTHBOUND.md, ARCHITECTURE.md). */
typedef enum pv_timeout_class {
  PV_TMO_HEALTH = 0, /**< 5 s */
  PV_TMO_GET,        /**< 10 s */
  PV_TMO_LIST,       /**< 15 s */
  PV_TMO_WRITE,      /**< 30 s */
  PV_TMO_LONG,       /**< 60 s: reboot, provision, queued task */
  PV_TMO_TASK_CR,    /**< 150 s: GenieACS task with a connection request
                          (the NBI may hold it 120 s + the session wait) */
  PV_TMO__COUNT
} pv_timeout_class_t;

/** How the answer becomes the reply's `result` (docs/messages.md). */
typedef enum pv_norm {
  PV_NORM_OBJECT = 0, /**< the JSON object as returned */
  PV_NORM_LIST,       /**< {"items":[...],"count":n[,"total":t][,"truncated":b]} */
  PV_NORM_ACTION,     /**< the body if it is a non-empty object, else {} */
  PV_NORM_DELETE,     /**< {"deleted":true[,"already_absent":true]} */
  PV_NORM_TASK,       /**< {"executed":b,"queued":b,"reason":s,"task":{...}} */
  PV_NORM_FIND,       /**< a one-element query answer unwrapped; none = 404 */
  PV_NORM_CUSTOM,     /**< several requests; shape given by the op */
} pv_norm_t;

typedef struct pv_op {
  const char *service;
  const char *name;
  const char *method;   /**< of the main request */
  const char *path;     /**< template of the main request */
  pv_timeout_class_t tmo;
  bool idempotent;      /**< safe to send again after it may have landed */
  pv_norm_t norm;
  const char *task;     /**< GenieACS task name, NULL otherwise */
  const char *one_of;   /**< "a|b|c": exactly one of these args, or NULL */
  const pv_arg_t *args; /**< terminated by an entry with name NULL */
  const char *desc;
  /** JSON object merged over the body built from the args, or NULL: the
   *  members an op always sends (an OpenFlow command). It wins over args. */
  const char *body;
  /** For a create that is not idempotent (NetBox): the list path where the
   *  object it creates is found again by the job key the client records in
   *  its `description`, looked up before creating and after an answer was
   *  lost, so one job never creates two objects. NULL otherwise. */
  const char *lookup;
} pv_op_t;

/** @returns the op, or NULL. The order op is found under every service. */
const pv_op_t *pv_catalog_find(const char *service, const char *name);
/** @returns true if service is one of the catalog's services. */
bool pv_catalog_has_service(const char *service);
/** @returns the i-th op of the table (the order op last), NULL past the end. */
const pv_op_t *pv_catalog_at(size_t i);
size_t pv_catalog_count(void);
/** @returns the argument's spec, or NULL. */
const pv_arg_t *pv_op_arg(const pv_op_t *op, const char *name);

long pv_timeout_class_ms(pv_timeout_class_t tmo);
const char *pv_timeout_class_name(pv_timeout_class_t tmo);
const char *pv_norm_name(pv_norm_t norm);
const char *pv_arg_type_name(pv_arg_type_t type);

/**
 * @brief Checks args (an object) against op's schema: unknown arguments,
 * missing required ones, types, lengths, ranges, one_of, and for the order
 * op every step in turn. Unknown arguments are refused: they are nearly
 * always typos, and ignoring one would run an op with a default the sender
 * did not mean.
 * @returns 0, or -1 with err (bad_args naming the argument; unknown_op for
 * an order step naming an unknown op).
 */
int pv_catalog_check_args(const pv_op_t *op, const json_t *args,
                          pv_error_t *err);

/**
 * @brief Checks one value against one argument's spec (type, length,
 * range, items): the same checks pv_catalog_check_args() makes per
 * argument. what names the value in the message ("argument \"x\"",
 * "steps[2].args.prefix_id").
 * @returns 0, or -1 with err (bad_args).
 */
int pv_arg_check(const pv_arg_t *a, const json_t *v, const char *what,
                 pv_error_t *err);

/**
 * @brief Whether the op changes something on the southbound (an order
 * type must say how to undo such a step): every op that is not idempotent,
 * and every request other than GET, except the GenieACS tasks that only
 * read (getParameterValues, refreshObject); and a GET whose timeout class
 * is not a read's (health, get, list): its client changes what it found
 * (provision_onu enables the ONU).
 */
bool pv_op_writes(const pv_op_t *op);

/**
 * @brief Writes the catalog: a text table for the CLI, or the markdown of
 * docs/operations.md. service NULL = every service.
 * @returns 0, or -1 if writing failed or service is unknown.
 */
int pv_catalog_dump(FILE *out, const char *service, bool markdown);

#endif
