/* x86 vCPU setup: CPUID, MSRs, FPU, LAPIC, long-mode registers and tables. */
#include "arch/x86/cpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"
#include "core/err.h"
#include "core/util.h"

#define CPUID_MAX_ENTRIES_START 128
#define CPUID_MAX_ENTRIES_LIMIT 4096

/* CPUID.1:ECX.TSC_DEADLINE: KVM emulates the LAPIC timer's TSC-deadline
 * mode but leaves the bit out of KVM_GET_SUPPORTED_CPUID; the VMM sets it
 * when KVM_CAP_TSC_DEADLINE_TIMER says the mode works (QEMU does too).
 * Linux then arms timers with one MSR write instead of the divide and
 * initial-count dance of one-shot mode. */
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)

static void set_tsc_deadline(int kvm_fd, struct kvm_cpuid2 *c)
{
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) <= 0)
		return;
	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
}

struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd)
{
	for (unsigned int n = CPUID_MAX_ENTRIES_START; n <= CPUID_MAX_ENTRIES_LIMIT; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (c == NULL) {
			err_set("out of memory");
			return NULL;
		}
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			set_tsc_deadline(kvm_fd, c);
			return c;
		}
		int e = errno;
		free(c);
		if (e != E2BIG) {
			errno = e;
			err_errno("KVM_GET_SUPPORTED_CPUID");
			return NULL;
		}
	}
	err_set("KVM_GET_SUPPORTED_CPUID: too many entries");
	return NULL;
}

static unsigned int order(unsigned int n)
{
	unsigned int o = 0;
	while ((1u << o) < n)
		o++;
	return o;
}

struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *base, unsigned int id,
				      unsigned int ncpus)
{
	size_t size = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	if (c == NULL) {
		err_set("out of memory");
		return NULL;
	}
	memcpy(c, base, size);
	/* Topology: one package, ncpus cores of one thread each. */
	unsigned int core_bits = order(ncpus);
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (id << 24) |
				 ((ncpus > 1 ? (1u << core_bits) : 1) << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: the count above is valid */
			else
				e->edx &= ~(1u << 28);
			e->ecx |= 1u << 31; /* running under a hypervisor */
			break;
		case 4:
			/* Cores per package - 1; caches up to L2 are per core,
			 * L3 is shared by the package. */
			e->eax &= 0x3ff;
			if ((e->eax & 0x1f) != 0) {
				unsigned int level = (e->eax >> 5) & 7;
				e->eax |= ((1u << core_bits) - 1) << 26;
				if (level >= 3)
					e->eax |= ((1u << core_bits) - 1) << 14;
			}
			break;
		case 0xb:
		case 0x1f:
			e->edx = id;	     /* x2APIC ID */
			if (e->index == 0) { /* SMT level: 1 thread */
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1u << 8;
			} else if (e->index == 1) { /* core level */
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = 2u << 8 | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			/* AMD: cores per package - 1 and the APIC ID bits for them. */
			e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | (ncpus - 1);
			break;
		case 0x8000001e:
			e->eax = id;	    /* extended APIC ID */
			e->ebx = id & 0xff; /* core ID, 1 thread per core */
			e->ecx = 0;	    /* node 0 */
			break;
		}
	}
	return c;
}

unsigned int x86_phys_bits(const struct kvm_cpuid2 *c)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		unsigned int bits = c->entries[i].eax & 0xff;
		if (c->entries[i].function == 0x80000008 && bits)
			return bits;
	}
	/* Leaf 0x80000008 missing or empty: the architectural default. */
	return 36;
}

int x86_write_boot_tables(struct guest_mem *mem)
{
	/* GDT: null, 32-bit code (0x08, for the PVH entry), 64-bit code
	 * (0x10), data (0x18), TSS (0x20): 0x10 and 0x18 are the selectors
	 * the 64-bit boot protocol names. */
	static const uint64_t gdt[] = {
		0,
		0x00cf9b000000ffffULL, /* 32-bit code, 4 GiB flat */
		0x00af9b000000ffffULL, /* 64-bit code, present, DPL 0 */
		0x00cf93000000ffffULL, /* data, 4 GiB flat */
		0x008f8b000000ffffULL, /* busy 32/64-bit TSS */
	};
	if (guest_mem_write(mem, X86_GDT_ADDR, gdt, sizeof(gdt)))
		return err_set("no guest RAM for the GDT");

	uint64_t *pml4 = guest_mem_ptr(mem, X86_PML4_ADDR, 4096);
	uint64_t *pdpt = guest_mem_ptr(mem, X86_PDPT_ADDR, 4096);
	uint64_t *pd = guest_mem_ptr(mem, X86_PD_ADDR, 4 * 4096);
	if (!pml4 || !pdpt || !pd)
		return err_set("no guest RAM for the boot page tables");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = X86_PDPT_ADDR | 0x3; /* present, writable */
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (X86_PD_ADDR + i * 4096) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* 2 MiB page */
	return 0;
}

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

