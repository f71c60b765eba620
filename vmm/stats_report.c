/*
 * --stats at exit: text (vm_print_stats, vm_disks_print_stats) or one JSON
 * object, to stderr or the --stats-file.  The JSON is written by hand: the
 * values are numbers and a few strings, and a JSON library would be the
 * only dependency for it.
 */
#include "vmm/stats_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/vm.h"
#include "devices/virtio/blk.h"
#include "vmm/disk_attach.h"
#include "vmm/version.h"

static void add_site(struct stats_snapshot *s, const struct vcpu_exit_site *site)
{
	for (unsigned int i = 0; i < s->nsites; i++)
		if (s->sites[i].mmio == site->mmio && s->sites[i].addr == site->addr) {
			s->sites[i].count += site->count;
			return;
		}
	if (s->nsites == STATS_SITES)
		s->sites_other += site->count;
	else
		s->sites[s->nsites++] = *site;
}

static int by_count(const void *a, const void *b)
{
	const struct vcpu_exit_site *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->mmio != y->mmio)
		return x->mmio ? 1 : -1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void add_kvm_stat(void *opaque, const char *name, uint64_t value)
{
	struct stats_kvm *k = opaque;

	if (value == 0 || k->n == STATS_KVM_MAX)
		return;
	snprintf(k->c[k->n].name, sizeof(k->c[k->n].name), "%s", name);
	k->c[k->n++].value = value;
}

/* KVM_GET_STATS_FD of the VM and each vCPU; left NULL when the kernel has
 * no binary statistics (before 5.14) or memory is short. */
static void kvm_snapshot(struct stats_snapshot *s, const struct vm *vm)
{
	s->kvm_vm = calloc(1, sizeof(*s->kvm_vm));
	s->kvm_vcpus = calloc(vm->ncpus ? vm->ncpus : 1, sizeof(*s->kvm_vcpus));
	if (s->kvm_vm == NULL || s->kvm_vcpus == NULL ||
	    kvm_stats_each(vm->vm_fd, add_kvm_stat, s->kvm_vm)) {
		stats_snapshot_release(s);
		return;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].fd >= 0 &&
		    kvm_stats_each(vm->vcpus[i].fd, add_kvm_stat, &s->kvm_vcpus[i]) == 0)
			s->kvm_nvcpus = i + 1;
}

void stats_snapshot_release(struct stats_snapshot *s)
{
	free(s->kvm_vm);
	free(s->kvm_vcpus);
	s->kvm_vm = NULL;
	s->kvm_vcpus = NULL;
	s->kvm_nvcpus = 0;
}

void stats_snapshot(struct stats_snapshot *s, const struct vm *vm, const struct vm_disks *ds,
		    const struct vm_config *cfg, int exit_status)
{
	memset(s, 0, sizeof(*s));
	s->version = vmm_version;
	s->exit_status = exit_status;
	s->vcpus = vm->ncpus;
	s->memory = cfg->memory;
	s->start_ns = vm->start_ns;
	s->first_run_ns = vm->first_run_ns;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];

		for (unsigned int r = 0; r <= VCPU_EXIT_REASONS; r++)
			s->exits[r] += v->exits[r];
		for (unsigned int j = 0; j < v->nsites; j++)
			add_site(s, &v->sites[j]);
		s->sites_other += v->sites_other;
	}
	qsort(s->sites, s->nsites, sizeof(s->sites[0]), by_count);
	kvm_snapshot(s, vm);
	for (unsigned int i = 0; i < ds->n && i < CLI_MAX_DISKS; i++) {
		struct stats_disk *d = &s->disks[s->ndisks++];
		struct blk_queue_stats st = { 0 };

		if (ds->d[i].vdev)
			blk_device_stats(ds->d[i].vdev, &st);
		d->path = cfg->disks[i].path;
		d->requests = st.requests;
		d->kicks = st.kicks;
		d->interrupts = st.interrupts;
	}
}

/* A JSON string: quotes, backslashes and control bytes escaped; other
 * bytes as they are (paths are bytes, JSON wants UTF-8: a non-UTF-8 path
 * is the one thing this does not fix). */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void json_counters(FILE *out, const struct stats_kvm *k)
{
	fputc('{', out);
	for (unsigned int j = 0; j < k->n; j++) {
		fputs(j ? "," : "", out);
		json_string(out, k->c[j].name);
		fprintf(out, ":%llu", (unsigned long long)k->c[j].value);
	}
	fputc('}', out);
}

