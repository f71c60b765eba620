/*
 * MSI-X capability, vector table and PBA; each vector's route and irqfd are
 * kept in step with its table entry and the mask bits (see msix.h for the
 * model, and vector_sync() for the one place that decides).
 */
#include "devices/msix.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

static void report(struct msix *m)
{
	if (m->p.report)
		m->p.report(m->p.report_opaque, err_msg());
	else
		log_warn("MSI-X: %s", err_msg());
}

static bool vector_live(const struct msix *m, const struct msix_vector *v)
{
	return m->enabled && !m->masked && m->bus_master && !(v->ctrl & MSIX_ENTRY_CTRL_MASK);
}

static uint64_t vector_addr(const struct msix_vector *v)
{
	return (uint64_t)v->addr_hi << 32 | v->addr_lo;
}

/* The function's requester ID: bus 0, function 0 of its slot. */
static uint32_t requester_id(const struct msix *m)
{
	return m->p.pci->slot << 3;
}

/* Moves a signal waiting in a detached vector's eventfd into v->pending, so
 * the PBA can show it and unmask can deliver it. */
static int vector_collect(struct msix_vector *v)
{
	uint64_t cnt;
	ssize_t n = read(v->fd, &cnt, sizeof(cnt));

	if (n == sizeof(cnt)) {
		v->pending = true;
		return 0;
	}
	if (n < 0 && errno == EAGAIN)
		return 0;
	return err_errno("reading a vector's eventfd");
}

static int signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		return err_errno("signalling a vector's eventfd");
	return 0;
}

/*
 * The one place that decides a vector's KVM state.  Live: routed with the
 * current message and attached; a signal collected while it was not is
 * re-raised on the attached eventfd, so KVM injects it.  Not live:
 * detached, the route kept (unmask then costs no routing-table commit
 * unless the message changed).
 */
static int vector_sync(struct msix *m, unsigned int i)
{
	struct msix_vector *v = &m->vec[i];
	const struct irq_msi_ops *ops = m->p.irq_ops;
	void *ctx = m->p.irq_ctx;

	if (!vector_live(m, v)) {
		if (v->attached) {
			if (ops->irqfd_detach(ctx, v->fd, v->gsi))
				return err_prefix("MSI-X vector %u", i);
			v->attached = false;
		}
		return 0;
	}
	if (!v->routed) {
		if (ops->msi_add(ctx, requester_id(m), vector_addr(v), v->data, &v->gsi))
			return err_prefix("MSI-X vector %u", i);
		v->routed = true;
		v->route_stale = false;
	} else if (v->route_stale) {
		if (ops->msi_update(ctx, v->gsi, requester_id(m), vector_addr(v), v->data))
			return err_prefix("MSI-X vector %u", i);
		v->route_stale = false;
	}
	if (!v->attached) {
		if (vector_collect(v))
			return err_prefix("MSI-X vector %u", i);
		if (ops->irqfd_attach(ctx, v->fd, v->gsi))
			return err_prefix("MSI-X vector %u", i);
		v->attached = true;
		if (v->pending) {
			if (signal_fd(v->fd))
				return err_prefix("MSI-X vector %u", i);
			v->pending = false;
		}
	}
	return 0;
}

static int vector_unroute(struct msix *m, unsigned int i)
{
	struct msix_vector *v = &m->vec[i];

	if (v->routed) {
		if (m->p.irq_ops->msi_remove(m->p.irq_ctx, v->gsi))
			return err_prefix("MSI-X vector %u", i);
		v->routed = false;
	}
	return 0;
}

