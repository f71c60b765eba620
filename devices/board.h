/*
 * The devices both machines carry, wired to the VM the same way on each:
 * the console UART (a 16550; its registers on the port bus on x86, on MMIO
 * on arm64), the debug-exit device (a guest write ends vmm with that
 * status), the PCI host bridge's bus with its ECAM window, and the
 * pvpanic-pci function (a guest kernel panic ends vmm with
 * VM_EXIT_GUEST_PANIC).  The arch code chooses addresses, interrupt and
 * slot, and adds what only its machine has.
 */
#ifndef DEVICES_BOARD_H
#define DEVICES_BOARD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/console_io.h"
#include "core/vm.h"
#include "devices/debug_exit.h"
#include "devices/pci.h"
#include "devices/pvpanic.h"
#include "devices/serial.h"

struct board {
	struct serial uart;
	bool uart_ready;
	struct vm_irq_pin uart_irq;
	struct vm_coalesced_zone uart_thr; /* console output without exits */
	struct debug_exit dbg;
	struct pci_bus pci;
	bool pci_ready;
	struct pvpanic pvpanic;
};

/* The console UART at base on bus, its interrupt line on gsi (a GSI that
 * vm_irq_pin_set drives), its output to con; *fe takes the console's input. */
int board_uart_init(struct board *b, struct vm *vm, struct bus *bus, uint64_t base, uint32_t gsi,
		    const struct console_backend *con, struct console_frontend *fe);

/* The debug-exit device at base on bus. */
int board_debug_exit_init(struct board *b, struct vm *vm, struct bus *bus, uint64_t base);

/* The PCI bus with its BAR windows (pci_bus_init) and its ECAM
 * configuration window on the VM's MMIO bus. */
int board_pci_init(struct board *b, struct vm *vm, uint64_t mem32_base, uint64_t mem32_size,
		   uint64_t mem64_base, uint64_t mem64_size, uint64_t ecam_base,
		   uint64_t ecam_size);

/* The pvpanic-pci function in slot of the bus board_pci_init made. */
int board_pvpanic_init(struct board *b, struct vm *vm, int slot);

/* The PCI bus once board_pci_init made it, else NULL. */
struct pci_bus *board_pci_bus(struct board *b);

/* Frees what the init calls set up (any subset of them). */
void board_destroy(struct board *b);

#endif
