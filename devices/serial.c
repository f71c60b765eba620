/* 16550A UART emulation: registers, receive FIFO, interrupt line. */
#include "devices/serial.h"

#include <string.h>

static void update_irq(struct serial *s)
{
	uint8_t iir = UART_IIR_NO_INT;

	if ((s->ier & UART_IER_RLSI) && (s->lsr & (UART_LSR_OE | UART_LSR_BI)))
		iir = UART_IIR_RLSI;
	else if ((s->ier & UART_IER_RDI) && (s->lsr & UART_LSR_DR))
		iir = UART_IIR_RDI;
	else if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		iir = UART_IIR_THRI;
	else if ((s->ier & UART_IER_MSI) && (s->msr & 0x0f))
		iir = UART_IIR_MSI;
	s->iir = iir | ((s->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0);

	int level = iir != UART_IIR_NO_INT;
	if (level != s->irq_level) {
		s->irq_level = level;
		s->be.set_irq(s->be.irq_opaque, level);
	}
}

/* THR writes may be queued while every interrupt is off (serial.h); the
 * guest then sees a write only through a later register read, which comes
 * after the queued writes.  Linux prints its console this way, a read of
 * LSR and a write of THR per character: half of those exits go. */
static void set_tx_buffering(struct serial *s)
{
	if (s->be.tx_buffering)
		s->be.tx_buffering(s->be.buffering_opaque, s->ier == 0);
}

void serial_init(struct serial *s, const struct serial_backend *be)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->be = *be;
	s->iir = UART_IIR_NO_INT;
	s->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	/* A modem that is always there: carrier, data set ready, clear to send. */
	s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	s->dll = 0x0c; /* 9600 baud, as after a PC BIOS */
	set_tx_buffering(s);
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Called with the lock held; returns false when the FIFO is full. */
static bool rx_push(struct serial *s, uint8_t ch)
{
	if (s->rx_count == SERIAL_FIFO_SIZE) {
		s->lsr |= UART_LSR_OE;
		return false;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = ch;
	s->rx_count++;
	s->lsr |= UART_LSR_DR;
	return true;
}

static void rx_flush(struct serial *s)
{
	s->rx_head = s->rx_count = 0;
	s->lsr &= (uint8_t)~UART_LSR_DR;
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	/* In loopback mode the line is disconnected from the outside. */
	if (!(s->mcr & UART_MCR_LOOP)) {
		while (n < len && s->rx_count < SERIAL_FIFO_SIZE)
			rx_push(s, buf[n++]);
		update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* In loopback the modem inputs follow the modem control outputs. */
static void loopback_msr(struct serial *s)
{
	uint8_t m = s->mcr, old = s->msr;
	uint8_t msr = (uint8_t)(((m & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
				((m & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
				((m & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
				((m & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
	uint8_t changed = (uint8_t)((old ^ msr) & 0xf0);
	uint8_t delta = old & 0x0f;
	if (changed & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(msr & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	if (changed & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	s->msr = msr | delta;
}

uint8_t serial_read_reg(struct serial *s, unsigned int off)
{
	uint8_t v = 0xff;
	bool wake = false;

	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_RBR:
		if (s->lcr & UART_LCR_DLAB) {
			v = s->dll;
			break;
		}
		v = 0;
		if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
			if (--s->rx_count == 0) {
				s->lsr &= (uint8_t)~UART_LSR_DR;
				wake = true;
			}
		}
		update_irq(s);
		break;
	case UART_IER:
		v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR:
		v = s->iir;
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((v & 0x0f) == UART_IIR_THRI) {
			s->thr_ipending = false;
			update_irq(s);
		}
		break;
	case UART_LCR:
		v = s->lcr;
		break;
	case UART_MCR:
		v = s->mcr;
		break;
	case UART_LSR:
		v = s->lsr;
		/* Error bits clear on read. */
		s->lsr &= (uint8_t) ~(UART_LSR_OE | UART_LSR_BI);
		update_irq(s);
		break;
	case UART_MSR:
		v = s->msr;
		s->msr &= 0xf0; /* delta bits clear on read */
		update_irq(s);
		break;
	case UART_SCR:
		v = s->scr;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	if (wake && s->be.rx_ready)
		s->be.rx_ready(s->be.rx_opaque);
	return v;
}

void serial_write_reg(struct serial *s, unsigned int off, uint8_t val)
{
	bool wake = false;

	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_THR:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = val;
			break;
		}
		if (s->mcr & UART_MCR_LOOP)
			rx_push(s, val);
		else
			s->be.tx(s->be.tx_opaque, &val, 1);
		/* Sent at once: THR is empty again and says so. */
		s->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
		s->thr_ipending = true;
		update_irq(s);
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = val;
			break;
		} else {
			uint8_t changed = (uint8_t)((s->ier ^ val) & 0x0f);
			bool was_off = s->ier == 0;
			s->ier = val & 0x0f;
			/* Enabling THRI while THR is empty raises the interrupt
			 * (as 8250s do, and Linux's THRE test expects). */
			if (changed & UART_IER_THRI)
				s->thr_ipending =
					(s->ier & UART_IER_THRI) && (s->lsr & UART_LSR_THRE);
			if (was_off != (s->ier == 0))
				set_tx_buffering(s);
			update_irq(s);
		}
		break;
	case UART_FCR:
		if ((val ^ s->fcr) & UART_FCR_ENABLE)
			val |= UART_FCR_CLR_RX | UART_FCR_CLR_TX;
		if (val & UART_FCR_CLR_RX) {
			rx_flush(s);
			wake = true;
		}
		s->fcr = val & 0xc9; /* enable, DMA mode, trigger level */
		update_irq(s);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		s->mcr = val & 0x1f;
		if (s->mcr & UART_MCR_LOOP) {
			loopback_msr(s);
		} else {
			s->msr = (s->msr & 0x0f) | UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
		}
		update_irq(s);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only (factory test use only) */
	case UART_SCR:
		s->scr = val;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	if (wake && s->be.rx_ready)
		s->be.rx_ready(s->be.rx_opaque);
}

static void serial_bus_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	uint8_t *d = data;
	/* Wider accesses read consecutive registers, as on the ISA bus. */
	for (unsigned int i = 0; i < len; i++)
		d[i] = offset + i < SERIAL_NR_REGS
			       ? serial_read_reg(opaque, (unsigned int)(offset + i))
			       : 0xff;
}

static void serial_bus_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	const uint8_t *d = data;
	for (unsigned int i = 0; i < len; i++)
		if (offset + i < SERIAL_NR_REGS)
			serial_write_reg(opaque, (unsigned int)(offset + i), d[i]);
}

const struct bus_ops serial_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};
