/* AML byte-code emitter (ACPI 6.x, section 20: AML encoding). */
#include "arch/x86/aml.h"

#include <stdlib.h>
#include <string.h>

enum {
	K_SCOPE,
	K_DEVICE,
	K_METHOD,
	K_PACKAGE,
	K_BUFFER
};

#define OP_ZERO	      0x00
#define OP_ONE	      0x01
#define OP_NAME	      0x08
#define OP_BYTE	      0x0a
#define OP_WORD	      0x0b
#define OP_DWORD      0x0c
#define OP_STRING     0x0d
#define OP_QWORD      0x0e
#define OP_SCOPE      0x10
#define OP_BUFFER     0x11
#define OP_PACKAGE    0x12
#define OP_METHOD     0x14
#define OP_EXT	      0x5b
#define OP_EXT_DEVICE 0x82
#define OP_RETURN     0xa4
#define OP_ONES	      0xff

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

bool aml_ok(const struct aml *a)
{
	return !a->failed && a->depth == 0;
}

static bool reserve(struct aml *a, size_t n)
{
	if (a->failed)
		return false;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		while (cap < a->len + n)
			cap *= 2;
		uint8_t *b = realloc(a->buf, cap);
		if (b == NULL) {
			a->failed = true;
			return false;
		}
		a->buf = b;
		a->cap = cap;
	}
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		byte(a, (uint8_t)(v >> (8 * i)));
}

static bool name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path;
	char segs[16][4];
	unsigned int n = 0;

	if (*p == '\\') {
		byte(a, '\\');
		p++;
	}
	while (*p == '^') {
		byte(a, '^');
		p++;
	}
	while (*p) {
		unsigned int l = 0;
		if (n == 16) {
			a->failed = true;
			return;
		}
		while (*p && *p != '.') {
			if (l == 4 || !name_char(*p, l == 0)) {
				a->failed = true;
				return;
			}
			segs[n][l++] = *p++;
		}
		if (l == 0) {
			a->failed = true;
			return;
		}
		while (l < 4)
			segs[n][l++] = '_';
		n++;
		if (*p == '.')
			p++;
	}
	if (n == 0) {
		byte(a, 0x00); /* NullName */
	} else if (n == 2) {
		byte(a, 0x2e); /* DualNamePrefix */
	} else if (n > 2) {
		byte(a, 0x2f); /* MultiNamePrefix */
		byte(a, (uint8_t)n);
	}
	for (unsigned int i = 0; i < n; i++)
		aml_bytes(a, segs[i], 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		byte(a, OP_ZERO);
	} else if (v == 1) {
		byte(a, OP_ONE);
	} else if (v == UINT64_MAX) {
		byte(a, OP_ONES);
	} else if (v <= 0xff) {
		byte(a, OP_BYTE);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		byte(a, OP_WORD);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		byte(a, OP_DWORD);
		le(a, v, 4);
	} else {
		byte(a, OP_QWORD);
		le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	byte(a, OP_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	/* Three letters of 5 bits each ('A' = 1), then four hex digits; the
	 * DWORD is stored big-endian. */
	if (strlen(id) != 7) {
		a->failed = true;
		return;
	}
	uint32_t v = 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			a->failed = true;
			return;
		}
		v = v << 5 | (uint32_t)(id[i] - 0x40);
	}
	for (int i = 3; i < 7; i++) {
		int h = hexval(id[i]);
		if (h < 0) {
			a->failed = true;
			return;
		}
		v = v << 4 | (uint32_t)h;
	}
	byte(a, OP_DWORD);
	byte(a, (uint8_t)(v >> 24));
	byte(a, (uint8_t)(v >> 16));
	byte(a, (uint8_t)(v >> 8));
	byte(a, (uint8_t)v);
}

void aml_name(struct aml *a, const char *name)
{
	byte(a, OP_NAME);
	aml_namestring(a, name);
}

void aml_return(struct aml *a)
{
	byte(a, OP_RETURN);
}

static void open_obj(struct aml *a, int kind)
{
	if (a->depth == AML_MAX_DEPTH) {
		a->failed = true;
		return;
	}
	a->open[a->depth].pos = a->len;
	a->open[a->depth].kind = kind;
	a->depth++;
}

void aml_scope_begin(struct aml *a, const char *name)
{
	byte(a, OP_SCOPE);
	open_obj(a, K_SCOPE);
	aml_namestring(a, name);
}

