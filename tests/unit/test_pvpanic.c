/*
 * pvpanic-pci tests: identity and BAR as Linux's pvpanic_pci driver sees
 * them, the supported-events byte, and which writes reach the callback.
 */
#include <check.h>
#include <misc/pvpanic.h>
#include <string.h>

#include "devices/pvpanic.h"
#include "pci_fixture.h"
#include "unit_main.h"

#define SLOT 31

static struct pci_fixture pf;
static struct pvpanic pv;
static uint8_t events[8];
static unsigned int nevents;

static void on_event(void *opaque, uint8_t ev)
{
	ck_assert_ptr_eq(opaque, &pf);
	ck_assert_uint_lt(nevents, sizeof(events));
	events[nevents++] = ev;
}

static void setup(void)
{
	nevents = 0;
	pf_init(&pf);
	ck_assert_int_eq(pvpanic_init(&pv, on_event, &pf), 0);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &pv.pci, SLOT), 0);
}

static void teardown(void)
{
	pf_destroy(&pf);
}

START_TEST(identity_and_bar)
{
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_VENDOR_ID, 2), 0x1b36);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_DEVICE_ID, 2), 0x0011);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_CLASS_PROG + 1, 2), 0x0880);
	/* A 16-byte 32-bit memory BAR: sizing reads back ~15. */
	uint32_t addr = pf_ecam_read(&pf, SLOT, PCI_BAR0, 4);
	ck_assert_uint_eq(addr & 0xf, 0);
	ck_assert_uint_ge(addr, PF_MEM32_BASE);
	pf_ecam_write(&pf, SLOT, PCI_BAR0, 4, 0xffffffffu);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, PCI_BAR0, 4), 0xfffffff0u);
	pf_ecam_write(&pf, SLOT, PCI_BAR0, 4, addr);
}
END_TEST

START_TEST(events_reach_the_callback)
{
	uint64_t bar = pf_ecam_read(&pf, SLOT, PCI_BAR0, 4) & ~0xfu;
	uint8_t v = 0;

	/* Nothing decodes before memory space is enabled. */
	v = PVPANIC_PANICKED;
	bus_write(&pf.mmio, bar, &v, 1);
	ck_assert_uint_eq(nevents, 0);
	pf_set_memory(&pf, SLOT, 1);
	/* The driver reads the events it may send. */
	v = 0;
	bus_read(&pf.mmio, bar, &v, 1);
	ck_assert_uint_eq(v, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	/* Unknown bits and other offsets are ignored; known bits are passed. */
	v = 0xfc;
	bus_write(&pf.mmio, bar, &v, 1);
	bus_write(&pf.mmio, bar + 1, &(uint8_t){ PVPANIC_PANICKED }, 1);
	ck_assert_uint_eq(nevents, 0);
	v = PVPANIC_CRASH_LOADED | 0x80;
	bus_write(&pf.mmio, bar, &v, 1);
	v = PVPANIC_PANICKED;
	bus_write(&pf.mmio, bar, &v, 1);
	ck_assert_uint_eq(nevents, 2);
	ck_assert_uint_eq(events[0], PVPANIC_CRASH_LOADED);
	ck_assert_uint_eq(events[1], PVPANIC_PANICKED);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = {
		.name = "pvpanic", .tcase = "pvpanic", .setup = setup, .teardown = teardown
	};
	const TTest *tests[] = { identity_and_bar, events_reach_the_callback, NULL };

	return unit_main(&u, tests);
}
