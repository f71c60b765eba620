/*
 * virtio-pci transport tests with a small fake virtio device on a real
 * PCI/MMIO bus: identity and capabilities, the common config registers
 * (feature windows, status state machine, FEATURES_OK refusal, queue_size
 * rules, NO_VECTOR read-back, reset), notify addresses becoming ioeventfds
 * (recorded by fake ops) that follow the BAR, the port I/O notify structure
 * (capability order, I/O BAR, its ioeventfds), the user-space notify path,
 * interrupts through the transport callbacks, device config, ISR and the
 * PCI_CFG window.  Ends with random guest writes everywhere.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "devices/virtio/pci.h"
#include "fake_irq.h"
#include "pci_fixture.h"

#define SLOT	1
#define NQ	2
#define QMAX	64
#define OFFERED (1ull << VIRTIO_F_VERSION_1 | 1ull << 1 | 1ull << 9)

/* ---- fake device ---- */

struct fake_dev {
	struct virtio_device vdev;
	uint64_t features_set;
	unsigned int set_features_calls;
	bool refuse_features;
	unsigned int resets;
	unsigned int starts;
	unsigned int started_q[NQ + 1];
	struct virtq_config started_cfg[NQ + 1];
	int started_kick[NQ + 1];
	bool refuse_start;
	uint8_t config[8];
	uint32_t config_written_off;
	uint8_t config_written[8];
};

static uint64_t fd_features(struct virtio_device *d)
{
	(void)d;
	return OFFERED;
}

static int fd_set_features(struct virtio_device *d, uint64_t f)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	fd->set_features_calls++;
	if (fd->refuse_features)
		return -1;
	fd->features_set = f;
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
	ck_assert_uint_le(len, 8);
	fd->config_written_off = off;
	memcpy(fd->config_written, buf, len);
}

static int fd_queue_start(struct virtio_device *d, unsigned int q, const struct virtq_config *cfg,
			  int kick_fd)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	ck_assert_uint_lt(fd->starts, NQ + 1);
	if (fd->refuse_start) {
		err_set("fake: bad ring");
		return -1;
	}
	fd->started_q[fd->starts] = q;
	fd->started_cfg[fd->starts] = *cfg;
	fd->started_kick[fd->starts] = kick_fd;
	fd->starts++;
	return 0;
}

static void fd_reset(struct virtio_device *d)
{
	struct fake_dev *fd = (struct fake_dev *)d;
	fd->resets++;
	fd->starts = 0;
	fd->features_set = 0;
}

static const struct virtio_device_ops fake_ops = {
	.features = fd_features,
	.set_features = fd_set_features,
	.config_read = fd_config_read,
	.config_write = fd_config_write,
	.queue_start = fd_queue_start,
	.reset = fd_reset,
};

/* ---- fake ioeventfds ---- */

#define MAX_EV 16
struct fake_ioev {
	struct ioeventfd live[MAX_EV];
	unsigned int nr_live;
	unsigned int assigns, deassigns;
};

static int fe_assign(void *ctx, const struct ioeventfd *ev)
{
	struct fake_ioev *fe = ctx;
	for (unsigned int i = 0; i < fe->nr_live; i++)
		ck_assert_msg(fe->live[i].addr != ev->addr, "duplicate ioeventfd 0x%llx",
			      (unsigned long long)ev->addr);
	ck_assert_uint_lt(fe->nr_live, MAX_EV);
	fe->live[fe->nr_live++] = *ev;
	fe->assigns++;
	return 0;
}

static int fe_deassign(void *ctx, const struct ioeventfd *ev)
{
	struct fake_ioev *fe = ctx;
	for (unsigned int i = 0; i < fe->nr_live; i++) {
		const struct ioeventfd *l = &fe->live[i];
		/* Field by field: padding bytes are not part of the value. */
		if (l->addr == ev->addr && l->len == ev->len && l->mmio == ev->mmio &&
		    l->datamatch == ev->datamatch && l->data == ev->data && l->fd == ev->fd) {
			fe->live[i] = fe->live[--fe->nr_live];
			fe->deassigns++;
			return 0;
		}
	}
	ck_abort_msg("deassign of an unknown ioeventfd 0x%llx", (unsigned long long)ev->addr);
	return -1;
}

static const struct ioeventfd_ops fake_ioev_ops = { fe_assign, fe_deassign };

/* The live ioeventfd at addr, or NULL. */
static const struct ioeventfd *ioev_at(const struct fake_ioev *fe, uint64_t addr)
{
	for (unsigned int i = 0; i < fe->nr_live; i++)
		if (fe->live[i].addr == addr)
			return &fe->live[i];
	return NULL;
}

/* ---- fixture ---- */

static struct pci_fixture pf;
static struct fake_irq fi;
static struct fake_ioev fe;
static struct fake_dev dev;
static struct virtio_pci *vp;
static uint64_t bar;

static void setup_with(bool pio_notify)
{
	pf_init(&pf);
	if (pio_notify)
		ck_assert_int_eq(pci_bus_set_io_window(&pf.pb, &pf.pio, 0xc000, 0x4000), 0);
	fi_init(&fi);
	memset(&fe, 0, sizeof(fe));
	memset(&dev, 0, sizeof(dev));
	dev.vdev = (struct virtio_device){ .ops = &fake_ops,
					   .device_id = VIRTIO_ID_BLOCK,
					   .num_queues = NQ,
					   .queue_max_size = QMAX,
					   .config_size = sizeof(dev.config) };
	memcpy(dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	struct virtio_pci_params p = {
		.vdev = &dev.vdev,
		.irq_ops = &fake_irq_ops,
		.irq_ctx = &fi,
		.ioeventfd_ops = &fake_ioev_ops,
		.ioeventfd_ctx = &fe,
		.report = fi_report,
		.report_opaque = &fi,
		.pio_notify = pio_notify,
	};
	vp = virtio_pci_create(&p);
	ck_assert_ptr_nonnull(vp);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, virtio_pci_function(vp), SLOT), 0);
	bar = pf_bar64(&pf, SLOT, VIRTIO_PCI_BAR);
	/* Memory decoding and bus mastering, as a driver enables them. */
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static void setup(void)
{
	setup_with(false);
}