int msix_init(struct msix *m, const struct msix_params *p)
{
	uint8_t cap[MSIX_CAP_SIZE] = { 0 };
	uint8_t wmask[MSIX_CAP_SIZE] = { 0 };
	uint16_t control;
	uint32_t table, pba;

	memset(m, 0, sizeof(*m));
	if (p->pci == NULL || p->irq_ops == NULL || p->nr_vectors == 0 ||
	    p->nr_vectors > MSIX_MAX_VECTORS)
		return err_set("MSI-X: %u vectors (1-%u)", p->nr_vectors, MSIX_MAX_VECTORS);
	if (p->table_bar >= PCI_NUM_BARS || p->pba_bar >= PCI_NUM_BARS ||
	    (p->table_offset | p->pba_offset) & 7)
		return err_set("MSI-X: table or PBA not in an 8-byte aligned place of a BAR");
	if (p->pci->bars[p->table_bar].size <
		    (uint64_t)p->table_offset + MSIX_TABLE_BYTES(p->nr_vectors) ||
	    p->pci->bars[p->pba_bar].size < (uint64_t)p->pba_offset + MSIX_PBA_BYTES(p->nr_vectors))
		return err_set("MSI-X: table or PBA does not fit in its BAR");
	if (p->table_bar == p->pba_bar &&
	    (uint64_t)p->table_offset < (uint64_t)p->pba_offset + MSIX_PBA_BYTES(p->nr_vectors) &&
	    (uint64_t)p->pba_offset < (uint64_t)p->table_offset + MSIX_TABLE_BYTES(p->nr_vectors))
		return err_set("MSI-X: table and PBA overlap");

	m->p = *p;
	m->vec = calloc(p->nr_vectors, sizeof(*m->vec));
	if (m->vec == NULL)
		return err_set("MSI-X: out of memory");
	for (unsigned int i = 0; i < p->nr_vectors; i++)
		m->vec[i].fd = -1;
	for (unsigned int i = 0; i < p->nr_vectors; i++) {
		m->vec[i].ctrl = MSIX_ENTRY_CTRL_MASK;
		m->vec[i].fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (m->vec[i].fd < 0) {
			err_errno("MSI-X: eventfd for vector %u", i);
			goto fail;
		}
	}

	control = htole16((uint16_t)(p->nr_vectors - 1));
	table = htole32(p->table_offset | p->table_bar);
	pba = htole32(p->pba_offset | p->pba_bar);
	memcpy(&cap[MSIX_CAP_CONTROL], &control, sizeof(control));
	memcpy(&cap[MSIX_CAP_TABLE], &table, sizeof(table));
	memcpy(&cap[MSIX_CAP_PBA], &pba, sizeof(pba));
	wmask[MSIX_CAP_CONTROL + 1] = (MSIX_CONTROL_MASKALL | MSIX_CONTROL_ENABLE) >> 8;
	int off = pci_add_capability(p->pci, PCI_CAP_ID_MSIX, cap, sizeof(cap), wmask);
	if (off < 0) {
		err_set("MSI-X: no room for the capability in config space");
		goto fail;
	}
	m->cap = (unsigned int)off;
	pthread_mutex_init(&m->lock, NULL);
	return 0;
fail:
	for (unsigned int i = 0; i < p->nr_vectors; i++)
		if (m->vec[i].fd >= 0)
			close(m->vec[i].fd);
	free(m->vec);
	m->vec = NULL;
	return -1;
}

