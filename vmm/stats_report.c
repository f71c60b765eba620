/*
 * --stats at exit: text (vm_print_stats, vm_disks_print_stats) or one JSON
 * object, to stderr or the --stats-file.  The JSON is written by hand: the
 * values are numbers and a few strings, and a JSON library would be the
 * only dependency for it.
 */
#include "vmm/stats_report.h"

#include <errno.h>
#include <string.h>

#include "core/err.h"
#include "core/vm.h"
#include "devices/virtio/blk.h"
#include "vmm/disk_attach.h"
#include "vmm/version.h"

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
	for (unsigned int i = 0; i < vm->ncpus; i++)
		for (unsigned int r = 0; r <= VCPU_EXIT_REASONS; r++)
			s->exits[r] += vm->vcpus[i].exits[r];
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
	fputs("]}\n", out);
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
	if (cfg->stats_json) {
		struct stats_snapshot s;

		stats_snapshot(&s, vm, ds, cfg, exit_status);
		stats_print_json(&s, out);
	} else {
		vm_print_stats(vm, out);
		vm_disks_print_stats(ds, out);
	}
	if (out == stderr)
		return 0;
	bool bad = ferror(out);
	if (fclose(out) || bad)
		return err_errno("--stats-file %s", cfg->stats_file);
	return 0;
}