static void setup_pio(void)
{
	setup_with(true);
}

static void teardown(void)
{
	virtio_pci_destroy(vp);
	ck_assert_uint_eq(fe.nr_live, 0);
	ck_assert_uint_eq(fi_routes(&fi), 0);
	pf_destroy(&pf);
}

static uint64_t rd(uint64_t off, unsigned int len)
{
	uint64_t v = 0;
	ck_assert(bus_read(&pf.mmio, bar + off, &v, len));
	return v;
}

static void wr(uint64_t off, unsigned int len, uint64_t v)
{
	ck_assert(bus_write(&pf.mmio, bar + off, &v, len));
}

#define C(field) (VIRTIO_PCI_COMMON_BASE + VIRTIO_PCI_COMMON_##field)

static uint8_t status(void)
{
	return (uint8_t)rd(C(STATUS), 1);
}

static void negotiate(uint64_t features)
{
	wr(C(STATUS), 1, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(C(STATUS), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(C(GFSELECT), 4, 0);
	wr(C(GF), 4, (uint32_t)features);
	wr(C(GFSELECT), 4, 1);
	wr(C(GF), 4, (uint32_t)(features >> 32));
	wr(C(STATUS), 1,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(unsigned int q, uint16_t size, uint64_t base, uint16_t vector)
{
	wr(C(Q_SELECT), 2, q);
	wr(C(Q_SIZE), 2, size);
	wr(C(Q_MSIX), 2, vector);
	wr(C(Q_DESC), 4, (uint32_t)base);
	wr(C(Q_DESC) + 4, 4, (uint32_t)(base >> 32));
	wr(C(Q_DRIVER), 8, base + 0x1000);
	wr(C(Q_DEVICE), 4, (uint32_t)(base + 0x2000));
	wr(C(Q_DEVICE) + 4, 4, (uint32_t)((base + 0x2000) >> 32));
	wr(C(Q_ENABLE), 2, 1);
}

static uint64_t notify_addr(unsigned int q)
{
	return bar + VIRTIO_PCI_NOTIFY_BASE + q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
}

static uint64_t take_fd(int fd)
{
	uint64_t cnt = 0;
	if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		ck_assert_int_eq(errno, EAGAIN);
	return cnt;
}

/* ---- identity ---- */

START_TEST(pci_identity_and_capabilities)
{
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_DEVICE_ID, 2), 0x1042);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_REVISION_ID, 1), 1);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_REVISION_ID, 4) >> 8, 0x018000);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_SUBSYS_VENDOR, 2), 0x1af4);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_INTERRUPT_PIN, 1), 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_BAR0, 4) & 0xf, PCI_BAR_MEM_64);
	ck_assert_uint_eq(bar % VIRTIO_PCI_BAR_SIZE, 0);

	static const struct {
		uint8_t type;
		uint32_t offset, length;
	} want[] = {
		{ VIRTIO_PCI_CAP_COMMON_CFG, 0x0000, VIRTIO_PCI_COMMON_SIZE },
		{ VIRTIO_PCI_CAP_NOTIFY_CFG, 0x3000, NQ * 4 },
		{ VIRTIO_PCI_CAP_ISR_CFG, 0x1000, 1 },
		{ VIRTIO_PCI_CAP_DEVICE_CFG, 0x2000, 8 },
		{ VIRTIO_PCI_CAP_PCI_CFG, 0, 0 },
	};
	for (unsigned int i = 0; i < 5; i++) {
		uint32_t c = pf_find_cap(&pf, SLOT, PCI_CAP_ID_VNDR, i);
		ck_assert_uint_ne(c, 0);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_CFG_TYPE, 1),
				  want[i].type);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_BAR, 1), 0);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4),
				  want[i].offset);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4),
				  want[i].length);
		unsigned int len = pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_LEN, 1);
		ck_assert_uint_eq(len, want[i].type == VIRTIO_PCI_CAP_NOTIFY_CFG ||
						       want[i].type == VIRTIO_PCI_CAP_PCI_CFG
					       ? 20
					       : 16);
		if (want[i].type == VIRTIO_PCI_CAP_NOTIFY_CFG)
			ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + 16, 4), 4);
	}
	uint32_t mx = pf_find_cap(&pf, SLOT, PCI_CAP_ID_MSIX, 0);
	ck_assert_uint_ne(mx, 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, mx + 2, 2) & 0x7ff, NQ); /* NQ + 1 vectors */
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, mx + 4, 4), VIRTIO_PCI_MSIX_TABLE_BASE);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, mx + 8, 4), VIRTIO_PCI_MSIX_PBA_BASE);
}
END_TEST

/* ---- common config ---- */

