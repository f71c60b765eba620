/*
 * MSI-X tests: the capability through config space, table and PBA
 * semantics, and the GSI routes and irqfd bindings that result (recorded by
 * fake ops): routes appear when a vector becomes live, follow table writes,
 * irqfds detach while masked (vector mask, function mask, disable) so a
 * signal meanwhile shows in the PBA and is delivered on unmask.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "fake_irq.h"
#include "pci_fixture.h"

#define SLOT	2
#define NVEC	4
#define PBA_OFF 0x1000

static struct pci_fixture pf;
static struct fake_irq fi;
static struct msix m;
static struct pci_function fn;
static unsigned int cap;

static void cfg_write_hook(void *opaque, uint32_t reg, unsigned int len, uint32_t val)
{
	(void)val;
	msix_config_write(opaque, reg, len);
}

static const struct pci_function_ops fn_ops = { .config_write = cfg_write_hook };

static void region_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	if (off < PBA_OFF)
		msix_table_read(opaque, off, data, len);
	else
		msix_pba_read(opaque, off - PBA_OFF, data, len);
}

static void region_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	if (off < PBA_OFF)
		msix_table_write(opaque, off, data, len);
	else
		msix_pba_write(opaque, off - PBA_OFF, data, len);
}

static const struct bus_ops region_ops = { .read = region_read, .write = region_write };

static void setup(void)
{
	pf_init(&pf);
	fi_init(&fi);
	pci_function_init(&fn, &(struct pci_id){ .vendor = 0x1234, .device = 1 }, &fn_ops, &m);
	ck_assert_int_eq(pci_function_add_bar(&fn, 0, 0x2000, 0, &region_ops, &m), 0);
	struct msix_params p = {
		.pci = &fn,
		.nr_vectors = NVEC,
		.table_bar = 0,
		.table_offset = 0,
		.pba_bar = 0,
		.pba_offset = PBA_OFF,
		.irq_ops = &fake_irq_ops,
		.irq_ctx = &fi,
		.report = fi_report,
		.report_opaque = &fi,
	};
	ck_assert_int_eq(msix_init(&m, &p), 0);
	ck_assert_int_eq(pci_bus_plug(&pf.pb, &fn, SLOT), 0);
	/* MSIs are memory writes: only a bus master sends them. */
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	cap = pf_find_cap(&pf, SLOT, PCI_CAP_ID_MSIX, 0);
	ck_assert_uint_ne(cap, 0);
}

static void teardown(void)
{
	pci_bus_unplug(&fn);
	msix_destroy(&m);
	pf_destroy(&pf);
}

static void control(uint16_t v)
{
	pf_ecam_write(&pf, SLOT, cap + MSIX_CAP_CONTROL, 2, v);
}

static void entry_write(unsigned int v, unsigned int field, uint32_t val)
{
	msix_table_write(&m, v * MSIX_ENTRY_SIZE + field, &val, 4);
}

static uint32_t entry_read(unsigned int v, unsigned int field)
{
	uint32_t val = 0;
	msix_table_read(&m, v * MSIX_ENTRY_SIZE + field, &val, 4);
	return val;
}

static void program(unsigned int v, uint64_t addr, uint32_t data)
{
	entry_write(v, MSIX_ENTRY_ADDR_LO, (uint32_t)addr);
	entry_write(v, MSIX_ENTRY_ADDR_HI, (uint32_t)(addr >> 32));
	entry_write(v, MSIX_ENTRY_DATA, data);
}

static void mask(unsigned int v, bool on)
{
	entry_write(v, MSIX_ENTRY_CTRL, on ? MSIX_ENTRY_CTRL_MASK : 0);
}

static uint64_t pba(void)
{
	uint64_t bits = 0;
	msix_pba_read(&m, 0, &bits, 8);
	return bits;
}

/* The eventfd counter, consumed (what KVM would take on injection). */
static uint64_t take(unsigned int v)
{
	uint64_t cnt = 0;
	if (read(msix_vector_fd(&m, v), &cnt, sizeof(cnt)) != sizeof(cnt))
		ck_assert_int_eq(errno, EAGAIN);
	return cnt;
}

static int gsi_of(unsigned int v)
{
	return fi_gsi_of_fd(&fi, msix_vector_fd(&m, v));
}

/* ---- capability and table ---- */

