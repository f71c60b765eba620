/*
 * virtio-pci: the PCI function of a virtio device.  Identity and
 * capabilities, the BAR 0 dispatch to the common/ISR/device/notify
 * structures and the MSI-X table, the PCI_CFG capability window, keeping
 * the notify ioeventfds where the BAR decodes, and the transport callbacks
 * devices use to interrupt the guest.
 */
#include "devices/virtio/pci.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "devices/virtio/pci_priv.h"

/* The BAR layout in pci.h: every structure fits its 4 KiB page. */
_Static_assert(VIRTIO_PCI_COMMON_SIZE <= VIRTIO_PCI_REGION_SIZE, "common config page");
_Static_assert(VIRTIO_PCI_MAX_QUEUES *VIRTIO_PCI_NOTIFY_MULTIPLIER <= VIRTIO_PCI_REGION_SIZE,
	       "notify page");
_Static_assert((VIRTIO_PCI_MAX_QUEUES + 1) * MSIX_ENTRY_SIZE <= VIRTIO_PCI_REGION_SIZE,
	       "MSI-X table page: a vector per queue and one for configuration");
_Static_assert(VIRTIO_PCI_MSIX_PBA_BASE + VIRTIO_PCI_REGION_SIZE <= VIRTIO_PCI_BAR_SIZE,
	       "BAR size");

static void report(struct virtio_pci *vp)
{
	if (vp->p.report)
		vp->p.report(vp->p.report_opaque, err_msg());
	else
		log_warn("virtio-pci: %s", err_msg());
}

static void kick(struct virtio_pci *vp, unsigned int q)
{
	uint64_t one = 1;

	if (write(vp->queues[q].kick_fd, &one, sizeof(one)) != sizeof(one)) {
		err_errno("queue %u kick eventfd", q);
		report(vp);
	}
}

/* ---- interrupts: the transport callbacks (device threads) ---- */

static void notify_queue(void *opaque, unsigned int q)
{
	struct virtio_pci *vp = opaque;

	if (q >= vp->nr_queues)
		return;
	uint16_t vector = atomic_load(&vp->queues[q].vector);
	if (vector == VIRTIO_MSI_NO_VECTOR)
		return;
	atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_QUEUE);
	if (msix_notify(&vp->msix, vector))
		report(vp);
}

static void set_needs_reset(struct virtio_pci *vp)
{
	atomic_store(&vp->needs_reset, true);
	atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG);
	uint16_t vector = atomic_load(&vp->msix_config);
	if (vector != VIRTIO_MSI_NO_VECTOR && msix_notify(&vp->msix, vector))
		report(vp);
}

static void needs_reset(void *opaque)
{
	set_needs_reset(opaque);
}

/* ---- notify ioeventfds ---- */

static struct ioeventfd queue_ioeventfd(const struct virtio_pci *vp, unsigned int i,
					enum virtio_pci_notify kind, uint64_t addr)
{
	/* Length 0 matches a write of any size at exactly this address;
	 * KVM also takes an MMIO one on its fast MMIO path. */
	return (struct ioeventfd){ .addr = addr,
				   .len = 0,
				   .mmio = kind == VIRTIO_PCI_NOTIFY_MMIO,
				   .fd = vp->queues[i].kick_fd };
}

/* Where queue i's notify structure of this kind decodes, if it does. */
static bool notify_addr(const struct virtio_pci *vp, unsigned int i, enum virtio_pci_notify kind,
			uint64_t *addr)
{
	if (kind == VIRTIO_PCI_NOTIFY_PIO) {
		*addr = vp->pio_addr + (uint64_t)i * VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER;
		return vp->pio_mapped;
	}
	*addr = vp->bar_addr + VIRTIO_PCI_NOTIFY_BASE + (uint64_t)i * VIRTIO_PCI_NOTIFY_MULTIPLIER;
	return vp->bar_mapped;
}

static void queue_ioeventfd_add(struct virtio_pci *vp, unsigned int i, enum virtio_pci_notify kind)
{
	struct virtio_pci_queue *q = &vp->queues[i];
	uint64_t addr;

	if (q->ioeventfd[kind] || !q->enabled || !notify_addr(vp, i, kind, &addr))
		return;
	struct ioeventfd ev = queue_ioeventfd(vp, i, kind, addr);
	/* On failure the notify write still exits and is signalled by
	 * hand: slower, not broken. */
	if (vp->p.ioeventfd_ops->assign(vp->p.ioeventfd_ctx, &ev)) {
		err_prefix("queue %u notify ioeventfd", i);
		report(vp);
		return;
	}
	q->ioeventfd[kind] = true;
	q->ioeventfd_addr[kind] = addr;
}

