/*
 * Test helper: msix_irq_ops that record what KVM would be asked (routes,
 * irqfd attach/detach) instead of asking it, and keep the resulting GSI
 * routing table and irqfd bindings for assertions.  Header-only.
 */
#ifndef TESTS_UNIT_FAKE_IRQ_H
#define TESTS_UNIT_FAKE_IRQ_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "devices/msix.h"

#define FI_MAX_GSI   64
#define FI_FIRST_GSI 24

struct fake_irq {
	struct {
		bool used;
		uint64_t addr;
		uint32_t data;
		int irqfd; /* attached eventfd, -1: none */
	} gsi[FI_MAX_GSI];
	unsigned int adds, updates, removes, attaches, detaches;
	bool fail_next_add;
	bool fail_next_detach;
	unsigned int reports;
	uint32_t last_devid; /* requester ID of the last add/update */
};

static inline void fi_init(struct fake_irq *fi)
{
	memset(fi, 0, sizeof(*fi));
	for (unsigned int i = 0; i < FI_MAX_GSI; i++)
		fi->gsi[i].irqfd = -1;
}

static inline int fi_msi_add(void *ctx, uint32_t devid, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	struct fake_irq *fi = ctx;
	fi->last_devid = devid;
	if (fi->fail_next_add) {
		fi->fail_next_add = false;
		return err_set("fake: routing table full");
	}
	for (uint32_t g = FI_FIRST_GSI; g < FI_MAX_GSI; g++) {
		if (!fi->gsi[g].used) {
			fi->gsi[g].used = true;
			fi->gsi[g].addr = addr;
			fi->gsi[g].data = data;
			fi->adds++;
			*gsi = g;
			return 0;
		}
	}
	return err_set("fake: no GSI left");
}

static inline int fi_msi_update(void *ctx, uint32_t gsi, uint32_t devid, uint64_t addr,
				uint32_t data)
{
	struct fake_irq *fi = ctx;
	fi->last_devid = devid;
	ck_assert_uint_lt(gsi, FI_MAX_GSI);
	ck_assert_msg(fi->gsi[gsi].used, "update of GSI %u without a route", gsi);
	fi->gsi[gsi].addr = addr;
	fi->gsi[gsi].data = data;
	fi->updates++;
	return 0;
}

static inline int fi_msi_remove(void *ctx, uint32_t gsi)
{
	struct fake_irq *fi = ctx;
	ck_assert_uint_lt(gsi, FI_MAX_GSI);
	ck_assert_msg(fi->gsi[gsi].used, "removal of GSI %u without a route", gsi);
	ck_assert_msg(fi->gsi[gsi].irqfd < 0, "GSI %u removed with an irqfd bound", gsi);
	fi->gsi[gsi].used = false;
	fi->removes++;
	return 0;
}

static inline int fi_irqfd_attach(void *ctx, int fd, uint32_t gsi)
{
	struct fake_irq *fi = ctx;
	ck_assert_uint_lt(gsi, FI_MAX_GSI);
	ck_assert_msg(fi->gsi[gsi].used, "irqfd on GSI %u without a route", gsi);
	ck_assert_msg(fi->gsi[gsi].irqfd < 0, "GSI %u already has an irqfd", gsi);
	fi->gsi[gsi].irqfd = fd;
	fi->attaches++;
	return 0;
}

static inline int fi_irqfd_detach(void *ctx, int fd, uint32_t gsi)
{
	struct fake_irq *fi = ctx;
	ck_assert_uint_lt(gsi, FI_MAX_GSI);
	ck_assert_int_eq(fi->gsi[gsi].irqfd, fd);
	if (fi->fail_next_detach) {
		fi->fail_next_detach = false;
		return err_set("fake: irqfd detach failed");
	}
	fi->gsi[gsi].irqfd = -1;
	fi->detaches++;
	return 0;
}

static const struct irq_msi_ops fake_irq_ops = {
	.msi_add = fi_msi_add,
	.msi_update = fi_msi_update,
	.msi_remove = fi_msi_remove,
	.irqfd_attach = fi_irqfd_attach,
	.irqfd_detach = fi_irqfd_detach,
};

static inline void fi_report(void *opaque, const char *msg)
{
	struct fake_irq *fi = opaque;
	(void)msg;
	fi->reports++;
}

/* The GSI whose irqfd is fd, -1 if fd is not attached. */
static inline int fi_gsi_of_fd(const struct fake_irq *fi, int fd)
{
	for (int g = 0; g < FI_MAX_GSI; g++)
		if (fi->gsi[g].used && fi->gsi[g].irqfd == fd)
			return g;
	return -1;
}

static inline unsigned int fi_routes(const struct fake_irq *fi)
{
	unsigned int n = 0;
	for (unsigned int g = 0; g < FI_MAX_GSI; g++)
		n += fi->gsi[g].used;
	return n;
}

#endif