START_TEST(initial_state)
{
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(rd(C(NUMQ), 2), NQ);
	ck_assert_uint_eq(rd(C(MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	ck_assert_uint_eq(rd(C(CFGGEN), 1), 0);
	for (unsigned int q = 0; q < NQ; q++) {
		wr(C(Q_SELECT), 2, q);
		ck_assert_uint_eq(rd(C(Q_SIZE), 2), QMAX);
		ck_assert_uint_eq(rd(C(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
		ck_assert_uint_eq(rd(C(Q_ENABLE), 2), 0);
		ck_assert_uint_eq(rd(C(Q_NOFF), 2), q);
		ck_assert_uint_eq(rd(C(Q_DESC), 8), 0);
	}
}
END_TEST

START_TEST(feature_select_windows)
{
	wr(C(DFSELECT), 4, 0);
	ck_assert_uint_eq(rd(C(DF), 4), (uint32_t)OFFERED);
	wr(C(DFSELECT), 4, 1);
	ck_assert_uint_eq(rd(C(DF), 4), (uint32_t)(OFFERED >> 32));
	ck_assert_uint_eq(rd(C(DFSELECT), 4), 1);
	wr(C(DFSELECT), 4, 2);
	ck_assert_uint_eq(rd(C(DF), 4), 0);
	wr(C(DFSELECT), 4, 0xffffffff);
	ck_assert_uint_eq(rd(C(DF), 4), 0);
	/* device_feature is read-only. */
	wr(C(DFSELECT), 4, 0);
	wr(C(DF), 4, 0);
	ck_assert_uint_eq(rd(C(DF), 4), (uint32_t)OFFERED);

	wr(C(GFSELECT), 4, 1);
	wr(C(GF), 4, 1);
	wr(C(GFSELECT), 4, 0);
	wr(C(GF), 4, 0x202);
	wr(C(GFSELECT), 4, 7);
	wr(C(GF), 4, 0xffffffff); /* no such window: ignored */
	ck_assert_uint_eq(rd(C(GF), 4), 0);
	wr(C(GFSELECT), 4, 0);
	ck_assert_uint_eq(rd(C(GF), 4), 0x202);
	wr(C(GFSELECT), 4, 1);
	ck_assert_uint_eq(rd(C(GF), 4), 1);
	/* Wrong widths are ignored. */
	wr(C(GF), 2, 0);
	ck_assert_uint_eq(rd(C(GF), 4), 1);
}
END_TEST

START_TEST(status_state_machine)
{
	wr(C(STATUS), 1, VIRTIO_STATUS_ACKNOWLEDGE);
	ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE);
	wr(C(STATUS), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* DRIVER_OK before FEATURES_OK is refused. */
	wr(C(STATUS), 1,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	ck_assert_uint_eq(dev.starts, 0);

	negotiate(1ull << VIRTIO_F_VERSION_1 | 1ull << 9);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
	ck_assert_uint_eq(dev.set_features_calls, 1);
	ck_assert_uint_eq(dev.features_set, 1ull << VIRTIO_F_VERSION_1 | 1ull << 9);
	/* Features are frozen now. */
	wr(C(GFSELECT), 4, 0);
	wr(C(GF), 4, 0);
	ck_assert_uint_eq(rd(C(GF), 4), 1u << 9);
	/* Clearing bits without a reset does nothing; NEEDS_RESET is not
	 * the driver's to set. */
	wr(C(STATUS), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					    VIRTIO_STATUS_FEATURES_OK);
	/* Wrong widths do not reach the status byte. */
	wr(C(STATUS), 2, 0);
	ck_assert_uint_ne(status(), 0);
}
END_TEST

START_TEST(features_ok_refusals)
{
	/* No VERSION_1: legacy drivers are refused without asking. */
	negotiate(1ull << 9);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_FEATURES_OK, 0);
	ck_assert_uint_eq(dev.set_features_calls, 0);
	/* Bits the device never offered. */
	negotiate(1ull << VIRTIO_F_VERSION_1 | 1ull << 3);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_FEATURES_OK, 0);
	ck_assert_uint_eq(dev.set_features_calls, 0);
	/* The device says no. */
	dev.refuse_features = true;
	negotiate(1ull << VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_FEATURES_OK, 0);
	ck_assert_uint_eq(dev.set_features_calls, 1);
	/* Then DRIVER_OK cannot be reached either. */
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(status() & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK), 0);
	dev.refuse_features = false;
	negotiate(1ull << VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
}
END_TEST

START_TEST(queue_size_rules)
{
	static const uint16_t bad[] = { 0, 3, 48, QMAX + 1, QMAX * 2, 0xffff };
	wr(C(Q_SELECT), 2, 1);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		wr(C(Q_SIZE), 2, bad[i]);
		ck_assert_uint_eq(rd(C(Q_SIZE), 2), QMAX);
	}
	wr(C(Q_SIZE), 2, 16);
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), 16);
	wr(C(Q_SIZE), 2, 1);
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), 1);
	wr(C(Q_SIZE), 4, 8); /* wrong width */
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), 1);
	/* Queue 0 is untouched. */
	wr(C(Q_SELECT), 2, 0);
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), QMAX);
	/* A queue that does not exist reads size 0 and takes no writes. */
	wr(C(Q_SELECT), 2, NQ);
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), 0);
	wr(C(Q_SIZE), 2, 8);
	wr(C(Q_ENABLE), 2, 1);
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), 0);
	ck_assert_uint_eq(rd(C(Q_ENABLE), 2), 0);
	ck_assert_uint_eq(rd(C(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	wr(C(Q_SELECT), 2, 0xffff);
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), 0);
}
END_TEST

START_TEST(queue_config_frozen_once_enabled)
{
	setup_queue(0, 32, 0x100000, 1);
	ck_assert_uint_eq(rd(C(Q_ENABLE), 2), 1);
	ck_assert_uint_eq(rd(C(Q_DESC), 8), 0x100000);
	ck_assert_uint_eq(rd(C(Q_DRIVER), 8), 0x101000);
	ck_assert_uint_eq(rd(C(Q_DEVICE), 4), 0x102000);
	wr(C(Q_SIZE), 2, 8);
	wr(C(Q_DESC), 8, 0x200000);
	wr(C(Q_DRIVER), 4, 0x200000);
	wr(C(Q_ENABLE), 2, 0);
	ck_assert_uint_eq(rd(C(Q_SIZE), 2), 32);
	ck_assert_uint_eq(rd(C(Q_DESC), 8), 0x100000);
	ck_assert_uint_eq(rd(C(Q_DRIVER), 8), 0x101000);
	ck_assert_uint_eq(rd(C(Q_ENABLE), 2), 1);
	/* Misaligned halves go nowhere. */
	wr(C(Q_SELECT), 2, 1);
	wr(C(Q_DESC) + 2, 4, 0xffffffff);
	wr(C(Q_DESC) + 4, 8, 0xffffffff);
	ck_assert_uint_eq(rd(C(Q_DESC), 8), 0);
}
END_TEST

