/* NVS on files (nvs_file.c), for the ESP32's provision_store.c on Linux. */
#pragma once
/* The folder the keys are kept in. */
void nvs_file_dir(const char *dir);
/* The next commit writes only this many bytes, then the process ends as in a power cut. */
void nvs_file_cut(long bytes);
