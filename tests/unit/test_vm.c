/*
 * The VM core against the real /dev/kvm (PVM runs small hand-written guests
 * fine): VM creation with irqchip, PIT and GSI routes; MSI routes, irqfds
 * and ioeventfds; tiny real-mode guests that exercise the vCPU loop, PIO and
 * MMIO dispatch, the debug-exit port, the UART's output (coalesced by KVM
 * while its interrupts are off), ACPI power-off and
 * reset, stopping spinning vCPUs from outside, and the exit counters.
 */
#include <check.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "core/arch.h"
#include "core/err.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/pci.h"
#include "unit_main.h"
#include "vmm/console.h"

#define CODE_ADDR 0x1000

static struct vm vm;

static void create(unsigned int cpus, uint64_t mem)
{
	ck_assert_msg(vm_create(&vm, cpus, mem) == 0, "vm_create: %s", err_msg());
}

/* Puts code at CODE_ADDR and points every vCPU at it in real mode, with
 * DS reaching 4 GiB (so addr32 moves can touch MMIO in the hole). */
static void load_code(const uint8_t *code, size_t len)
{
	ck_assert_int_eq(guest_mem_write(&vm.mem, CODE_ADDR, code, len), 0);
	for (unsigned int i = 0; i < vm.ncpus; i++) {
		struct kvm_sregs s;
		int fd = vm.vcpus[i].fd;
		ck_assert_int_eq(ioctl(fd, KVM_GET_SREGS, &s), 0);
		s.cs.base = 0;
		s.cs.selector = 0;
		s.ds.base = 0;
		s.ds.selector = 0;
		s.ds.limit = 0xffffffff;
		s.ds.g = 1;
		ck_assert_int_eq(ioctl(fd, KVM_SET_SREGS, &s), 0);
		struct kvm_regs r = { .rip = CODE_ADDR, .rflags = 2 };
		ck_assert_int_eq(ioctl(fd, KVM_SET_REGS, &r), 0);
		/* Secondary vCPUs would wait for SIPI: make them runnable. */
		struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
		ck_assert_int_eq(ioctl(fd, KVM_SET_MP_STATE, &mp), 0);
	}
}

/* Starts the vCPUs and waits (up to 10 s) for the VM to stop. */
static int run_until_stop(void)
{
	ck_assert_int_eq(vm_start(&vm), 0);
	struct pollfd p = { .fd = vm.stop_fd, .events = POLLIN };
	int n = poll(&p, 1, 10000);
	ck_assert_msg(n == 1, "the guest did not stop within 10 s");
	vm_join_vcpus(&vm);
	return vm.exit_status;
}

static uint64_t exits(unsigned int reason)
{
	uint64_t n = 0;
	for (unsigned int i = 0; i < vm.ncpus; i++)
		n += vm.vcpus[i].exits[reason];
	return n;
}