START_TEST(msix_vectors_read_back_no_vector_when_out_of_range)
{
	wr(C(Q_SELECT), 2, 1);
	wr(C(Q_MSIX), 2, NQ); /* the last vector there is */
	ck_assert_uint_eq(rd(C(Q_MSIX), 2), NQ);
	wr(C(Q_MSIX), 2, NQ + 1);
	ck_assert_uint_eq(rd(C(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	wr(C(Q_MSIX), 2, 0x8000);
	ck_assert_uint_eq(rd(C(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	wr(C(MSIX), 2, 0);
	ck_assert_uint_eq(rd(C(MSIX), 2), 0);
	wr(C(MSIX), 2, 300);
	ck_assert_uint_eq(rd(C(MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	wr(C(MSIX), 2, VIRTIO_MSI_NO_VECTOR);
	ck_assert_uint_eq(rd(C(MSIX), 2), VIRTIO_MSI_NO_VECTOR);
}
END_TEST

START_TEST(driver_ok_starts_enabled_queues)
{
	negotiate(1ull << VIRTIO_F_VERSION_1 | 1ull << 1);
	setup_queue(1, 16, 0x300000, 2);
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(status(), 0x0f);
	ck_assert_uint_eq(dev.starts, 1);
	ck_assert_uint_eq(dev.started_q[0], 1);
	ck_assert_uint_eq(dev.started_cfg[0].size, 16);
	ck_assert_uint_eq(dev.started_cfg[0].desc_gpa, 0x300000);
	ck_assert_uint_eq(dev.started_cfg[0].avail_gpa, 0x301000);
	ck_assert_uint_eq(dev.started_cfg[0].used_gpa, 0x302000);
	ck_assert_uint_eq(dev.started_cfg[0].features, 1ull << VIRTIO_F_VERSION_1 | 1ull << 1);
	const struct ioeventfd *ev = ioev_at(&fe, notify_addr(1));
	ck_assert_ptr_nonnull(ev);
	ck_assert_int_eq(dev.started_kick[0], ev->fd);
	/* Writing DRIVER_OK again starts nothing twice; queue 0 can no
	 * longer be enabled. */
	wr(C(STATUS), 1, 0x0f);
	setup_queue(0, 16, 0x400000, 1);
	ck_assert_uint_eq(dev.starts, 1);
	wr(C(Q_SELECT), 2, 0);
	ck_assert_uint_eq(rd(C(Q_ENABLE), 2), 0);
}
END_TEST

static void set_bus_master(bool on)
{
	uint32_t cmd = pf_ecam_read(&pf, SLOT, PCI_COMMAND, 2);
	cmd = on ? cmd | PCI_COMMAND_MASTER : cmd & ~(uint32_t)PCI_COMMAND_MASTER;
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 2, cmd);
}

/* Issue 9 item 6: clearing Bus Master Enable stops the running queues at
 * once (the device is reset: no thread touches guest memory afterwards) and
 * asks the driver for a reset; setting it again does not restart them, and
 * DRIVER_OK without it starts nothing. */
START_TEST(bus_master_clear_stops_the_queues)
{
	wr(C(MSIX), 2, 0);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 16, 0x300000, 1);
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(dev.starts, 1);
	unsigned int resets = dev.resets;

	/* Other command bits leave the queues alone. */
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 2,
		      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	ck_assert_uint_eq(dev.resets, resets);
	set_bus_master(false);
	ck_assert_uint_eq(dev.resets, resets + 1);
	ck_assert_uint_eq(dev.starts, 0);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* Once is enough; back on, nothing restarts behind the driver. */
	set_bus_master(false);
	set_bus_master(true);
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(dev.resets, resets + 1);
	ck_assert_uint_eq(dev.starts, 0);

	/* After a reset the device works again... */
	wr(C(STATUS), 1, 0);
	ck_assert_uint_eq(status(), 0);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 16, 0x300000, 1);
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(dev.starts, 1);
	/* ...but not when DRIVER_OK comes without bus mastering. */
	wr(C(STATUS), 1, 0);
	set_bus_master(false);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 16, 0x300000, 1);
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(dev.starts, 0);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}
END_TEST

/* Issue 9 item 6: without bus mastering the transport's interrupts do not
 * fire; they wait in the PBA and arrive once it is set again. */
START_TEST(bus_master_clear_holds_interrupts)
{
	struct virtio_transport *t = &dev.vdev.transport;
	uint32_t mx = pf_find_cap(&pf, SLOT, PCI_CAP_ID_MSIX, 0);

	wr(VIRTIO_PCI_MSIX_TABLE_BASE + 16, 4, 0xfee00000);
	wr(VIRTIO_PCI_MSIX_TABLE_BASE + 16 + 8, 4, 0x4041);
	wr(VIRTIO_PCI_MSIX_TABLE_BASE + 16 + 12, 4, 0);
	pf_ecam_write(&pf, SLOT, mx + 2, 2, MSIX_CONTROL_ENABLE);
	setup_queue(0, 16, 0x300000, 1);
	int qfd = msix_vector_fd(virtio_pci_msix(vp), 1);
	ck_assert_int_eq(fi_gsi_of_fd(&fi, qfd) >= 0, 1);

	set_bus_master(false);
	ck_assert_int_eq(fi_gsi_of_fd(&fi, qfd), -1); /* no irqfd: KVM cannot inject */
	t->notify_queue(t->opaque, 0);
	uint64_t pba = 0;
	ck_assert(bus_read(&pf.mmio, bar + VIRTIO_PCI_MSIX_PBA_BASE, &pba, 8));
	ck_assert_uint_eq(pba, 1u << 1);
	set_bus_master(true);
	ck_assert_int_ge(fi_gsi_of_fd(&fi, qfd), 0);
	ck_assert_uint_eq(take_fd(qfd), 1); /* delivered now */
	ck_assert(bus_read(&pf.mmio, bar + VIRTIO_PCI_MSIX_PBA_BASE, &pba, 8));
	ck_assert_uint_eq(pba, 0);
}
END_TEST

START_TEST(refused_queue_sets_needs_reset_and_config_interrupt)
{
	wr(C(MSIX), 2, 0);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 16, 0x300000, 1);
	dev.refuse_start = true;
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_uint_eq(fi.reports, 1);
	/* MSI-X is off: the configuration interrupt waits in the PBA. */
	uint64_t pba = 0;
	ck_assert(bus_read(&pf.mmio, bar + VIRTIO_PCI_MSIX_PBA_BASE, &pba, 8));
	ck_assert_uint_eq(pba, 1);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_BASE, 1), VIRTIO_PCI_ISR_CONFIG);
	/* Reset clears it. */
	wr(C(STATUS), 1, 0);
	ck_assert_uint_eq(status(), 0);
}
END_TEST

START_TEST(reset_returns_to_initial_state)
{
	wr(C(MSIX), 2, 0);
	wr(C(DFSELECT), 4, 1);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 16, 0x300000, 1);
	setup_queue(1, 8, 0x500000, 2);
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(fe.nr_live, 2);
	/* A kick that is still in the eventfd must not leak into the next
	 * life of the device. */
	uint64_t one = 1;
	ck_assert_int_eq(write(ioev_at(&fe, notify_addr(0))->fd, &one, 8), 8);
	int kick0 = ioev_at(&fe, notify_addr(0))->fd;

	wr(C(STATUS), 1, 0);
	ck_assert_uint_eq(dev.resets, 1);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(fe.nr_live, 0);
	ck_assert_uint_eq(take_fd(kick0), 0);
	ck_assert_uint_eq(rd(C(DFSELECT), 4), 0);
	ck_assert_uint_eq(rd(C(MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	ck_assert_uint_eq(rd(C(Q_SELECT), 2), 0);
	wr(C(GFSELECT), 4, 0);
	ck_assert_uint_eq(rd(C(GF), 4), 0);
	for (unsigned int q = 0; q < NQ; q++) {
		wr(C(Q_SELECT), 2, q);
		ck_assert_uint_eq(rd(C(Q_SIZE), 2), QMAX);
		ck_assert_uint_eq(rd(C(Q_ENABLE), 2), 0);
		ck_assert_uint_eq(rd(C(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
		ck_assert_uint_eq(rd(C(Q_DESC), 8), 0);
		ck_assert_uint_eq(rd(C(Q_DRIVER), 8), 0);
		ck_assert_uint_eq(rd(C(Q_DEVICE), 8), 0);
	}
	/* And the device can be brought up again. */
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 16, 0x300000, 1);
	wr(C(STATUS), 1, 0x0f);
	ck_assert_uint_eq(dev.starts, 1);
	ck_assert_uint_eq(fe.nr_live, 1);
}
END_TEST

/* ---- notifications ---- */

START_TEST(enabled_queue_gets_ioeventfd_at_its_notify_address)
{
	ck_assert_uint_eq(fe.nr_live, 0);
	setup_queue(1, 16, 0x300000, 1);
	const struct ioeventfd *ev = ioev_at(&fe, notify_addr(1));
	ck_assert_ptr_nonnull(ev);
	ck_assert(ev->mmio);
	ck_assert(!ev->datamatch);
	ck_assert_uint_eq(ev->len, 0);
	ck_assert_uint_eq(fe.nr_live, 1);
	setup_queue(0, 16, 0x400000, 1);
	ck_assert_ptr_nonnull(ioev_at(&fe, notify_addr(0)));
	ck_assert_int_ne(ioev_at(&fe, notify_addr(0))->fd, ioev_at(&fe, notify_addr(1))->fd);
}
END_TEST

START_TEST(ioeventfds_follow_the_bar)
{
	setup_queue(0, 16, 0x300000, 1);
	uint64_t new_bar = PF_MEM32_BASE + 0x100000;

	/* Moved while decoding: deassigned at the old place, assigned at
	 * the new one. */
	pf_ecam_write(&pf, SLOT, PCI_BAR0, 4, (uint32_t)new_bar);
	pf_ecam_write(&pf, SLOT, PCI_BAR0 + 4, 4, 0);
	bar = new_bar;
	ck_assert_uint_eq(fe.nr_live, 1);
	ck_assert_ptr_nonnull(ioev_at(&fe, notify_addr(0)));
	ck_assert_uint_eq(rd(C(NUMQ), 2), NQ);

	/* Decoding off: gone; on: back. */
	pf_set_memory(&pf, SLOT, 0);
	ck_assert_uint_eq(fe.nr_live, 0);
	pf_set_memory(&pf, SLOT, 1);
	ck_assert_ptr_nonnull(ioev_at(&fe, notify_addr(0)));

	/* Sizing the BAR takes it away until it is restored. */
	pf_ecam_write(&pf, SLOT, PCI_BAR0, 4, 0xffffffff);
	ck_assert_uint_eq(fe.nr_live, 0);
	pf_ecam_write(&pf, SLOT, PCI_BAR0, 4, (uint32_t)new_bar);
	ck_assert_ptr_nonnull(ioev_at(&fe, notify_addr(0)));
}
END_TEST

START_TEST(queue_enabled_before_decoding_registers_when_decoding_starts)
{
	pf_set_memory(&pf, SLOT, 0);
	/* Through the PCI_CFG window, as the BAR does not decode. */
	uint32_t c = pf_find_cap(&pf, SLOT, PCI_CAP_ID_VNDR, 4);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4, C(Q_ENABLE));
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 2, 1);
	ck_assert_uint_eq(fe.nr_live, 0);
	pf_set_memory(&pf, SLOT, 1);
	ck_assert_ptr_nonnull(ioev_at(&fe, notify_addr(0)));
	ck_assert_uint_eq(rd(C(Q_ENABLE), 2), 1);
}
END_TEST

START_TEST(notify_write_that_exits_signals_the_kick_eventfd)
{
	setup_queue(1, 16, 0x300000, 1);
	int kick = ioev_at(&fe, notify_addr(1))->fd;
	/* The fake did not really install it: this write reaches us. */
	wr(VIRTIO_PCI_NOTIFY_BASE + 4, 2, 1);
	ck_assert_uint_eq(take_fd(kick), 1);
	/* Before the queue is enabled too (the device sees it at start). */
	int kick0 = -1;
	wr(VIRTIO_PCI_NOTIFY_BASE, 2, 0);
	setup_queue(0, 16, 0x400000, 1);
	kick0 = ioev_at(&fe, notify_addr(0))->fd;
	ck_assert_uint_eq(take_fd(kick0), 1);
	/* Addresses that are no queue's notify address do nothing. */
	wr(VIRTIO_PCI_NOTIFY_BASE + 2, 2, 1);
	wr(VIRTIO_PCI_NOTIFY_BASE + NQ * 4, 2, 1);
	wr(VIRTIO_PCI_NOTIFY_BASE + 0xffc, 4, 1);
	ck_assert_uint_eq(take_fd(kick), 0);
	ck_assert_uint_eq(take_fd(kick0), 0);
}
END_TEST

START_TEST(transport_callbacks_raise_vectors)
{
	struct virtio_transport *t = &dev.vdev.transport;
	uint32_t mx = pf_find_cap(&pf, SLOT, PCI_CAP_ID_MSIX, 0);

	/* Program vectors 0 (config) and 1 (queue 0) and enable MSI-X. */
	for (unsigned int v = 0; v < 2; v++) {
		wr(VIRTIO_PCI_MSIX_TABLE_BASE + v * 16, 4, 0xfee00000);
		wr(VIRTIO_PCI_MSIX_TABLE_BASE + v * 16 + 8, 4, 0x4040 + v);
		wr(VIRTIO_PCI_MSIX_TABLE_BASE + v * 16 + 12, 4, 0);
	}
	pf_ecam_write(&pf, SLOT, mx + 2, 2, MSIX_CONTROL_ENABLE);
	ck_assert_uint_eq(fi_routes(&fi), 2);
	wr(C(MSIX), 2, 0);
	setup_queue(0, 16, 0x300000, 1);
	int qfd = fi.gsi[FI_FIRST_GSI + 1].irqfd, cfd = fi.gsi[FI_FIRST_GSI].irqfd;
	ck_assert_int_ge(qfd, 0);
	ck_assert_int_ge(cfd, 0);

	t->notify_queue(t->opaque, 0);
	ck_assert_uint_eq(take_fd(qfd), 1);
	ck_assert_uint_eq(take_fd(cfd), 0);
	/* Queue 1 has no vector: no interrupt (MSI-X only, no INTx). */
	t->notify_queue(t->opaque, 1);
	t->notify_queue(t->opaque, 99);
	ck_assert_uint_eq(take_fd(qfd), 0);
	ck_assert_uint_eq(take_fd(cfd), 0);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_BASE, 1), VIRTIO_PCI_ISR_QUEUE);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_BASE, 1), 0); /* read-to-clear */

	t->needs_reset(t->opaque);
	ck_assert_uint_eq(take_fd(cfd), 1);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_BASE, 1), VIRTIO_PCI_ISR_CONFIG);
}
END_TEST

