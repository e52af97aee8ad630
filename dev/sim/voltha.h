/**
 * @file voltha.h
 * @brief Internal to the simulator's VOLTHA: the device model shared by
 * voltha.c (inventory and the REST API) and voltha_time.c (what changes
 * with time: activation stages, ONU discovery, their admin API).
 *
 * @locality every function runs with the VOLTHA listener's model mutex
 * held (a handler or an admin call), so none of them locks.
 */
#ifndef PV_SIM_VOLTHA_H
#define PV_SIM_VOLTHA_H

#include "dev/sim/sim.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** PON ports of every OLT. */
#define SIM_PONS_PER_OLT 4u

/* Enum values index the *_names tables of voltha.c. */
enum { AD_UNKNOWN, AD_PREPROVISIONED, AD_ENABLED, AD_DISABLED };
enum { OP_UNKNOWN, OP_DISCOVERED, OP_ACTIVATING, OP_TESTING, OP_ACTIVE,
       OP_FAILED };
enum { CS_UNKNOWN, CS_UNREACHABLE, CS_REACHABLE };
enum { ADDR_HOST_PORT, ADDR_IPV4, ADDR_IPV6, ADDR_MAC, ADDR_NONE };

/** One step of an activation: applied at permille/1000 of its duration. */
typedef struct sim_stage {
  unsigned permille;
  int oper;
  int conn;           /**< -1: unchanged */
  const char *reason; /**< NULL: unchanged */
} sim_stage_t;

typedef struct vdev {
  char id[20];
  char type[32];
  bool root;
  char parent_id[20];
  unsigned parent_port_no;
  char vendor[32], model[32], hw[32], fw[32], serial[24], vendor_id[8];
  unsigned vlan;
  int addr_kind;
  char addr[64];
  char extra_args[128];
  unsigned channel_id, onu_id; /* proxy address (ONUs) */
  unsigned npon;               /* OLT PON ports */
  unsigned uni_port;           /* ONU UNI port number */
  int admin, oper, conn;
  const char *reason; /* static string, "" when none */
  /* The activation in progress (NULL when none): stages[stage] is the next
   * one, due at act_t0 + stages[stage].permille * act_ms / 1000 on the
   * simulator's clock. */
  const sim_stage_t *stages;
  size_t nstages, stage;
  uint64_t act_t0, act_ms;
  uint64_t up_since; /* OLTs: when they last became ACTIVE */
  bool has_ld;
  char ld_id[20];
  uint64_t datapath_id;
  json_t *lport_down; /* logical port ids disabled (object, OLTs) */
  json_t *flows;      /* logical flows (array, OLTs) */
  json_t *meters;     /* meter configs (array, OLTs) */
} vdev_t;

/** An ONU announced to appear under an OLT (POST /_sim/discover). */
typedef struct sim_announce {
  char serial[24];
  char olt_id[20];
  uint64_t due_ms; /* simulator clock */
  uint64_t seq;    /* announcement order: breaks ties between equal dues */
  int pon;         /* -1: the simulator picks */
  bool enabled;    /* appears ENABLED and activates, as voltha-go does */
} sim_announce_t;

typedef struct voltha {
  sim_inventory_t inv;
  uint64_t rng;
  vdev_t **devs;
  size_t ndevs, cap;
  json_t *index; /* device id -> position in devs */
  size_t npending; /* devices with an activation in progress */
  /* No scheduled change is due before this (simulator clock); it may be
   * earlier than the real next one, never later, so that a request with
   * nothing due costs one comparison. */
  uint64_t next_due;
  unsigned next_olt; /* index for the next discovered OLT's serials */
  /* What changes with time (voltha_time.c). */
  sim_announce_t *ann;
  size_t nann, anncap;
  uint64_t ann_seq;
  long long act_ms; /* ONU activation duration; -1: the one-step default */
  json_t *act_serial; /* ONU serial -> its own activation duration (ms) */
} voltha_t;

/* ---- voltha.c: the inventory ---- */

/** @returns the device with that id, or NULL. */
vdev_t *sim_voltha_find(voltha_t *v, const char *id);
/** @returns a new zeroed device with a fresh id appended to the list, or
 *  NULL when the inventory is full. */
vdev_t *sim_voltha_add_dev(voltha_t *v);
/** @brief Fills an ONU's identity under olt: PON channel, onu_id, serial
 *  (its first 4 characters name the vendor), ports, VLAN. */
void sim_voltha_onu_init(voltha_t *v, const vdev_t *olt, vdev_t *d,
                         unsigned channel, unsigned onu_id,
                         const char *serial, unsigned j);
/** @brief What an OLT does when it is first ACTIVE: it reports its
 *  hardware, gets its logical device and discovers its ONUs. */
void sim_voltha_olt_first_up(voltha_t *v, vdev_t *olt);

/* ---- voltha_time.c: state changes over time ---- */

/** @brief Enable: ENABLED/ACTIVATING now, then the activation stages. */
void sim_voltha_enable(voltha_t *v, vdev_t *d);
/** @brief Reboot: ACTIVATING/UNREACHABLE now, then the stages again. */
void sim_voltha_reboot(voltha_t *v, vdev_t *d);
/** @brief Disable: DISABLED/UNKNOWN/UNREACHABLE; an OLT's ONUs follow. */
void sim_voltha_disable(voltha_t *v, vdev_t *d);
/** @brief Forgets what was scheduled for d (it is being deleted), and for
 *  an OLT the ONUs announced under it. */
void sim_voltha_forget(voltha_t *v, vdev_t *d);
/** @brief Applies everything due by now on the simulator's clock, in
 *  order: OLT stages, ONU discoveries, ONU stages. Cheap when nothing is
 *  scheduled. */
void sim_voltha_tick(voltha_t *v);
/** @brief The admin paths /_sim/discover and /_sim/activation.
 *  @returns false when the path is not one of them. */
bool sim_voltha_time_admin(voltha_t *v, const sim_req_t *req,
                           sim_resp_t *resp);
/** @brief Frees what voltha_time.c added to v. */
void sim_voltha_time_free(voltha_t *v);

#endif
