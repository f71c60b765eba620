/*
 * The in-kernel GICv3 with its ITS (KVM_DEV_TYPE_ARM_VGIC_V3 and
 * KVM_DEV_TYPE_ARM_VGIC_ITS) at the addresses of arch/arm64/layout.h, and
 * how a wired interrupt is named to KVM_IRQ_LINE.
 *
 * KVM's order: create both devices before the vCPUs, initialise them
 * (KVM_DEV_ARM_VGIC_CTRL_INIT) after every vCPU had KVM_ARM_VCPU_INIT.
 */
#ifndef ARCH_ARM64_GIC_H
#define ARCH_ARM64_GIC_H

#include <stdint.h>

struct arm64_gic {
	int gic_fd;
	int its_fd;
};

/* Creates the GIC and the ITS and places them; checks that MSI routes can
 * carry a device ID (KVM_CAP_MSI_DEVID, answered only once an ITS exists). */
int arm64_gic_create(struct arm64_gic *g, int vm_fd);

/* Sets the number of interrupts and initialises GIC then ITS. */
int arm64_gic_init(struct arm64_gic *g);

void arm64_gic_destroy(struct arm64_gic *g);

/* The KVM_IRQ_LINE number of SPI spi (the device tree's numbering). */
uint32_t arm64_gic_spi_line(unsigned int spi);

#endif