static void queue_ioeventfd_del(struct virtio_pci *vp, unsigned int i, enum virtio_pci_notify kind)
{
	struct virtio_pci_queue *q = &vp->queues[i];
	struct ioeventfd ev = queue_ioeventfd(vp, i, kind, q->ioeventfd_addr[kind]);

	if (!q->ioeventfd[kind])
		return;
	if (vp->p.ioeventfd_ops->deassign(vp->p.ioeventfd_ctx, &ev)) {
		err_prefix("queue %u notify ioeventfd", i);
		report(vp);
	}
	q->ioeventfd[kind] = false;
}

static void queue_ioeventfds_add(struct virtio_pci *vp, unsigned int i)
{
	queue_ioeventfd_add(vp, i, VIRTIO_PCI_NOTIFY_MMIO);
	queue_ioeventfd_add(vp, i, VIRTIO_PCI_NOTIFY_PIO);
}

static void ioeventfds_add(struct virtio_pci *vp, enum virtio_pci_notify kind)
{
	for (unsigned int i = 0; i < vp->nr_queues; i++)
		queue_ioeventfd_add(vp, i, kind);
}

static void ioeventfds_del(struct virtio_pci *vp, enum virtio_pci_notify kind)
{
	for (unsigned int i = 0; i < vp->nr_queues; i++)
		queue_ioeventfd_del(vp, i, kind);
}

static void all_ioeventfds_del(struct virtio_pci *vp)
{
	ioeventfds_del(vp, VIRTIO_PCI_NOTIFY_MMIO);
	ioeventfds_del(vp, VIRTIO_PCI_NOTIFY_PIO);
}

/* ---- acting on status writes (lock held) ---- */

static void reset_device(struct virtio_pci *vp)
{
	uint64_t stale;

	/* Returns once in-flight requests completed: the driver may reuse
	 * its rings as soon as it reads status 0. */
	vp->vdev->ops->reset(vp->vdev);
	all_ioeventfds_del(vp);
	/* Kicks of the previous life would wake the next one for nothing. */
	for (unsigned int i = 0; i < vp->nr_queues; i++)
		while (read(vp->queues[i].kick_fd, &stale, sizeof(stale)) == sizeof(stale))
			;
	virtio_pci_state_init(vp);
}

static bool bus_master(const struct virtio_pci *vp)
{
	return pci_cfg_get16(&vp->pci, PCI_COMMAND) & PCI_COMMAND_MASTER;
}

static void start_queues(struct virtio_pci *vp)
{
	/* DRIVER_OK without bus mastering: the queues could not reach guest
	 * memory, so none starts (drivers set it first, as Linux does). */
	if (!bus_master(vp)) {
		vp->dma_stopped = true;
		set_needs_reset(vp);
		return;
	}
	for (unsigned int i = 0; i < vp->nr_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		if (!q->enabled)
			continue;
		queue_ioeventfds_add(vp, i);
		struct virtq_config cfg = {
			.size = q->size,
			.desc_gpa = q->desc,
			.avail_gpa = q->driver,
			.used_gpa = q->device,
			.features = vp->driver_features,
		};
		err_set("refused by the device");
		if (vp->vdev->ops->queue_start(vp->vdev, i, &cfg, q->kick_fd)) {
			err_prefix("queue %u", i);
			report(vp);
			set_needs_reset(vp);
		}
	}
}

/*
 * Bus Master Enable gates every access the function makes to guest memory
 * (rings, buffers; MSI-X is gated in msix.c).  Cleared while the queues run:
 * the device stops them now (reset waits for their threads), and since the
 * queues' progress is lost the driver must reset the device
 * (DEVICE_NEEDS_RESET).  Setting it again does not restart them.  Called
 * from the config write hook (PCI bus lock held).
 */
static void bus_master_changed(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	if (!bus_master(vp) && (vp->status & VIRTIO_STATUS_DRIVER_OK) && !vp->dma_stopped) {
		vp->vdev->ops->reset(vp->vdev);
		vp->dma_stopped = true;
		set_needs_reset(vp);
	}
	pthread_mutex_unlock(&vp->lock);
}

