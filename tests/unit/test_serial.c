/*
 * 16550A UART registers as Linux's 8250 driver uses them: scratch and
 * divisor latch, FIFO detection through IIR, loopback (the driver's probe),
 * THR-empty interrupts (raised on enable, acknowledged by reading IIR,
 * raised again by each transmit), receive FIFO with data-ready interrupt,
 * overrun and flow control toward the console, and when THR writes may be
 * coalesced (every interrupt off).
 */
#include <check.h>
#include <string.h>

#include "devices/serial.h"
#include "unit_main.h"

struct fake {
	uint8_t tx[256];
	size_t ntx;
	int level;
	unsigned int irq_changes;
	unsigned int wakeups;
	int buffering; /* last tx_buffering state, -1: never called */
	unsigned int buffering_calls;
};

static void tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fake *f = opaque;
	memcpy(f->tx + f->ntx, buf, len);
	f->ntx += len;
}

static void set_irq(void *opaque, int level)
{
	struct fake *f = opaque;
	ck_assert_int_ne(level, f->level); /* only changes are reported */
	f->level = level;
	f->irq_changes++;
}

static void rx_ready(void *opaque)
{
	((struct fake *)opaque)->wakeups++;
}

static void tx_buffering(void *opaque, bool on)
{
	struct fake *f = opaque;
	ck_assert_int_ne(on, f->buffering); /* only changes are reported */
	f->buffering = on;
	f->buffering_calls++;
}

static struct fake f;
static struct serial s;

static void setup(void)
{
	memset(&f, 0, sizeof(f));
	f.buffering = -1;
	struct serial_backend be = { tx, &f, set_irq, &f, rx_ready, &f, tx_buffering, &f };
	serial_init(&s, &be);
}

static void teardown(void)
{
	serial_destroy(&s);
}

static uint8_t rd(unsigned int r)
{
	return serial_read_reg(&s, r);
}
static void wr(unsigned int r, uint8_t v)
{
	serial_write_reg(&s, r, v);
}

START_TEST(reset_state)
{
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(rd(UART_IER), 0);
	ck_assert_int_eq(f.level, 0);
}
END_TEST

START_TEST(scratch_and_divisor)
{
	wr(UART_SCR, 0x5a);
	ck_assert_uint_eq(rd(UART_SCR), 0x5a);
	wr(UART_LCR, UART_LCR_DLAB | 0x03);
	wr(UART_DLL, 0x01);
	wr(UART_DLM, 0x02);
	ck_assert_uint_eq(rd(UART_DLL), 0x01);
	ck_assert_uint_eq(rd(UART_DLM), 0x02);
	wr(UART_LCR, 0x03);
	/* With DLAB clear the same offsets are THR/RBR and IER again. */
	ck_assert_uint_eq(rd(UART_IER), 0);
	ck_assert_uint_eq(rd(UART_LCR), 0x03);
	ck_assert_uint_eq(f.ntx, 0); /* the DLL write sent nothing */
}
END_TEST

START_TEST(fifo_detection)
{
	wr(UART_FCR, UART_FCR_ENABLE);
	/* A 16550A reports enabled FIFOs in IIR bits 7:6. */
	ck_assert_uint_eq(rd(UART_IIR) & 0xc0, 0xc0);
	wr(UART_FCR, 0);
	ck_assert_uint_eq(rd(UART_IIR) & 0xc0, 0);
}
END_TEST

