/* ACPI sleep control/status and reset registers (hardware-reduced ACPI). */
#include "devices/acpi_pm.h"

#include <string.h>

static void pm_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	(void)opaque;
	(void)offset;
	/* Sleep status: no wake status bit; the other registers read as 0. */
	memset(data, 0, len);
}

static void pm_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct acpi_pm *pm = opaque;
	uint8_t v = *(const uint8_t *)data;
	(void)len;

	switch (offset) {
	case ACPI_PM_SLEEP_CONTROL:
		/* Only S5 (soft-off) exists; other sleep types are ignored, so
		 * the guest sees the transition fail as on a board without it. */
		if ((v & ACPI_PM_SLP_EN) &&
		    ((v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT) == ACPI_PM_S5)
			pm->event(pm->opaque, ACPI_PM_POWEROFF);
		break;
	case ACPI_PM_RESET:
		if (v == ACPI_PM_RESET_VALUE)
			pm->event(pm->opaque, ACPI_PM_REBOOT);
		break;
	}
}

const struct bus_ops acpi_pm_ops = {
	.read = pm_read,
	.write = pm_write,
};
