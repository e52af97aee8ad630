/*
 * Failure policies (docs/orders.md, "Failure policies"): `on_error` of a
 * type and of each step maps an error class (or "*") to compensate,
 * compensate_to:STEP, hold or abort. Transient classes cannot be named:
 * they always park.
 */
#include "jobs/order_def.h"
#include "jobs/order_int.h"

#include "common/alloc.h"
#include "jobs/job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Classes a step can end with for good: not the transient ones (they
 * park), nor those about a record (invalid_job) or its reply
 * (reply_undeliverable), which no step produces. */
static bool step_class(int c)
{
  return c > PV_ERR_NONE && c < PV_ERR__COUNT &&
         !pv_errclass_is_transient((pv_errclass_t)c) &&
         c != PV_ERR_INVALID_JOB && c != PV_ERR_REPLY_UNDELIVERABLE;
}

static void class_list(char *buf, size_t size)
{
  size_t used = 0;
  buf[0] = '\0';
  for (int c = PV_ERR_NONE + 1; c < PV_ERR__COUNT && used < size; c++) {
    if (!step_class(c))
      continue;
    int w = snprintf(buf + used, size - used, "%s, ",
                     pv_errclass_name((pv_errclass_t)c));
    if (w > 0)
      used += (size_t)w;
  }
  snprintf(buf + (used < size ? used : size - 1),
           size - (used < size ? used : size - 1), "\"*\"");
}

/* step: the index of the step the policy belongs to, or SIZE_MAX for the
 * type's; steps[0..n) are every step's name. */
int ord_parse_on_error(ord_parse_t *ps, ord_path_t *path, const json_t *v,
                       size_t step, const char *const *steps, size_t n,
                       ord_policies_t *out, json_t **canon)
{
  *canon = NULL;
  if (!v)
    return 0;
  if (!json_is_object(v))
    return ord_fail(ps, path, "expected an object {\"ERROR_CLASS\": ACTION}, "
                    "got %s", pv_doc_kind(v));
  const char *key;
  json_t *act;
  json_object_foreach((json_t *)(uintptr_t)v, key, act) {
    size_t mark = ord_path_key(path, key);
    ord_policy_t *p;
    if (strcmp(key, "*") == 0) {
      p = &out->any;
    } else {
      int cls = pv_errclass_parse(key);
      if (cls > 0 && pv_errclass_is_transient((pv_errclass_t)cls))
        return ord_fail(ps, path, "%s is transient: circuit_open, "
                        "rate_limited, connect, timeout and http_5xx always "
                        "park and run again, a policy cannot name them", key);
      if (!step_class(cls)) {
        char list[256];
        class_list(list, sizeof(list));
        return ord_fail(ps, path, "\"%.40s\" is not an error class (%s)", key,
                        list);
      }
      p = &out->cls[cls];
    }
    const char *s = json_string_value(act);
    if (!s)
      return ord_fail(ps, path, "expected an action (compensate, "
                      "compensate_to:STEP, hold, abort), got %s",
                      pv_doc_kind(act));
    if (strcmp(s, "compensate") == 0) {
      p->act = PV_ACT_COMPENSATE;
    } else if (strcmp(s, "hold") == 0) {
      p->act = PV_ACT_HOLD;
    } else if (strcmp(s, "abort") == 0) {
      p->act = PV_ACT_ABORT;
    } else if (strncmp(s, "compensate_to:", 14) == 0) {
      const char *cp = s + 14;
      size_t i = 0;
      while (i < n && strcmp(steps[i], cp) != 0)
        i++;
      if (i == n)
        return ord_fail(ps, path, "\"%.80s\": no step is named \"%.64s\"", s,
                        cp);
      if (step != SIZE_MAX && i >= step)
        return ord_fail(ps, path, "\"%.80s\": the checkpoint must be a step "
                        "before this one", s);
      p->act = PV_ACT_COMPENSATE_TO;
      p->checkpoint = pv_strdup(cp);
    } else {
      return ord_fail(ps, path, "\"%.80s\" is not an action (compensate, "
                      "compensate_to:STEP, hold, abort)", s);
    }
    p->set = true;
    ord_path_cut(path, mark);
  }
  *canon = json_deep_copy(v);
  return 0;
}

void ord_policies_free(ord_policies_t *p)
{
  free(p->any.checkpoint);
  for (int c = 0; c < PV_ERR__COUNT; c++)
    free(p->cls[c].checkpoint);
}

static const ord_policy_t *policy_for(const ord_policies_t *p,
                                      pv_errclass_t cls)
{
  if ((unsigned)cls < PV_ERR__COUNT && p->cls[cls].set)
    return &p->cls[cls];
  return p->any.set ? &p->any : NULL;
}

pv_order_action_t pv_order_def_action(const pv_order_def_t *def, size_t i,
                                      pv_errclass_t cls,
                                      const char **checkpoint)
{
  const ord_policy_t *p = i < def->n_steps
                          ? policy_for(&def->step_on_error[i], cls)
                          : NULL;
  if (!p)
    p = policy_for(&def->on_error, cls);
  if (checkpoint)
    *checkpoint = NULL;
  if (!p)
    return PV_ACT_COMPENSATE;
  if (p->act == PV_ACT_COMPENSATE_TO) {
    int cp = pv_order_def_step_index(def, p->checkpoint);
    if (cp < 0 || (size_t)cp >= i)
      return PV_ACT_HOLD;
    if (checkpoint)
      *checkpoint = def->step_names[cp];
  }
  return p->act;
}