static void common_write(struct virtio_pci *vp, uint64_t off, const void *data, unsigned int len)
{
	pthread_mutex_lock(&vp->lock);
	switch (virtio_pci_common_write(vp, off, data, len)) {
	case VIRTIO_PCI_ACT_NONE:
		break;
	case VIRTIO_PCI_ACT_RESET:
		reset_device(vp);
		break;
	case VIRTIO_PCI_ACT_START_QUEUES:
		start_queues(vp);
		break;
	case VIRTIO_PCI_ACT_QUEUE_ENABLED:
		/* Early, so kicks before DRIVER_OK need no exit either. */
		queue_ioeventfds_add(vp, vp->queue_select);
		break;
	}
	pthread_mutex_unlock(&vp->lock);
}

/* ---- BAR 0 ---- */

static void bar_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct virtio_pci *vp = opaque;
	uint64_t region = offset & ~(uint64_t)(VIRTIO_PCI_REGION_SIZE - 1);
	uint64_t off = offset - region;

	memset(data, 0, len);
	if (off + len > VIRTIO_PCI_REGION_SIZE)
		return;
	switch (region) {
	case VIRTIO_PCI_COMMON_BASE:
		virtio_pci_common_read(vp, off, data, len);
		break;
	case VIRTIO_PCI_ISR_BASE:
		if (off == 0)
			*(uint8_t *)data = (uint8_t)atomic_exchange(&vp->isr, 0);
		break;
	case VIRTIO_PCI_DEVCFG_BASE:
		if (off < vp->vdev->config_size)
			vp->vdev->ops->config_read(vp->vdev, (uint32_t)off, data, len);
		break;
	case VIRTIO_PCI_MSIX_TABLE_BASE:
		msix_table_read(&vp->msix, off, data, len);
		break;
	case VIRTIO_PCI_MSIX_PBA_BASE:
		msix_pba_read(&vp->msix, off, data, len);
		break;
	}
}

static void bar_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct virtio_pci *vp = opaque;
	uint64_t region = offset & ~(uint64_t)(VIRTIO_PCI_REGION_SIZE - 1);
	uint64_t off = offset - region;

	if (off + len > VIRTIO_PCI_REGION_SIZE)
		return;
	switch (region) {
	case VIRTIO_PCI_COMMON_BASE:
		common_write(vp, off, data, len);
		break;
	case VIRTIO_PCI_DEVCFG_BASE:
		if (off < vp->vdev->config_size)
			vp->vdev->ops->config_write(vp->vdev, (uint32_t)off, data, len);
		break;
	case VIRTIO_PCI_NOTIFY_BASE:
		/* Only reached when no ioeventfd caught the write (none yet,
		 * or KVM refused it): same effect, one exit slower.  The
		 * address names the queue; the value is not needed. */
		if (off % VIRTIO_PCI_NOTIFY_MULTIPLIER == 0 &&
		    off / VIRTIO_PCI_NOTIFY_MULTIPLIER < vp->nr_queues)
			kick(vp, (unsigned int)(off / VIRTIO_PCI_NOTIFY_MULTIPLIER));
		break;
	case VIRTIO_PCI_MSIX_TABLE_BASE:
		msix_table_write(&vp->msix, off, data, len);
		break;
	case VIRTIO_PCI_MSIX_PBA_BASE:
		msix_pba_write(&vp->msix, off, data, len);
		break;
	}
}

static const struct bus_ops bar_ops = { .read = bar_read, .write = bar_write };

/* ---- BAR 2: the port notify structure ---- */

static void pio_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, len);
}

static void pio_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct virtio_pci *vp = opaque;

	(void)data;
	(void)len;
	/* As for BAR 0's notify page: only without an ioeventfd. */
	if (offset % VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER == 0 &&
	    offset / VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER < vp->nr_queues)
		kick(vp, (unsigned int)(offset / VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER));
}

static const struct bus_ops pio_ops = { .read = pio_read, .write = pio_write };

unsigned int virtio_pci_pio_bar_size(unsigned int nr_queues)
{
	unsigned int size = 4;

	while (size < nr_queues * VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER)
		size *= 2;
	return size;
}

/* ---- PCI function hooks ---- */

static bool overlaps(uint32_t reg, unsigned int len, uint32_t start, uint32_t size)
{
	return reg < start + size && reg + len > start;
}

