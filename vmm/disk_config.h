/* --disk FILE[,key=value]... -> struct disk_config (devices/block/disk.h). */
#ifndef VMM_DISK_CONFIG_H
#define VMM_DISK_CONFIG_H

#include "devices/block/disk.h"

#define DISK_USAGE "path=FILE[,readonly=on][,direct=on][,serial=ID][,queues=N][,notify=pio|mmio]"

/* Parses one --disk argument.  0, or -1 with err_msg() set. */
int disk_config_parse(const char *arg, struct disk_config *cfg);

#endif
