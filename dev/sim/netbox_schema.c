/* The NetBox models the simulator serves: fields (type, required, limits,
 * defaults), the filters of their list endpoints, and the brief form used
 * when another object refers to them. Data only; netbox.c is the engine
 * that renders, validates and filters by these tables. */
#include "dev/sim/netbox_int.h"

#include <stddef.h>

static const char *const device_status[] = {
    "offline",   "Offline",   "active", "Active",    "planned",
    "Planned",   "staged",    "Staged", "failed",    "Failed",
    "inventory", "Inventory", "decommissioning", "Decommissioning", NULL};
static const char *const site_status[] = {
    "planned", "Planned", "staging", "Staging", "active", "Active",
    "decommissioning", "Decommissioning", "retired", "Retired", NULL};
static const char *const ip_status[] = {
    "active", "Active", "reserved", "Reserved", "deprecated", "Deprecated",
    "dhcp",   "DHCP",   "slaac",    "SLAAC",    NULL};
static const char *const ip_role[] = {
    "loopback", "Loopback", "secondary", "Secondary", "anycast", "Anycast",
    "vip",      "VIP",      "vrrp",      "VRRP",      "hsrp",    "HSRP",
    "glbp",     "GLBP",     "carp",      "CARP",      NULL};
static const char *const prefix_status[] = {
    "container", "Container", "active",     "Active",
    "reserved",  "Reserved",  "deprecated", "Deprecated", NULL};
static const char *const iface_types[] = {
    "virtual",        "Virtual",          "bridge",     "Bridge",
    "lag",            "Link Aggregation Group (LAG)",
    "100base-tx",     "100BASE-TX (10/100ME)",
    "1000base-t",     "1000BASE-T (1GE)", "10gbase-t",  "10GBASE-T (10GE)",
    "1000base-x-sfp", "SFP (1GE)",        "10gbase-x-sfpp", "SFP+ (10GE)",
    "25gbase-x-sfp28", "SFP28 (25GE)",    "100gbase-x-qsfp28", "QSFP28 (100GE)",
    "gpon",           "GPON (2.5 Gbps / 1.25 Gps)",
    "xgs-pon",        "XGS-PON (10 Gbps)", "other",     "Other", NULL};

static const char *const vlan_status[] = {
    "active", "Active", "reserved", "Reserved", "deprecated", "Deprecated",
    NULL};
static const char *const circuit_status[] = {
    "planned",        "Planned",        "provisioning", "Provisioning",
    "active",         "Active",         "offline",      "Offline",
    "deprovisioning", "Deprovisioning", "decommissioned", "Decommissioned",
    NULL};
static const char *const term_sides[] = {"A", "A", "Z", "Z", NULL};
static const char *const link_status[] = {
    "connected", "Connected", "planned", "Planned", "decommissioning",
    "Decommissioning", NULL};
static const char *const cable_types[] = {
    "cat5e", "CAT5e", "cat6", "CAT6", "cat6a", "CAT6a", "dac-passive",
    "Direct Attach Copper (Passive)", "coaxial", "Coaxial", "mmf",
    "Multimode Fiber", "smf", "Singlemode Fiber", "smf-os2",
    "Singlemode Fiber (OS2)", "aoc", "Active Optical Cabling (AOC)", "power",
    "Power", NULL};
static const char *const length_units[] = {
    "km", "Kilometers", "m", "Meters", "cm", "Centimeters", "mi", "Miles",
    "ft", "Feet", "in", "Inches", NULL};
/* The content types the simulator models for generic relations. */
static const char *const ct_interface[] = {"dcim.interface", "Interface",
                                           NULL};
static const char *const ct_site[] = {"dcim.site", "Site", NULL};

#define F_NAME {"name", FT_STR, 0, NULL, true, false, 100, NULL}
#define F_SLUG {"slug", FT_SLUG, 0, NULL, true, false, 100, NULL}
#define F_DESC {"description", FT_STR, 0, NULL, false, false, 200, ""}
#define F_COMMENTS {"comments", FT_STR, 0, NULL, false, false, 100000, ""}
#define F_TENANT {"tenant", FT_FK, M_TENANT, NULL, false, true, 0, NULL}
#define F_END {NULL, FT_STR, 0, NULL, false, false, 0, NULL}

static const field_t tenant_fields[] = {
    F_NAME, F_SLUG, {"group", FT_NULL, 0, NULL, false, true, 0, NULL},
    F_DESC, F_COMMENTS, F_END};