/* ---- device config and the PCI_CFG window ---- */

START_TEST(device_config_passes_through)
{
	ck_assert_uint_eq(rd(VIRTIO_PCI_DEVCFG_BASE, 4), 0x44332211);
	ck_assert_uint_eq(rd(VIRTIO_PCI_DEVCFG_BASE + 4, 2), 0x6655);
	ck_assert_uint_eq(rd(VIRTIO_PCI_DEVCFG_BASE + 8, 4), 0);
	ck_assert_uint_eq(rd(VIRTIO_PCI_DEVCFG_BASE + 0xffc, 8), 0); /* crosses the page */
	wr(VIRTIO_PCI_DEVCFG_BASE + 2, 2, 0xabcd);
	ck_assert_uint_eq(dev.config_written_off, 2);
	ck_assert_uint_eq(dev.config_written[0], 0xcd);
	/* Unused parts of the BAR read zero and ignore writes. */
	ck_assert_uint_eq(rd(0x6000, 4), 0);
	ck_assert_uint_eq(rd(VIRTIO_PCI_COMMON_SIZE, 4), 0);
	wr(0x7ff8, 8, ~0ull);
	ck_assert_uint_eq(rd(VIRTIO_PCI_ISR_BASE + 1, 1), 0);
}
END_TEST