/* Whether KVM coalesces port writes here (it has since Linux 4.20). */
static bool coalesced_pio(void)
{
	return ioctl(vm.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
}

static void teardown(void)
{
	vm_destroy(&vm);
}

START_TEST(create_and_destroy)
{
	create(2, 16 << 20);
	ck_assert_uint_eq(vm.ncpus, 2);
	ck_assert_uint_eq(guest_mem_total(&vm.mem), 16 << 20);
	ck_assert_ptr_nonnull(guest_mem_ptr(&vm.mem, 0, 16 << 20));
	ck_assert_ptr_null(guest_mem_ptr(&vm.mem, 16 << 20, 1));
	/* Huge-page aligned, so that THP and KVM's large mappings apply. */
	ck_assert_uint_eq((uintptr_t)vm.ram % VM_RAM_ALIGN, 0);
	/* The default routes are in: 24 IOAPIC pins and 15 8259 pins (IRQ 2
	 * is the cascade, GSI 2 the PIT's IOAPIC pin by way of GSI 0). */
	ck_assert_uint_eq(vm.irq.nr, 23 + 15);
}
END_TEST

START_TEST(memory_above_hole)
{
	/* 3 GiB + 64 MiB: two banks, the second at 4 GiB; nothing is touched,
	 * so this costs no host memory. */
	create(1, (3ULL << 30) + (64ULL << 20));
	ck_assert_uint_eq(vm.mem.nr, 2);
	ck_assert_ptr_nonnull(guest_mem_ptr(&vm.mem, X86_MMIO_HOLE_START - 1, 1));
	ck_assert_ptr_null(guest_mem_ptr(&vm.mem, X86_MMIO_HOLE_START, 1));
	ck_assert_ptr_nonnull(guest_mem_ptr(&vm.mem, X86_HIGH_RAM_START, 64 << 20));
}
END_TEST

START_TEST(too_many_cpus)
{
	ck_assert_int_eq(vm_create(&vm, 100000, 16 << 20), -1);
	ck_assert_ptr_nonnull(strstr(err_msg(), "KVM allows at most"));
}
END_TEST

START_TEST(msi_routes_and_fds)
{
	uint32_t g1, g2, g3;
	create(1, 16 << 20);
	ck_assert_int_eq(irq_msi_add(&vm.irq, 0, 0xfee00000, 0x4041, &g1), 0);
	ck_assert_int_eq(irq_msi_add(&vm.irq, 0, 0xfee00000, 0x4042, &g2), 0);
	ck_assert_uint_eq(g1, X86_FIRST_MSI_GSI);
	ck_assert_uint_eq(g2, X86_FIRST_MSI_GSI + 1);
	ck_assert_int_eq(irq_msi_update(&vm.irq, g1, 0, 0xfee01000, 0x4051), 0);
	ck_assert_int_eq(irq_msi_update(&vm.irq, 5, 0, 0xfee01000, 0x4051), -1); /* not MSI */
	ck_assert_int_eq(irq_msi_remove(&vm.irq, g1), 0);
	ck_assert_int_eq(irq_msi_remove(&vm.irq, g1), -1);
	/* The freed GSI is handed out again. */
	ck_assert_int_eq(irq_msi_add(&vm.irq, 0, 0xfee00000, 0x4043, &g3), 0);
	ck_assert_uint_eq(g3, g1);

	int efd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(irqfd_assign(vm.vm_fd, efd, g2), 0);
	ck_assert_int_eq(irqfd_assign(vm.vm_fd, efd, g2), -1); /* busy */
	ck_assert_int_eq(irqfd_deassign(vm.vm_fd, efd, g2), 0);
	ck_assert_int_eq(irqfd_assign(vm.vm_fd, efd, X86_COM1_IRQ), 0); /* an IOAPIC pin */
	ck_assert_int_eq(irqfd_deassign(vm.vm_fd, efd, X86_COM1_IRQ), 0);

	struct ioeventfd mmio = {
		.addr = 0xc0001000, .len = 2, .mmio = true, .datamatch = true, .data = 3, .fd = efd
	};
	struct ioeventfd pio = { .addr = 0x5000, .len = 2, .mmio = false, .fd = efd };
	ck_assert_int_eq(ioeventfd_assign(vm.vm_fd, &mmio), 0);
	ck_assert_int_eq(ioeventfd_assign(vm.vm_fd, &mmio), -1); /* duplicate */
	ck_assert_int_eq(ioeventfd_assign(vm.vm_fd, &pio), 0);
	ck_assert_int_eq(ioeventfd_deassign(vm.vm_fd, &mmio), 0);
	ck_assert_int_eq(ioeventfd_deassign(vm.vm_fd, &mmio), -1);
	ck_assert_int_eq(ioeventfd_deassign(vm.vm_fd, &pio), 0);
	ck_assert_int_eq(irq_line(vm.vm_fd, X86_COM1_IRQ, 1), 0);
	ck_assert_int_eq(irq_line(vm.vm_fd, X86_COM1_IRQ, 0), 0);
	close(efd);
}
END_TEST

START_TEST(debug_exit_status)
{
	static const uint8_t code[] = {
		0xb0, 42,   /* mov al, 42 */
		0xe6, 0xf4, /* out 0xf4, al */
		0xeb, 0xfe, /* jmp $ */
	};
	struct console con;
	struct console_frontend fe;
	create(1, 16 << 20);
	ck_assert_int_eq(console_init(&con, -1, -1), 0);
	ck_assert_int_eq(arch_platform_init(
				 &vm,
				 &(struct console_backend){ console_output, console_wakeup, &con },
				 &fe),
			 0);
	load_code(code, sizeof(code));
	ck_assert_int_eq(run_until_stop(), 42);
	ck_assert_uint_eq(exits(KVM_EXIT_IO), 1);
	console_destroy(&con);
}
END_TEST

/* The platform devices of a one-vCPU VM, console output into a pipe. */
struct platform {
	struct console con;
	struct console_frontend fe;
	int out[2]; /* the console's pipe: read end, write end */
};

/* Creates the VM with the platform devices, console output into a pipe,
 * and loads code. */
static void platform_setup(struct platform *pf, const uint8_t *code, size_t len)
{
	ck_assert_int_eq(pipe(pf->out), 0);
	create(1, 16 << 20);
	ck_assert_int_eq(console_init(&pf->con, -1, pf->out[1]), 0);
	struct console_backend be = { console_output, console_wakeup, &pf->con };
	ck_assert_int_eq(arch_platform_init(&vm, &be, &pf->fe), 0);
	load_code(code, len);
}

/* Once the vCPUs have stopped: what the guest printed into out, and the
 * console and its pipe closed. */
static void platform_output(struct platform *pf, char *out, size_t outlen)
{
	close(pf->out[1]);
	ssize_t n = read(pf->out[0], out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(pf->out[0]);
	console_destroy(&pf->con);
}

/* Runs code with the platform devices until the VM stops; returns the exit
 * status and what the guest printed in out. */
static int run_platform(const uint8_t *code, size_t len, char *out, size_t outlen)
{
	struct platform pf;
	platform_setup(&pf, code, len);
	int st = run_until_stop();
	platform_output(&pf, out, outlen);
	return st;
}

/* "OK" on COM1, then power-off (S5).  From SERIAL_OK_NO_IER on, the code
 * leaves every UART interrupt off (as at reset); the whole of it enables
 * the receive-data interrupt first. */
static const uint8_t serial_ok_code[] = {
	0xba, 0xf9, 0x03, /* mov dx, 0x3f9 (IER) */
	0xb0, 0x01, 0xee, /* mov al, RDI; out dx, al */
	0xba, 0xf8, 0x03, /* SERIAL_OK_NO_IER: mov dx, 0x3f8 */
	0xb0, 'O',  0xee, /* mov al, 'O'; out dx, al */
	0xb0, 'K',  0xee, /* mov al, 'K'; out dx, al */
	0xba, 0x00, 0x06, /* mov dx, 0x600 (sleep control) */
	0xb0, 0x34, 0xee, /* SLP_EN | SLP_TYP 5: S5 */
	0xeb, 0xfe,
};
#define SERIAL_OK_NO_IER 6

START_TEST(serial_output_and_poweroff)
{
	char out[64];
	ck_assert_int_eq(run_platform(serial_ok_code + SERIAL_OK_NO_IER,
				      sizeof(serial_ok_code) - SERIAL_OK_NO_IER, out, sizeof(out)),
			 0);
	ck_assert_str_eq(out, "OK");
	/* With every UART interrupt off (as at reset) KVM queues the THR
	 * writes where it can, and they are printed at the next exit (the
	 * power-off), in order: one exit instead of three. */
	if (coalesced_pio()) {
		ck_assert_uint_eq(exits(KVM_EXIT_IO), 1);
		ck_assert_uint_eq(vm.coalesced.delivered, 2);
	} else {
		ck_assert_uint_eq(exits(KVM_EXIT_IO), 3);
	}
}
END_TEST

/* With an interrupt enabled a THR write must reach the UART at once (it
 * raises THR-empty): no coalescing, an exit per write. */
START_TEST(serial_interrupts_on_no_coalescing)
{
	char out[64];
	ck_assert_int_eq(run_platform(serial_ok_code, sizeof(serial_ok_code), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "OK");
	ck_assert_uint_eq(exits(KVM_EXIT_IO), 4);
	ck_assert_uint_eq(vm.coalesced.delivered, 0);
}
END_TEST

/* Output still queued when the VM is stopped from outside (the guest
 * spins, no exit follows its writes) is printed by the stop. */
START_TEST(coalesced_output_delivered_at_stop)
{
	static const uint8_t code[] = {
		0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
		0xb0, 'O',  0xee, /* mov al, 'O'; out dx, al */
		0xb0, 'K',  0xee, /* mov al, 'K'; out dx, al */
		0xeb, 0xfe,	  /* jmp $ */
	};
	struct platform pf;
	char out[8];
	platform_setup(&pf, code, sizeof(code));
	if (!coalesced_pio()) {
		platform_output(&pf, out, sizeof(out));
		return;
	}
	ck_assert_int_eq(vm_start(&vm), 0);
	usleep(200 * 1000);
	ck_assert_uint_eq(exits(KVM_EXIT_IO), 0);
	vm_stop(&vm, 0);
	vm_join_vcpus(&vm);
	platform_output(&pf, out, sizeof(out));
	ck_assert_str_eq(out, "OK");
	ck_assert_uint_eq(vm.coalesced.delivered, 2);
}
END_TEST

START_TEST(acpi_reset)
{
	static const uint8_t code[] = {
		0xba, 0x00, 0x06, /* mov dx, 0x600 */
		0xb0, 0x14, 0xee, /* S5 type without SLP_EN: ignored */
		0xba, 0x02, 0x06, /* mov dx, 0x602 (reset register) */
		0xb0, 0x07, 0xee, /* a wrong value: ignored */
		0xb0, 0x01, 0xee, /* the reset value */
		0xeb, 0xfe,
	};
	char out[8];
	ck_assert_int_eq(run_platform(code, sizeof(code), out, sizeof(out)), 0);
	ck_assert_uint_eq(exits(KVM_EXIT_IO), 3);
}
END_TEST

START_TEST(bios_reboot_vector)
{
	/* Linux's "BIOS" reboot: a far jump to F000:FFF0 in real mode. */
	static const uint8_t code[] = { 0xea, 0xf0, 0xff, 0x00, 0xf0 };
	struct console con;
	struct console_frontend fe;
	create(1, 16 << 20);
	ck_assert_int_eq(console_init(&con, -1, -1), 0);
	ck_assert_int_eq(arch_platform_init(
				 &vm,
				 &(struct console_backend){ console_output, console_wakeup, &con },
				 &fe),
			 0);
	ck_assert_int_eq(x86_write_reset_stub(&vm.mem, X86_ACPI_PM_PORT + 2, 1), 0);
	load_code(code, sizeof(code));
	ck_assert_int_eq(run_until_stop(), 0);
	ck_assert_uint_eq(exits(KVM_EXIT_IO), 1);
	console_destroy(&con);
}
END_TEST

struct mmio_dev {
	uint32_t written;
	uint64_t write_off;
};

static void mdev_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	(void)opaque;
	uint32_t v = 0x11223344 + (uint32_t)off;
	memcpy(data, &v, len < 4 ? len : 4);
}

static void mdev_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct mmio_dev *d = opaque;
	d->write_off = off;
	memcpy(&d->written, data, len < 4 ? len : 4);
}

START_TEST(mmio_dispatch)
{
	static const struct bus_ops ops = { mdev_read, mdev_write };
	static const uint8_t code[] = {
		0x67, 0x66, 0xa1, 0x00, 0x00, 0x00, 0xd0, /* mov eax, [0xd0000000] */
		0x66, 0x40,				  /* inc eax */
		0x67, 0x66, 0xa3, 0x08, 0x00, 0x00, 0xd0, /* mov [0xd0000008], eax */
		0x67, 0x66, 0xa1, 0x00, 0x10, 0x00, 0xd0, /* unmapped: reads ones */
		0xe6, 0xf4,				  /* out 0xf4, al */
		0xeb, 0xfe,
	};
	struct mmio_dev d = { 0 };
	struct console con;
	struct console_frontend fe;
	create(1, 16 << 20);
	ck_assert_int_eq(console_init(&con, -1, -1), 0);
	ck_assert_int_eq(arch_platform_init(
				 &vm,
				 &(struct console_backend){ console_output, console_wakeup, &con },
				 &fe),
			 0);
	ck_assert_int_eq(bus_register(&vm.mmio, 0xd0000000, 0x100, &ops, &d), 0);
	load_code(code, sizeof(code));
	/* The open bus read 0xffffffff, so the guest wrote 0xff to the
	 * debug-exit port: a value of vmm's own range, passed on as 102. */
	ck_assert_int_eq(run_until_stop(), VM_EXIT_DEBUG_OTHER);
	ck_assert_ptr_nonnull(strstr(vm.fail_msg, "wrote 255 to the debug-exit device"));
	ck_assert_uint_eq(d.written, 0x11223345);
	ck_assert_uint_eq(d.write_off, 8);
	ck_assert_uint_eq(exits(KVM_EXIT_MMIO), 3);
	console_destroy(&con);
}
END_TEST

START_TEST(stop_spinning_vcpus)
{
	static const uint8_t code[] = { 0xeb, 0xfe }; /* jmp $ forever */
	create(2, 16 << 20);
	load_code(code, sizeof(code));
	ck_assert_int_eq(vm_start(&vm), 0);
	usleep(100 * 1000);
	vm_stop(&vm, 7);
	vm_stop(&vm, 9); /* the first status wins */
	vm_join_vcpus(&vm);
	ck_assert_int_eq(vm.exit_status, 7);
	ck_assert_uint_eq(exits(KVM_EXIT_IO), 0);
	/* The stats printer lists what was counted and a total. */
	char buf[1024];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	vm_print_stats(&vm, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "total"));
}
END_TEST