static const field_t site_fields[] = {
    F_NAME, F_SLUG,
    {"status", FT_CHOICE, 0, site_status, false, false, 0, "active"},
    {"region", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"group", FT_NULL, 0, NULL, false, true, 0, NULL},
    F_TENANT,
    {"facility", FT_STR, 0, NULL, false, false, 50, ""},
    {"time_zone", FT_STR, 0, NULL, false, true, 64, NULL},
    F_DESC, F_COMMENTS, F_END};
static const field_t mfr_fields[] = {F_NAME, F_SLUG, F_DESC, F_END};
static const field_t dtype_fields[] = {
    {"manufacturer", FT_FK, M_MFR, NULL, true, false, 0, NULL},
    {"model", FT_STR, 0, NULL, true, false, 100, NULL},
    F_SLUG,
    {"part_number", FT_STR, 0, NULL, false, false, 50, ""},
    {"u_height", FT_INT, 0, NULL, false, false, 0, "1"},
    {"is_full_depth", FT_BOOL, 0, NULL, false, false, 0, "true"},
    F_DESC, F_COMMENTS, F_END};
static const field_t role_fields[] = {
    F_NAME, F_SLUG,
    {"color", FT_STR, 0, NULL, false, false, 6, "9e9e9e"},
    {"vm_role", FT_BOOL, 0, NULL, false, false, 0, "true"},
    F_DESC, F_END};
static const field_t device_fields[] = {
    {"name", FT_STR, 0, NULL, false, true, 64, NULL},
    {"device_type", FT_FK, M_DTYPE, NULL, true, false, 0, NULL},
    {"role", FT_FK, M_ROLE, NULL, true, false, 0, NULL},
    F_TENANT,
    {"platform", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"serial", FT_STR, 0, NULL, false, false, 50, ""},
    {"asset_tag", FT_STR, 0, NULL, false, true, 50, NULL},
    {"site", FT_FK, M_SITE, NULL, true, false, 0, NULL},
    {"location", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"rack", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"status", FT_CHOICE, 0, device_status, false, false, 0, "active"},
    {"primary_ip4", FT_FK, M_IP, NULL, false, true, 0, NULL},
    {"primary_ip6", FT_FK, M_IP, NULL, false, true, 0, NULL},
    F_DESC, F_COMMENTS, F_END};
static const field_t iface_fields[] = {
    {"device", FT_FK, M_DEVICE, NULL, true, false, 0, NULL},
    {"name", FT_STR, 0, NULL, true, false, 64, NULL},
    {"label", FT_STR, 0, NULL, false, false, 64, ""},
    {"type", FT_CHOICE, 0, iface_types, true, false, 0, NULL},
    {"enabled", FT_BOOL, 0, NULL, false, false, 0, "true"},
    {"mtu", FT_INT, 0, NULL, false, true, 0, NULL},
    {"mgmt_only", FT_BOOL, 0, NULL, false, false, 0, "false"},
    F_DESC, F_END};
static const field_t vrf_fields[] = {
    F_NAME,
    {"rd", FT_STR, 0, NULL, false, true, 21, NULL},
    F_TENANT,
    {"enforce_unique", FT_BOOL, 0, NULL, false, false, 0, "true"},
    F_DESC, F_COMMENTS, F_END};
static const field_t prefix_fields[] = {
    {"prefix", FT_PREFIX, 0, NULL, true, false, 0, NULL},
    {"vrf", FT_FK, M_VRF, NULL, false, true, 0, NULL},
    {"scope_type", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"scope_id", FT_NULL, 0, NULL, false, true, 0, NULL},
    F_TENANT,
    {"vlan", FT_FK, M_VLAN, NULL, false, true, 0, NULL},
    {"status", FT_CHOICE, 0, prefix_status, false, false, 0, "active"},
    {"role", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"is_pool", FT_BOOL, 0, NULL, false, false, 0, "false"},
    {"mark_utilized", FT_BOOL, 0, NULL, false, false, 0, "false"},
    F_DESC, F_COMMENTS, F_END};
static const field_t ip_fields[] = {
    {"address", FT_IPADDR, 0, NULL, true, false, 0, NULL},
    {"vrf", FT_FK, M_VRF, NULL, false, true, 0, NULL},
    F_TENANT,
    {"status", FT_CHOICE, 0, ip_status, false, false, 0, "active"},
    {"role", FT_CHOICE, 0, ip_role, false, true, 0, NULL},
    {"assigned_object_type", FT_CTYPE, 0, ct_interface, false, true, 0,
     NULL},
    {"assigned_object_id", FT_INT, 0, NULL, false, true, 0, NULL},
    {"nat_inside", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"dns_name", FT_STR, 0, NULL, false, false, 255, ""},
    F_DESC, F_COMMENTS, F_END};