START_TEST(loopback)
{
	/* The 8250 probe: loopback with RTS and OUT2 must read CTS and DCD. */
	wr(UART_MCR, UART_MCR_LOOP | 0x0a);
	ck_assert_uint_eq(rd(UART_MSR) & 0xf0, 0x90);
	/* Transmitted bytes come back, not out. */
	wr(UART_THR, 'z');
	ck_assert_uint_eq(f.ntx, 0);
	ck_assert(rd(UART_LSR) & UART_LSR_DR);
	ck_assert_uint_eq(rd(UART_RBR), 'z');
	/* External input is ignored in loopback. */
	ck_assert_uint_eq(serial_receive(&s, (const uint8_t *)"a", 1), 0);
	wr(UART_MCR, UART_MCR_OUT2);
	ck_assert_uint_eq(rd(UART_MSR) & 0xb0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}
END_TEST

START_TEST(thre_interrupt)
{
	/* Enabling THRI with THR empty raises the interrupt at once. */
	wr(UART_IER, UART_IER_THRI);
	ck_assert_int_eq(f.level, 1);
	ck_assert_uint_eq(rd(UART_IIR) & 0x0f, UART_IIR_THRI);
	/* Reading IIR acknowledged it. */
	ck_assert_int_eq(f.level, 0);
	ck_assert_uint_eq(rd(UART_IIR) & 0x0f, UART_IIR_NO_INT);
	/* Re-enabling (the driver's UART_BUG_THRE test) raises it again. */
	wr(UART_IER, 0);
	wr(UART_IER, UART_IER_THRI);
	ck_assert_int_eq(f.level, 1);
	rd(UART_IIR);
	/* Each transmit empties THR at once and interrupts again. */
	wr(UART_THR, 'h');
	ck_assert_int_eq(f.level, 1);
	wr(UART_THR, 'i');
	ck_assert_uint_eq(f.ntx, 2);
	ck_assert_mem_eq(f.tx, "hi", 2);
	ck_assert(rd(UART_LSR) & UART_LSR_THRE);
	/* Disabling THRI drops the line. */
	wr(UART_IER, 0);
	ck_assert_int_eq(f.level, 0);
}
END_TEST

START_TEST(receive)
{
	uint8_t in[40];
	for (int i = 0; i < 40; i++)
		in[i] = (uint8_t)('A' + i);
	/* Without RDI enabled: data ready, no interrupt. */
	ck_assert_uint_eq(serial_receive(&s, in, 1), 1);
	ck_assert(rd(UART_LSR) & UART_LSR_DR);
	ck_assert_int_eq(f.level, 0);
	wr(UART_IER, UART_IER_RDI);
	ck_assert_int_eq(f.level, 1);
	ck_assert_uint_eq(rd(UART_IIR) & 0x0f, UART_IIR_RDI);
	ck_assert_uint_eq(rd(UART_RBR), 'A');
	ck_assert_int_eq(f.level, 0);
	ck_assert_uint_eq(f.wakeups, 1); /* emptied: the console may go on */
	ck_assert(!(rd(UART_LSR) & UART_LSR_DR));
	/* The FIFO takes 16 bytes, the rest is left to the caller. */
	ck_assert_uint_eq(serial_receive(&s, in, 40), SERIAL_FIFO_SIZE);
	ck_assert_uint_eq(serial_receive(&s, in, 40), 0);
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		ck_assert_uint_eq(rd(UART_RBR), 'A' + i);
	ck_assert_uint_eq(rd(UART_RBR), 0); /* empty */
	ck_assert_uint_eq(f.wakeups, 2);
	/* Received data outranks THRE in IIR. */
	wr(UART_IER, UART_IER_RDI | UART_IER_THRI);
	serial_receive(&s, in, 2);
	ck_assert_uint_eq(rd(UART_IIR) & 0x0f, UART_IIR_RDI);
	/* FCR can flush the receive FIFO. */
	wr(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_RX);
	ck_assert(!(rd(UART_LSR) & UART_LSR_DR));
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
}
END_TEST

START_TEST(overrun)
{
	/* Loopback writes past a full FIFO set OE, which clears on read. */
	wr(UART_MCR, UART_MCR_LOOP);
	for (int i = 0; i < SERIAL_FIFO_SIZE + 1; i++)
		wr(UART_THR, 'x');
	wr(UART_IER, UART_IER_RLSI);
	ck_assert_int_eq(f.level, 1);
	ck_assert_uint_eq(rd(UART_IIR) & 0x0f, UART_IIR_RLSI);
	ck_assert(rd(UART_LSR) & UART_LSR_OE);
	ck_assert(!(rd(UART_LSR) & UART_LSR_OE));
	ck_assert_int_eq(f.level, 0);
}
END_TEST

START_TEST(bus_access)
{
	uint8_t v[2] = { 'o', 'k' };
	serial_ops.write(&s, UART_THR, v, 1);
	ck_assert_uint_eq(f.ntx, 1);
	/* A 2-byte read at LCR reads LCR and MCR. */
	wr(UART_LCR, 0x03);
	wr(UART_MCR, 0x0b);
	serial_ops.read(&s, UART_LCR, v, 2);
	ck_assert_uint_eq(v[0], 0x03);
	ck_assert_uint_eq(v[1], 0x0b);
}
END_TEST

/* THR writes may be coalesced exactly while IER is 0 (no interrupt can
 * follow from a write); a divisor-latch write at IER's offset is DLM and
 * changes nothing. */
START_TEST(tx_buffering_follows_ier)
{
	ck_assert_int_eq(f.buffering, 1); /* at reset: IER 0 */
	ck_assert_uint_eq(f.buffering_calls, 1);
	wr(UART_IER, 0);
	ck_assert_uint_eq(f.buffering_calls, 1);
	wr(UART_IER, UART_IER_RDI);
	ck_assert_int_eq(f.buffering, 0);
	wr(UART_IER, UART_IER_RDI | UART_IER_THRI);
	ck_assert_uint_eq(f.buffering_calls, 2);
	wr(UART_IER, 0);
	ck_assert_int_eq(f.buffering, 1);
	wr(UART_LCR, UART_LCR_DLAB);
	wr(UART_DLM, 0x0f);
	ck_assert_int_eq(f.buffering, 1);
	ck_assert_uint_eq(f.buffering_calls, 3);
	wr(UART_LCR, 0x03);
	ck_assert_uint_eq(rd(UART_IER), 0);
	/* Upper IER bits are not stored, so they do not count either. */
	wr(UART_IER, 0xf0);
	ck_assert_int_eq(f.buffering, 1);
	wr(UART_IER, UART_IER_MSI);
	ck_assert_int_eq(f.buffering, 0);
	ck_assert_uint_eq(f.buffering_calls, 4);
}
END_TEST

int main(void)
{
	static const struct unit_suite u = {
		.name = "serial", .tcase = "uart", .setup = setup, .teardown = teardown
	};
	const TTest *tests[] = { reset_state, scratch_and_divisor, fifo_detection,
				 loopback,    thre_interrupt,	   receive,
				 overrun,     bus_access,	   tx_buffering_follows_ier,
				 NULL };

	return unit_main(&u, tests);
}
