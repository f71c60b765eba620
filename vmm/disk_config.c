/* Parsing of the --disk option: comma-separated key=value pairs. */
#include "vmm/disk_config.h"
#include "core/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int parse_on_off(const char *key, const char *value, bool *out)
{
	if (strcmp(value, "on") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(value, "off") == 0) {
		*out = false;
		return 0;
	}
	err_set("--disk %s=%s: expected on or off", key, value);
	return -1;
}

static int parse_serial(const char *value, char *out)
{
	size_t len = strlen(value);

	if (len == 0 || len > DISK_SERIAL_LEN) {
		err_set("--disk serial: must be 1 to %u characters", DISK_SERIAL_LEN);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!isprint((unsigned char)value[i])) {
			err_set("--disk serial: printable characters only");
			return -1;
		}
	}
	memcpy(out, value, len + 1);
	return 0;
}

static int parse_queues(const char *value, unsigned int *out)
{
	unsigned long n = 0;
	const char *p = value;

	/* Digits only: strtoul would take "-1", " 2" or "0x4". */
	for (; *p >= '0' && *p <= '9' && n <= DISK_MAX_QUEUES; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (p == value || *p != '\0' || n < 1 || n > DISK_MAX_QUEUES) {
		err_set("--disk queues=%s: expected a number from 1 to %u", value, DISK_MAX_QUEUES);
		return -1;
	}
	*out = (unsigned int)n;
	return 0;
}

static int parse_notify(const char *value, enum disk_notify *out)
{
	if (strcmp(value, "pio") == 0)
		*out = DISK_NOTIFY_PIO;
	else if (strcmp(value, "mmio") == 0)
		*out = DISK_NOTIFY_MMIO;
	else
		return err_set("--disk notify=%s: expected pio or mmio", value);
	return 0;
}

/* One key=value pair; `seen` rejects repeated keys, which are mistakes. */
static int parse_pair(char *pair, struct disk_config *cfg, unsigned int *seen)
{
	static const char *const keys[] = { "path",   "readonly", "direct",
					    "serial", "queues",	  "notify" };
	char *eq = strchr(pair, '=');
	unsigned int k;

	if (*pair == '\0') {
		err_set("--disk: empty option (expected " DISK_USAGE ")");
		return -1;
	}
	if (eq == NULL) {
		err_set("--disk: '%s' is not key=value (expected " DISK_USAGE ")", pair);
		return -1;
	}
	*eq = '\0';
	const char *value = eq + 1;
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (strcmp(pair, keys[k]) == 0)
			break;
	}
	if (k == sizeof(keys) / sizeof(keys[0])) {
		err_set("--disk: unknown option '%s' (expected " DISK_USAGE ")", pair);
		return -1;
	}
	if (*seen & (1u << k)) {
		err_set("--disk: option '%s' given twice", pair);
		return -1;
	}
	*seen |= 1u << k;

	switch (k) {
	case 0:
		if (*value == '\0') {
			err_set("--disk: path is empty");
			return -1;
		}
		if (strlen(value) >= sizeof(cfg->path)) {
			err_set("--disk: path is too long");
			return -1;
		}
		strcpy(cfg->path, value);
		return 0;
	case 1:
		return parse_on_off("readonly", value, &cfg->readonly);
	case 2:
		return parse_on_off("direct", value, &cfg->direct);
	case 3:
		return parse_serial(value, cfg->serial);
	case 4:
		return parse_queues(value, &cfg->queues);
	default:
		return parse_notify(value, &cfg->notify);
	}
}

int disk_config_parse(const char *arg, struct disk_config *cfg)
{
	char buf[DISK_PATH_MAX + 256];
	unsigned int seen = 0;
	char *pair, *next;

	memset(cfg, 0, sizeof(*cfg));
	if (strlen(arg) >= sizeof(buf)) {
		err_set("--disk: option string too long");
		return -1;
	}
	strcpy(buf, arg);
	/* Paths with commas are not supported: a comma always separates. */
	for (pair = buf; pair != NULL; pair = next) {
		next = strchr(pair, ',');
		if (next)
			*next++ = '\0';
		if (parse_pair(pair, cfg, &seen) < 0)
			return -1;
	}
	if (!(seen & 1u)) {
		err_set("--disk: missing path= (expected " DISK_USAGE ")");
		return -1;
	}
	return 0;
}