static const field_t vlangroup_fields[] = {
    F_NAME, F_SLUG,
    {"scope_type", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"scope_id", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"vid_ranges", FT_RANGES, 0, NULL, false, false, 0, NULL},
    F_TENANT, F_DESC, F_COMMENTS, F_END};
static const field_t vlan_fields[] = {
    {"site", FT_FK, M_SITE, NULL, false, true, 0, NULL},
    {"group", FT_FK, M_VLANGROUP, NULL, false, true, 0, NULL},
    {"vid", FT_VID, 0, NULL, true, false, 0, NULL},
    {"name", FT_STR, 0, NULL, true, false, 64, NULL},
    F_TENANT,
    {"status", FT_CHOICE, 0, vlan_status, false, false, 0, "active"},
    {"role", FT_NULL, 0, NULL, false, true, 0, NULL},
    F_DESC,
    {"qinq_role", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"qinq_svlan", FT_NULL, 0, NULL, false, true, 0, NULL},
    F_COMMENTS, F_END};
static const field_t provider_fields[] = {F_NAME, F_SLUG, F_DESC, F_COMMENTS,
                                          F_END};
static const field_t ctype_fields[] = {
    F_NAME, F_SLUG, {"color", FT_STR, 0, NULL, false, false, 6, ""}, F_DESC,
    F_COMMENTS, F_END};
static const field_t circuit_fields[] = {
    {"cid", FT_STR, 0, NULL, true, false, 100, NULL},
    {"provider", FT_FK, M_PROVIDER, NULL, true, false, 0, NULL},
    {"provider_account", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"type", FT_FK, M_CTYPE, NULL, true, false, 0, NULL},
    {"status", FT_CHOICE, 0, circuit_status, false, false, 0, "active"},
    F_TENANT,
    {"install_date", FT_DATE, 0, NULL, false, true, 0, NULL},
    {"termination_date", FT_DATE, 0, NULL, false, true, 0, NULL},
    {"commit_rate", FT_INT, 0, NULL, false, true, 0, NULL},
    F_DESC,
    {"distance", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"distance_unit", FT_NULL, 0, NULL, false, true, 0, NULL},
    F_COMMENTS, F_END};
static const field_t cterm_fields[] = {
    {"circuit", FT_FK, M_CIRCUIT, NULL, true, false, 0, NULL},
    {"term_side", FT_CHOICE_RAW, 0, term_sides, true, false, 0, NULL},
    {"termination_type", FT_CTYPE, 0, ct_site, false, true, 0, NULL},
    {"termination_id", FT_INT, 0, NULL, false, true, 0, NULL},
    {"port_speed", FT_INT, 0, NULL, false, true, 0, NULL},
    {"upstream_speed", FT_INT, 0, NULL, false, true, 0, NULL},
    {"xconnect_id", FT_STR, 0, NULL, false, false, 50, ""},
    {"pp_info", FT_STR, 0, NULL, false, false, 100, ""},
    F_DESC,
    {"mark_connected", FT_BOOL, 0, NULL, false, false, 0, "false"},
    F_END};
static const field_t cable_fields[] = {
    {"type", FT_CHOICE_RAW, 0, cable_types, false, true, 0, NULL},
    {"a_terminations", FT_TERMS, 0, NULL, false, false, 0, NULL},
    {"b_terminations", FT_TERMS, 0, NULL, false, false, 0, NULL},
    {"status", FT_CHOICE, 0, link_status, false, false, 0, "connected"},
    {"profile", FT_NULL, 0, NULL, false, true, 0, NULL},
    F_TENANT,
    {"bundle", FT_NULL, 0, NULL, false, true, 0, NULL},
    {"label", FT_STR, 0, NULL, false, false, 100, ""},
    {"color", FT_STR, 0, NULL, false, false, 6, ""},
    {"length", FT_NUM, 0, NULL, false, true, 0, NULL},
    {"length_unit", FT_CHOICE, 0, length_units, false, true, 0, NULL},
    F_DESC, F_COMMENTS, F_END};