START_TEST(pci_cfg_window_reaches_the_bar)
{
	uint32_t c = pf_find_cap(&pf, SLOT, PCI_CAP_ID_VNDR, 4);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_CFG_TYPE, 1),
			  VIRTIO_PCI_CAP_PCI_CFG);

	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4, C(NUMQ));
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 4), NQ);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_DEVCFG_BASE);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	ck_assert_uint_eq(pf_cf8_read(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 4), 0x44332211);

	/* A status write through the window. */
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4, C(STATUS));
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4, 1);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE);

	/* Bad windows: other BAR, odd length, misaligned, past the BAR. */
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_BAR, 1, 2);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 4), 0);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_BAR, 1, 0);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4, 3);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 4), 0);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4, C(STATUS));
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 4, 0);
	ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE);
	pf_ecam_write(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4, 0xfffffffc);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CFG_DATA_OFF, 4), 0);
	/* The capability's own type and length stay read-only. */
	pf_ecam_write(&pf, SLOT, c, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_CFG_TYPE, 1),
			  VIRTIO_PCI_CAP_PCI_CFG);
}
END_TEST

/* ---- hostile guest ---- */

START_TEST(random_guest_writes_never_break_the_transport)
{
	uint32_t seed = 12345;
	static const unsigned int lens[] = { 1, 2, 4, 8 };

	for (unsigned int i = 0; i < 200000; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned int len = lens[(seed >> 8) & 3];
		uint64_t off = (seed >> 12) % VIRTIO_PCI_BAR_SIZE;
		uint64_t val = (uint64_t)seed * 0x9e3779b97f4a7c15ull;
		/* Lean on the registers that matter. */
		if ((seed & 0x30) == 0)
			off = (seed >> 12) % VIRTIO_PCI_COMMON_SIZE;
		if ((seed & 0x3c0) == 0) {
			pf_ecam_write(&pf, SLOT, (seed >> 16) & 0xfc, 4, (uint32_t)val);
			bar = pf_bar64(&pf, SLOT, 0);
			continue;
		}
		if (off + len > VIRTIO_PCI_BAR_SIZE)
			continue;
		uint64_t junk;
		bus_write(&pf.mmio, bar + off, &val, len);
		bus_read(&pf.mmio, bar + off, &junk, len);
	}
	/* Still a device: a reset brings it back to a known state. */
	pf_ecam_write(&pf, SLOT, PCI_BAR0, 4, (uint32_t)PF_MEM32_BASE);
	pf_ecam_write(&pf, SLOT, PCI_BAR0 + 4, 4, 0);
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	bar = PF_MEM32_BASE;
	wr(C(STATUS), 1, 0);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(rd(C(NUMQ), 2), NQ);
	ck_assert_uint_eq(fe.nr_live, 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_VENDOR_ID, 2), 0x1af4);
}
END_TEST

