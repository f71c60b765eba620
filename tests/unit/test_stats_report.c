/*
 * --stats=json: the object stats_print_json writes for a snapshot: every
 * field, exit reasons without a name merged into one "other" key, strings
 * escaped, null before the first KVM_RUN; exits by place and KVM's own
 * statistics when there are any, in JSON and text.  (A real JSON parser reads the
 * output of a real boot in tests/integration/vmm-tool.sh.)
 */
#include <check.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>

#include "unit_main.h"
#include "vmm/stats_report.h"

static void print(const struct stats_snapshot *s, char *out, size_t len)
{
	memset(out, 0, len);
	FILE *f = fmemopen(out, len, "w");
	stats_print_json(s, f);
	fclose(f);
}

START_TEST(full)
{
	static struct stats_snapshot s;
	char out[4096];

	memset(&s, 0, sizeof(s));
	s.version = "0.1.0+git1.gabc";
	s.exit_status = 3;
	s.vcpus = 2;
	s.memory = 512ULL << 20;
	s.start_ns = 1000000;
	s.first_run_ns = 13345678;
	s.exits[KVM_EXIT_IO] = 40;
	s.exits[KVM_EXIT_MMIO] = 2;
	s.exits[KVM_EXIT_HLT] = 0;
	s.exits[63] = 1; /* no name: "other" */
	s.exits[62] = 2; /* no name either: the same key */
	s.exits[VCPU_EXIT_INTR] = 5;
	s.ndisks = 2;
	s.disks[0] = (struct stats_disk){ "root.img", 100, 60, 90 };
	s.disks[1] = (struct stats_disk){ "a \"b\"\\c\n\x01.img", 0, 0, 0 };
	print(&s, out, sizeof(out));
	ck_assert_str_eq(
		out,
		"{\"version\":\"0.1.0+git1.gabc\",\"exit_status\":3,\"vcpus\":2,"
		"\"memory_bytes\":536870912,\"first_kvm_run_ms\":12.346,"
		"\"exits\":{\"io\":40,\"mmio\":2,\"other\":3,\"interrupted\":5},"
		"\"exits_total\":50,\"disks\":["
		"{\"index\":0,\"path\":\"root.img\",\"requests\":100,\"kicks\":60,\"interrupts\":90},"
		"{\"index\":1,\"path\":\"a \\\"b\\\"\\\\c\\n\\u0001.img\",\"requests\":0,\"kicks\":0,"
		"\"interrupts\":0}]}\n");
}
END_TEST

START_TEST(never_ran)
{
	static struct stats_snapshot s;
	char out[1024];

	memset(&s, 0, sizeof(s));
	s.version = "v";
	s.exit_status = 1;
	s.vcpus = 1;
	s.start_ns = 5;
	print(&s, out, sizeof(out));
	ck_assert_str_eq(
		out, "{\"version\":\"v\",\"exit_status\":1,\"vcpus\":1,\"memory_bytes\":0,"
		     "\"first_kvm_run_ms\":null,\"exits\":{},\"exits_total\":0,\"disks\":[]}\n");
}
END_TEST

START_TEST(places_and_kvm_statistics)
{
	static struct stats_snapshot s;
	static struct stats_kvm vm, vcpus[2];
	char out[4096];

	memset(&s, 0, sizeof(s));
	s.version = "v";
	s.vcpus = 2;
	s.start_ns = 5;
	s.nsites = 2;
	s.sites[0] = (struct vcpu_exit_site){ .mmio = false, .addr = 0x3f8, .count = 7 };
	s.sites[1] = (struct vcpu_exit_site){ .mmio = true, .addr = 0xc0000000, .count = 2 };
	s.sites_other = 1;
	vm.n = 1;
	strcpy(vm.c[0].name, "remote_tlb_flush");
	vm.c[0].value = 4;
	vcpus[0].n = 2;
	strcpy(vcpus[0].c[0].name, "exits");
	vcpus[0].c[0].value = 100;
	strcpy(vcpus[0].c[1].name, "io_exits");
	vcpus[0].c[1].value = 9;
	s.kvm_vm = &vm;
	s.kvm_vcpus = vcpus;
	s.kvm_nvcpus = 2;
	print(&s, out, sizeof(out));
	ck_assert_str_eq(out,
			 "{\"version\":\"v\",\"exit_status\":0,\"vcpus\":2,\"memory_bytes\":0,"
			 "\"first_kvm_run_ms\":null,\"exits\":{},\"exits_total\":0,\"disks\":[],"
			 "\"exits_by_place\":[{\"space\":\"port\",\"addr\":1016,\"count\":7},"
			 "{\"space\":\"mmio_page\",\"addr\":3221225472,\"count\":2}],"
			 "\"exits_elsewhere\":1,"
			 "\"kvm\":{\"vm\":{\"remote_tlb_flush\":4},"
			 "\"vcpus\":[{\"exits\":100,\"io_exits\":9},{}]}}\n");

	/* The text form: one line per place, one per VM and vCPU. */
	memset(out, 0, sizeof(out));
	FILE *f = fmemopen(out, sizeof(out), "w");
	stats_print_text_extra(&s, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "  port  0x3f8                     7\n"));
	ck_assert_ptr_nonnull(strstr(out, "  page  0xc0000000                2\n"));
	ck_assert_ptr_nonnull(strstr(out, "  elsewhere                     1\n"));
	ck_assert_ptr_nonnull(strstr(out, "  vm: remote_tlb_flush=4\n"));
	ck_assert_ptr_nonnull(strstr(out, "  vcpu0: exits=100 io_exits=9\n"));
	ck_assert_ptr_nonnull(strstr(out, "  vcpu1:\n"));
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "stats_report", .tcase = "json" };
	const TTest *tests[] = { full, never_ran, places_and_kvm_statistics, NULL };

	return unit_main(&u, tests);
}
