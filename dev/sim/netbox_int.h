/**
 * @file netbox_int.h
 * @brief Internal to the simulator's NetBox: the model tables
 * (netbox_schema.c), the engine that renders, validates and stores by them
 * (netbox.c) and the available-* views (netbox_avail.c).
 *
 * @locality the NetBox listener's thread, under the service mutex.
 */
#ifndef PV_SIM_NETBOX_INT_H
#define PV_SIM_NETBOX_INT_H

#include "dev/sim/sim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETBOX_VERSION "4.6.8"
#define API_VERSION "4.6"
#define PAGINATE_COUNT 50
#define MAX_PAGE_SIZE 1000
#define MAX_OBJECTS 200000u
#define MAX_BULK 1000u

typedef enum {
  M_TENANT,
  M_SITE,
  M_MFR,
  M_DTYPE,
  M_ROLE,
  M_DEVICE,
  M_IFACE,
  M_VRF,
  M_PREFIX,
  M_IP,
  M_VLANGROUP,
  M_VLAN,
  M_PROVIDER,
  M_CTYPE,
  M_CIRCUIT,
  M_CTERM,
  M_CABLE,
  M__COUNT
} model_id_t;

typedef enum {
  FT_STR,
  FT_SLUG,
  FT_INT,
  FT_BOOL,
  FT_FK,
  FT_CHOICE,  /* read as {"value","label"} (the serializer's ChoiceField) */
  FT_CHOICE_RAW, /* a choice the serializer leaves plain: read as the value */
  FT_IPADDR,
  FT_PREFIX,
  FT_NULL,  /* always null (relations the simulator does not model) */
  FT_CTYPE, /* a content type ("dcim.interface"): choices lists the ones
               modelled, value then label */
  FT_VID,   /* a VLAN id, 1..4094 */
  FT_RANGES, /* vid_ranges: [[lo, hi], ...] within 1..4094 */
  FT_DATE,  /* "YYYY-MM-DD" */
  FT_NUM,   /* a decimal number >= 0 (cable length) */
  FT_TERMS, /* cable ends: [{"object_type", "object_id"}, ...] */
} ftype_t;

typedef struct field {
  const char *name;
  ftype_t type;
  int fk;
  const char *const *choices; /* value, label, value, label, ..., NULL */
  bool required;
  bool nullable;
  unsigned maxlen;
  const char *def;
} field_t;

typedef enum {
  FL_STR,
  FL_ID,
  FL_SLUG,
  FL_NAME, /* a foreign key given by the related object's name */
  FL_CHOICE,
  FL_BOOL,
  FL_Q,
  FL_IP_ADDRESS,
  FL_IP_PARENT,
  FL_IP_DEVICE,
  FL_IP_IFACE,
  FL_PREFIX,
  FL_CONTAINS,
  FL_CABLE_DEVICE, /* cables with an end on one of the device's interfaces */
  FL_SITE_TERM,    /* circuit terminations on a site (termination_id) */
} fltype_t;

typedef struct filter {
  const char *param;
  fltype_t kind;
  const char *field;
  int fk;
} filter_t;

typedef struct model_desc {
  const char *name;    /* "ip-addresses" */
  const char *app;     /* "ipam" */
  const char *verbose; /* "IPAddress", for 404 texts */
  const field_t *fields;
  const filter_t *filters;
  const char *const *brief;
  const char *display; /* field shown as "display" */
} model_desc_t;

/* What deleting an object does to those that refer to it by a foreign
 * key: PROTECT (409) unless a rule says otherwise. */
typedef enum { OD_PROTECT = 0, OD_CASCADE, OD_SET_NULL } ondelete_t;

typedef struct delete_rule {
  int model;         /* the referring model */
  const char *field; /* its foreign key */
  ondelete_t rule;
} delete_rule_t;

typedef struct token {
  char *plain;
  bool v2;
} token_t;

typedef struct netbox {
  sim_inventory_t inv;
  uint64_t rng;
  json_t *objs[M__COUNT]; /* arrays of stored objects, ascending id */
  json_int_t next_id[M__COUNT];
  json_t *tags;           /* tag name -> id */
  json_int_t next_tag;
  int64_t last_us;        /* last timestamp handed out (strictly rising) */
  token_t *tokens;
  size_t ntokens;
} netbox_t;