void stats_print_json(const struct stats_snapshot *s, FILE *out)
{
	uint64_t total = 0;
	bool first = true;

	fputs("{\"version\":", out);
	json_string(out, s->version);
	fprintf(out, ",\"exit_status\":%d,\"vcpus\":%u,\"memory_bytes\":%llu", s->exit_status,
		s->vcpus, (unsigned long long)s->memory);
	fputs(",\"first_kvm_run_ms\":", out);
	if (s->first_run_ns && s->first_run_ns >= s->start_ns)
		fprintf(out, "%.3f", (double)(s->first_run_ns - s->start_ns) / 1e6);
	else
		fputs("null", out);
	/* Reasons without a name share "other": one key, their sum. */
	fputs(",\"exits\":{", out);
	for (unsigned int r = 0; r <= VCPU_EXIT_REASONS; r++) {
		const char *name = vcpu_exit_name(r);
		uint64_t n = 0;
		bool seen = false;

		for (unsigned int q = 0; q < r; q++)
			seen |= !strcmp(vcpu_exit_name(q), name);
		if (seen)
			continue;
		for (unsigned int q = r; q <= VCPU_EXIT_REASONS; q++)
			if (!strcmp(vcpu_exit_name(q), name))
				n += s->exits[q];
		if (n == 0)
			continue;
		fprintf(out, "%s", first ? "" : ",");
		json_string(out, name);
		fprintf(out, ":%llu", (unsigned long long)n);
		total += n;
		first = false;
	}
	fprintf(out, "},\"exits_total\":%llu,\"disks\":[", (unsigned long long)total);
	for (unsigned int i = 0; i < s->ndisks; i++) {
		const struct stats_disk *d = &s->disks[i];

		fprintf(out, "%s{\"index\":%u,\"path\":", i ? "," : "", i);
		json_string(out, d->path ? d->path : "");
		fprintf(out, ",\"requests\":%llu,\"kicks\":%llu,\"interrupts\":%llu}",
			(unsigned long long)d->requests, (unsigned long long)d->kicks,
			(unsigned long long)d->interrupts);
	}
	fputs("]", out);
	if (s->nsites || s->sites_other) {
		/* Ports as numbers, MMIO pages as numbers: JSON has no hex. */
		fputs(",\"exits_by_place\":[", out);
		for (unsigned int i = 0; i < s->nsites; i++)
			fprintf(out, "%s{\"space\":\"%s\",\"addr\":%llu,\"count\":%llu}",
				i ? "," : "", s->sites[i].mmio ? "mmio_page" : "port",
				(unsigned long long)s->sites[i].addr,
				(unsigned long long)s->sites[i].count);
		fprintf(out, "],\"exits_elsewhere\":%llu", (unsigned long long)s->sites_other);
	}
	if (s->kvm_vm) {
		fputs(",\"kvm\":{\"vm\":", out);
		json_counters(out, s->kvm_vm);
		fputs(",\"vcpus\":[", out);
		for (unsigned int i = 0; i < s->kvm_nvcpus; i++) {
			fputs(i ? "," : "", out);
			json_counters(out, &s->kvm_vcpus[i]);
		}
		fputs("]}", out);
	}
	fputs("}\n", out);
}

void stats_print_text_extra(const struct stats_snapshot *s, FILE *out)
{
	if (s->nsites || s->sites_other) {
		fputs("vmm: exits to user space by place (port, or MMIO page):\n", out);
		for (unsigned int i = 0; i < s->nsites; i++)
			fprintf(out, "  %-5s 0x%-12llx %12llu\n",
				s->sites[i].mmio ? "page" : "port",
				(unsigned long long)s->sites[i].addr,
				(unsigned long long)s->sites[i].count);
		if (s->sites_other)
			fprintf(out, "  %-18s %12llu\n", "elsewhere",
				(unsigned long long)s->sites_other);
	}
	if (s->kvm_vm == NULL)
		return;
	fputs("vmm: KVM statistics (KVM_GET_STATS_FD, nonzero):\n", out);
	fputs("  vm:", out);
	for (unsigned int j = 0; j < s->kvm_vm->n; j++)
		fprintf(out, " %s=%llu", s->kvm_vm->c[j].name,
			(unsigned long long)s->kvm_vm->c[j].value);
	fputc('\n', out);
	for (unsigned int i = 0; i < s->kvm_nvcpus; i++) {
		fprintf(out, "  vcpu%u:", i);
		for (unsigned int j = 0; j < s->kvm_vcpus[i].n; j++)
			fprintf(out, " %s=%llu", s->kvm_vcpus[i].c[j].name,
				(unsigned long long)s->kvm_vcpus[i].c[j].value);
		fputc('\n', out);
	}
}

FILE *stats_open(const struct vm_config *cfg)
{
	if (cfg->stats_file == NULL)
		return stderr;
	FILE *f = fopen(cfg->stats_file, "we");
	if (f == NULL)
		err_errno("--stats-file %s", cfg->stats_file);
	return f;
}

int stats_report(FILE *out, const struct vm_config *cfg, const struct vm *vm,
		 const struct vm_disks *ds, int exit_status)
{
	/* Large (the KVM statistics of every vCPU): not on the stack. */
	struct stats_snapshot *s = malloc(sizeof(*s));

	if (s)
		stats_snapshot(s, vm, ds, cfg, exit_status);
	if (cfg->stats_json && s) {
		stats_print_json(s, out);
	} else {
		vm_print_stats(vm, out);
		vm_disks_print_stats(ds, out);
		if (s)
			stats_print_text_extra(s, out);
	}
	if (s) {
		stats_snapshot_release(s);
		free(s);
	}
	if (out == stderr)
		return 0;
	bool bad = ferror(out);
	if (fclose(out) || bad)
		return err_errno("--stats-file %s", cfg->stats_file);
	return 0;
}
