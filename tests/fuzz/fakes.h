/*
 * Fuzz-side fakes for what KVM would be asked: MSI routes, irqfd bindings
 * and ioeventfds, recorded and checked for consistency (a route removed
 * with an irqfd still bound, an irqfd on a missing route, a duplicate
 * ioeventfd...).  Like tests/unit/fake_irq.h, but failing through
 * FUZZ_CHECK (the fuzzers do not run under Check) and able to inject
 * failures.  Header-only: each target is one binary.
 */
#ifndef TESTS_FUZZ_FAKES_H
#define TESTS_FUZZ_FAKES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/irq_ops.h"
#include "devices/msix.h"
#include "fuzz.h"

#define FK_MAX_GSI 4096
#define FK_MAX_EV  512

struct fake_kvm {
	struct {
		bool used;
		uint64_t addr;
		uint32_t data;
		int irqfd;
	} gsi[FK_MAX_GSI];
	struct ioeventfd ev[FK_MAX_EV];
	unsigned int nr_ev;
	unsigned int fail; /* bit 0: next call fails */
	unsigned int reports;
};

static inline void fk_init(struct fake_kvm *k)
{
	memset(k, 0, sizeof(*k));
	for (unsigned int i = 0; i < FK_MAX_GSI; i++)
		k->gsi[i].irqfd = -1;
}

static inline bool fk_fail(struct fake_kvm *k)
{
	bool f = k->fail & 1;
	k->fail >>= 1;
	return f;
}

static inline int fk_msi_add(void *ctx, uint32_t devid, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	struct fake_kvm *k = ctx;
	FUZZ_CHECK(devid <= 0xffff); /* a PCI requester ID */
	if (fk_fail(k))
		return err_set("fake: routing table full");
	for (uint32_t g = 24; g < FK_MAX_GSI; g++) {
		if (!k->gsi[g].used) {
			k->gsi[g].used = true;
			k->gsi[g].addr = addr;
			k->gsi[g].data = data;
			*gsi = g;
			return 0;
		}
	}
	return err_set("fake: no GSI left");
}

static inline int fk_msi_update(void *ctx, uint32_t gsi, uint32_t devid, uint64_t addr,
				uint32_t data)
{
	struct fake_kvm *k = ctx;
	FUZZ_CHECK(gsi < FK_MAX_GSI && k->gsi[gsi].used);
	FUZZ_CHECK(devid <= 0xffff);
	if (fk_fail(k))
		return err_set("fake: update failed");
	k->gsi[gsi].addr = addr;
	k->gsi[gsi].data = data;
	return 0;
}

static inline int fk_msi_remove(void *ctx, uint32_t gsi)
{
	struct fake_kvm *k = ctx;
	FUZZ_CHECK(gsi < FK_MAX_GSI && k->gsi[gsi].used);
	FUZZ_CHECK(k->gsi[gsi].irqfd < 0); /* KVM would keep injecting */
	if (fk_fail(k))
		return err_set("fake: remove failed");
	k->gsi[gsi].used = false;
	return 0;
}

static inline int fk_irqfd_attach(void *ctx, int fd, uint32_t gsi)
{
	struct fake_kvm *k = ctx;
	FUZZ_CHECK(gsi < FK_MAX_GSI && k->gsi[gsi].used);
	FUZZ_CHECK(k->gsi[gsi].irqfd < 0);
	for (unsigned int g = 0; g < FK_MAX_GSI; g++)
		FUZZ_CHECK(k->gsi[g].irqfd != fd); /* one fd, one GSI */
	if (fk_fail(k))
		return err_set("fake: irqfd failed");
	k->gsi[gsi].irqfd = fd;
	return 0;
}

static inline int fk_irqfd_detach(void *ctx, int fd, uint32_t gsi)
{
	struct fake_kvm *k = ctx;
	FUZZ_CHECK(gsi < FK_MAX_GSI && k->gsi[gsi].irqfd == fd);
	if (fk_fail(k))
		return err_set("fake: irqfd detach failed");
	k->gsi[gsi].irqfd = -1;
	return 0;
}

static const struct irq_msi_ops fk_irq_ops = {
	.msi_add = fk_msi_add,
	.msi_update = fk_msi_update,
	.msi_remove = fk_msi_remove,
	.irqfd_attach = fk_irqfd_attach,
	.irqfd_detach = fk_irqfd_detach,
};

static inline int fk_ev_assign(void *ctx, const struct ioeventfd *ev)
{
	struct fake_kvm *k = ctx;
	for (unsigned int i = 0; i < k->nr_ev; i++)
		FUZZ_CHECK(k->ev[i].addr != ev->addr); /* KVM says EEXIST */
	FUZZ_CHECK(k->nr_ev < FK_MAX_EV);
	if (fk_fail(k))
		return err_set("fake: ioeventfd failed");
	k->ev[k->nr_ev++] = *ev;
	return 0;
}

static inline int fk_ev_deassign(void *ctx, const struct ioeventfd *ev)
{
	struct fake_kvm *k = ctx;
	for (unsigned int i = 0; i < k->nr_ev; i++) {
		const struct ioeventfd *e = &k->ev[i];
		if (e->addr == ev->addr && e->len == ev->len && e->mmio == ev->mmio &&
		    e->datamatch == ev->datamatch && e->data == ev->data && e->fd == ev->fd) {
			k->ev[i] = k->ev[--k->nr_ev];
			return 0;
		}
	}
	FUZZ_CHECK(!"deassign of an ioeventfd never assigned");
	return -1;
}

static inline void fk_report(void *opaque, const char *msg)
{
	struct fake_kvm *k = opaque;
	FUZZ_CHECK(msg != NULL && msg[0] != '\0');
	k->reports++;
}

static inline unsigned int fk_routes(const struct fake_kvm *k)
{
	unsigned int n = 0;
	for (unsigned int g = 0; g < FK_MAX_GSI; g++)
		n += k->gsi[g].used;
	return n;
}

#endif