static int setup_msrs(int fd)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },	       /* fast strings */
		{ MSR_MTRR_DEF_TYPE, (1u << 11) | 6 }, /* MTRRs on, write-back */
	};
	enum {
		N = ARRAY_SIZE(msrs)
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[N];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = N;
	for (unsigned int i = 0; i < N; i++) {
		m.e[i].index = msrs[i].index;
		m.e[i].data = msrs[i].data;
	}
	int n = ioctl(fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return err_errno("KVM_SET_MSRS");
	if (n != N)
		return err_set("KVM_SET_MSRS: KVM refused MSR 0x%x", msrs[n].index);
	return 0;
}

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static int setup_lapic(int fd)
{
	struct kvm_lapic_state l;
	if (ioctl(fd, KVM_GET_LAPIC, &l) < 0)
		return err_errno("KVM_GET_LAPIC");
	/* As a PC BIOS leaves it: LINT0 takes the 8259's ExtINT, LINT1 NMI. */
	uint32_t *lvt0 = (uint32_t *)(void *)&l.regs[APIC_LVT0];
	uint32_t *lvt1 = (uint32_t *)(void *)&l.regs[APIC_LVT1];
	*lvt0 = (*lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	if (ioctl(fd, KVM_SET_LAPIC, &l) < 0)
		return err_errno("KVM_SET_LAPIC");
	return 0;
}

static struct kvm_segment segment(uint16_t sel, uint8_t type, uint8_t db, uint8_t l)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = db,
		.s = type != 11,
		.l = l,
		.g = 1,
	};
}

static int setup_boot_regs(int fd, const struct x86_boot_entry *entry)
{
	struct kvm_sregs s;
	if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
		return err_errno("KVM_GET_SREGS");
	s.ds = s.es = s.fs = s.gs = s.ss = segment(0x18, 3, 1, 0);
	s.tr = segment(0x20, 11, 0, 0);
	s.tr.s = 0;
	s.gdt.base = X86_GDT_ADDR;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	if (entry->pvh) {
		/* PVH: 32-bit protected mode, paging off, CR0 PE and ET only,
		 * TR a 32-bit TSS based at 0 of limit 0x67. */
		s.cs = segment(0x08, 11, 1, 0);
		s.tr.limit = 0x67;
		s.tr.g = 0;
		s.cr0 = 0x11;
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	} else {
		s.cs = segment(0x10, 11, 0, 1); /* execute/read, accessed, 64-bit */
		s.tr.limit = 0xfffff;
		s.tr.g = 0;
		s.cr3 = X86_PML4_ADDR;
		s.cr4 |= 1u << 5;		  /* PAE */
		s.cr0 |= 0x80000001u | 0x10;	  /* PG, PE, ET */
		s.efer |= (1u << 8) | (1u << 10); /* LME, LMA */
	}
	if (ioctl(fd, KVM_SET_SREGS, &s) < 0)
		return err_errno("KVM_SET_SREGS");

	struct kvm_regs r = {
		.rflags = 2, /* reserved bit; interrupts off */
		.rip = entry->rip,
		.rsi = entry->pvh ? 0 : entry->params,
		.rbx = entry->pvh ? entry->params : 0,
		.rsp = X86_BOOT_STACK,
		.rbp = X86_BOOT_STACK,
	};
	if (ioctl(fd, KVM_SET_REGS, &r) < 0)
		return err_errno("KVM_SET_REGS");

	struct kvm_fpu f = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	if (ioctl(fd, KVM_SET_FPU, &f) < 0)
		return err_errno("KVM_SET_FPU");
	return 0;
}

/*
 * XCR0 starts with every state component the vCPU's CPUID offers, which is
 * what Linux enables first thing anyway.  The reason to do it here: where
 * XSETBV is not intercepted (QEMU's TCG SVM, our test host), KVM never
 * learns the guest's own XCR0 write, keeps reloading the stale value on
 * every entry (so the guest's XSAVE drops its AVX state) and reports XSAVE
 * sizes that Linux flags as an "XSAVE consistency problem".
 */
static int setup_xcr0(int fd, const struct kvm_cpuid2 *c)
{
	uint64_t xcr0 = 0;
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0xd && c->entries[i].index == 0)
			xcr0 = c->entries[i].eax | (uint64_t)c->entries[i].edx << 32;
	/* x87 must be set; without XSAVE in CPUID there is nothing to do. */
	if (!(xcr0 & 1))
		return 0;
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs = { { .xcr = 0, .value = xcr0 } } };
	if (ioctl(fd, KVM_SET_XCRS, &xcrs) < 0)
		return err_errno("KVM_SET_XCRS (XCR0 0x%llx)", (unsigned long long)xcr0);
	return 0;
}

int x86_vcpu_setup(int fd, unsigned int id, unsigned int ncpus, const struct kvm_cpuid2 *supported,
		   const struct x86_boot_entry *entry)
{
	struct kvm_cpuid2 *c = x86_cpuid_for_vcpu(supported, id, ncpus);
	if (c == NULL)
		return -1;
	int ret = ioctl(fd, KVM_SET_CPUID2, c);
	if (ret < 0) {
		free(c);
		return err_errno("vCPU %u: KVM_SET_CPUID2", id);
	}
	ret = setup_xcr0(fd, c);
	free(c);
	if (ret)
		return err_prefix("vCPU %u", id);
	if (setup_msrs(fd) || setup_lapic(fd))
		return err_prefix("vCPU %u", id);
	if (id == 0 && setup_boot_regs(fd, entry))
		return err_prefix("vCPU %u", id);
	return 0;
}