/* The BAR access the PCI_CFG capability currently selects, if valid. */
static bool pci_cfg_window(struct virtio_pci *vp, uint32_t *off, unsigned int *len)
{
	unsigned int cap = vp->pci_cfg_cap;
	uint8_t bar = pci_cfg_get8(&vp->pci, cap + VIRTIO_PCI_CAP_BAR);
	uint32_t o = pci_cfg_get32(&vp->pci, cap + VIRTIO_PCI_CAP_OFFSET);
	uint32_t l = pci_cfg_get32(&vp->pci, cap + VIRTIO_PCI_CAP_LENGTH);

	if (bar != VIRTIO_PCI_BAR || (l != 1 && l != 2 && l != 4) || o % l ||
	    o >= VIRTIO_PCI_BAR_SIZE || VIRTIO_PCI_BAR_SIZE - o < l)
		return false;
	*off = o;
	*len = l;
	return true;
}

static void config_read_hook(void *opaque, uint32_t reg, unsigned int len, uint32_t *val)
{
	struct virtio_pci *vp = opaque;
	uint32_t data_reg = vp->pci_cfg_cap + VIRTIO_PCI_CFG_DATA_OFF;
	uint8_t buf[4] = { 0 };
	uint32_t off;
	unsigned int n;

	if (!overlaps(reg, len, data_reg, 4))
		return;
	if (pci_cfg_window(vp, &off, &n))
		bar_read(vp, off, buf, n);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		pci_cfg_set8(&vp->pci, data_reg + i, buf[i]);
	*val = 0;
	for (unsigned int i = 0; i < len; i++)
		*val |= (uint32_t)pci_cfg_get8(&vp->pci, reg + i) << (8 * i);
}

static void config_write_hook(void *opaque, uint32_t reg, unsigned int len, uint32_t val)
{
	struct virtio_pci *vp = opaque;
	uint32_t data_reg = vp->pci_cfg_cap + VIRTIO_PCI_CFG_DATA_OFF;
	uint8_t buf[4];
	uint32_t off;
	unsigned int n;

	(void)val;
	msix_config_write(&vp->msix, reg, len);
	if (overlaps(reg, len, PCI_COMMAND, 2))
		bus_master_changed(vp);
	if (!overlaps(reg, len, data_reg, 4) || !pci_cfg_window(vp, &off, &n))
		return;
	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = pci_cfg_get8(&vp->pci, data_reg + i);
	bar_write(vp, off, buf, n);
}

/* The decoding state of a BAR that holds a notify structure; false for
 * other BARs. */
static bool notify_bar(struct virtio_pci *vp, unsigned int bar, enum virtio_pci_notify *kind,
		       bool **mapped, uint64_t **addr)
{
	if (bar == VIRTIO_PCI_BAR) {
		*kind = VIRTIO_PCI_NOTIFY_MMIO;
		*mapped = &vp->bar_mapped;
		*addr = &vp->bar_addr;
		return true;
	}
	if (bar == VIRTIO_PCI_PIO_BAR && vp->p.pio_notify) {
		*kind = VIRTIO_PCI_NOTIFY_PIO;
		*mapped = &vp->pio_mapped;
		*addr = &vp->pio_addr;
		return true;
	}
	return false;
}

static void bar_mapped(void *opaque, unsigned int bar, uint64_t addr)
{
	struct virtio_pci *vp = opaque;
	enum virtio_pci_notify kind;
	bool *mapped;
	uint64_t *at;

	if (!notify_bar(vp, bar, &kind, &mapped, &at))
		return;
	pthread_mutex_lock(&vp->lock);
	*mapped = true;
	*at = addr;
	ioeventfds_add(vp, kind);
	pthread_mutex_unlock(&vp->lock);
}

static void bar_moved(void *opaque, unsigned int bar, uint64_t old_addr, uint64_t new_addr)
{
	struct virtio_pci *vp = opaque;
	enum virtio_pci_notify kind;
	bool *mapped;
	uint64_t *at;

	(void)old_addr;
	if (!notify_bar(vp, bar, &kind, &mapped, &at))
		return;
	pthread_mutex_lock(&vp->lock);
	ioeventfds_del(vp, kind);
	*at = new_addr;
	ioeventfds_add(vp, kind);
	pthread_mutex_unlock(&vp->lock);
}

static void bar_unmapped(void *opaque, unsigned int bar, uint64_t old_addr)
{
	struct virtio_pci *vp = opaque;
	enum virtio_pci_notify kind;
	bool *mapped;
	uint64_t *at;

	(void)old_addr;
	if (!notify_bar(vp, bar, &kind, &mapped, &at))
		return;
	pthread_mutex_lock(&vp->lock);
	ioeventfds_del(vp, kind);
	*mapped = false;
	pthread_mutex_unlock(&vp->lock);
}

