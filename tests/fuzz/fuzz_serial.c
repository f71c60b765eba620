/*
 * Fuzz target for the 16550A UART (devices/serial.c): register reads and
 * writes as the guest issues them through the PIO bus (any offset and size,
 * so out-of-range offsets too) interleaved with host input.
 *
 * Checked: the interrupt line is told only about changes and only 0 or 1;
 * the receive FIFO never holds more than 16 bytes; the DR bit says whether
 * it holds any; host input is taken only while there is room and never in
 * loopback; bytes come out of RBR in the order they went in; transmitted
 * bytes reach the backend one per THR write (none in loopback).
 *
 * Input: operations until the input ends (see the switch below).
 */
#include <stdint.h>
#include <string.h>

#include "core/bus.h"
#include "devices/serial.h"
#include "fuzz.h"

struct sink {
	int level;
	unsigned long irq_calls, tx_bytes, rx_ready;
};

static void on_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct sink *k = opaque;
	FUZZ_CHECK(buf != NULL && len > 0);
	k->tx_bytes += len;
}

static void on_irq(void *opaque, int level)
{
	struct sink *k = opaque;
	FUZZ_CHECK(level == 0 || level == 1);
	FUZZ_CHECK(level != k->level);
	k->level = level;
	k->irq_calls++;
}

static void on_rx_ready(void *opaque)
{
	struct sink *k = opaque;
	k->rx_ready++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct sink k = { 0 };
	struct serial_backend be = {
		.tx = on_tx,
		.tx_opaque = &k,
		.set_irq = on_irq,
		.irq_opaque = &k,
		.rx_ready = on_rx_ready,
		.rx_opaque = &k,
	};
	struct serial s;
	struct bus pio;
	/* A model of the FIFO: what went in and has not come out yet. */
	uint8_t model[SERIAL_FIFO_SIZE];
	unsigned int model_n = 0;

	serial_init(&s, &be);
	bus_init(&pio, "pio");
	FUZZ_CHECK(bus_register(&pio, 0x3f8, SERIAL_NR_REGS, &serial_ops, &s) == 0);
	for (unsigned int ops = 0; fz_more(&f) && ops < 10000; ops++) {
		uint8_t op = fz_u8(&f);
		bool loop = s.mcr & UART_MCR_LOOP;
		bool dlab = s.lcr & UART_LCR_DLAB;

		switch (op % 4) {
		case 0: { /* guest read through the bus, any offset and size */
			unsigned int len = fz_len(&f);
			uint64_t port = 0x3f0 + fz_u8(&f) % 24;
			uint8_t buf[8];
			bool rbr = port == 0x3f8 && !dlab; /* RBR is read first */
			bool had = s.rx_count > 0;
			bus_read(&pio, port, buf, len);
			if (rbr && had && !loop) {
				FUZZ_CHECK(model_n > 0 && buf[0] == model[0]);
				memmove(model, model + 1, --model_n);
			}
			break;
		}
		case 1: { /* guest write */
			unsigned int len = fz_len(&f);
			uint64_t port = 0x3f0 + fz_u8(&f) % 24;
			uint64_t val = fz_u64(&f);
			unsigned long tx = k.tx_bytes;
			bool thr = port == 0x3f8 && !dlab; /* THR is written first */
			bus_write(&pio, port, &val, len);
			if (thr && !loop)
				FUZZ_CHECK(k.tx_bytes == tx + 1);
			else
				FUZZ_CHECK(k.tx_bytes == tx);
			break;
		}
		case 2: { /* host input */
			uint8_t buf[32];
			size_t n = fz_u8(&f) % sizeof(buf), room = SERIAL_FIFO_SIZE - s.rx_count,
			       got;
			fz_bytes(&f, buf, n);
			got = serial_receive(&s, buf, n);
			FUZZ_CHECK(got <= n);
			FUZZ_CHECK(loop ? got == 0 : got == (n < room ? n : room));
			if (!loop && model_n + got <= SERIAL_FIFO_SIZE) {
				memcpy(model + model_n, buf, got);
				model_n += (unsigned int)got;
			}
			break;
		}
		case 3: /* direct register access, offsets past the 8 registers */
			if (op & 0x80) {
				unsigned int reg = fz_u8(&f) % 16;
				serial_write_reg(&s, reg, fz_u8(&f));
			} else
				(void)serial_read_reg(&s, fz_u8(&f) % 16);
			break;
		}
		FUZZ_CHECK(s.rx_count <= SERIAL_FIFO_SIZE && s.rx_head < SERIAL_FIFO_SIZE);
		FUZZ_CHECK(!!(s.lsr & UART_LSR_DR) == (s.rx_count > 0));
		FUZZ_CHECK(s.irq_level == k.level);
		/* Loopback data and FIFO clears bypass the model: resync. */
		if (model_n != s.rx_count) {
			model_n = s.rx_count;
			for (unsigned int i = 0; i < model_n; i++)
				model[i] = s.rx[(s.rx_head + i) % SERIAL_FIFO_SIZE];
		}
	}
	bus_destroy(&pio);
	serial_destroy(&s);
	return 0;
}