#define FL_COMMON {"id", FL_ID, "id", 0}, {"q", FL_Q, NULL, 0}, \
    {"description", FL_STR, "description", 0}
#define FL_END {NULL, FL_STR, NULL, 0}
#define FL_TENANT {"tenant_id", FL_ID, "tenant", 0}, \
    {"tenant", FL_SLUG, "tenant", M_TENANT}

static const filter_t tenant_filters[] = {
    FL_COMMON, {"name", FL_STR, "name", 0}, {"slug", FL_STR, "slug", 0},
    FL_END};
static const filter_t site_filters[] = {
    FL_COMMON, {"name", FL_STR, "name", 0}, {"slug", FL_STR, "slug", 0},
    {"status", FL_CHOICE, "status", 0}, FL_TENANT, FL_END};
static const filter_t simple_filters[] = {
    FL_COMMON, {"name", FL_STR, "name", 0}, {"slug", FL_STR, "slug", 0},
    FL_END};
static const filter_t dtype_filters[] = {
    FL_COMMON, {"model", FL_STR, "model", 0}, {"slug", FL_STR, "slug", 0},
    {"manufacturer_id", FL_ID, "manufacturer", 0},
    {"manufacturer", FL_SLUG, "manufacturer", M_MFR}, FL_END};
static const filter_t device_filters[] = {
    FL_COMMON,
    {"name", FL_STR, "name", 0},
    {"serial", FL_STR, "serial", 0},
    {"asset_tag", FL_STR, "asset_tag", 0},
    {"status", FL_CHOICE, "status", 0},
    {"site_id", FL_ID, "site", 0},
    {"site", FL_SLUG, "site", M_SITE},
    {"role_id", FL_ID, "role", 0},
    {"role", FL_SLUG, "role", M_ROLE},
    {"device_type_id", FL_ID, "device_type", 0},
    FL_TENANT,
    FL_END};
static const filter_t iface_filters[] = {
    FL_COMMON,
    {"device_id", FL_ID, "device", 0},
    {"device", FL_NAME, "device", M_DEVICE},
    {"name", FL_STR, "name", 0},
    {"type", FL_CHOICE, "type", 0},
    {"enabled", FL_BOOL, "enabled", 0},
    FL_END};
static const filter_t vrf_filters[] = {
    FL_COMMON, {"name", FL_STR, "name", 0}, {"rd", FL_STR, "rd", 0},
    FL_TENANT, FL_END};
static const filter_t prefix_filters[] = {
    FL_COMMON,
    {"prefix", FL_PREFIX, "prefix", 0},
    {"contains", FL_CONTAINS, "prefix", 0},
    {"vrf_id", FL_ID, "vrf", 0},
    {"status", FL_CHOICE, "status", 0},
    {"is_pool", FL_BOOL, "is_pool", 0},
    FL_TENANT,
    FL_END};
static const filter_t ip_filters[] = {
    FL_COMMON,
    {"address", FL_IP_ADDRESS, "address", 0},
    {"parent", FL_IP_PARENT, "address", 0},
    {"vrf_id", FL_ID, "vrf", 0},
    {"device_id", FL_IP_DEVICE, NULL, 0},
    {"interface_id", FL_IP_IFACE, NULL, 0},
    {"status", FL_CHOICE, "status", 0},
    {"role", FL_CHOICE, "role", 0},
    {"dns_name", FL_STR, "dns_name", 0},
    FL_TENANT,
    FL_END};

static const filter_t vlangroup_filters[] = {
    FL_COMMON, {"name", FL_STR, "name", 0}, {"slug", FL_STR, "slug", 0},
    FL_TENANT, FL_END};
static const filter_t vlan_filters[] = {
    FL_COMMON,
    {"vid", FL_ID, "vid", 0},
    {"name", FL_STR, "name", 0},
    {"site_id", FL_ID, "site", 0},
    {"site", FL_SLUG, "site", M_SITE},
    {"group_id", FL_ID, "group", 0},
    {"group", FL_SLUG, "group", M_VLANGROUP},
    {"status", FL_CHOICE, "status", 0},
    FL_TENANT,
    FL_END};
static const filter_t circuit_filters[] = {
    FL_COMMON,
    {"cid", FL_STR, "cid", 0},
    {"provider_id", FL_ID, "provider", 0},
    {"provider", FL_SLUG, "provider", M_PROVIDER},
    {"type_id", FL_ID, "type", 0},
    {"type", FL_SLUG, "type", M_CTYPE},
    {"status", FL_CHOICE, "status", 0},
    FL_TENANT,
    FL_END};
