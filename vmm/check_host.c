/*
 * vmm --check-host: /dev/kvm present and read-write, the KVM API version,
 * the capabilities vmm's devices are built on, a real VM (created by
 * vm_create(), the code a boot runs, so the verdict cannot drift from what
 * a boot needs), and the kind of KVM: PVM (kvm_pvm) runs only PVM guest
 * kernels, which is what confused us most on our own machines.
 */
#include "vmm/check_host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/util.h"
#include "core/vm.h"

const struct check_host_paths check_host_default_paths = {
	.kvm_dev = "/dev/kvm",
	.sys_module = "/sys/module",
};

/* What the user is told about: the notification and interrupt paths of
 * vmm's devices and the architecture's interrupt controllers.  The full
 * list is checked by vm_create() below. */
static const struct {
	int cap;
	const char *what;
} caps[] = {
	{ KVM_CAP_IRQFD, "irqfd" },
	{ KVM_CAP_IOEVENTFD, "ioeventfd" },
	{ KVM_CAP_IRQ_ROUTING, "GSI routing" },
	{ KVM_CAP_SIGNAL_MSI, "MSI" },
#if defined(__x86_64__)
	{ KVM_CAP_IRQCHIP, "in-kernel irqchip (PIC, IOAPIC, LAPIC)" },
	{ KVM_CAP_PIT2, "in-kernel PIT" },
#else
	{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
#endif
};

/* Guest RAM of the trial VM: only reserved, never touched. */
#define TRIAL_MEMORY (16ULL << 20)

struct report {
	FILE *out;
	unsigned int failed;
};

static void line(struct report *r, const char *verdict, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void line(struct report *r, const char *verdict, const char *fmt, ...)
{
	va_list ap;

	if (!strcmp(verdict, "FAIL"))
		r->failed++;
	fprintf(r->out, "%-5s ", verdict);
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
}

static bool module_loaded(const struct check_host_paths *p, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", p->sys_module, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The API version and the capabilities; false when KVM is unusable. */
static bool check_kvm_fd(struct report *r, int kvm, const char *dev)
{
	char missing[256] = "";
	int v = ioctl(kvm, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION) {
		if (v < 0)
			line(r, "FAIL", "%s: not a KVM device (KVM_GET_API_VERSION: %s)", dev,
			     strerror(errno));
		else
			line(r, "FAIL", "KVM API version %d, vmm needs %d", v, KVM_API_VERSION);
		return false;
	}
	line(r, "ok", "KVM API version %d", v);
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		if (ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].cap) > 0)
			continue;
		size_t n = strlen(missing);
		snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "", caps[i].what);
	}
	if (missing[0]) {
		line(r, "FAIL", "capabilities: missing %s", missing);
		return false;
	}
	fprintf(r->out, "ok    capabilities:");
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		fprintf(r->out, "%s %s", i ? "," : "", caps[i].what);
	fputc('\n', r->out);
	return true;
}

/* Creates the VM a one-vCPU boot would: irqchip, timers, RAM slots, vCPU. */
static void check_vm(struct report *r)
{
	static struct vm vm;

	memset(&vm, 0, sizeof(vm));
	if (vm_create(&vm, 1, TRIAL_MEMORY)) {
		line(r, "FAIL", "creating a VM: %s", err_msg());
		return;
	}
	line(r, "ok", "a VM with an in-kernel irqchip and a vCPU: created (at most %u vCPUs)",
	     vm.max_vcpus);
	vm_destroy(&vm);
}

static void check_kind(struct report *r, const struct check_host_paths *p)
{
	if (module_loaded(p, "kvm_pvm")) {
		line(r, "FAIL",
		     "KVM is PVM (kvm_pvm): it runs only PVM guest kernels; a stock Linux "
		     "kernel hangs or dies with \"KVM internal error ... emulation failure\"");
		fprintf(r->out,
			"      (to boot stock kernels here, run vmm inside the test host of vmm's\n"
			"      source tree: tests/kvmhost/run -- vmm ...; see its README)\n");
	} else if (module_loaded(p, "kvm_intel")) {
		line(r, "ok", "KVM is hardware-assisted (kvm_intel: Intel VT-x)");
	} else if (module_loaded(p, "kvm_amd")) {
		line(r, "ok", "KVM is hardware-assisted (kvm_amd: AMD-V)");
	} else {
		line(r, "note", "KVM module not recognised (neither kvm_intel nor kvm_amd in %s)",
		     p->sys_module);
	}
}

int check_host(FILE *out, const struct check_host_paths *p)
{
	struct report r = { .out = out };
	struct stat st;
	const char *dev = p->kvm_dev;

	if (stat(dev, &st) < 0 && module_loaded(p, "kvm")) {
		line(&r, "FAIL",
		     "%s: not present (%s), although the kvm module is loaded: "
		     "a container without the device?",
		     dev, strerror(errno));
	} else if (stat(dev, &st) < 0) {
		line(&r, "FAIL",
		     "%s: not present (%s): load kvm_intel or kvm_amd, or enable "
		     "nested virtualization when this is a VM",
		     dev, strerror(errno));
	} else {
		int kvm = open(dev, O_RDWR | O_CLOEXEC);
		if (kvm < 0 && (errno == EACCES || errno == EPERM)) {
			line(&r, "FAIL",
			     "%s: present, but no read-write access for this user (%s): "
			     "join its group (ls -l %s; usually 'kvm')",
			     dev, strerror(errno), dev);
		} else if (kvm < 0) {
			line(&r, "FAIL", "%s: present, but cannot be opened: %s", dev,
			     strerror(errno));
		} else {
			line(&r, "ok", "%s: present, opened read-write", dev);
			bool usable = check_kvm_fd(&r, kvm, dev);
			close(kvm);
			/* vm_create() opens the real device: only meaningful
			 * when that is the one checked. */
			if (usable && !strcmp(dev, check_host_default_paths.kvm_dev))
				check_vm(&r);
		}
	}
	check_kind(&r, p);
	if (r.failed)
		fprintf(out,
			"vmm --check-host: this host cannot boot stock Linux guests with vmm (%u problem%s above)\n",
			r.failed, r.failed == 1 ? "" : "s");
	else
		fprintf(out,
			"vmm --check-host: this host can run vmm and boot stock Linux guests\n");
	return r.failed ? 1 : 0;
}
