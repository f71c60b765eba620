/*
 * The VM's disks: for every --disk, the image (devices/block), its
 * virtio-blk device and the virtio-pci function that carries it, plugged
 * into the platform's PCI bus in command-line order (so the first is the
 * guest's /dev/vda).
 */
#ifndef VMM_DISK_ATTACH_H
#define VMM_DISK_ATTACH_H

#include <stdio.h>

#include "devices/block/disk.h"
#include "vmm/cli.h"

struct vm;
struct virtio_device;
struct virtio_pci;

struct vm_disk {
	struct disk disk;
	bool opened;
	struct virtio_device *vdev;
	struct virtio_pci *vp;
};

struct vm_disks {
	unsigned int n;
	struct vm_disk d[CLI_MAX_DISKS];
};

/* Opens and plugs cfg's disks; before the vCPUs start.  -1 with err_msg()
 * naming the disk; what was set up stays for vm_disks_destroy. */
int vm_disks_attach(struct vm_disks *ds, struct vm *vm, const struct vm_config *cfg);

/* Unplugs and closes them all (after the vCPUs stopped): in-flight
 * requests complete first, so everything the guest flushed is on disk. */
void vm_disks_destroy(struct vm_disks *ds);

/* One line per disk: requests, kicks, interrupts, merged requests, ios
 * completed late, refill waits that ran out and requests found without a
 * kick (the idle re-check), so far, and the mean
 * depth while busy: requests in flight, ios at the backend (--stats). */
void vm_disks_print_stats(const struct vm_disks *ds, FILE *out);

#endif
