/* The ESP32 firmware's provisioning (provision.c, its settings in NVS by provision_store.c) over a
 * pseudo-terminal: host/scale_portable/test/prov_serve.h. argv[1]: the folder NVS is kept in. */
#include <stdio.h>

#include "nvs_file.h"
#include "prov_serve.h"
#include "provision_store.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <nvs folder> [--network SSID=PASSWORD]... [--cut BYTES] [--device-id ID]\n", argv[0]);
        return 2;
    }
    nvs_file_dir(argv[1]);
    const prov_serve_store_t store = {.chip = "esp32", .load = provision_store_load, .save = provision_store_save, .erase = provision_store_erase, .cut = nvs_file_cut};
    return prov_serve(argc - 1, argv + 1, &store);
}