START_TEST(capability_layout_and_control_bits)
{
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, cap + MSIX_CAP_CONTROL, 2), NVEC - 1);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, cap + MSIX_CAP_TABLE, 4), 0);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, cap + MSIX_CAP_PBA, 4), PBA_OFF);
	/* Only enable and function mask are writable. */
	control(0xffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, cap + MSIX_CAP_CONTROL, 2),
			  MSIX_CONTROL_ENABLE | MSIX_CONTROL_MASKALL | (NVEC - 1));
	pf_ecam_write(&pf, SLOT, cap + MSIX_CAP_TABLE, 4, 0xffffffff);
	ck_assert_uint_eq(pf_ecam_read(&pf, SLOT, cap + MSIX_CAP_TABLE, 4), 0);
	/* Enabled but all masked: nothing routed yet. */
	ck_assert_uint_eq(fi_routes(&fi), 0);
}
END_TEST

START_TEST(table_reset_state_and_field_rules)
{
	for (unsigned int v = 0; v < NVEC; v++) {
		ck_assert_uint_eq(entry_read(v, MSIX_ENTRY_CTRL), MSIX_ENTRY_CTRL_MASK);
		ck_assert_uint_eq(entry_read(v, MSIX_ENTRY_ADDR_LO), 0);
		ck_assert_uint_eq(entry_read(v, MSIX_ENTRY_DATA), 0);
	}
	entry_write(1, MSIX_ENTRY_ADDR_LO, 0xfee00007);
	ck_assert_uint_eq(entry_read(1, MSIX_ENTRY_ADDR_LO), 0xfee00004);
	entry_write(1, MSIX_ENTRY_CTRL, 0xfffffffe);
	ck_assert_uint_eq(entry_read(1, MSIX_ENTRY_CTRL), 0);
	/* A qword write fills address low and high. */
	uint64_t q = 0x00000001fee01000ull;
	msix_table_write(&m, 2 * MSIX_ENTRY_SIZE, &q, 8);
	ck_assert_uint_eq(entry_read(2, MSIX_ENTRY_ADDR_LO), 0xfee01000);
	ck_assert_uint_eq(entry_read(2, MSIX_ENTRY_ADDR_HI), 1);
	uint64_t r = 0;
	msix_table_read(&m, 2 * MSIX_ENTRY_SIZE, &r, 8);
	ck_assert_uint_eq(r, q);
}
END_TEST

START_TEST(hostile_table_accesses_are_refused)
{
	uint32_t v = 0x1234;
	uint16_t w = 0;
	uint64_t q = 0;

	/* Past the last vector, misaligned, odd sizes. */
	msix_table_write(&m, NVEC * MSIX_ENTRY_SIZE, &v, 4);
	msix_table_write(&m, 0x2, &v, 4);
	msix_table_write(&m, 0x4, &q, 8);
	msix_table_write(&m, 0x0, &w, 2);
	msix_table_write(&m, UINT64_MAX - 3, &v, 4);
	ck_assert_uint_eq(entry_read(0, MSIX_ENTRY_ADDR_LO), 0);
	ck_assert_uint_eq(entry_read(0, MSIX_ENTRY_ADDR_HI), 0);
	msix_table_read(&m, NVEC * MSIX_ENTRY_SIZE, &v, 4);
	ck_assert_uint_eq(v, 0xffffffff);
	msix_table_read(&m, 0, &w, 2);
	ck_assert_uint_eq(w, 0xffff);
	/* The PBA is read-only and ends where the vectors do. */
	q = ~0ull;
	msix_pba_write(&m, 0, &q, 8);
	ck_assert_uint_eq(pba(), 0);
	msix_pba_read(&m, 8, &v, 4);
	ck_assert_uint_eq(v, 0xffffffff);
	msix_pba_read(&m, UINT64_MAX, &v, 1);
	/* Notifying a vector that does not exist fails. */
	ck_assert_int_eq(msix_notify(&m, NVEC), -1);
	ck_assert_int_eq(msix_vector_fd(&m, NVEC), -1);
	ck_assert_uint_eq(fi.adds + fi.updates + fi.attaches, 0);
}
END_TEST

/* ---- routes and irqfds ---- */

