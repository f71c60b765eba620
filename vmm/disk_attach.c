/* Wires each --disk into the VM: image -> virtio-blk -> virtio-pci -> PCI bus. */
#include "vmm/disk_attach.h"

#include <stdio.h>

#include "core/arch.h"
#include "core/err.h"
#include "core/vm.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/pci.h"

_Static_assert(DISK_MAX_QUEUES <= VIRTIO_BLK_MAX_QUEUES, "--disk queues= beyond virtio-blk's");

/* Like QEMU: a queue per vCPU, so blk-mq gives each CPU its own ring,
 * I/O thread and interrupt vector. */
static unsigned int disk_queues(const struct disk_config *dc, unsigned int cpus)
{
	if (dc->queues)
		return dc->queues;
	return cpus < DISK_MAX_QUEUES ? cpus : DISK_MAX_QUEUES;
}

/* The notify structure: port I/O where the platform has it (x86), as the
 * default too, because there an OUT exit is decoded by the CPU while an
 * MMIO kick costs a page fault and an instruction emulation under SVM
 * without decode assists (see README, "Notify"). */
static int pio_notify(const struct disk_config *dc, const struct pci_bus *bus, bool *pio)
{
	*pio = dc->notify != DISK_NOTIFY_MMIO && pci_bus_has_io(bus);
	if (dc->notify == DISK_NOTIFY_PIO && !*pio)
		return err_set("disk %s: notify=pio needs port I/O, which this machine has not",
			       dc->path);
	return 0;
}

static int attach_one(struct vm_disk *d, struct vm *vm, struct pci_bus *bus,
		      const struct disk_config *dc, unsigned int cpus)
{
	bool pio;

	if (pio_notify(dc, bus, &pio) || disk_open(dc, &d->disk))
		return -1;
	d->opened = true;
	struct blk_device_params bp = {
		.disk = &d->disk,
		.mem = &vm->mem,
		.backend = BLOCK_BACKEND_AUTO,
		.num_queues = disk_queues(dc, cpus),
	};
	d->vdev = blk_device_create(&bp);
	if (d->vdev == NULL)
		return err_prefix("disk %s", dc->path);
	struct virtio_pci_params vpp = {
		.vdev = d->vdev,
		.irq_ops = &irq_kvm_msi_ops,
		.irq_ctx = &vm->irq,
		.ioeventfd_ops = &irq_kvm_ioeventfd_ops,
		.ioeventfd_ctx = &vm->vm_fd,
		.pio_notify = pio,
	};
	d->vp = virtio_pci_create(&vpp);
	if (d->vp == NULL)
		return err_prefix("disk %s", dc->path);
	if (pci_bus_plug(bus, virtio_pci_function(d->vp), -1))
		return err_prefix("disk %s", dc->path);
	return 0;
}

int vm_disks_attach(struct vm_disks *ds, struct vm *vm, const struct vm_config *cfg)
{
	struct pci_bus *bus = arch_pci_bus(vm);

	ds->n = 0;
	if (cfg->ndisks && bus == NULL)
		return err_set("--disk: this platform has no PCI bus");
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		ds->d[i] = (struct vm_disk){ .opened = false };
		ds->n = i + 1;
		if (attach_one(&ds->d[i], vm, bus, &cfg->disks[i], cfg->cpus))
			return -1;
	}
	return 0;
}

/* For a guest that stalled (a boot stopped by a signal or a timeout):
 * each queue whose I/O thread went to sleep with work outstanding (taken
 * and not completed, or posted and not taken: then it waits for a kick),
 * in the ring's own terms, so the log says which side was waited for.
 * (used_event as the thread last saw it: a guest that is not stuck has
 * moved it since, so it alone says nothing.) */
static void print_wait_states(struct virtio_device *vdev, unsigned int disk, FILE *out)
{
	for (unsigned int q = 0; q < vdev->num_queues; q++) {
		struct blk_wait_state ws;

		if (!blk_device_wait_state(vdev, q, &ws))
			continue;
		if (ws.q.inflight == 0 && ws.q.avail_idx == ws.q.last_avail_idx)
			continue;
		fprintf(out,
			"vmm: disk %u queue %u: its I/O thread last slept with %u requests in flight "
			"(%u ios at the backend); avail idx %u, taken %u, used idx %u; ",
			disk, q, ws.q.inflight, ws.backend_ios, ws.q.avail_idx, ws.q.last_avail_idx,
			ws.q.used_idx);
		if (ws.q.event_idx)
			fprintf(out, "avail_event %u, used_event %u\n", ws.q.avail_event,
				ws.q.used_event);
		else
			fprintf(out, "used flags %#x, avail flags %#x\n", ws.q.used_flags,
				ws.q.avail_flags);
	}
}

void vm_disks_print_stats(const struct vm_disks *ds, FILE *out)
{
	for (unsigned int i = 0; i < ds->n; i++) {
		struct blk_queue_stats st;

		if (ds->d[i].vdev == NULL)
			continue;
		blk_device_stats(ds->d[i].vdev, &st);
		fprintf(out,
			"vmm: disk %u: %llu requests, %llu kicks, %llu interrupts, %llu merged, "
			"%llu completed late, %llu refill waits ran out, %llu found without a kick",
			i, (unsigned long long)st.requests, (unsigned long long)st.kicks,
			(unsigned long long)st.interrupts, (unsigned long long)st.merged,
			(unsigned long long)st.late, (unsigned long long)st.refill_timeouts,
			(unsigned long long)st.unnotified);
		/* Means over the time anything was in flight. */
		if (st.busy_ns)
			fprintf(out,
				"; busy %.3f s, %.2f requests in flight, %.2f ios at the backend",
				st.busy_ns / 1e9, (double)st.inflight_ns / st.busy_ns,
				(double)st.backend_ns / st.busy_ns);
		fputc('\n', out);
		print_wait_states(ds->d[i].vdev, i, out);
	}
}

void vm_disks_destroy(struct vm_disks *ds)
{
	for (unsigned int i = 0; i < ds->n; i++) {
		struct vm_disk *d = &ds->d[i];
		if (d->vp)
			virtio_pci_destroy(d->vp);
		if (d->vdev)
			d->vdev->ops->destroy(d->vdev);
		if (d->opened)
			disk_close(&d->disk);
		*d = (struct vm_disk){ .opened = false };
	}
	ds->n = 0;
}
