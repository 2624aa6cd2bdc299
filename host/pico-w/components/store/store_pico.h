/* The store on the Pico W's flash. */
#pragma once

#include "store.h"

void store_pico_init(void);
