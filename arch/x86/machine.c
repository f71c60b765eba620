/*
 * The x86 machine: memory banks around the 32-bit hole, in-kernel IOAPIC,
 * 8259s and PIT with their GSI routes, the platform devices (COM1 and debug
 * exit on ports, wired by devices/board.h as on arm64; ACPI power
 * management), the PCI host bridge with its windows, 0xCF8 and ECAM, the
 * pvpanic device, and the boot sequence.  Implements core/arch.h.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "core/arch.h"
#include "core/console_io.h"
#include "core/err.h"
#include "core/util.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/acpi_pm.h"
#include "devices/board.h"

struct x86_machine {
	struct kvm_cpuid2 *cpuid;
	struct x86_boot_entry entry;
	struct board board; /* COM1, debug exit, PCI bus, pvpanic */
	struct acpi_pm pm;
	struct acpi_pci acpi_pci;
};

static struct x86_machine *machine(struct vm *vm)
{
	return vm->arch;
}

int arch_check_kvm(int kvm_fd)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return err_set("/dev/kvm: missing capability %s", caps[i].name);
	return 0;
}

int arch_ram_banks(uint64_t size, struct ram_bank *banks, unsigned int max)
{
	if (max < 2)
		return err_set("no room for the RAM banks");
	if (size < 2 * X86_HIMEM_START)
		return err_set("--memory must be at least 2 MiB");
	if (size <= X86_MMIO_HOLE_START) {
		banks[0] = (struct ram_bank){ 0, size };
		return 1;
	}
	banks[0] = (struct ram_bank){ 0, X86_MMIO_HOLE_START };
	banks[1] = (struct ram_bank){ X86_HIGH_RAM_START, size - X86_MMIO_HOLE_START };
	return 2;
}

uint64_t arch_max_ram_top(struct vm *vm)
{
	struct x86_machine *m = machine(vm);
	unsigned int bits = m && m->cpuid ? x86_phys_bits(m->cpuid) : 36;
	uint64_t limit = bits >= 64 ? UINT64_MAX : 1ULL << bits;
	/* Leave the 64-bit PCI window above RAM inside the address space. */
	if (limit < X86_PCI_MMIO64_SIZE + X86_PCI_MMIO64_ALIGN)
		return 0;
	return limit - X86_PCI_MMIO64_SIZE - X86_PCI_MMIO64_ALIGN;
}

/* The GSI routes of a PC with KVM's irqchips, as QEMU sets them: ISA IRQ n
 * is 8259 pin n and IOAPIC pin n, except that IRQ 0 (the PIT) is IOAPIC pin
 * 2 (the MADT says so); pins 16-23 are IOAPIC only. */
static int default_routes(struct irq_routing *r)
{
	for (uint32_t gsi = 0; gsi < X86_IOAPIC_PINS; gsi++) {
		if (gsi < 16 && gsi != 2 &&
		    irq_route_irqchip(r, gsi,
				      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				      gsi % 8))
			return -1;
		if (gsi != 2 && irq_route_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi))
			return -1;
	}
	return irq_routing_commit(r);
}

