/*
 * ACPI hardware-reduced power management registers on three I/O ports:
 *   base + 0  sleep control: writing SLP_EN with SLP_TYP 5 (S5) powers off
 *   base + 1  sleep status: reads 0 (no wake events)
 *   base + 2  reset register: writing ACPI_PM_RESET_VALUE (1) reboots
 * The FADT (arch/x86/acpi.c) points the guest at them.  Power-off and reboot
 * both end the VM with exit status 0 through the backend.
 */
#ifndef DEVICES_ACPI_PM_H
#define DEVICES_ACPI_PM_H

#include <stdint.h>

#include "core/bus.h"

#define ACPI_PM_NR_PORTS      3
#define ACPI_PM_SLEEP_CONTROL 0
#define ACPI_PM_SLEEP_STATUS  1
#define ACPI_PM_RESET	      2

#define ACPI_PM_SLP_EN	      0x20
#define ACPI_PM_SLP_TYP_SHIFT 2
#define ACPI_PM_SLP_TYP_MASK  0x1c
#define ACPI_PM_S5	      5
#define ACPI_PM_RESET_VALUE   0x01

enum acpi_pm_event {
	ACPI_PM_POWEROFF,
	ACPI_PM_REBOOT
};

struct acpi_pm {
	void (*event)(void *opaque, enum acpi_pm_event ev);
	void *opaque;
};

extern const struct bus_ops acpi_pm_ops;

#endif
