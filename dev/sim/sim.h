/**
 * @file sim.h
 * @brief Internal interface of build/southbound-sim: the HTTP server glue
 * shared by the three emulated services (VOLTHA, GenieACS NBI, NetBox).
 *
 * Each service is a table of callbacks (sim_svc_ops_t) plus an opaque state.
 * server.c owns the libmicrohttpd daemon, request bodies (capped at
 * SIM_BODY_MAX), the admin API under /_sim/, fault injection, latency and
 * the request log; a service only turns a parsed sim_req_t into a
 * sim_resp_t. The service callbacks run with the service's model mutex held,
 * so a handler never races another handler of the same service.
 */
#ifndef PV_SIM_SIM_H
#define PV_SIM_SIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;

/** Largest request body accepted; longer ones get 413. */
#define SIM_BODY_MAX (1024u * 1024u)
/** Most query arguments kept per request (the rest are ignored). */
#define SIM_ARGS_MAX 64
/** Most extra headers a response carries. */
#define SIM_HDRS_MAX 8

typedef struct sim_arg {
  char *key;   /**< decoded */
  char *value; /**< decoded; NULL for a bare "?flag" */
} sim_arg_t;

typedef struct sim_req {
  const char *method;
  const char *path;      /**< raw path, still percent-encoded, no query */
  const char *body;      /**< NUL-terminated; "" when none */
  size_t body_len;
  sim_arg_t args[SIM_ARGS_MAX];
  size_t nargs;
  const char *base_url;  /**< "http://<Host header or bind:port>" */
  struct MHD_Connection *conn;
} sim_req_t;

typedef struct sim_hdr {
  char *name;
  char *value;
} sim_hdr_t;

typedef struct sim_resp {
  unsigned status;
  char *reason;          /**< custom reason phrase, or NULL for the standard */
  char *body;            /**< malloc'd, or NULL */
  size_t body_len;
  const char *content_type;
  sim_hdr_t hdrs[SIM_HDRS_MAX];
  size_t nhdrs;
  bool close;            /**< drop the connection without any response */
} sim_resp_t;

typedef struct sim_svc_ops {
  const char *name; /**< "voltha", "genieacs", "netbox" */
  /** Serves one API request (never an admin path). */
  void (*handle)(void *state, const sim_req_t *req, sim_resp_t *resp);
  /** Fills an error response in the service's own style (faults, 413). */
  void (*error)(void *state, const sim_req_t *req, unsigned status,
                sim_resp_t *resp);
  /** Service-specific admin paths (/_sim/...); false if not one of them. */
  bool (*admin)(void *state, const sim_req_t *req, sim_resp_t *resp);
  void (*destroy)(void *state);
} sim_svc_ops_t;

/* ---- requests and responses (server.c) ---- */

/** @returns the first value of query argument key ("" for a bare flag), or
 *  NULL when absent. */
const char *sim_req_arg(const sim_req_t *req, const char *key);
bool sim_req_has_arg(const sim_req_t *req, const char *key);
/** @returns a request header, or NULL. */
const char *sim_req_header(const sim_req_t *req, const char *name);