void msix_destroy(struct msix *m)
{
	if (m->vec == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->enabled = false;
	for (unsigned int i = 0; i < m->p.nr_vectors; i++) {
		if (vector_sync(m, i) || vector_unroute(m, i))
			report(m);
		close(m->vec[i].fd);
	}
	free(m->vec);
	m->vec = NULL;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_destroy(&m->lock);
}

void msix_config_write(struct msix *m, uint32_t reg, unsigned int len)
{
	uint32_t ctl = m->cap + MSIX_CAP_CONTROL;
	bool control_written = reg < ctl + 2 && reg + len > ctl;
	bool command_written = reg < PCI_COMMAND + 2 && reg + len > PCI_COMMAND;

	if (m->vec == NULL || (!control_written && !command_written))
		return;
	uint16_t control = pci_cfg_get16(m->p.pci, ctl);
	uint16_t command = pci_cfg_get16(m->p.pci, PCI_COMMAND);

	pthread_mutex_lock(&m->lock);
	bool was_enabled = m->enabled;
	m->enabled = control & MSIX_CONTROL_ENABLE;
	m->masked = control & MSIX_CONTROL_MASKALL;
	/* Without bus mastering, signals wait as pending bits, as under the
	 * function mask, and are delivered once it is set again. */
	m->bus_master = command & PCI_COMMAND_MASTER;
	for (unsigned int i = 0; i < m->p.nr_vectors; i++) {
		if (vector_sync(m, i))
			report(m);
		/* A disabled function gives its GSIs back; the driver
		 * programs the table again before it enables MSI-X.  Not
		 * under an irqfd whose detach failed: KVM would keep it on
		 * a GSI we no longer own. */
		if (was_enabled && !m->enabled && !m->vec[i].attached && vector_unroute(m, i))
			report(m);
	}
	pthread_mutex_unlock(&m->lock);
}

static uint32_t entry_field(const struct msix_vector *v, unsigned int field)
{
	switch (field) {
	case MSIX_ENTRY_ADDR_LO:
		return v->addr_lo;
	case MSIX_ENTRY_ADDR_HI:
		return v->addr_hi;
	case MSIX_ENTRY_DATA:
		return v->data;
	default:
		return v->ctrl;
	}
}

static bool table_access_ok(const struct msix *m, uint64_t offset, unsigned int len)
{
	return m->vec && (len == 4 || len == 8) && (offset & (len - 1)) == 0 &&
	       offset < MSIX_TABLE_BYTES(m->p.nr_vectors);
}

void msix_table_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct msix *m = opaque;
	uint32_t words[2];

	if (!table_access_ok(m, offset, len)) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	const struct msix_vector *v = &m->vec[offset / MSIX_ENTRY_SIZE];
	unsigned int field = offset % MSIX_ENTRY_SIZE;
	words[0] = htole32(entry_field(v, field));
	words[1] = htole32(entry_field(v, field + 4));
	pthread_mutex_unlock(&m->lock);
	memcpy(data, words, len);
}

void msix_table_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct msix *m = opaque;
	uint32_t words[2];

	if (!table_access_ok(m, offset, len))
		return;
	memcpy(words, data, len);
	unsigned int i = (unsigned int)(offset / MSIX_ENTRY_SIZE);
	unsigned int field = offset % MSIX_ENTRY_SIZE;

	pthread_mutex_lock(&m->lock);
	struct msix_vector *v = &m->vec[i];
	for (unsigned int w = 0; w < len / 4; w++, field += 4) {
		uint32_t val = le32toh(words[w]);
		switch (field) {
		case MSIX_ENTRY_ADDR_LO:
			/* Bits 1:0 are reserved: a dword-aligned address. */
			v->route_stale |= v->addr_lo != (val & ~3u);
			v->addr_lo = val & ~3u;
			break;
		case MSIX_ENTRY_ADDR_HI:
			v->route_stale |= v->addr_hi != val;
			v->addr_hi = val;
			break;
		case MSIX_ENTRY_DATA:
			v->route_stale |= v->data != val;
			v->data = val;
			break;
		default:
			v->ctrl = val & MSIX_ENTRY_CTRL_MASK;
			break;
		}
	}
	if (vector_sync(m, i))
		report(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct msix *m = opaque;
	uint8_t bytes[8] = { 0 };

	if (m->vec == NULL || len > sizeof(bytes) || offset >= MSIX_PBA_BYTES(m->p.nr_vectors) ||
	    len > MSIX_PBA_BYTES(m->p.nr_vectors) - offset) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (unsigned int b = 0; b < len * 8; b++) {
		uint64_t i = offset * 8 + b;
		if (i >= m->p.nr_vectors)
			break;
		struct msix_vector *v = &m->vec[i];
		/* An attached eventfd belongs to KVM: nothing waits in it. */
		if (!v->attached && vector_collect(v))
			report(m);
		if (v->pending)
			bytes[b / 8] |= (uint8_t)(1u << (b % 8));
	}
	pthread_mutex_unlock(&m->lock);
	memcpy(data, bytes, len);
}

void msix_pba_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	/* The PBA is read-only. */
	(void)opaque;
	(void)offset;
	(void)data;
	(void)len;
}

int msix_notify(struct msix *m, unsigned int v)
{
	if (m->vec == NULL || v >= m->p.nr_vectors)
		return err_set("MSI-X: no vector %u", v);
	return signal_fd(m->vec[v].fd);
}

int msix_vector_fd(const struct msix *m, unsigned int v)
{
	if (m->vec == NULL || v >= m->p.nr_vectors)
		return -1;
	return m->vec[v].fd;
}