START_TEST(unmasked_vector_gets_route_and_irqfd)
{
	program(0, 0xfee00000, 0x4041);
	mask(0, false);
	/* MSI-X still disabled: no route. */
	ck_assert_uint_eq(fi.adds, 0);
	control(MSIX_CONTROL_ENABLE);
	ck_assert_uint_eq(fi.adds, 1);
	ck_assert_uint_eq(fi.attaches, 1);
	int g = gsi_of(0);
	ck_assert_int_ge(g, FI_FIRST_GSI);
	ck_assert_uint_eq(fi.gsi[g].addr, 0xfee00000);
	ck_assert_uint_eq(fi.gsi[g].data, 0x4041);
	/* The route names the function: bus 0, slot SLOT, function 0. */
	ck_assert_uint_eq(fi.last_devid, SLOT << 3);
	/* The other vectors are still masked. */
	ck_assert_int_eq(gsi_of(1), -1);

	/* The device signals; the irqfd (KVM) would take it, the PBA
	 * shows nothing pending for a live vector. */
	ck_assert_int_eq(msix_notify(&m, 0), 0);
	ck_assert_uint_eq(pba(), 0);
	ck_assert_uint_eq(take(0), 1);
}
END_TEST

START_TEST(live_entry_write_updates_route)
{
	control(MSIX_CONTROL_ENABLE);
	program(1, 0xfee00000, 0x4041);
	mask(1, false);
	int g = gsi_of(1);
	ck_assert_int_ge(g, 0);
	entry_write(1, MSIX_ENTRY_DATA, 0x4050);
	entry_write(1, MSIX_ENTRY_ADDR_LO, 0xfee02000);
	ck_assert_uint_eq(fi.updates, 2);
	ck_assert_uint_eq(fi.gsi[g].addr, 0xfee02000);
	ck_assert_uint_eq(fi.gsi[g].data, 0x4050);
	/* Rewriting the same value costs no routing commit. */
	entry_write(1, MSIX_ENTRY_DATA, 0x4050);
	ck_assert_uint_eq(fi.updates, 2);
	/* No irqfd churn for a message change. */
	ck_assert_uint_eq(fi.attaches, 1);
	ck_assert_uint_eq(fi.detaches, 0);
	ck_assert_int_eq(gsi_of(1), g);
}
END_TEST

START_TEST(signal_while_masked_is_pending_then_delivered)
{
	control(MSIX_CONTROL_ENABLE);
	program(2, 0xfee00000, 0x4062);
	mask(2, false);
	int g = gsi_of(2);
	mask(2, true);
	ck_assert_uint_eq(fi.detaches, 1);
	ck_assert_int_eq(gsi_of(2), -1);
	ck_assert(fi.gsi[g].used); /* the route stays */

	ck_assert_int_eq(msix_notify(&m, 2), 0);
	ck_assert_int_eq(msix_notify(&m, 2), 0);
	ck_assert_uint_eq(pba(), 1u << 2);
	/* Reading the PBA again does not lose it. */
	ck_assert_uint_eq(pba(), 1u << 2);
	uint8_t byte = 0;
	msix_pba_read(&m, 0, &byte, 1);
	ck_assert_uint_eq(byte, 1u << 2);

	mask(2, false);
	ck_assert_int_eq(gsi_of(2), g);
	ck_assert_uint_eq(fi.adds, 1);
	/* Delivered: the attached eventfd was signalled for KVM to inject,
	 * once; the pending bit is gone. */
	ck_assert_uint_eq(take(2), 1);
	ck_assert_uint_eq(pba(), 0);
}
END_TEST

START_TEST(entry_changed_while_masked_applies_on_unmask)
{
	control(MSIX_CONTROL_ENABLE);
	program(0, 0xfee00000, 0x4041);
	mask(0, false);
	int g = gsi_of(0);
	mask(0, true);
	program(0, 0xfee03000, 0x4077);
	ck_assert_uint_eq(fi.updates, 0);
	ck_assert_uint_eq(fi.gsi[g].data, 0x4041);
	mask(0, false);
	ck_assert_uint_eq(fi.updates, 1);
	ck_assert_uint_eq(fi.gsi[g].addr, 0xfee03000);
	ck_assert_uint_eq(fi.gsi[g].data, 0x4077);
	ck_assert_int_eq(gsi_of(0), g);
	/* Nothing was signalled meanwhile: nothing is re-raised. */
	ck_assert_uint_eq(take(0), 0);
}
END_TEST