START_TEST(vm_fail_message)
{
	create(1, 16 << 20);
	vm_fail(&vm, "vCPU %u: boom", 3);
	vm_fail(&vm, "second");
	ck_assert_int_eq(vm.exit_status, 1);
	ck_assert_str_eq(vm.fail_msg, "vCPU 3: boom");
	uint64_t v;
	ck_assert_int_eq(read(vm.stop_fd, &v, sizeof(v)), sizeof(v));
}
END_TEST

START_TEST(cpuid_per_vcpu)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(kvm, 0);
	struct kvm_cpuid2 *base = x86_supported_cpuid(kvm);
	ck_assert_ptr_nonnull(base);
	bool tsc_deadline = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (unsigned int id = 0; id < 4; id++) {
		struct kvm_cpuid2 *c = x86_cpuid_for_vcpu(base, id, 4);
		ck_assert_ptr_nonnull(c);
		bool seen1 = false;
		for (unsigned int i = 0; i < c->nent; i++) {
			struct kvm_cpuid_entry2 *e = &c->entries[i];
			if (e->function == 1) {
				seen1 = true;
				ck_assert_uint_eq(e->ebx >> 24, id);
				ck_assert_uint_eq((e->ebx >> 16) & 0xff, 4);
				ck_assert(e->ecx & (1u << 31));
				ck_assert(e->edx & (1u << 28));
				/* TSC-deadline timer exactly when KVM has it. */
				ck_assert_int_eq(!!(e->ecx & (1u << 24)), tsc_deadline);
			}
			if (e->function == 0xb)
				ck_assert_uint_eq(e->edx, id);
			if (e->function == 0xb && e->index == 1)
				ck_assert_uint_eq(e->ebx, 4);
		}
		ck_assert(seen1);
		free(c);
	}
	ck_assert_uint_ge(x86_phys_bits(base), 32);
	free(base);
	close(kvm);
}
END_TEST

