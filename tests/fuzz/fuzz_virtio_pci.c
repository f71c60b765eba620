/*
 * Fuzz target for the virtio-pci transport (devices/virtio/pci.c,
 * pci_common.c): a guest's accesses to BAR 0 (common config, ISR, device
 * config, notify, MSI-X table and PBA; any offset and size), to config space
 * (capabilities, the PCI_CFG window, command register, BAR moves), device
 * threads' interrupt requests, and a whole driver initialisation with fuzzed
 * values, in any order, with KVM calls that fail.  The device behind it is
 * a fake that validates each queue configuration the way virtio-blk does
 * (virtq_init on a small guest RAM).
 *
 * Checked: features the device sees were offered and include VERSION_1;
 * queues start only at DRIVER_OK after FEATURES_OK, once per queue per
 * reset, with a power-of-two size within the maximum and the negotiated
 * features; status never reads DRIVER_OK without FEATURES_OK; every
 * ioeventfd sits on its queue's notify address inside the decoding BAR with
 * that queue's kick eventfd, and none exists while the BAR does not decode;
 * KVM-side consistency as in fakes.h; everything is released at destroy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/queue.h"
#include "fakes.h"
#include "fuzz.h"

#define ECAM_BASE 0xe0000000ull
#define SLOT	  1
#define MAX_Q	  4
#define RAM_GPA	  0x100000ull
#define RAM_SIZE  0x100000ull
#define OFFERED                                                             \
	(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC | \
	 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << 9 | 1ull << 5)

struct fake_dev {
	struct virtio_device vdev;
	uint64_t features;
	bool features_set;
	bool refuse_features;
	bool started[MAX_Q];
	uint8_t config[24];
};

static struct fake_dev dev;
static struct fake_kvm kvm;
static struct virtio_pci *vp;
static struct guest_mem mem;
static uint8_t *ram;

static uint64_t fd_features(struct virtio_device *d)
{
	(void)d;
	return OFFERED;
}

static int fd_set_features(struct virtio_device *d, uint64_t f)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	FUZZ_CHECK(f & (1ull << VIRTIO_F_VERSION_1));
	FUZZ_CHECK((f & ~OFFERED) == 0);
	if (fd->refuse_features)
		return -1;
	fd->features = f;
	fd->features_set = true;
	return 0;
}

static void fd_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	memset(buf, 0, len);
	for (uint32_t i = 0; i < len && off + i < sizeof(fd->config); i++)
		((uint8_t *)buf)[i] = fd->config[off + i];
}

static void fd_config_write(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	FUZZ_CHECK(len <= 8);
	for (uint32_t i = 0; i < len && off + i < sizeof(fd->config); i++)
		fd->config[off + i] = ((const uint8_t *)buf)[i];
}

static int fd_queue_start(struct virtio_device *d, unsigned int q, const struct virtq_config *cfg,
			  int kick_fd)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	struct virtq vq;

	FUZZ_CHECK(q < d->num_queues && !fd->started[q]);
	FUZZ_CHECK(fd->features_set && cfg->features == fd->features);
	FUZZ_CHECK(cfg->size && cfg->size <= d->queue_max_size && !(cfg->size & (cfg->size - 1)));
	FUZZ_CHECK(kick_fd == virtio_pci_kick_fd(vp, q));
	if (virtq_init(&vq, &mem, cfg) < 0)
		return err_set("%s", virtq_strerror(vq.error));
	fd->started[q] = true;
	return 0;
}

static void fd_reset(struct virtio_device *d)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	memset(fd->started, 0, sizeof(fd->started));
	fd->features_set = false;
	fd->features = 0;
}

static const struct virtio_device_ops fake_ops = {
	.features = fd_features,
	.set_features = fd_set_features,
	.config_read = fd_config_read,
	.config_write = fd_config_write,
	.queue_start = fd_queue_start,
	.reset = fd_reset,
};

static void check(struct bus *mmio, bool failed)
{
	uint64_t bar;
	bool decoding = pci_bar_decoding(virtio_pci_function(vp), VIRTIO_PCI_BAR, &bar);
	uint8_t status = 0;

	if (decoding) {
		FUZZ_CHECK(bus_read(mmio, bar + VIRTIO_PCI_COMMON_STATUS, &status, 1));
		if (status & VIRTIO_STATUS_DRIVER_OK)
			FUZZ_CHECK(status & VIRTIO_STATUS_FEATURES_OK);
	}
	if (failed || kvm.reports)
		return; /* a failed KVM call may leave a queue without its ioeventfd */
	uint64_t pio;
	bool pio_decoding = pci_bar_decoding(virtio_pci_function(vp), VIRTIO_PCI_PIO_BAR, &pio);
	for (unsigned int i = 0; i < kvm.nr_ev; i++) {
		const struct ioeventfd *ev = &kvm.ev[i];
		if (!ev->mmio) {
			/* The port notify structure: only while BAR 2 decodes. */
			uint64_t poff = ev->addr - pio;
			unsigned int q = (unsigned int)(poff / VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER);
			FUZZ_CHECK(pio_decoding && ev->addr >= pio);
			FUZZ_CHECK(poff % VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER == 0 &&
				   q < dev.vdev.num_queues);
			FUZZ_CHECK(ev->fd == virtio_pci_kick_fd(vp, q));
			continue;
		}
		FUZZ_CHECK(decoding);
		uint64_t off = ev->addr - bar - VIRTIO_PCI_NOTIFY_BASE;
		unsigned int q = (unsigned int)(off / VIRTIO_PCI_NOTIFY_MULTIPLIER);
		FUZZ_CHECK(ev->addr >= bar + VIRTIO_PCI_NOTIFY_BASE);
		FUZZ_CHECK(off % VIRTIO_PCI_NOTIFY_MULTIPLIER == 0 && q < dev.vdev.num_queues);
		FUZZ_CHECK(ev->fd == virtio_pci_kick_fd(vp, q));
	}
}