static const struct pci_function_ops function_ops = {
	.config_read = config_read_hook,
	.config_write = config_write_hook,
	.bar_mapped = bar_mapped,
	.bar_moved = bar_moved,
	.bar_unmapped = bar_unmapped,
};

/* ---- creation ---- */

static uint32_t class_of(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK:
		return PCI_CLASS_STORAGE_OTHER;
	default:
		return 0xff0000; /* unclassified */
	}
}

static int add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint8_t bar, uint32_t offset,
			  uint32_t length, unsigned int extra, const uint8_t *extra_bytes,
			  const uint8_t *wmask)
{
	uint8_t cap[VIRTIO_PCI_CAP_SIZE + 4] = { 0 };
	uint32_t le;

	cap[VIRTIO_PCI_CAP_LEN] = (uint8_t)(VIRTIO_PCI_CAP_SIZE + extra);
	cap[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	cap[VIRTIO_PCI_CAP_BAR] = bar;
	le = htole32(offset);
	memcpy(&cap[VIRTIO_PCI_CAP_OFFSET], &le, 4);
	le = htole32(length);
	memcpy(&cap[VIRTIO_PCI_CAP_LENGTH], &le, 4);
	if (extra)
		memcpy(&cap[VIRTIO_PCI_CAP_SIZE], extra_bytes, extra);
	int off = pci_add_capability(&vp->pci, PCI_CAP_ID_VNDR, cap, VIRTIO_PCI_CAP_SIZE + extra,
				     wmask);
	if (off < 0)
		return err_set("virtio-pci: no room for capability type %u", type);
	return off;
}

static int add_capabilities(struct virtio_pci *vp)
{
	uint32_t mult = htole32(VIRTIO_PCI_NOTIFY_MULTIPLIER);
	uint32_t pio_mult = htole32(VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER);
	uint8_t zero[4] = { 0 };
	uint8_t pci_cfg_wmask[VIRTIO_PCI_CAP_SIZE + 4] = { 0 };
	int off;

	if (add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_BASE,
			   VIRTIO_PCI_COMMON_SIZE, 0, NULL, NULL) < 0)
		return -1;
	/* Before the MMIO one: drivers take the first notify structure they
	 * can map (see pci.h). */
	if (vp->p.pio_notify && add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_PIO_BAR, 0,
					       vp->nr_queues * VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER, 4,
					       (uint8_t *)&pio_mult, NULL) < 0)
		return -1;
	if (add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_BASE,
			   vp->nr_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER, 4, (uint8_t *)&mult,
			   NULL) < 0 ||
	    add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_BAR, VIRTIO_PCI_ISR_BASE, 1, 0,
			   NULL, NULL) < 0)
		return -1;
	if (vp->vdev->config_size &&
	    add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_BAR, VIRTIO_PCI_DEVCFG_BASE,
			   vp->vdev->config_size, 0, NULL, NULL) < 0)
		return -1;
	/* The driver picks bar, offset and length, then moves data. */
	pci_cfg_wmask[VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(&pci_cfg_wmask[VIRTIO_PCI_CAP_OFFSET], 0xff, 8);
	memset(&pci_cfg_wmask[VIRTIO_PCI_CFG_DATA_OFF], 0xff, 4);
	off = add_virtio_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, VIRTIO_PCI_BAR, 0, 0, 4, zero,
			     pci_cfg_wmask);
	if (off < 0)
		return -1;
	vp->pci_cfg_cap = (unsigned int)off;
	return 0;
}

static int check_device(const struct virtio_pci_params *p)
{
	const struct virtio_device *d = p->vdev;

	if (p->irq_ops == NULL || p->ioeventfd_ops == NULL || d == NULL || d->ops == NULL ||
	    !d->ops->features || !d->ops->set_features || !d->ops->config_read ||
	    !d->ops->config_write || !d->ops->queue_start || !d->ops->reset)
		return err_set("virtio-pci: incomplete device or ops");
	if (d->num_queues == 0 || d->num_queues > VIRTIO_PCI_MAX_QUEUES)
		return err_set("virtio-pci: %u queues (1-%u)", d->num_queues,
			       VIRTIO_PCI_MAX_QUEUES);
	if (p->pio_notify && d->num_queues * VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER > 256)
		return err_set("virtio-pci: %u queues do not fit a port notify BAR (at most %u)",
			       d->num_queues, 256 / VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER);
	if (d->queue_max_size == 0 || d->queue_max_size > VIRTQ_MAX_SIZE ||
	    (d->queue_max_size & (d->queue_max_size - 1)))
		return err_set("virtio-pci: queue size %u is not a power of two",
			       d->queue_max_size);
	if (d->config_size > VIRTIO_PCI_REGION_SIZE)
		return err_set("virtio-pci: config space of %u bytes", d->config_size);
	return 0;
}

