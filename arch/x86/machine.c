/*
 * The x86 machine: memory banks around the 32-bit hole, in-kernel IOAPIC,
 * 8259s and PIT with their GSI routes, the platform devices (COM1, ACPI
 * power management, debug exit), the PCI host bridge with its windows and
 * ECAM, the pvpanic device, and the boot sequence.  Implements
 * vmm/arch.h.
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
#include "devices/debug_exit.h"
#include "devices/pci.h"
#include "devices/pvpanic.h"
#include "devices/serial.h"

struct x86_machine {
	struct kvm_cpuid2 *cpuid;
	struct x86_boot_entry entry;
	struct serial com1;
	bool com1_ready;
	struct vm_irq_pin com1_irq;
	struct acpi_pm pm;
	struct debug_exit dbg;
	struct pci_bus pci;
	bool pci_ready;
	struct pvpanic pvpanic;
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

static void on_pvpanic(void *opaque, uint8_t events)
{
	/* CRASH_LOADED alone: the guest boots its kdump kernel and keeps
	 * running, so there is nothing to stop. */
	if (events & PVPANIC_PANICKED)
		vm_stop_msg(opaque, VM_EXIT_GUEST_PANIC, "the guest kernel panicked (pvpanic)");
}

static void on_debug_exit(void *opaque, uint8_t value)
{
	vm_stop_debug_exit(opaque, value);
}

static size_t com1_rx(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

/* The host bridge: BARs from the 32-bit window in the hole and from the
 * 64-bit window above RAM, configuration through 0xCF8 and ECAM. */
static int pci_init(struct vm *vm, struct x86_machine *m)
{
	const struct ram_bank *last = &vm->banks[vm->nbanks - 1];
	uint64_t mem64 = x86_pci_mmio64_start(last->gpa + last->size);

	m->acpi_pci = (struct acpi_pci){
		.ecam_base = X86_PCI_ECAM_START,
		.ecam_buses = (unsigned int)(X86_PCI_ECAM_SIZE / PCI_ECAM_BUS_SIZE),
		.cfg_port = PCI_PIO_BASE,
		.cfg_port_len = PCI_PIO_LEN,
		.mem32_base = X86_PCI_MMIO32_START,
		.mem32_size = X86_PCI_MMIO32_SIZE,
		.mem64_base = mem64,
		.mem64_size = X86_PCI_MMIO64_SIZE,
	};
	if (pci_bus_init(&m->pci, &vm->mmio, X86_PCI_MMIO32_START, X86_PCI_MMIO32_SIZE, mem64,
			 X86_PCI_MMIO64_SIZE))
		return -1;
	m->pci_ready = true;
	/* Reboot through 0xCF9 (reboot=pci) is a reboot like the others. */
	m->pci.reset = on_cf9_reset;
	m->pci.reset_opaque = vm;
	if (pci_bus_register_pio(&m->pci, &vm->pio) ||
	    pci_bus_register_ecam(&m->pci, &vm->mmio, X86_PCI_ECAM_START, X86_PCI_ECAM_SIZE))
		return -1;
	/* A guest kernel panic ends the VM with its own status. */
	if (pvpanic_init(&m->pvpanic, on_pvpanic, vm) ||
	    pci_bus_plug(&m->pci, &m->pvpanic.pci, X86_PVPANIC_SLOT))
		return -1;
	return 0;
}

int arch_platform_init(struct vm *vm, const struct console_backend *con,
		       struct console_frontend *fe)
{
	struct x86_machine *m = machine(vm);

	m->com1_irq = (struct vm_irq_pin){ .vm = vm, .gsi = X86_COM1_IRQ };
	struct serial_backend be = {
		.tx = con->output,
		.tx_opaque = con->opaque,
		.set_irq = vm_irq_pin_set,
		.irq_opaque = &m->com1_irq,
		.rx_ready = con->wakeup,
		.rx_opaque = con->opaque,
	};
	serial_init(&m->com1, &be);
	m->com1_ready = true;
	m->pm = (struct acpi_pm){ .event = on_pm, .opaque = vm };
	m->dbg = (struct debug_exit){ .exit = on_debug_exit, .opaque = vm };
	if (bus_register(&vm->pio, X86_COM1_PORT, SERIAL_NR_REGS, &serial_ops, &m->com1) ||
	    bus_register(&vm->pio, X86_ACPI_PM_PORT, ACPI_PM_NR_PORTS, &acpi_pm_ops, &m->pm) ||
	    bus_register(&vm->pio, X86_DEBUG_EXIT_PORT, DEBUG_EXIT_NR_PORTS, &debug_exit_ops,
			 &m->dbg))
		return -1;
	*fe = (struct console_frontend){ .rx = com1_rx, .opaque = &m->com1 };
	return pci_init(vm, m);
}

struct pci_bus *arch_pci_bus(struct vm *vm)
{
	struct x86_machine *m = machine(vm);
	return m && m->pci_ready ? &m->pci : NULL;
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
	if (m->pci_ready)
		pci_bus_destroy(&m->pci);
	if (m->com1_ready)
		serial_destroy(&m->com1);
	free(m->cpuid);
	free(m);
	vm->arch = NULL;
}