START_TEST(function_mask_holds_every_vector)
{
	control(MSIX_CONTROL_ENABLE);
	for (unsigned int v = 0; v < NVEC; v++) {
		program(v, 0xfee00000, 0x4040 + v);
		mask(v, false);
	}
	ck_assert_uint_eq(fi.attaches, NVEC);
	control(MSIX_CONTROL_ENABLE | MSIX_CONTROL_MASKALL);
	ck_assert_uint_eq(fi.detaches, NVEC);
	ck_assert_int_eq(msix_notify(&m, 1), 0);
	ck_assert_int_eq(msix_notify(&m, 3), 0);
	ck_assert_uint_eq(pba(), 0xa);
	/* Vector mask bits are untouched by the function mask. */
	ck_assert_uint_eq(entry_read(1, MSIX_ENTRY_CTRL), 0);
	/* A vector unmasked under the function mask stays detached. */
	mask(0, true);
	mask(0, false);
	ck_assert_int_eq(gsi_of(0), -1);

	control(MSIX_CONTROL_ENABLE);
	for (unsigned int v = 0; v < NVEC; v++)
		ck_assert_int_ge(gsi_of(v), 0);
	ck_assert_uint_eq(take(1), 1);
	ck_assert_uint_eq(take(3), 1);
	ck_assert_uint_eq(take(0), 0);
	ck_assert_uint_eq(pba(), 0);
	ck_assert_uint_eq(fi.adds, NVEC); /* routes were kept */
}
END_TEST

/* Issue 9 item 6: clearing Bus Master Enable holds every vector like the
 * function mask; setting it delivers what was pending. */
START_TEST(bus_master_off_holds_every_vector)
{
	control(MSIX_CONTROL_ENABLE);
	for (unsigned int v = 0; v < NVEC; v++) {
		program(v, 0xfee00000, 0x4040 + v);
		mask(v, false);
	}
	ck_assert_uint_eq(fi.attaches, NVEC);
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 2, 0);
	ck_assert_uint_eq(fi.detaches, NVEC);
	for (unsigned int v = 0; v < NVEC; v++)
		ck_assert_int_eq(gsi_of(v), -1);
	ck_assert_int_eq(msix_notify(&m, 2), 0);
	ck_assert_uint_eq(pba(), 0x4);
	/* Unmasking a vector does not bypass it. */
	mask(0, true);
	mask(0, false);
	ck_assert_int_eq(gsi_of(0), -1);
	/* A dword write covering command and status counts too. */
	pf_ecam_write(&pf, SLOT, PCI_COMMAND, 4, PCI_COMMAND_MASTER);
	for (unsigned int v = 0; v < NVEC; v++)
		ck_assert_int_ge(gsi_of(v), 0);
	ck_assert_uint_eq(take(2), 1);
	ck_assert_uint_eq(take(0), 0);
	ck_assert_uint_eq(pba(), 0);
}
END_TEST

START_TEST(disable_detaches_and_frees_routes)
{
	control(MSIX_CONTROL_ENABLE);
	program(0, 0xfee00000, 0x4041);
	program(1, 0xfee00000, 0x4042);
	mask(0, false);
	mask(1, false);
	ck_assert_uint_eq(fi_routes(&fi), 2);
	control(0);
	ck_assert_uint_eq(fi_routes(&fi), 0);
	ck_assert_uint_eq(fi.detaches, 2);
	ck_assert_uint_eq(fi.removes, 2);
	/* Signals while disabled are pending, and come out once enabled. */
	ck_assert_int_eq(msix_notify(&m, 1), 0);
	ck_assert_uint_eq(pba(), 2);
	control(MSIX_CONTROL_ENABLE);
	ck_assert_uint_eq(fi_routes(&fi), 2);
	ck_assert_uint_eq(take(1), 1);
	ck_assert_uint_eq(take(0), 0);
	ck_assert_int_ge(gsi_of(0), 0);
	ck_assert_uint_eq(fi.gsi[gsi_of(1)].data, 0x4042);
}
END_TEST

START_TEST(failed_route_is_reported_and_retried)
{
	control(MSIX_CONTROL_ENABLE);
	program(0, 0xfee00000, 0x4041);
	fi.fail_next_add = true;
	mask(0, false);
	ck_assert_uint_eq(fi.reports, 1);
	ck_assert_int_eq(gsi_of(0), -1);
	ck_assert_uint_eq(fi.attaches, 0);
	/* The next mask change tries again. */
	mask(0, true);
	mask(0, false);
	ck_assert_int_ge(gsi_of(0), 0);
}
END_TEST

/* Found by fuzz_msix: when detaching an irqfd failed as the guest disabled
 * MSI-X, the route under it was removed anyway, leaving KVM's irqfd on a
 * GSI the VMM no longer owned (and could hand to another vector). */
START_TEST(failed_detach_keeps_the_route)
{
	control(MSIX_CONTROL_ENABLE);
	program(0, 0xfee00000, 0x4041);
	mask(0, false);
	int g = gsi_of(0);
	ck_assert_int_ge(g, 0);
	fi.fail_next_detach = true;
	control(0);
	ck_assert_uint_eq(fi.reports, 1);
	ck_assert(fi.gsi[g].used);
	ck_assert_int_eq(gsi_of(0), g);
	/* Enabled again, the vector still delivers through its route. */
	control(MSIX_CONTROL_ENABLE);
	ck_assert_int_eq(gsi_of(0), g);
	ck_assert_uint_eq(fi.gsi[g].data, 0x4041);
}
END_TEST