int arch_vm_init(struct vm *vm)
{
	struct x86_machine *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return err_set("out of memory");
	vm->arch = m;
	m->cpuid = x86_supported_cpuid(vm->kvm_fd);
	if (m->cpuid == NULL)
		return -1;

	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ X86_KVM_IDENTITY_MAP }) < 0)
		return err_errno("KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_KVM_TSS) < 0)
		return err_errno("KVM_SET_TSS_ADDR");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_errno("KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_errno("KVM_CREATE_PIT2");
	if (irq_routing_init(&vm->irq, vm->vm_fd, X86_FIRST_MSI_GSI))
		return -1;
	return default_routes(&vm->irq);
}

static void on_pm(void *opaque, enum acpi_pm_event ev)
{
	(void)ev;
	/* Power-off and reboot both end the VMM successfully. */
	vm_stop(opaque, 0);
}

static void on_cf9_reset(void *opaque)
{
	vm_stop(opaque, 0);
}

/* The host bridge: BARs from the 32-bit window in the hole and from the
 * 64-bit window above RAM, configuration through 0xCF8 and ECAM. */
static int pci_init(struct vm *vm, struct x86_machine *m)
{
	const struct ram_bank *last = &vm->banks[vm->nbanks - 1];
	uint64_t mem64 = x86_pci_mmio64_start(last->gpa + last->size);

	m->acpi_pci = (struct acpi_pci){
		.ecam_base = X86_PCI_ECAM_START,
		.ecam_buses = PCI_NUM_BUSES,
		.cfg_port = PCI_PIO_BASE,
		.cfg_port_len = PCI_PIO_LEN,
		.io_base = X86_PCI_IO_START,
		.io_size = X86_PCI_IO_SIZE,
		.mem32_base = X86_PCI_MMIO32_START,
		.mem32_size = X86_PCI_MMIO32_SIZE,
		.mem64_base = mem64,
		.mem64_size = X86_PCI_MMIO64_SIZE,
	};
	if (board_pci_init(&m->board, vm, X86_PCI_MMIO32_START, X86_PCI_MMIO32_SIZE, mem64,
			   X86_PCI_MMIO64_SIZE, X86_PCI_ECAM_START, X86_PCI_ECAM_SIZE))
		return -1;
	/* Reboot through 0xCF9 (reboot=pci) is a reboot like the others. */
	m->board.pci.reset = on_cf9_reset;
	m->board.pci.reset_opaque = vm;
	if (pci_bus_set_io_window(&m->board.pci, &vm->pio, X86_PCI_IO_START, X86_PCI_IO_SIZE) ||
	    pci_bus_register_pio(&m->board.pci, &vm->pio))
		return -1;
	/* A guest kernel panic ends the VM with its own status. */
	return board_pvpanic_init(&m->board, vm, X86_PVPANIC_SLOT);
}

int arch_platform_init(struct vm *vm, const struct console_backend *con,
		       struct console_frontend *fe)
{
	struct x86_machine *m = machine(vm);

	m->pm = (struct acpi_pm){ .event = on_pm, .opaque = vm };
	if (board_uart_init(&m->board, vm, &vm->pio, X86_COM1_PORT, X86_COM1_IRQ, con, fe) ||
	    bus_register(&vm->pio, X86_ACPI_PM_PORT, ACPI_PM_NR_PORTS, &acpi_pm_ops, &m->pm) ||
	    board_debug_exit_init(&m->board, vm, &vm->pio, X86_DEBUG_EXIT_PORT))
		return -1;
	return pci_init(vm, m);
}

struct pci_bus *arch_pci_bus(struct vm *vm)
{
	struct x86_machine *m = machine(vm);
	return m ? board_pci_bus(&m->board) : NULL;
}

int arch_boot_load(struct vm *vm, const struct boot_config *boot)
{
	struct x86_machine *m = machine(vm);
	struct acpi_config acpi = {
		.ncpus = vm->ncpus,
		.lapic_addr = X86_LAPIC_ADDR,
		.ioapic_addr = X86_IOAPIC_ADDR,
		.pm_port = X86_ACPI_PM_PORT,
		.com1_port = X86_COM1_PORT,
		.com1_irq = X86_COM1_IRQ,
		.debug_exit_port = X86_DEBUG_EXIT_PORT,
		.dsdt_sb = acpi_pci_dsdt,
		.dsdt_opaque = &m->acpi_pci,
	};
	uint8_t mcfg[ACPI_MCFG_SIZE];
	uint8_t *tables = guest_mem_ptr(&vm->mem, X86_ACPI_ADDR, X86_ACPI_SIZE);
	uint64_t rsdp;
	size_t used;

	if (tables == NULL)
		return err_set("no guest RAM for the ACPI tables");
	acpi_mcfg_build(mcfg, &m->acpi_pci);
	acpi.tables[acpi.ntables++] = (struct acpi_table){ mcfg, sizeof(mcfg) };
	if (acpi_build(&acpi, tables, X86_ACPI_SIZE, X86_ACPI_ADDR, &rsdp, &used))
		return -1;
	if (x86_write_boot_tables(&vm->mem) ||
	    x86_write_reset_stub(&vm->mem, X86_ACPI_PM_PORT + ACPI_PM_RESET, ACPI_PM_RESET_VALUE))
		return -1;
	return x86_boot_load(&vm->mem, vm->banks, vm->nbanks, boot->kernel, boot->initrd,
			     boot->cmdline, rsdp, &m->entry);
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	struct x86_machine *m = machine(vm);
	return x86_vcpu_setup(vcpu->fd, vcpu->id, vm->ncpus, m->cpuid, &m->entry);
}

void arch_vm_destroy(struct vm *vm)
{
	struct x86_machine *m = machine(vm);
	if (m == NULL)
		return;
	board_destroy(&m->board);
	free(m->cpuid);
	free(m);
	vm->arch = NULL;
}