static void free_transport(struct virtio_pci *vp)
{
	for (unsigned int i = 0; i < vp->nr_queues; i++)
		if (vp->queues[i].kick_fd >= 0)
			close(vp->queues[i].kick_fd);
	free(vp->queues);
	free(vp);
}

struct virtio_pci *virtio_pci_create(const struct virtio_pci_params *p)
{
	struct virtio_device *vdev = p->vdev;
	struct virtio_pci *vp;

	if (check_device(p))
		return NULL;
	vp = calloc(1, sizeof(*vp));
	if (vp == NULL || (vp->queues = calloc(vdev->num_queues, sizeof(*vp->queues))) == NULL) {
		free(vp);
		err_set("virtio-pci: out of memory");
		return NULL;
	}
	vp->p = *p;
	vp->vdev = vdev;
	vp->nr_queues = vdev->num_queues;
	vp->nr_vectors = vdev->num_queues + 1;
	for (unsigned int i = 0; i < vp->nr_queues; i++)
		vp->queues[i].kick_fd = -1;
	for (unsigned int i = 0; i < vp->nr_queues; i++) {
		vp->queues[i].kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vp->queues[i].kick_fd < 0) {
			err_errno("virtio-pci: eventfd for queue %u", i);
			free_transport(vp);
			return NULL;
		}
	}

	pci_function_init(&vp->pci,
			  &(struct pci_id){
				  .vendor = VIRTIO_PCI_VENDOR,
				  .device = (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + vdev->device_id),
				  .revision = VIRTIO_PCI_REVISION,
				  .class_code = class_of(vdev->device_id),
				  .subsys_vendor = VIRTIO_PCI_VENDOR,
				  .subsys_id = vdev->device_id,
			  },
			  &function_ops, vp);
	struct msix_params mp = {
		.pci = &vp->pci,
		.nr_vectors = vp->nr_vectors,
		.table_bar = VIRTIO_PCI_BAR,
		.table_offset = VIRTIO_PCI_MSIX_TABLE_BASE,
		.pba_bar = VIRTIO_PCI_BAR,
		.pba_offset = VIRTIO_PCI_MSIX_PBA_BASE,
		.irq_ops = p->irq_ops,
		.irq_ctx = p->irq_ctx,
		.report = p->report,
		.report_opaque = p->report_opaque,
	};
	if (pci_function_add_bar(&vp->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, PCI_BAR_MEM_64,
				 &bar_ops, vp)) {
		err_set("virtio-pci: cannot declare BAR %u", VIRTIO_PCI_BAR);
		free_transport(vp);
		return NULL;
	}
	if (p->pio_notify && pci_function_add_bar(&vp->pci, VIRTIO_PCI_PIO_BAR,
						  virtio_pci_pio_bar_size(vp->nr_queues),
						  PCI_BAR_IO, &pio_ops, vp)) {
		err_set("virtio-pci: cannot declare I/O BAR %u", VIRTIO_PCI_PIO_BAR);
		free_transport(vp);
		return NULL;
	}
	if (add_capabilities(vp) || msix_init(&vp->msix, &mp)) {
		free_transport(vp);
		return NULL;
	}
	pthread_mutex_init(&vp->lock, NULL);
	virtio_pci_state_init(vp);
	vdev->transport = (struct virtio_transport){
		.opaque = vp,
		.notify_queue = notify_queue,
		.needs_reset = needs_reset,
	};
	return vp;
}

struct pci_function *virtio_pci_function(struct virtio_pci *vp)
{
	return &vp->pci;
}

struct msix *virtio_pci_msix(struct virtio_pci *vp)
{
	return &vp->msix;
}

int virtio_pci_kick_fd(const struct virtio_pci *vp, unsigned int q)
{
	return q < vp->nr_queues ? vp->queues[q].kick_fd : -1;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	pci_bus_unplug(&vp->pci);
	pthread_mutex_lock(&vp->lock);
	vp->vdev->ops->reset(vp->vdev);
	all_ioeventfds_del(vp);
	pthread_mutex_unlock(&vp->lock);
	vp->vdev->transport = (struct virtio_transport){ 0 };
	msix_destroy(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
	free_transport(vp);
}
