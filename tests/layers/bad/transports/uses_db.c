/* Fixture for check_layers_refuses: the transport knowing the PostgreSQL
 * layer. Never built. */
#include "db/store.h"