static void *notifier(void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < 1000; i++)
		if (msix_notify(&m, i % NVEC))
			return (void *)1;
	return NULL;
}

START_TEST(notify_from_other_threads_while_guest_masks)
{
	pthread_t t[2];
	void *ret;

	control(MSIX_CONTROL_ENABLE);
	for (unsigned int v = 0; v < NVEC; v++)
		program(v, 0xfee00000, 0x4040 + v);
	for (unsigned int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, notifier, NULL), 0);
	for (unsigned int i = 0; i < 200; i++)
		mask(i % NVEC, i & 4);
	for (unsigned int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	/* Mask everything: every vector was signalled, so each is pending
	 * or was handed to its irqfd; none was lost. */
	for (unsigned int v = 0; v < NVEC; v++) {
		bool had_irqfd_signal = take(v) > 0;
		mask(v, true);
		ck_assert_msg(had_irqfd_signal || (pba() & (1u << v)), "vector %u lost", v);
	}
}
END_TEST

START_TEST(destroy_releases_everything)
{
	control(MSIX_CONTROL_ENABLE);
	program(0, 0xfee00000, 0x4041);
	mask(0, false);
	program(3, 0xfee00000, 0x4043);
	mask(3, false);
	mask(3, true);
	pci_bus_unplug(&fn);
	msix_destroy(&m);
	ck_assert_uint_eq(fi_routes(&fi), 0);
	ck_assert_uint_eq(fi.attaches, fi.detaches);
	/* Destroying twice is harmless (teardown does it again). */
	msix_destroy(&m);
}
END_TEST

START_TEST(init_validates_parameters)
{
	struct msix x;
	struct pci_function f2;
	pci_function_init(&f2, &(struct pci_id){ .vendor = 1 }, NULL, NULL);
	ck_assert_int_eq(pci_function_add_bar(&f2, 0, 0x1000, 0, &region_ops, NULL), 0);
	struct msix_params p = { .pci = &f2,
				 .nr_vectors = 8,
				 .table_offset = 0,
				 .pba_offset = 0x800,
				 .irq_ops = &fake_irq_ops,
				 .irq_ctx = &fi };
	struct msix_params bad = p;
	bad.nr_vectors = 0;
	ck_assert_int_eq(msix_init(&x, &bad), -1);
	bad = p;
	bad.nr_vectors = MSIX_MAX_VECTORS + 1;
	ck_assert_int_eq(msix_init(&x, &bad), -1);
	bad = p;
	bad.table_offset = 4;
	ck_assert_int_eq(msix_init(&x, &bad), -1);
	bad = p;
	bad.pba_bar = 1; /* no such BAR */
	ck_assert_int_eq(msix_init(&x, &bad), -1);
	bad = p;
	bad.nr_vectors = 256; /* 4 KiB of table in a 4 KiB BAR */
	ck_assert_int_eq(msix_init(&x, &bad), -1);
	ck_assert_int_eq(msix_init(&x, &p), 0);
	msix_destroy(&x);
}
END_TEST

static Suite *msix_suite(void)
{
	Suite *s = suite_create("msix");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, capability_layout_and_control_bits);
	tcase_add_test(tc, table_reset_state_and_field_rules);
	tcase_add_test(tc, hostile_table_accesses_are_refused);
	tcase_add_test(tc, init_validates_parameters);
	suite_add_tcase(s, tc);

	tc = tcase_create("routes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unmasked_vector_gets_route_and_irqfd);
	tcase_add_test(tc, live_entry_write_updates_route);
	tcase_add_test(tc, signal_while_masked_is_pending_then_delivered);
	tcase_add_test(tc, entry_changed_while_masked_applies_on_unmask);
	tcase_add_test(tc, function_mask_holds_every_vector);
	tcase_add_test(tc, disable_detaches_and_frees_routes);
	tcase_add_test(tc, bus_master_off_holds_every_vector);
	tcase_add_test(tc, failed_route_is_reported_and_retried);
	tcase_add_test(tc, failed_detach_keeps_the_route);
	tcase_add_test(tc, notify_from_other_threads_while_guest_masks);
	tcase_add_test(tc, destroy_releases_everything);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(msix_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
