/* Fixture for check_layers_refuses: provctl code that talks to libpq and to
 * the engine directly, both of which the layer rules forbid. Never built. */
#include "worker/engine.h"
#include <libpq-fe.h>