/* Issue 9 item 8: Linux's reboot=pci (0xCF9: 0x02, then 0x06) reboots with
 * status 0 instead of falling through to a triple fault. */
START_TEST(cf9_reboot)
{
	static const uint8_t code[] = {
		0xba, 0xf9, 0x0c, /* mov dx, 0xcf9 */
		0xb0, 0x02, 0xee, /* SYS_RST alone: nothing */
		0xb0, 0x06, 0xee, /* with RST_CPU: reset */
		0xeb, 0xfe,
	};
	char out[8];
	ck_assert_int_eq(run_platform(code, sizeof(code), out, sizeof(out)), 0);
	ck_assert_uint_eq(exits(KVM_EXIT_IO), 2);
	ck_assert_str_eq(vm.fail_msg, "");
}
END_TEST

/* Issue 9 item 8: a triple fault is a crash, not a reboot. */
START_TEST(triple_fault_is_a_crash)
{
	static const uint8_t code[] = {
		0x0f, 0x01, 0x1e, 0x00, 0x11, /* lidt [0x1100]: limit 0 */
		0xcc,			      /* int3: #GP, #DF, shutdown */
		0xeb, 0xfe,
	};
	char out[8];
	/* Code at 0x1000, the IDT descriptor (all zero) at 0x1100. */
	uint8_t img[0x100 + 6] = { 0 };
	memcpy(img, code, sizeof(code));
	ck_assert_int_eq(run_platform(img, sizeof(img), out, sizeof(out)), VM_EXIT_GUEST_CRASH);
	ck_assert_ptr_nonnull(strstr(vm.fail_msg, "triple fault"));
	ck_assert_uint_eq(exits(KVM_EXIT_SHUTDOWN), 1);
}
END_TEST