static const filter_t cterm_filters[] = {
    FL_COMMON,
    {"circuit_id", FL_ID, "circuit", 0},
    {"term_side", FL_CHOICE, "term_side", 0},
    {"site_id", FL_SITE_TERM, NULL, 0},
    FL_END};
static const filter_t cable_filters[] = {
    FL_COMMON,
    {"label", FL_STR, "label", 0},
    {"type", FL_CHOICE, "type", 0},
    {"status", FL_CHOICE, "status", 0},
    {"device_id", FL_CABLE_DEVICE, NULL, 0},
    FL_TENANT,
    FL_END};

static const char *const brief_named[] = {"name", "slug", "description",
                                          NULL};
static const char *const brief_vlan[] = {"vid", "name", "description", NULL};
static const char *const brief_circuit[] = {"provider", "cid", "description",
                                            NULL};
static const char *const brief_cterm[] = {"circuit", "term_side",
                                          "description", NULL};
static const char *const brief_cable[] = {"label", "description", NULL};
static const char *const brief_dtype[] = {"manufacturer", "model", "slug",
                                          "description", NULL};
static const char *const brief_device[] = {"name", "description", NULL};
static const char *const brief_iface[] = {"device", "name", "description",
                                          NULL};
static const char *const brief_vrf[] = {"name", "rd", "description", NULL};
static const char *const brief_prefix[] = {"family", "prefix", "description",
                                           NULL};
static const char *const brief_ip[] = {"family", "address", "description",
                                       NULL};

const model_desc_t nb_models[M__COUNT] = {
    [M_TENANT] = {"tenants", "tenancy", "Tenant", tenant_fields,
                  tenant_filters, brief_named, "name"},
    [M_SITE] = {"sites", "dcim", "Site", site_fields, site_filters,
                brief_named, "name"},
    [M_MFR] = {"manufacturers", "dcim", "Manufacturer", mfr_fields,
               simple_filters, brief_named, "name"},
    [M_DTYPE] = {"device-types", "dcim", "DeviceType", dtype_fields,
                 dtype_filters, brief_dtype, "model"},
    [M_ROLE] = {"device-roles", "dcim", "DeviceRole", role_fields,
                simple_filters, brief_named, "name"},
    [M_DEVICE] = {"devices", "dcim", "Device", device_fields, device_filters,
                  brief_device, "name"},
    [M_IFACE] = {"interfaces", "dcim", "Interface", iface_fields,
                 iface_filters, brief_iface, "name"},
    [M_VRF] = {"vrfs", "ipam", "VRF", vrf_fields, vrf_filters, brief_vrf,
               "name"},
    [M_PREFIX] = {"prefixes", "ipam", "Prefix", prefix_fields,
                  prefix_filters, brief_prefix, "prefix"},
    [M_IP] = {"ip-addresses", "ipam", "IPAddress", ip_fields, ip_filters,
              brief_ip, "address"},
    [M_VLANGROUP] = {"vlan-groups", "ipam", "VLANGroup", vlangroup_fields,
                     vlangroup_filters, brief_named, "name"},
    [M_VLAN] = {"vlans", "ipam", "VLAN", vlan_fields, vlan_filters,
                brief_vlan, "name"},
    [M_PROVIDER] = {"providers", "circuits", "Provider", provider_fields,
                    simple_filters, brief_named, "name"},
    [M_CTYPE] = {"circuit-types", "circuits", "CircuitType", ctype_fields,
                 simple_filters, brief_named, "name"},
    [M_CIRCUIT] = {"circuits", "circuits", "Circuit", circuit_fields,
                   circuit_filters, brief_circuit, "cid"},
    [M_CTERM] = {"circuit-terminations", "circuits", "CircuitTermination",
                 cterm_fields, cterm_filters, brief_cterm, NULL},
    [M_CABLE] = {"cables", "dcim", "Cable", cable_fields, cable_filters,
                 brief_cable, "label"},
};

/* NetBox's on_delete for the keys that do not PROTECT. */
const delete_rule_t nb_delete_rules[] = {
    {M_IFACE, "device", OD_CASCADE},
    {M_DEVICE, "primary_ip4", OD_SET_NULL},
    {M_DEVICE, "primary_ip6", OD_SET_NULL},
    {M_CTERM, "circuit", OD_CASCADE},
    {0, NULL, OD_PROTECT},
};