/* A whole driver initialisation, the way Linux does it, with fuzzed values. */
static void driver_init(struct fz *f, struct bus *mmio, uint64_t bar)
{
	uint8_t s;
	uint32_t v;
	uint16_t w;
	uint64_t a;

#define W(off, val, len)                                \
	do {                                            \
		__typeof__(val) x_ = (val);             \
		bus_write(mmio, bar + (off), &x_, len); \
	} while (0)
	W(VIRTIO_PCI_COMMON_STATUS, (uint8_t)0, 1);
	s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	W(VIRTIO_PCI_COMMON_STATUS, s, 1);
	for (uint32_t sel = 0; sel < 2; sel++) {
		W(VIRTIO_PCI_COMMON_GFSELECT, sel, 4);
		v = fz_u32(f);
		if (!(fz_u8(f) & 1)) /* mostly what was offered */
			v &= (uint32_t)(OFFERED >> (32 * sel));
		W(VIRTIO_PCI_COMMON_GF, v, 4);
	}
	s |= VIRTIO_STATUS_FEATURES_OK;
	W(VIRTIO_PCI_COMMON_STATUS, s, 1);
	W(VIRTIO_PCI_COMMON_MSIX, fz_u16(f), 2);
	for (uint16_t q = 0; q < dev.vdev.num_queues; q++) {
		W(VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
		w = (uint16_t)(1u << (fz_u8(f) % 16));
		W(VIRTIO_PCI_COMMON_Q_SIZE, w, 2);
		W(VIRTIO_PCI_COMMON_Q_MSIX, fz_u16(f), 2);
		a = RAM_GPA + (fz_u32(f) % RAM_SIZE);
		W(VIRTIO_PCI_COMMON_Q_DESC, a & ~15ull, 8);
		a = RAM_GPA + (fz_u32(f) % RAM_SIZE);
		W(VIRTIO_PCI_COMMON_Q_DRIVER, a & ~1ull, 8);
		a = RAM_GPA + (fz_u32(f) % RAM_SIZE);
		W(VIRTIO_PCI_COMMON_Q_DEVICE, a & ~3ull, 8);
		if (fz_u8(f) & 3)
			W(VIRTIO_PCI_COMMON_Q_ENABLE, (uint16_t)1, 2);
	}
	s |= VIRTIO_STATUS_DRIVER_OK;
	W(VIRTIO_PCI_COMMON_STATUS, s, 1);
#undef W
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct bus mmio, pio;
	struct pci_bus pb;
	uint8_t setup = fz_u8(&f);
	uint64_t bar = 0;

	if (ram == NULL) {
		ram = aligned_alloc(4096, RAM_SIZE);
		FUZZ_CHECK(ram != NULL && guest_mem_add(&mem, RAM_GPA, RAM_SIZE, ram) == 0);
	}
	fk_init(&kvm);
	memset(&dev, 0, sizeof(dev));
	dev.vdev = (struct virtio_device){ .ops = &fake_ops,
					   .device_id = VIRTIO_ID_BLOCK,
					   .num_queues = 1 + setup % MAX_Q,
					   .queue_max_size = (uint16_t)(1u << (setup >> 2 & 15)),
					   .config_size = sizeof(dev.config) };
	dev.refuse_features = setup & 0x40;
	struct virtio_pci_params p = {
		.vdev = &dev.vdev,
		.irq_ops = &fk_irq_ops,
		.irq_ctx = &kvm,
		.ioeventfd_ops = &(const struct ioeventfd_ops){ fk_ev_assign, fk_ev_deassign },
		.ioeventfd_ctx = &kvm,
		.report = fk_report,
		.report_opaque = &kvm,
		.pio_notify = setup & 0x80,
	};
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	FUZZ_CHECK(pci_bus_init(&pb, &mmio, 0xc0000000, 0x10000000, 0x4000000000ull,
				0x1000000000ull) == 0);
	FUZZ_CHECK(pci_bus_set_io_window(&pb, &pio, 0xc000, 0x4000) == 0);
	FUZZ_CHECK(pci_bus_register_ecam(&pb, &mmio, ECAM_BASE, 1 << 20) == 0);
	vp = virtio_pci_create(&p);
	FUZZ_CHECK(vp != NULL);
	FUZZ_CHECK(pci_bus_plug(&pb, virtio_pci_function(vp), SLOT) == 0);
	{
		uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
		bus_write(&mmio, ECAM_BASE + ((uint64_t)SLOT << 15 | PCI_COMMAND), &cmd, 2);
	}

	for (unsigned int ops = 0; fz_more(&f) && ops < 1000; ops++) {
		uint8_t op = fz_u8(&f);
		unsigned int len = fz_len(&f);
		uint16_t off = fz_u16(&f);
		uint64_t val = fz_u64(&f), buf = 0;
		bool failed = false;
		bool decoding = pci_bar_decoding(virtio_pci_function(vp), VIRTIO_PCI_BAR, &bar);

		if ((op & 0xc0) == 0xc0) {
			kvm.fail = fz_u8(&f);
			failed = true;
		}
		switch (op & 7) {
		case 0: /* common config, its own fields mostly */
			if (decoding)
				bus_write(&mmio, bar + off % (VIRTIO_PCI_COMMON_SIZE + 8), &val,
					  len);
			break;
		case 1: /* anywhere in the BAR */
			if (decoding)
				bus_write(&mmio, bar + off % VIRTIO_PCI_BAR_SIZE, &val, len);
			break;
		case 2:
			if (op & 8) /* port space, where the I/O BAR may decode */
				bus_write(&pio, 0xc000 + off % 0x4000, &val, len > 4 ? 4 : len);
			else if (decoding)
				bus_read(&mmio, bar + off % VIRTIO_PCI_BAR_SIZE, &buf, len);
			break;
		case 3: /* config space, capabilities and the PCI_CFG window */
			bus_write(&mmio, ECAM_BASE + ((uint64_t)SLOT << 15 | off % PCI_CFG_SIZE),
				  &val, len > 4 ? 4 : len);
			break;
		case 4:
			bus_read(&mmio, ECAM_BASE + ((uint64_t)SLOT << 15 | off % PCI_CFG_SIZE),
				 &buf, len > 4 ? 4 : len);
			break;
		case 5: /* device threads */
			if (op & 8)
				dev.vdev.transport.needs_reset(dev.vdev.transport.opaque);
			else
				dev.vdev.transport.notify_queue(dev.vdev.transport.opaque,
								off % (MAX_Q + 2));
			break;
		case 6:
			if (decoding)
				driver_init(&f, &mmio, bar);
			break;
		case 7: { /* the BAR moves, or decoding goes off/on */
			uint32_t lo = (uint32_t)val & ~0xfu;
			if (op & 8) {
				uint16_t cmd = (uint16_t)val;
				bus_write(&mmio, ECAM_BASE + ((uint64_t)SLOT << 15 | PCI_COMMAND),
					  &cmd, 2);
			} else if (op & 0x10) { /* the I/O BAR */
				lo = (uint32_t)val;
				bus_write(&mmio,
					  ECAM_BASE + ((uint64_t)SLOT << 15 |
						       (PCI_BAR0 + 4 * VIRTIO_PCI_PIO_BAR)),
					  &lo, 4);
			} else {
				bus_write(&mmio, ECAM_BASE + ((uint64_t)SLOT << 15 | PCI_BAR0), &lo,
					  4);
			}
			break;
		}
		}
		kvm.fail = 0;
		check(&mmio, failed);
	}
	virtio_pci_destroy(vp);
	if (kvm.reports == 0) {
		FUZZ_CHECK(kvm.nr_ev == 0);
		FUZZ_CHECK(fk_routes(&kvm) == 0);
	}
	pci_bus_destroy(&pb);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	return 0;
}
