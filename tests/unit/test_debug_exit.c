/*
 * Debug-exit tests: which guest writes reach the callback, and how every
 * value becomes an exit status that means one thing (vm_stop_debug_exit):
 * 0 and 3..99 as they are, the values that would read as one of vmm's own
 * statuses (1, 2, 100..255) as VM_EXIT_DEBUG_OTHER with a line naming them.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/vm.h"
#include "devices/debug_exit.h"
#include "unit_main.h"

static struct vm vm;

static void on_exit_value(void *opaque, uint8_t value)
{
	vm_stop_debug_exit(opaque, value);
}

/* A VM that can only be stopped: what vm_stop needs. */
static void fresh_vm(void)
{
	if (vm.stop_fd > 0)
		close(vm.stop_fd);
	memset(&vm, 0, sizeof(vm));
	vm.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(vm.stop_fd, 0);
}

static void teardown(void)
{
	close(vm.stop_fd);
	vm.stop_fd = 0;
}

START_TEST(writes_at_the_port_pass_the_low_byte)
{
	struct debug_exit d = { .exit = on_exit_value, .opaque = &vm };
	uint32_t v = 0x12345607; /* low byte 7 */

	fresh_vm();
	/* Not at the port itself: ignored. */
	debug_exit_ops.write(&d, 1, &v, 1);
	ck_assert(!atomic_load(&vm.stopping));
	debug_exit_ops.write(&d, 0, &v, 4);
	ck_assert(atomic_load(&vm.stopping));
	ck_assert_int_eq(vm.exit_status, 7);
	ck_assert_str_eq(vm.fail_msg, "");
	uint8_t r[4];
	debug_exit_ops.read(&d, 0, r, 4);
	ck_assert_uint_eq(r[0] & r[1] & r[2] & r[3], 0xff);
}
END_TEST

START_TEST(every_value_maps_to_one_meaning)
{
	for (unsigned int v = 0; v < 256; v++) {
		fresh_vm();
		vm_stop_debug_exit(&vm, v);
		ck_assert(atomic_load(&vm.stopping));
		if (v == 0 || (v >= VM_EXIT_DEBUG_MIN && v <= VM_EXIT_DEBUG_MAX)) {
			ck_assert_int_eq(vm.exit_status, (int)v);
			ck_assert_str_eq(vm.fail_msg, "");
			continue;
		}
		char want[32];
		snprintf(want, sizeof(want), "wrote %u to", v);
		ck_assert_int_eq(vm.exit_status, VM_EXIT_DEBUG_OTHER);
		ck_assert_msg(strstr(vm.fail_msg, want), "value %u: '%s'", v, vm.fail_msg);
	}
	/* The statuses vmm gives itself are never a guest's value. */
	static const int own[] = { 1,	     2,	      VM_EXIT_GUEST_CRASH, VM_EXIT_GUEST_PANIC,
				   128 + 15, 128 + 31 };
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		ck_assert(own[i] != 0 &&
			  (own[i] < VM_EXIT_DEBUG_MIN || own[i] > VM_EXIT_DEBUG_MAX) &&
			  own[i] != VM_EXIT_DEBUG_OTHER);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = { .name = "debug_exit",
					     .tcase = "debug_exit",
					     .teardown = teardown };
	const TTest *tests[] = { writes_at_the_port_pass_the_low_byte,
				 every_value_maps_to_one_meaning, NULL };

	return unit_main(&u, tests);
}