void sim_resp_text(sim_resp_t *resp, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Serialises json (reference stolen) as the body. */
void sim_resp_json(sim_resp_t *resp, unsigned status, json_t *json);
void sim_resp_header(sim_resp_t *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_resp_reason(sim_resp_t *resp, const char *reason);
void sim_resp_clear(sim_resp_t *resp);

/* ---- the server (server.c) ---- */

typedef struct sim_server_s sim_server_t;

typedef struct sim_server_opts {
  const char *bind;        /**< IPv4 address to listen on */
  uint16_t port;           /**< 0 = any free port */
  unsigned latency_ms;     /**< added to every API response */
  uint64_t seed;           /**< for fault sampling */
} sim_server_opts_t;

/**
 * @brief Binds and starts one listener. On failure writes a message naming
 * the address and the fix into err and returns NULL; *in_use is set when the
 * port was taken. Takes ownership of state (destroyed with the server, or
 * right away on failure).
 */
sim_server_t *sim_server_start(const sim_svc_ops_t *ops, void *state,
                               const sim_server_opts_t *opts, char *err,
                               size_t errlen, bool *in_use);
uint16_t sim_server_port(const sim_server_t *srv);
/** Stops the listener, resumes every delayed or hung request. NULL ok. */
void sim_server_stop(sim_server_t *srv);

/* ---- the simulator's clock (util.c) ---- */

/**
 * @brief The simulator's own clock: the monotonic clock plus everything
 * sim_clock_advance() added. Every scheduled change of the models (ONU
 * discovery, activation stages, CPE informs) and the request log use it,
 * so a test can skip a wait without sleeping.
 * @locality any thread (the offset is atomic)
 */
uint64_t sim_clock_ms(void);
/** @returns how far the clock was advanced in total (ms). */
uint64_t sim_clock_offset_ms(void);
/** Largest single advance: 30 days. */
#define SIM_CLOCK_ADVANCE_MAX 2592000000LL
/** @brief Moves the simulator's clock forward by ms (test-only admin call). */
void sim_clock_advance(uint64_t ms);
/** @returns the wall-clock epoch ms of the moment the simulator's clock
 *  read at_ms (now or earlier), for the timestamps of a change applied
 *  lazily after it was due. Wall time itself is never advanced. */
int64_t sim_clock_wall_at(uint64_t at_ms);

/* ---- helpers (util.c) ---- */

/** splitmix64: deterministic, seedable, good enough for a simulator. */
uint64_t sim_rng_next(uint64_t *state);
/** Percent-decodes s[0..n) once; NULL if a %XX escape is malformed. */
char *sim_pct_decode(const char *s, size_t n);
/** Percent-encodes everything outside [A-Za-z0-9-_.~]. */
char *sim_pct_encode(const char *s);
/** RFC 3339 UTC with milliseconds for wall ms (buf >= 32 bytes). */
const char *sim_iso(int64_t wall_ms, char *buf, size_t size);
/** Splits a raw path into at most max segments (pointers into a copy kept
 *  in *storage, free() it). Empty segments are kept, so "/a/" gives "a","".
 *  @returns the number of segments, or -1 when there are more than max. */
int sim_split_path(const char *path, char **segs, int max, char **storage);
/** Parses a whole decimal integer within [min,max]. @returns 0 or -1. */
int sim_parse_ll(const char *s, long long min, long long max, long long *out);
/**
 * @brief Refuses keys of an admin request body that are not in known, so
 * a typo in a test fails loudly instead of silently doing nothing.
 * @returns 0, or -1 with "unknown <what> field \"k\"" in err.
 */
int sim_json_known_keys(const json_t *obj, const char *const *known,
                        size_t nknown, const char *what, char *err,
                        size_t errlen);
/**
 * @brief Reads an optional integer field within [min,max]: absent or
 * null leaves *out alone.
 * @returns 1 when present, 0 when absent or null, -1 with a message
 * naming the field in err.
 */
int sim_json_int(const json_t *obj, const char *name, long long min,
                 long long max, long long *out, char *err, size_t errlen);
/** @returns the admin request's body as a JSON object, or NULL after
 *  answering 400 (not JSON, or not an object). */
json_t *sim_admin_body(const sim_req_t *req, sim_resp_t *resp);
/** @brief An admin error: {"error": message}. */
void sim_resp_admin_error(sim_resp_t *resp, unsigned status, const char *fmt,
                          ...) __attribute__((format(printf, 3, 4)));
/** A json string from a printf format. */
json_t *sim_jsonf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- IP arithmetic (util.c) ---- */

typedef unsigned __int128 sim_u128_t;

typedef struct sim_ip {
  int family;       /**< 4 or 6 */
  sim_u128_t addr;  /**< v4 in the low 32 bits */
  int plen;         /**< prefix length; 32/128 when none was given */
} sim_ip_t;

/** Parses "a.b.c.d[/n]" or "v6[/n]". @returns 0, or -1. */
int sim_ip_parse(const char *s, bool need_mask, sim_ip_t *ip);
/** Formats addr/plen (with_mask) or addr into buf (>= 64 bytes). */
const char *sim_ip_fmt(const sim_ip_t *ip, bool with_mask, char *buf,
                       size_t size);
/** @returns the network (host bits cleared) of ip. */
sim_u128_t sim_ip_network(const sim_ip_t *ip);
/** @returns the last address of ip's network. */
sim_u128_t sim_ip_last(const sim_ip_t *ip);
/** @returns true when host lies in net's network (same family). */
bool sim_ip_contains(const sim_ip_t *net, const sim_ip_t *host);

/* ---- the services ---- */

typedef struct sim_inventory {
  uint64_t seed;
  unsigned olts, onus_per_olt, cpes, prefixes;
  unsigned activate_delay_ms;
} sim_inventory_t;

extern const sim_svc_ops_t sim_voltha_ops;
extern const sim_svc_ops_t sim_genieacs_ops;
extern const sim_svc_ops_t sim_netbox_ops;

void *sim_voltha_new(const sim_inventory_t *inv);
void *sim_genieacs_new(const sim_inventory_t *inv);
/** tokens: the accepted credentials exactly as they follow the keyword
 *  ("<40 hex>" or "nbt_<key>.<plaintext>"); copied. */
void *sim_netbox_new(const sim_inventory_t *inv, const char *const *tokens,
                     size_t ntokens);

/** The token NetBox accepts when no --netbox-token is given. */
#define SIM_NETBOX_DEFAULT_TOKEN "0123456789abcdef0123456789abcdef01234567"

/* ---- a VOLTHA logical device's OpenFlow tables (voltha_of.c) ---- */

/** Applies a FlowTableUpdate body to flows (ofp_flow_stats array). */
void sim_of_flow_mod(json_t *flows, const sim_req_t *req, sim_resp_t *resp);
/** Applies a MeterModUpdate body to meters; a deleted meter's flows go. */
void sim_of_meter_mod(json_t *flows, json_t *meters, const sim_req_t *req,
                      sim_resp_t *resp);
/** @returns {"items":[ofp_meter_entry]} with each meter's flow_count. */
json_t *sim_of_meters_json(const json_t *flows, const json_t *meters);

/* ---- the GenieACS query language subset (gquery.c) ---- */

/**
 * @brief Tests doc against a Mongo-style query. expand_values appends
 * "._value" to keys whose last segment does not start with '_' (devices).
 * @returns 1 match, 0 no match, -1 unsupported query (err filled).
 */
int sim_gquery_match(const json_t *query, const json_t *doc,
                     bool expand_values, char *err, size_t errlen);
/** @returns the node at dotted path in doc, or NULL. */
json_t *sim_json_path(const json_t *doc, const char *path);

#endif
