/*
 * Fuzz target for MSI-X (devices/msix.c): the guest's table and PBA
 * accesses (any offset and size), message-control writes through config
 * space (enable, function mask), device-side notifies of any vector, KVM
 * "delivering" what an attached irqfd signalled, and KVM calls that fail,
 * on a function with a fuzzed vector count and table/PBA placement.
 *
 * Checked (fakes.h checks the KVM side: no irqfd without a route, no route
 * removed under an irqfd, one GSI per eventfd): a vector's irqfd is attached
 * exactly when it is live (MSI-X on, function and vector unmasked) unless a
 * KVM call failed; an attached vector's route carries its current message;
 * a signal sent while masked shows in the PBA and is delivered, not lost,
 * once the vector is live again; the PBA is read-only; nothing leaks (every
 * route is removed at destroy).
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "fakes.h"
#include "fuzz.h"

#define ECAM_BASE 0xe0000000ull
#define SLOT	  3
#define BAR_SIZE  0x10000u
#define MAX_VEC	  320

static struct fake_kvm kvm;
static struct msix m;
static struct pci_function fn;
static uint32_t table_off, pba_off;
static bool owed[MAX_VEC]; /* signalled, not yet delivered */

static void cfg_write_hook(void *opaque, uint32_t reg, unsigned int len, uint32_t val)
{
	(void)val;
	msix_config_write(opaque, reg, len);
}

static const struct pci_function_ops fn_ops = { .config_write = cfg_write_hook };

/* One BAR holds both; offsets outside either read as all-ones. */
static void bar_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	uint32_t tbytes = MSIX_TABLE_BYTES(m.p.nr_vectors), pbytes = MSIX_PBA_BYTES(m.p.nr_vectors);
	if (off >= table_off && off - table_off < tbytes)
		msix_table_read(opaque, off - table_off, data, len);
	else if (off >= pba_off && off - pba_off < pbytes)
		msix_pba_read(opaque, off - pba_off, data, len);
	else
		memset(data, 0xff, len);
}

static void bar_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	uint32_t tbytes = MSIX_TABLE_BYTES(m.p.nr_vectors), pbytes = MSIX_PBA_BYTES(m.p.nr_vectors);
	if (off >= table_off && off - table_off < tbytes)
		msix_table_write(opaque, off - table_off, data, len);
	else if (off >= pba_off && off - pba_off < pbytes)
		msix_pba_write(opaque, off - pba_off, data, len);
}

static const struct bus_ops bar_ops = { .read = bar_read, .write = bar_write };

/* A vector fires when MSI-X is enabled, neither the function nor the
 * vector is masked, and the function may master the bus (BME). */
static bool live(unsigned int i)
{
	return m.enabled && !m.masked && m.bus_master && !(m.vec[i].ctrl & MSIX_ENTRY_CTRL_MASK);
}

/* KVM injects whatever its irqfds hold. */
static void deliver(void)
{
	for (unsigned int i = 0; i < m.p.nr_vectors; i++) {
		struct msix_vector *v = &m.vec[i];
		uint64_t cnt;

		if (!v->attached || read(v->fd, &cnt, sizeof(cnt)) != sizeof(cnt))
			continue;
		FUZZ_CHECK(kvm.gsi[v->gsi].irqfd == v->fd);
		/* Delivered with the message the guest programmed. */
		if (!v->route_stale)
			FUZZ_CHECK(kvm.gsi[v->gsi].addr ==
					   ((uint64_t)v->addr_hi << 32 | v->addr_lo) &&
				   kvm.gsi[v->gsi].data == v->data);
		owed[i] = false;
	}
}

