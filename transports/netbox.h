/**
 * @file netbox.h
 * @brief NetBox client pieces that are pure and tested on their own. The
 * entry point is pv_netbox_start() in client_int.h.
 */
#ifndef PV_TRANSPORTS_NETBOX_H
#define PV_TRANSPORTS_NETBOX_H

#include <jansson.h>
#include <stdbool.h>

/** Most rows a list op gathers over all pages; past it `truncated`. */
#define PV_NETBOX_MAX_ROWS 10000
/** Largest page asked for (NetBox's default MAX_PAGE_SIZE). */
#define PV_NETBOX_PAGE_MAX 1000
/** Most pages one list op requests (a server with small pages). */
#define PV_NETBOX_MAX_PAGES 200

/**
 * @returns "Bearer" for a v2 token (nbt_ prefix), "Token" for a v1 token:
 * NetBox decides the version from the prefix (SOUTHBOUND 3.1).
 */
const char *pv_netbox_auth_scheme(const char *token);

/**
 * @brief The description allocate_ip records, which identifies the
 * allocation of one job (key: job id, or "<id>#<step>" in an order):
 * "pv-job <key>", or "<description> [pv-job <key>]". malloc'd.
 */
char *pv_netbox_ip_description(const char *key, const char *description);

/** @returns true if an IP address object carries exactly this description. */
bool pv_netbox_ip_matches(const json_t *ip, const char *description);

#endif
