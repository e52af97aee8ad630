/**
 * @file voltha.h
 * @brief VOLTHA client pieces that are pure and tested on their own.
 * The entry point is pv_voltha_start() in client_int.h.
 */
#ifndef PV_TRANSPORTS_VOLTHA_H
#define PV_TRANSPORTS_VOLTHA_H

#include <jansson.h>

/**
 * @brief Applies list args (parent_id, serial_number, offset, limit) to a
 * VOLTHA item list, which has no server-side paging.
 * @returns {"items","count","total","truncated"} (new reference); total
 * counts the rows that matched the filters.
 */
json_t *pv_voltha_filter_list(json_t *items, const json_t *args);

#endif
