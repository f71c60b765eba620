/*
 * The arm64 machine: one RAM bank at 1 GiB, the in-kernel GICv3 + ITS and
 * architected timer, the platform devices on MMIO (the 16550 console UART
 * as ns16550a, debug exit), the ECAM PCI host bridge whose MSI-X routes
 * carry the requester ID for the ITS, and the boot sequence: vCPU init,
 * GIC init, kernel + initrd, device tree.  Implements core/arch.h.
 */
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "arch/arm64/boot.h"
#include "arch/arm64/cpu.h"
#include "arch/arm64/fdt.h"
#include "arch/arm64/gic.h"
#include "arch/arm64/layout.h"
#include "core/arch.h"
#include "core/console_io.h"
#include "core/err.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/debug_exit.h"
#include "devices/pci.h"
#include "devices/serial.h"

struct arm64_machine {
	struct arm64_gic gic;
	struct arm64_boot_layout boot;
	struct serial uart;
	bool uart_ready;
	struct vm_irq_pin uart_irq;
	struct debug_exit dbg;
	struct pci_bus pci;
	bool pci_ready;
};

static struct arm64_machine *machine(struct vm *vm)
{
	return vm->arch;
}

int arch_check_kvm(int kvm_fd)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2" },
		{ KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG" },
		{ KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL" },
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return err_set("/dev/kvm: missing capability %s", caps[i].name);
	return 0;
}

int arch_ram_banks(uint64_t size, struct ram_bank *banks, unsigned int max)
{
	if (max < 1)
		return err_set("no room for the RAM banks");
	if (size < ARM64_RAM_MIN)
		return err_set("--memory must be at least %llu MiB on arm64",
			       (unsigned long long)(ARM64_RAM_MIN >> 20));
	banks[0] = (struct ram_bank){ ARM64_RAM_START, size };
	return 1;
}

uint64_t arch_max_ram_top(struct vm *vm)
{
	(void)vm;
	/* The VM's default 40-bit IPA space holds RAM up to the 64-bit PCI
	 * window and the window itself. */
	return ARM64_PCI_MMIO64_START;
}

int arch_vm_init(struct vm *vm)
{
	struct arm64_machine *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return err_set("out of memory");
	m->gic.gic_fd = m->gic.its_fd = -1;
	vm->arch = m;
	if (arm64_gic_create(&m->gic, vm->vm_fd))
		return -1;
	if (irq_routing_init(&vm->irq, vm->vm_fd, ARM64_FIRST_MSI_GSI))
		return -1;
	/* The ITS tells devices apart by the requester ID in each route. */
	vm->irq.msi_devid = true;
	return 0;
}

static void on_debug_exit(void *opaque, uint8_t value)
{
	vm_stop_debug_exit(opaque, value);
}

static size_t uart_rx(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

static int pci_init(struct vm *vm, struct arm64_machine *m)
{
	if (pci_bus_init(&m->pci, &vm->mmio, ARM64_PCI_MMIO32_START, ARM64_PCI_MMIO32_SIZE,
			 ARM64_PCI_MMIO64_START, ARM64_PCI_MMIO64_SIZE))
		return -1;
	m->pci_ready = true;
	return pci_bus_register_ecam(&m->pci, &vm->mmio, ARM64_PCI_ECAM_START, ARM64_PCI_ECAM_SIZE);
}

int arch_platform_init(struct vm *vm, const struct console_backend *con,
		       struct console_frontend *fe)
{
	struct arm64_machine *m = machine(vm);

	m->uart_irq = (struct vm_irq_pin){ .vm = vm, .gsi = arm64_gic_spi_line(ARM64_UART_SPI) };
	struct serial_backend be = {
		.tx = con->output,
		.tx_opaque = con->opaque,
		.set_irq = vm_irq_pin_set,
		.irq_opaque = &m->uart_irq,
		.rx_ready = con->wakeup,
		.rx_opaque = con->opaque,
	};
	serial_init(&m->uart, &be);
	m->uart_ready = true;
	m->dbg = (struct debug_exit){ .exit = on_debug_exit, .opaque = vm };
	if (bus_register(&vm->mmio, ARM64_UART_BASE, SERIAL_NR_REGS, &serial_ops, &m->uart) ||
	    bus_register(&vm->mmio, ARM64_DEBUG_EXIT_BASE, DEBUG_EXIT_NR_PORTS, &debug_exit_ops,
			 &m->dbg))
		return -1;
	*fe = (struct console_frontend){ .rx = uart_rx, .opaque = &m->uart };
	return pci_init(vm, m);
}

struct pci_bus *arch_pci_bus(struct vm *vm)
{
	struct arm64_machine *m = machine(vm);
	return m && m->pci_ready ? &m->pci : NULL;
}

int arch_boot_load(struct vm *vm, const struct boot_config *cfg)
{
	struct arm64_machine *m = machine(vm);
	uint64_t *mpidr;
	int ret = -1;

	if (vm->ncpus > ARM64_MAX_CPUS)
		return err_set("--cpus %u: the GIC redistributor region holds at most %llu",
			       vm->ncpus, (unsigned long long)ARM64_MAX_CPUS);
	mpidr = calloc(vm->ncpus, sizeof(*mpidr));
	if (mpidr == NULL)
		return err_set("out of memory");
	/* Every vCPU is initialised before the GIC (KVM's order), and the
	 * device tree names each by the MPIDR KVM gave it. */
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (arm64_vcpu_init(vm->vm_fd, v->fd, i == 0) ||
		    arm64_vcpu_mpidr(v->fd, &mpidr[i])) {
			err_prefix("vCPU %u", i);
			goto out;
		}
	}
	if (arm64_gic_init(&m->gic))
		goto out;
	if (arm64_boot_load(&vm->mem, ARM64_RAM_START, vm->ram_size, cfg->kernel, cfg->initrd,
			    &m->boot))
		goto out;
	void *fdt = guest_mem_ptr(&vm->mem, m->boot.fdt, ARM64_FDT_MAX_SIZE);
	if (fdt == NULL) {
		err_set("no guest RAM for the device tree at 0x%llx",
			(unsigned long long)m->boot.fdt);
		goto out;
	}
	struct arm64_fdt_config fc = {
		.ncpus = vm->ncpus,
		.mpidr = mpidr,
		.ram_base = ARM64_RAM_START,
		.ram_size = vm->ram_size,
		.cmdline = cfg->cmdline,
		.initrd_start = m->boot.initrd,
		.initrd_size = m->boot.initrd_size,
		.pci_buses = (unsigned int)(ARM64_PCI_ECAM_SIZE / PCI_ECAM_BUS_SIZE),
	};
	ret = arm64_fdt_build(fdt, ARM64_FDT_MAX_SIZE, &fc);
out:
	free(mpidr);
	return ret;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	struct arm64_machine *m = machine(vm);

	/* Secondaries wait powered off until the guest's PSCI CPU_ON, which
	 * KVM serves and which sets their entry point itself. */
	if (vcpu->id != 0)
		return 0;
	return arm64_vcpu_set_entry(vcpu->fd, m->boot.kernel, m->boot.fdt);
}

void arch_vm_destroy(struct vm *vm)
{
	struct arm64_machine *m = machine(vm);
	if (m == NULL)
		return;
	if (m->pci_ready)
		pci_bus_destroy(&m->pci);
	if (m->uart_ready)
		serial_destroy(&m->uart);
	arm64_gic_destroy(&m->gic);
	free(m);
	vm->arch = NULL;
}
