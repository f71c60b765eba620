/* The devices both machines carry (see board.h). */
#include "devices/board.h"

#include "core/err.h"

static size_t uart_rx(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

int board_uart_init(struct board *b, struct vm *vm, struct bus *bus, uint64_t base, uint32_t gsi,
		    const struct console_backend *con, struct console_frontend *fe)
{
	b->uart_irq = (struct vm_irq_pin){ .vm = vm, .gsi = gsi };
	b->uart_thr = (struct vm_coalesced_zone){
		.vm = vm, .pio = bus == &vm->pio, .addr = base + UART_THR, .size = 1
	};
	struct serial_backend be = {
		.tx = con->output,
		.tx_opaque = con->opaque,
		.set_irq = vm_irq_pin_set,
		.irq_opaque = &b->uart_irq,
		.rx_ready = con->wakeup,
		.rx_opaque = con->opaque,
		.tx_buffering = vm_coalesced_zone_set,
		.buffering_opaque = &b->uart_thr,
	};
	serial_init(&b->uart, &be);
	b->uart_ready = true;
	if (bus_register(bus, base, SERIAL_NR_REGS, &serial_ops, &b->uart))
		return -1;
	*fe = (struct console_frontend){ .rx = uart_rx, .opaque = &b->uart };
	return 0;
}

static void on_debug_exit(void *opaque, uint8_t value)
{
	vm_stop_debug_exit(opaque, value);
}

int board_debug_exit_init(struct board *b, struct vm *vm, struct bus *bus, uint64_t base)
{
	b->dbg = (struct debug_exit){ .exit = on_debug_exit, .opaque = vm };
	return bus_register(bus, base, DEBUG_EXIT_NR_PORTS, &debug_exit_ops, &b->dbg);
}

int board_pci_init(struct board *b, struct vm *vm, uint64_t mem32_base, uint64_t mem32_size,
		   uint64_t mem64_base, uint64_t mem64_size, uint64_t ecam_base, uint64_t ecam_size)
{
	if (pci_bus_init(&b->pci, &vm->mmio, mem32_base, mem32_size, mem64_base, mem64_size))
		return -1;
	b->pci_ready = true;
	return pci_bus_register_ecam(&b->pci, &vm->mmio, ecam_base, ecam_size);
}

static void on_pvpanic(void *opaque, uint8_t events)
{
	/* CRASH_LOADED alone: the guest boots its kdump kernel and keeps
	 * running, so there is nothing to stop. */
	if (events & PVPANIC_PANICKED)
		vm_stop_msg(opaque, VM_EXIT_GUEST_PANIC, "the guest kernel panicked (pvpanic)");
}

int board_pvpanic_init(struct board *b, struct vm *vm, int slot)
{
	if (!b->pci_ready)
		return err_set("pvpanic: no PCI bus");
	if (pvpanic_init(&b->pvpanic, on_pvpanic, vm))
		return -1;
	return pci_bus_plug(&b->pci, &b->pvpanic.pci, slot);
}

struct pci_bus *board_pci_bus(struct board *b)
{
	return b->pci_ready ? &b->pci : NULL;
}

void board_destroy(struct board *b)
{
	if (b->pci_ready)
		pci_bus_destroy(&b->pci);
	if (b->uart_ready)
		serial_destroy(&b->uart);
	b->pci_ready = b->uart_ready = false;
}