extern const model_desc_t nb_models[M__COUNT];
/** Foreign keys that cascade or are nulled; ended by {.field = NULL}. */
extern const delete_rule_t nb_delete_rules[];

/* ---- the engine (netbox.c) ---- */

const field_t *nb_find_field(const model_desc_t *md, const char *name);
const char *nb_choice_label(const char *const *choices, const char *v);
json_t *nb_find_obj(netbox_t *nb, int m, json_int_t id);
const char *nb_sval(const json_t *o, const char *k);
/** @returns o[k] as an integer, -1 when absent or not one. */
json_int_t nb_ival(const json_t *o, const char *k);
/** The API form of stored object o of model m (brief: the nested form). */
json_t *nb_render(netbox_t *nb, const sim_req_t *req, int m, const json_t *o,
                  bool brief);
void nb_add_err(json_t *errs, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** The stored form of a write body applied over old (NULL: a create);
 *  field errors go to errs. */
json_t *nb_validate(netbox_t *nb, int m, const json_t *in, const json_t *old,
                    bool partial, json_t *errs);
/** Model-level rules (uniqueness, consistency) for o; self = its id or -1. */
void nb_check_model(netbox_t *nb, int m, const json_t *o, json_int_t self,
                    json_t *errs);
/** Stores every validated object of built (model m) and answers 201 with
 *  them rendered: a list when the request was one (bulk), else the one. */
void nb_store_created(netbox_t *nb, const sim_req_t *req, sim_resp_t *resp,
                      int m, json_t *built, bool bulk);
/** Stores o (stolen) with a new id and timestamps. @returns o. */
json_t *nb_insert(netbox_t *nb, int m, json_t *o);
void nb_detail(sim_resp_t *resp, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void nb_not_found(sim_resp_t *resp, int m);
void nb_method_not_allowed(sim_resp_t *resp, const char *method);
long long nb_page_limit(const sim_req_t *req);
bool nb_body_json(const sim_req_t *req, json_t **out, sim_resp_t *resp);

/* ---- model rules (netbox_rules.c) ---- */

/** Model-level rules (uniqueness, clean()) for o; self = its id or -1. */
void nb_check_model(netbox_t *nb, int m, const json_t *o, json_int_t self,
                    json_t *errs);
/** @returns how many objects PROTECT object id of model m from deletion. */
size_t nb_dependents(netbox_t *nb, int m, json_int_t id);
/** Deletes object id of model m and what cascades from it. */
void nb_delete_cascade(netbox_t *nb, int m, json_int_t id);
/** Adds the values computed on read (counts, children, cable ends). */
void nb_render_extras(netbox_t *nb, const sim_req_t *req, int m,
                      const json_t *o, bool brief, json_t *out);
/** @returns the `display` of o (in buf when it is composed). */
const char *nb_display(netbox_t *nb, int m, const json_t *o, char *buf,
                       size_t size);
/** The read form of a stored value of field f that is not a plain copy. */
json_t *nb_field_extra(netbox_t *nb, const sim_req_t *req, const field_t *f,
                       const json_t *v);
void nb_validate_ranges(const json_t *v, json_t *o, json_t *errs);
void nb_validate_terms(const char *field, const json_t *v, json_t *o,
                       json_t *errs);
bool nb_vid_in_group(const json_t *group, json_int_t vid);
/** The cable with (type, id) at one end, or NULL; *end = "A" or "B". */
json_t *nb_cable_of(netbox_t *nb, const char *type, json_int_t id,
                    const char **end);

/* ---- available-* (netbox_avail.c) ---- */

void nb_available_ips(netbox_t *nb, json_t *prefix, const sim_req_t *req,
                      sim_resp_t *resp);
void nb_available_prefixes(netbox_t *nb, json_t *prefix, const sim_req_t *req,
                           sim_resp_t *resp);
void nb_available_vlans(netbox_t *nb, json_t *group, const sim_req_t *req,
                        sim_resp_t *resp);

#endif
