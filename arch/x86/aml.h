/*
 * A small ACPI Machine Language (AML) emitter for the DSDT: names, scopes,
 * devices, methods, packages, integers, strings and resource templates.
 * Nested objects are opened with aml_*_begin() and closed with aml_end(),
 * which fills in the PkgLength.  Errors (out of memory, unbalanced or too
 * deep nesting, bad names) are sticky: aml_ok() reports them once at the end.
 */
#ifndef ARCH_X86_AML_H
#define ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool failed;
	unsigned int depth;
	struct {
		size_t pos;
		int kind;
	} open[AML_MAX_DEPTH];
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
/* True when everything was emitted and every begin has its end. */
bool aml_ok(const struct aml *a);

void aml_bytes(struct aml *a, const void *p, size_t n);
/* A NameString: "\\_SB_.COM1", "_HID", "COM1"; segments shorter than
 * four characters are padded with '_'. */
void aml_namestring(struct aml *a, const char *path);
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501") as its compressed DWORD. */
void aml_eisaid(struct aml *a, const char *id);

/* Name(name, <the object emitted next>) */
void aml_name(struct aml *a, const char *name);
/* Return(<the object emitted next>) */
void aml_return(struct aml *a);

void aml_scope_begin(struct aml *a, const char *name);
void aml_device_begin(struct aml *a, const char *name);
void aml_method_begin(struct aml *a, const char *name, unsigned int nargs, bool serialized);
void aml_package_begin(struct aml *a, unsigned int nelems);
/* ResourceTemplate() { descriptors }: a Buffer closed by aml_end(),
 * which appends the end tag. */
void aml_resources_begin(struct aml *a);
void aml_end(struct aml *a);

/* Resource descriptors, inside aml_resources_begin/aml_end. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len); /* IO(Decode16, base, base, 1, len) */
void aml_res_irq(struct aml *a, unsigned int irq);	    /* IRQNoFlags() {irq}: edge, high */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len, bool rw);
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max); /* WordBusNumber, producer */
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);  /* WordIO window, producer */
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable);

#endif