void aml_device_begin(struct aml *a, const char *name)
{
	byte(a, OP_EXT);
	byte(a, OP_EXT_DEVICE);
	open_obj(a, K_DEVICE);
	aml_namestring(a, name);
}

void aml_method_begin(struct aml *a, const char *name, unsigned int nargs, bool serialized)
{
	byte(a, OP_METHOD);
	open_obj(a, K_METHOD);
	aml_namestring(a, name);
	byte(a, (uint8_t)((nargs & 7) | (serialized ? 8 : 0)));
}

void aml_package_begin(struct aml *a, unsigned int nelems)
{
	byte(a, OP_PACKAGE);
	open_obj(a, K_PACKAGE);
	byte(a, (uint8_t)nelems);
}

void aml_resources_begin(struct aml *a)
{
	byte(a, OP_BUFFER);
	open_obj(a, K_BUFFER);
}

/* Inserts n bytes at pos, shifting what follows. */
static void insert(struct aml *a, size_t pos, const uint8_t *p, size_t n)
{
	if (!reserve(a, n))
		return;
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, p, n);
	a->len += n;
}

void aml_end(struct aml *a)
{
	if (a->failed)
		return;
	if (a->depth == 0) {
		a->failed = true;
		return;
	}
	a->depth--;
	size_t pos = a->open[a->depth].pos;
	uint8_t head[16];
	size_t hl = 0;

	if (a->open[a->depth].kind == K_BUFFER) {
		/* End tag, checksum 0 ("ignore"). */
		byte(a, 0x79);
		byte(a, 0x00);
		/* BufferSize is an integer term before the bytes. */
		struct aml sz;
		aml_init(&sz);
		aml_integer(&sz, a->len - pos);
		if (sz.failed) {
			a->failed = true;
			return;
		}
		insert(a, pos, sz.buf, sz.len);
		aml_free(&sz);
	}
	/* PkgLength counts itself: 1 byte up to 63, then 2, 3 or 4 bytes
	 * with the low nibble in the lead byte. */
	size_t body = a->len - pos;
	if (body + 1 <= 0x3f) {
		head[hl++] = (uint8_t)(body + 1);
	} else {
		unsigned int extra = body + 2 <= 0xfff ? 1 : body + 3 <= 0xfffff ? 2 : 3;
		size_t total = body + 1 + extra;
		if (total > 0xfffffff) {
			a->failed = true;
			return;
		}
		head[hl++] = (uint8_t)((extra << 6) | (total & 0xf));
		for (unsigned int i = 0; i < extra; i++)
			head[hl++] = (uint8_t)(total >> (4 + 8 * i));
	}
	insert(a, pos, head, hl);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	uint8_t d[8] = { 0x47,		0x01,
			 (uint8_t)base, (uint8_t)(base >> 8),
			 (uint8_t)base, (uint8_t)(base >> 8),
			 0x01,		len };
	aml_bytes(a, d, sizeof(d));
}

void aml_res_irq(struct aml *a, unsigned int irq)
{
	uint16_t mask = (uint16_t)(1u << (irq & 15));
	uint8_t d[3] = { 0x22, (uint8_t)mask, (uint8_t)(mask >> 8) };
	aml_bytes(a, d, sizeof(d));
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len, bool rw)
{
	byte(a, 0x86);
	le(a, 9, 2);
	byte(a, rw ? 1 : 0);
	le(a, base, 4);
	le(a, len, 4);
}

/* Address space descriptors (word 0x88, dword 0x87, qword 0x8a): a
 * producer window with fixed minimum and maximum, as root bridges use. */
static void addr_space(struct aml *a, uint8_t tag, unsigned int size, uint8_t type, uint8_t tflags,
		       uint64_t min, uint64_t max)
{
	byte(a, tag);
	le(a, 3 + 5 * size, 2);
	byte(a, type);
	byte(a, 0x0c); /* MinFixed, MaxFixed, positive decode, producer */
	byte(a, tflags);
	le(a, 0, size); /* granularity */
	le(a, min, size);
	le(a, max, size);
	le(a, 0, size); /* translation offset */
	le(a, max - min + 1, size);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	addr_space(a, 0x88, 2, 2, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	addr_space(a, 0x88, 2, 1, 0x03, min, max);
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable)
{
	addr_space(a, 0x87, 4, 0, (uint8_t)((cacheable ? 2 : 0) | 1), min, max);
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable)
{
	addr_space(a, 0x8a, 8, 0, (uint8_t)((cacheable ? 2 : 0) | 1), min, max);
}