START_TEST(create_validates_the_device)
{
	struct fake_dev d2 = dev;
	struct virtio_pci_params p = { .vdev = &d2.vdev,
				       .irq_ops = &fake_irq_ops,
				       .irq_ctx = &fi,
				       .ioeventfd_ops = &fake_ioev_ops,
				       .ioeventfd_ctx = &fe };
	d2.vdev.num_queues = 0;
	ck_assert_ptr_null(virtio_pci_create(&p));
	d2.vdev.num_queues = VIRTIO_PCI_MAX_QUEUES + 1;
	ck_assert_ptr_null(virtio_pci_create(&p));
	d2.vdev.num_queues = 1;
	d2.vdev.queue_max_size = 100;
	ck_assert_ptr_null(virtio_pci_create(&p));
	d2.vdev.queue_max_size = 64;
	d2.vdev.config_size = 0x1001;
	ck_assert_ptr_null(virtio_pci_create(&p));
	d2.vdev.config_size = 0;
	p.ioeventfd_ops = NULL;
	ck_assert_ptr_null(virtio_pci_create(&p));
	p.ioeventfd_ops = &fake_ioev_ops;
	/* The most queues there can be, and no device config. */
	d2.vdev.num_queues = VIRTIO_PCI_MAX_QUEUES;
	struct virtio_pci *v2 = virtio_pci_create(&p);
	ck_assert_ptr_nonnull(v2);
	virtio_pci_destroy(v2);
}
END_TEST

/* ---- port I/O notify ---- */

static uint32_t pio_bar(void)
{
	return pf_ecam_read(&pf, SLOT, PCI_BAR0 + 4 * VIRTIO_PCI_PIO_BAR, 4) &
	       ~(uint32_t)PCI_BAR_IO_FLAGS;
}

static uint64_t pio_notify_addr(unsigned int q)
{
	return pio_bar() + q * VIRTIO_PCI_PIO_NOTIFY_MULTIPLIER;
}

static void set_command(uint16_t bits)
{
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 2, bits);
}

START_TEST(pio_notify_capability_comes_before_the_mmio_one)
{
	/* Drivers take the first NOTIFY_CFG they can map: the port one. */
	static const struct {
		uint8_t type, bar;
		uint32_t offset, length, multiplier;
	} want[] = {
		{ VIRTIO_PCI_CAP_COMMON_CFG, 0, 0x0000, VIRTIO_PCI_COMMON_SIZE, 0 },
		{ VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_PIO_BAR, 0, NQ * 2, 2 },
		{ VIRTIO_PCI_CAP_NOTIFY_CFG, 0, 0x3000, NQ * 4, 4 },
		{ VIRTIO_PCI_CAP_ISR_CFG, 0, 0x1000, 1, 0 },
		{ VIRTIO_PCI_CAP_DEVICE_CFG, 0, 0x2000, 8, 0 },
		{ VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 0 },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++) {
		uint32_t c = pf_find_cap(&pf, SLOT, PCI_CAP_ID_VNDR, i);
		ck_assert_uint_ne(c, 0);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_CFG_TYPE, 1),
				  want[i].type);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_BAR, 1), want[i].bar);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_OFFSET, 4),
				  want[i].offset);
		ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + VIRTIO_PCI_CAP_LENGTH, 4),
				  want[i].length);
		if (want[i].type == VIRTIO_PCI_CAP_NOTIFY_CFG)
			ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, c + 16, 4), want[i].multiplier);
	}
	ck_assert_uint_eq(pf_find_cap(&pf, SLOT, PCI_CAP_ID_VNDR, ARRAY_SIZE(want)), 0);
	/* BAR 2 is an I/O BAR of 4 ports (2 queues x 2) in the I/O window. */
	uint32_t reg = PCI_BAR0 + 4 * VIRTIO_PCI_PIO_BAR;
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, reg, 4) & PCI_BAR_IO_FLAGS, PCI_BAR_IO);
	pf_ecam_write(&pf, SLOT, reg, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, reg, 4), 0xfffc | PCI_BAR_IO);
	ck_assert_uint_ge(pio_bar(), 0xc000);
}
END_TEST

START_TEST(pio_bar_sizes)
{
	ck_assert_uint_eq(virtio_pci_pio_bar_size(1), 4);
	ck_assert_uint_eq(virtio_pci_pio_bar_size(2), 4);
	ck_assert_uint_eq(virtio_pci_pio_bar_size(3), 8);
	ck_assert_uint_eq(virtio_pci_pio_bar_size(16), 32);
	ck_assert_uint_eq(virtio_pci_pio_bar_size(128), 256);
}
END_TEST