/* Issue 9 item 8: the pvpanic device in slot 31 ends the VM with the panic
 * status when the guest writes PANICKED; CRASH_LOADED alone does not. */
START_TEST(pvpanic_ends_with_panic_status)
{
	uint8_t code[64];
	size_t n = 0;
	struct console con;
	struct console_frontend fe;

	create(1, 16 << 20);
	ck_assert_int_eq(console_init(&con, -1, -1), 0);
	ck_assert_int_eq(arch_platform_init(
				 &vm,
				 &(struct console_backend){ console_output, console_wakeup, &con },
				 &fe),
			 0);
	struct pci_function *f = arch_pci_bus(&vm)->slots[X86_PVPANIC_SLOT];
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(pci_cfg_get32(f, PCI_VENDOR_ID), 0x00111b36);
	uint32_t bar = pci_cfg_get32(f, PCI_BAR0) & ~0xfu;
	uint32_t cf8 = PCI_CONFIG_ENABLE | X86_PVPANIC_SLOT << 11 | PCI_COMMAND;
#define EMIT(...)                                     \
	do {                                          \
		const uint8_t b_[] = { __VA_ARGS__ }; \
		memcpy(code + n, b_, sizeof(b_));     \
		n += sizeof(b_);                      \
	} while (0)
#define IMM32(v) (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24)
	EMIT(0x66, 0xb8, IMM32(cf8));	    /* mov eax, CONFIG_ADDRESS */
	EMIT(0xba, 0xf8, 0x0c, 0x66, 0xef); /* mov dx, 0xcf8; out dx, eax */
	EMIT(0xba, 0xfc, 0x0c);		    /* mov dx, 0xcfc */
	EMIT(0xb8, 0x02, 0x00, 0xef);	    /* mov ax, MEMORY; out dx, ax */
	EMIT(0x66, 0xb8, IMM32(bar));	    /* mov eax, BAR 0 */
	EMIT(0x67, 0x8a, 0x18);		    /* mov bl, [eax]: supported events */
	EMIT(0x67, 0xc6, 0x00, 0x02);	    /* mov byte [eax], CRASH_LOADED */
	EMIT(0x67, 0xc6, 0x00, 0x01);	    /* mov byte [eax], PANICKED */
	EMIT(0xeb, 0xfe);
#undef EMIT
#undef IMM32
	load_code(code, n);
	ck_assert_int_eq(run_until_stop(), VM_EXIT_GUEST_PANIC);
	ck_assert_str_eq(vm.fail_msg, "the guest kernel panicked (pvpanic)");
	/* The read, CRASH_LOADED (ignored) and PANICKED: three MMIO exits. */
	ck_assert_uint_eq(exits(KVM_EXIT_MMIO), 3);
	console_destroy(&con);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = {
		.name = "vm", .tcase = "kvm", .teardown = teardown, .timeout = 60
	};
	const TTest *tests[] = { create_and_destroy,
				 memory_above_hole,
				 too_many_cpus,
				 msi_routes_and_fds,
				 debug_exit_status,
				 serial_output_and_poweroff,
				 serial_interrupts_on_no_coalescing,
				 coalesced_output_delivered_at_stop,
				 acpi_reset,
				 bios_reboot_vector,
				 mmio_dispatch,
				 stop_spinning_vcpus,
				 vm_fail_message,
				 cpuid_per_vcpu,
				 triple_fault_is_a_crash,
				 cf9_reboot,
				 pvpanic_ends_with_panic_status,
				 NULL };

	return unit_main(&u, tests);
}