static void check(bool failed)
{
	unsigned int routed = 0;

	for (unsigned int i = 0; i < m.p.nr_vectors; i++) {
		struct msix_vector *v = &m.vec[i];
		routed += v->routed;
		if (v->attached) {
			FUZZ_CHECK(v->routed && kvm.gsi[v->gsi].irqfd == v->fd);
		}
		if (!failed && kvm.reports == 0)
			FUZZ_CHECK(v->attached == live(i));
		if (v->routed)
			FUZZ_CHECK(kvm.gsi[v->gsi].used);
	}
	FUZZ_CHECK(routed == fk_routes(&kvm));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct bus mmio;
	struct pci_bus pb;
	uint64_t bar_addr;
	uint16_t nv = fz_u16(&f);
	/* Mostly what virtio uses; sometimes up to MAX_VEC. */
	unsigned int nvec = 1 + (nv & 0x8000 ? nv % MAX_VEC : nv % 20);
	struct msix_params p = {
		.pci = &fn,
		.nr_vectors = nvec,
		.table_bar = 0,
		.pba_bar = 0,
		.irq_ops = &fk_irq_ops,
		.irq_ctx = &kvm,
		.report = fk_report,
		.report_opaque = &kvm,
	};

	table_off = (fz_u16(&f) % BAR_SIZE) & ~7u;
	pba_off = (fz_u16(&f) % BAR_SIZE) & ~7u;
	p.table_offset = table_off;
	p.pba_offset = pba_off;
	fk_init(&kvm);
	memset(owed, 0, sizeof(owed));
	bus_init(&mmio, "mmio");
	FUZZ_CHECK(pci_bus_init(&pb, &mmio, 0xc0000000, 0x10000000, 0, 0) == 0);
	FUZZ_CHECK(pci_bus_register_ecam(&pb, &mmio, ECAM_BASE, 1 << 20) == 0);
	pci_function_init(&fn, &(struct pci_id){ .vendor = 0x1af4, .device = 0x1042 }, &fn_ops, &m);
	FUZZ_CHECK(pci_function_add_bar(&fn, 0, BAR_SIZE, 0, &bar_ops, &m) == 0);
	if (msix_init(&m, &p) < 0) {
		/* Only a placement that does not fit or overlaps is refused. */
		bool fits = table_off + MSIX_TABLE_BYTES(nvec) <= BAR_SIZE &&
			    pba_off + MSIX_PBA_BYTES(nvec) <= BAR_SIZE;
		bool overlap = table_off < pba_off + MSIX_PBA_BYTES(nvec) &&
			       pba_off < table_off + MSIX_TABLE_BYTES(nvec);
		FUZZ_CHECK(!fits || overlap);
		goto out_bus;
	}
	FUZZ_CHECK(pci_bus_plug(&pb, &fn, SLOT) == 0);
	{
		uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
		bus_write(&mmio, ECAM_BASE + ((uint64_t)SLOT << 15 | PCI_COMMAND), &cmd, 2);
	}
	FUZZ_CHECK(pci_bar_decoding(&fn, 0, &bar_addr));

	for (unsigned int ops = 0; fz_more(&f) && ops < 2000; ops++) {
		uint8_t op = fz_u8(&f);
		unsigned int len = fz_len(&f);
		uint64_t val = fz_u64(&f), buf = 0;
		unsigned int v = fz_u16(&f);
		bool failed = false;

		if (op & 0x80) { /* the next KVM calls fail */
			kvm.fail = fz_u8(&f);
			failed = true;
		}
		switch (op & 7) {
		case 0: /* table entry field */
			bus_write(&mmio, bar_addr + table_off + (v % (nvec * 4)) * 4, &val,
				  (op & 8) ? 8 : 4);
			break;
		case 1: /* any BAR offset, any size */
			bus_write(&mmio, bar_addr + v % BAR_SIZE, &val, len);
			break;
		case 2:
			bus_read(&mmio, bar_addr + v % BAR_SIZE, &buf, len);
			break;
		case 3: { /* message control, or any config byte */
			uint32_t reg = (op & 8) ? m.cap + MSIX_CAP_CONTROL : v % PCI_CFG_SIZE;
			bus_write(&mmio, ECAM_BASE + ((uint64_t)SLOT << 15 | reg), &val,
				  (op & 8) ? 2 : len);
			break;
		}
		case 4: /* the device raises a vector */
			if (msix_notify(&m, v % (nvec + 2)) == 0)
				owed[v % (nvec + 2)] = true;
			else
				FUZZ_CHECK(v % (nvec + 2) >= nvec);
			break;
		case 5:
			deliver();
			break;
		case 6: { /* PBA: read-only, a pending vector shows */
			unsigned int i = v % nvec;
			uint64_t before = 0, after = 0;
			uint64_t at = bar_addr + pba_off + (i / 64) * 8;
			bus_read(&mmio, at, &before, 8);
			bus_write(&mmio, at, &val, 8);
			bus_read(&mmio, at, &after, 8);
			FUZZ_CHECK(before == after || m.vec[i].attached);
			if (owed[i] && !m.vec[i].attached && kvm.reports == 0)
				FUZZ_CHECK(after >> (i % 64) & 1);
			break;
		}
		case 7: /* a notify while live is delivered at once */
			if (live(v % nvec) && m.vec[v % nvec].attached) {
				FUZZ_CHECK(msix_notify(&m, v % nvec) == 0);
				owed[v % nvec] = true;
				deliver();
				FUZZ_CHECK(!owed[v % nvec]);
			}
			break;
		}
		kvm.fail = 0;
		check(failed);
		/* Nothing is lost: whatever is owed to a live vector that KVM
		 * holds is delivered now. */
		deliver();
		if (!failed && kvm.reports == 0)
			for (unsigned int i = 0; i < nvec; i++)
				FUZZ_CHECK(!owed[i] || !live(i));
	}
	pci_bus_unplug(&fn);
	msix_destroy(&m);
	if (kvm.reports == 0)
		FUZZ_CHECK(fk_routes(&kvm) == 0);
out_bus:
	pci_bus_destroy(&pb);
	bus_destroy(&mmio);
	return 0;
}
