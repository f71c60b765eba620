/*
 * A 16550A UART (8 registers on the PIO bus).  Transmission is instant: a
 * THR write goes straight to the backend and THR is empty again at once.
 * Receive has the 16-byte FIFO; its interrupts (received data, THR empty,
 * line status, modem status) drive one interrupt line whose level the
 * backend sets whenever it changes.  Loopback mode and the scratch register
 * work, because Linux's 8250 driver probes them.
 */
#ifndef DEVICES_SERIAL_H
#define DEVICES_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"

#define SERIAL_NR_REGS	 8
#define SERIAL_FIFO_SIZE 16

/* Register offsets */
#define UART_RBR	0 /* read, DLAB=0 */
#define UART_THR	0 /* write, DLAB=0 */
#define UART_DLL	0 /* DLAB=1 */
#define UART_IER	1 /* DLAB=0 */
#define UART_DLM	1 /* DLAB=1 */
#define UART_IIR	2 /* read */
#define UART_FCR	2 /* write */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define UART_IER_RDI	0x01
#define UART_IER_THRI	0x02
#define UART_IER_RLSI	0x04
#define UART_IER_MSI	0x08

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI	0x00
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_RLSI	0x06
#define UART_IIR_FIFO	0xc0

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLR_RX 0x02
#define UART_FCR_CLR_TX 0x04

#define UART_LCR_DLAB	0x80

#define UART_MCR_DTR	0x01
#define UART_MCR_RTS	0x02
#define UART_MCR_OUT1	0x04
#define UART_MCR_OUT2	0x08
#define UART_MCR_LOOP	0x10

#define UART_LSR_DR	0x01
#define UART_LSR_OE	0x02
#define UART_LSR_BI	0x10
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40

#define UART_MSR_DCTS	0x01
#define UART_MSR_DDSR	0x02
#define UART_MSR_TERI	0x04
#define UART_MSR_DDCD	0x08
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80

struct serial_backend {
	/* Bytes the guest transmitted. */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	void *tx_opaque;
	/* The interrupt line's new level (called only on changes). */
	void (*set_irq)(void *opaque, int level);
	void *irq_opaque;
	/* The receive FIFO has room again after being full or non-empty:
	 * the input side may push more. */
	void (*rx_ready)(void *opaque);
	void *rx_opaque;
	/* Optional.  on: THR writes may be queued by the hypervisor and reach
	 * the UART later, in order, before any other access to it; off: each
	 * write must reach it at once.  On while the guest has every interrupt
	 * disabled (IER 0, as at reset), when a THR write changes nothing the
	 * guest can see without reading a register.  Called at init and on
	 * each change, with the UART's lock held. */
	void (*tx_buffering)(void *opaque, bool on);
	void *buffering_opaque;
};

struct serial {
	pthread_mutex_t lock;
	struct serial_backend be;
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	bool thr_ipending;
	int irq_level;
	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;
};

extern const struct bus_ops serial_ops;

void serial_init(struct serial *s, const struct serial_backend *be);
void serial_destroy(struct serial *s);

/* Input from the host: queues up to len bytes in the receive FIFO and
 * returns how many fit (any thread). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

/* Register access for the bus (offset 0..7, one byte). */
uint8_t serial_read_reg(struct serial *s, unsigned int off);
void serial_write_reg(struct serial *s, unsigned int off, uint8_t val);

#endif