START_TEST(pio_ioeventfds_follow_io_space)
{
	setup_queue(1, 16, 0x300000, 1);
	/* Memory space only: the MMIO notify has its ioeventfd, no port one. */
	ck_assert_ptr_nonnull(ioev_at(&fe, notify_addr(1)));
	ck_assert_ptr_null(ioev_at(&fe, pio_notify_addr(1)));
	ck_assert_uint_eq(fe.nr_live, 1);

	set_command(PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	const struct ioeventfd *ev = ioev_at(&fe, pio_notify_addr(1));
	ck_assert_ptr_nonnull(ev);
	ck_assert(!ev->mmio);
	ck_assert(!ev->datamatch);
	ck_assert_uint_eq(ev->len, 0);
	ck_assert_int_eq(ev->fd, virtio_pci_kick_fd(vp, 1));
	ck_assert_int_eq(ioev_at(&fe, notify_addr(1))->fd, ev->fd);
	ck_assert_uint_eq(fe.nr_live, 2);

	/* A queue enabled while both decode gets both at once. */
	setup_queue(0, 16, 0x400000, 1);
	ck_assert_ptr_nonnull(ioev_at(&fe, pio_notify_addr(0)));
	ck_assert_uint_eq(fe.nr_live, 4);

	/* The guest moves the I/O BAR: the port ioeventfds follow. */
	uint64_t old = pio_notify_addr(0);
	pf_ecam_write(&pf, SLOT, PCI_BAR0 + 4 * VIRTIO_PCI_PIO_BAR, 4, 0xd000);
	ck_assert_ptr_null(ioev_at(&fe, old));
	ck_assert_ptr_nonnull(ioev_at(&fe, 0xd000));
	ck_assert_ptr_nonnull(ioev_at(&fe, 0xd002));

	/* I/O space off: only the port ones go. */
	set_command(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(fe.nr_live, 2);
	ck_assert_ptr_nonnull(ioev_at(&fe, notify_addr(0)));

	/* Reset drops everything; re-enabling the queue brings both back. */
	set_command(PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	wr(C(STATUS), 1, 0);
	ck_assert_uint_eq(fe.nr_live, 0);
	setup_queue(1, 16, 0x300000, 1);
	ck_assert_uint_eq(fe.nr_live, 2);
}
END_TEST

START_TEST(pio_notify_write_that_exits_signals_the_kick_eventfd)
{
	uint16_t v = 1;

	set_command(PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	take_fd(virtio_pci_kick_fd(vp, 0));
	take_fd(virtio_pci_kick_fd(vp, 1));
	/* No ioeventfd caught it (none yet): the handler kicks by hand. */
	ck_assert(bus_write(&pf.pio, pio_notify_addr(1), &v, 2));
	ck_assert_uint_eq(take_fd(virtio_pci_kick_fd(vp, 1)), 1);
	ck_assert_uint_eq(take_fd(virtio_pci_kick_fd(vp, 0)), 0);
	/* Between queues: nothing, and reads are 0. */
	ck_assert(bus_write(&pf.pio, pio_notify_addr(0) + 1, &v, 1));
	ck_assert_uint_eq(take_fd(virtio_pci_kick_fd(vp, 0)), 0);
	ck_assert_uint_eq(take_fd(virtio_pci_kick_fd(vp, 1)), 0);
	v = 0xffff;
	ck_assert(bus_read(&pf.pio, pio_notify_addr(1), &v, 2));
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(pio_notify_refuses_too_many_queues)
{
	struct fake_dev d2 = dev;
	struct virtio_pci_params p = {
		.vdev = &d2.vdev,
		.irq_ops = &fake_irq_ops,
		.irq_ctx = &fi,
		.ioeventfd_ops = &fake_ioev_ops,
		.ioeventfd_ctx = &fe,
		.pio_notify = true,
	};
	/* 256 ports at most in an I/O BAR: 128 queues of 2. */
	d2.vdev.num_queues = 129;
	ck_assert_ptr_null(virtio_pci_create(&p));
	d2.vdev.num_queues = 128;
	struct virtio_pci *v2 = virtio_pci_create(&p);
	ck_assert_ptr_nonnull(v2);
	virtio_pci_destroy(v2);
}
END_TEST

static Suite *virtio_pci_suite(void)
{
	Suite *s = suite_create("virtio_pci");
	TCase *tc;

	tc = tcase_create("pci");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pci_identity_and_capabilities);
	tcase_add_test(tc, create_validates_the_device);
	tcase_add_test(tc, device_config_passes_through);
	tcase_add_test(tc, pci_cfg_window_reaches_the_bar);
	suite_add_tcase(s, tc);

	tc = tcase_create("common");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, initial_state);
	tcase_add_test(tc, feature_select_windows);
	tcase_add_test(tc, status_state_machine);
	tcase_add_test(tc, features_ok_refusals);
	tcase_add_test(tc, queue_size_rules);
	tcase_add_test(tc, queue_config_frozen_once_enabled);
	tcase_add_test(tc, msix_vectors_read_back_no_vector_when_out_of_range);
	tcase_add_test(tc, driver_ok_starts_enabled_queues);
	tcase_add_test(tc, refused_queue_sets_needs_reset_and_config_interrupt);
	tcase_add_test(tc, bus_master_clear_stops_the_queues);
	tcase_add_test(tc, bus_master_clear_holds_interrupts);
	tcase_add_test(tc, reset_returns_to_initial_state);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, enabled_queue_gets_ioeventfd_at_its_notify_address);
	tcase_add_test(tc, ioeventfds_follow_the_bar);
	tcase_add_test(tc, queue_enabled_before_decoding_registers_when_decoding_starts);
	tcase_add_test(tc, notify_write_that_exits_signals_the_kick_eventfd);
	tcase_add_test(tc, transport_callbacks_raise_vectors);
	suite_add_tcase(s, tc);

	tc = tcase_create("pio_notify");
	tcase_add_checked_fixture(tc, setup_pio, teardown);
	tcase_add_test(tc, pio_notify_capability_comes_before_the_mmio_one);
	tcase_add_test(tc, pio_bar_sizes);
	tcase_add_test(tc, pio_ioeventfds_follow_io_space);
	tcase_add_test(tc, pio_notify_write_that_exits_signals_the_kick_eventfd);
	tcase_add_test(tc, pio_notify_refuses_too_many_queues);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_guest_writes_never_break_the_transport);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(virtio_pci_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
