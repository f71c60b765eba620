/*
 * The PCI/MSI-X/virtio-pci stack against the real /dev/kvm: MSI-X vectors
 * become real GSI routes and irqfds (probed through KVM's own refusal of a
 * second irqfd on a busy eventfd), a masked vector's signal stays in the
 * eventfd and shows in the PBA; and a tiny real-mode guest enables the
 * device through ECAM, enables a queue and kicks it three times: the kicks
 * arrive on the queue's eventfd through KVM_IOEVENTFD, without exits.
 * Skipped, saying so, where /dev/kvm is absent.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "core/arch.h"
#include "core/err.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/debug_exit.h"
#include "devices/pci.h"
#include "devices/virtio/pci.h"
#include "vmm/console.h"

#define CODE_ADDR 0x1000
#define SLOT	  1

/* A device with one queue that records its kick eventfd. */
struct kdev {
	struct virtio_device vdev;
};

static uint64_t k_features(struct virtio_device *d)
{
	(void)d;
	return 1ull << VIRTIO_F_VERSION_1;
}

static int k_set_features(struct virtio_device *d, uint64_t f)
{
	(void)d;
	(void)f;
	return 0;
}

static void k_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	(void)d;
	(void)off;
	memset(buf, 0, len);
}

static void k_config_write(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len)
{
	(void)d;
	(void)off;
	(void)buf;
	(void)len;
}

static int k_queue_start(struct virtio_device *d, unsigned int q, const struct virtq_config *cfg,
			 int kick_fd)
{
	(void)d;
	(void)q;
	(void)cfg;
	(void)kick_fd;
	return 0;
}

static void k_reset(struct virtio_device *d)
{
	(void)d;
}

static const struct virtio_device_ops kops = {
	.features = k_features,
	.set_features = k_set_features,
	.config_read = k_config_read,
	.config_write = k_config_write,
	.queue_start = k_queue_start,
	.reset = k_reset,
};

static struct vm vm;
static struct pci_bus pb;
static struct kdev kd;
static struct virtio_pci *vp;
static uint64_t bar;

static void setup(void)
{
	ck_assert_msg(vm_create(&vm, 1, 16 << 20) == 0, "vm_create: %s", err_msg());
	/* No 64-bit window: the BAR lands below 4 GiB, where a real-mode
	 * guest with a 4 GiB data segment reaches it. */
	ck_assert_int_eq(
		pci_bus_init(&pb, &vm.mmio, X86_PCI_MMIO32_START, X86_PCI_MMIO32_SIZE, 0, 0), 0);
	ck_assert_int_eq(pci_bus_register_pio(&pb, &vm.pio), 0);
	ck_assert_int_eq(
		pci_bus_register_ecam(&pb, &vm.mmio, X86_PCI_ECAM_START, X86_PCI_ECAM_SIZE), 0);
	kd.vdev = (struct virtio_device){
		.ops = &kops, .device_id = VIRTIO_ID_BLOCK, .num_queues = 1, .queue_max_size = 16
	};
	struct virtio_pci_params p = {
		.vdev = &kd.vdev,
		.irq_ops = &irq_kvm_msi_ops,
		.irq_ctx = &vm.irq,
		.ioeventfd_ops = &irq_kvm_ioeventfd_ops,
		.ioeventfd_ctx = &vm.vm_fd,
	};
	vp = virtio_pci_create(&p);
	ck_assert_msg(vp != NULL, "virtio_pci_create: %s", err_msg());
	ck_assert_int_eq(pci_bus_plug(&pb, virtio_pci_function(vp), SLOT), 0);
	bar = pci_cfg_get32(virtio_pci_function(vp), PCI_BAR0) & ~0xfull;
	ck_assert_uint_eq(pci_cfg_get32(virtio_pci_function(vp), PCI_BAR0 + 4), 0);
}

static void teardown(void)
{
	virtio_pci_destroy(vp);
	pci_bus_destroy(&pb);
	vm_destroy(&vm);
}

static uint64_t ecam(uint32_t reg)
{
	return X86_PCI_ECAM_START + ((uint64_t)SLOT << 15) + reg;
}

static uint64_t take_fd(int fd)
{
	uint64_t cnt = 0;
	if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		ck_assert_int_eq(errno, EAGAIN);
	return cnt;
}

START_TEST(msix_vectors_become_kvm_routes_and_irqfds)
{
	struct pci_function *f = virtio_pci_function(vp);
	uint32_t mx = 0;
	for (uint32_t c = pci_cfg_get8(f, PCI_CAP_PTR); c; c = pci_cfg_get8(f, c + 1))
		if (pci_cfg_get8(f, c) == PCI_CAP_ID_MSIX)
			mx = c;
	ck_assert_uint_ne(mx, 0);
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ck_assert(bus_write(&vm.mmio, ecam(PCI_COMMAND), &cmd, 2));

	/* Vector 1: programmed, unmasked, MSI-X enabled. */
	uint32_t addr = 0xfee00000, data = 0x4041, ctrl = 0;
	uint64_t t = bar + VIRTIO_PCI_MSIX_TABLE_BASE + 16;
	ck_assert(bus_write(&vm.mmio, t, &addr, 4));
	ck_assert(bus_write(&vm.mmio, t + 8, &data, 4));
	ck_assert(bus_write(&vm.mmio, t + 12, &ctrl, 4));
	unsigned int routes = vm.irq.nr;
	uint16_t mc = MSIX_CONTROL_ENABLE;
	ck_assert(bus_write(&vm.mmio, ecam(mx + 2), &mc, 2));
	ck_assert_uint_eq(vm.irq.nr, routes + 1);

	/* Queue 0 raises vector 1, whose eventfd KVM now owns: it refuses
	 * to bind it a second time. */
	uint16_t v1 = 1;
	ck_assert(bus_write(&vm.mmio, bar + VIRTIO_PCI_COMMON_Q_MSIX, &v1, 2));
	int fd = msix_vector_fd(virtio_pci_msix(vp), 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(irqfd_assign(vm.vm_fd, fd, X86_FIRST_MSI_GSI), -1);
	ck_assert_int_eq(errno, EBUSY);
	kd.vdev.transport.notify_queue(kd.vdev.transport.opaque, 0);
	/* KVM consumed the signal (or left it for its injection work); no
	 * PBA bit for a live vector either way. */
	uint64_t pba = 0;
	ck_assert(bus_read(&vm.mmio, bar + VIRTIO_PCI_MSIX_PBA_BASE, &pba, 8));
	ck_assert_uint_eq(pba, 0);

	/* Masked: detached, so KVM lets it go and the signal waits. */
	ctrl = MSIX_ENTRY_CTRL_MASK;
	ck_assert(bus_write(&vm.mmio, t + 12, &ctrl, 4));
	ck_assert_int_eq(irqfd_assign(vm.vm_fd, fd, X86_FIRST_MSI_GSI), 0);
	ck_assert_int_eq(irqfd_deassign(vm.vm_fd, fd, X86_FIRST_MSI_GSI), 0);
	take_fd(fd);
	kd.vdev.transport.notify_queue(kd.vdev.transport.opaque, 0);
	ck_assert(bus_read(&vm.mmio, bar + VIRTIO_PCI_MSIX_PBA_BASE, &pba, 8));
	ck_assert_uint_eq(pba, 1u << 1);

	/* Unmasked: bound again, pending bit gone. */
	ctrl = 0;
	ck_assert(bus_write(&vm.mmio, t + 12, &ctrl, 4));
	ck_assert_int_eq(irqfd_assign(vm.vm_fd, fd, X86_FIRST_MSI_GSI), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert(bus_read(&vm.mmio, bar + VIRTIO_PCI_MSIX_PBA_BASE, &pba, 8));
	ck_assert_uint_eq(pba, 0);

	/* Disabled: the route leaves the table. */
	mc = 0;
	ck_assert(bus_write(&vm.mmio, ecam(mx + 2), &mc, 2));
	ck_assert_uint_eq(vm.irq.nr, routes);
}
END_TEST

static void on_debug_exit(void *opaque, uint8_t value)
{
	vm_stop_debug_exit(opaque, value);
}

START_TEST(guest_kicks_reach_the_queue_eventfd_without_exits)
{
	/* The fixture's bus stands in for the platform's: only the debug-exit
	 * port is needed from the rest of the machine. */
	struct debug_exit dbg = { .exit = on_debug_exit, .opaque = &vm };
	uint32_t ecmd = (uint32_t)ecam(PCI_COMMAND);
	uint32_t qen = (uint32_t)(bar + VIRTIO_PCI_COMMON_Q_ENABLE);
	uint32_t ntf = (uint32_t)(bar + VIRTIO_PCI_NOTIFY_BASE);
	uint8_t code[] = {
		0x67, 0x66, 0xc7, 0x05, 0,    0,    0,	  0,	0x02, 0,    0,	  0, /* mov dword [ecmd], 2 */
		0x67, 0xc7, 0x05, 0,	0,    0,    0,	  0x01, 0x00, /* mov word [qen], 1 */
		0x67, 0xc7, 0x05, 0,	0,    0,    0,	  0x00, 0x00, /* mov word [ntf], 0 */
		0x67, 0xc7, 0x05, 0,	0,    0,    0,	  0x00, 0x00, 0x67, 0xc7, 0x05, 0,
		0,    0,    0,	  0x00, 0x00, 0xb0, 0x00, /* mov al, 0 */
		0xe6, 0xf4,				  /* out 0xf4, al */
		0xeb, 0xfe,
	};
	memcpy(&code[4], &ecmd, 4);
	memcpy(&code[15], &qen, 4);
	memcpy(&code[24], &ntf, 4);
	memcpy(&code[33], &ntf, 4);
	memcpy(&code[42], &ntf, 4);

	ck_assert_int_eq(bus_register(&vm.pio, X86_DEBUG_EXIT_PORT, DEBUG_EXIT_NR_PORTS,
				      &debug_exit_ops, &dbg),
			 0);
	ck_assert_int_eq(guest_mem_write(&vm.mem, CODE_ADDR, code, sizeof(code)), 0);
	struct kvm_sregs s;
	int vfd = vm.vcpus[0].fd;
	ck_assert_int_eq(ioctl(vfd, KVM_GET_SREGS, &s), 0);
	s.cs.base = 0;
	s.cs.selector = 0;
	s.ds.base = 0;
	s.ds.selector = 0;
	s.ds.limit = 0xffffffff;
	s.ds.g = 1;
	ck_assert_int_eq(ioctl(vfd, KVM_SET_SREGS, &s), 0);
	struct kvm_regs r = { .rip = CODE_ADDR, .rflags = 2 };
	ck_assert_int_eq(ioctl(vfd, KVM_SET_REGS, &r), 0);

	ck_assert_int_eq(vm_start(&vm), 0);
	struct pollfd p = { .fd = vm.stop_fd, .events = POLLIN };
	ck_assert_msg(poll(&p, 1, 10000) == 1, "the guest did not stop within 10 s");
	vm_join_vcpus(&vm);
	ck_assert_int_eq(vm.exit_status, 0);

	/* Two exits (the ECAM write, queue_enable); the kicks stayed in the
	 * kernel and arrived on the eventfd the device is given. */
	ck_assert_uint_eq(vm.vcpus[0].exits[KVM_EXIT_MMIO], 2);
	uint64_t a;
	ck_assert(pci_bar_decoding(virtio_pci_function(vp), 0, &a));
	ck_assert_uint_eq(a, bar);
	/* KVM holds an ioeventfd for the kick eventfd at the notify address
	 * (deassigning it works once). */
	int kick = virtio_pci_kick_fd(vp, 0);
	struct ioeventfd ev = { .addr = ntf, .len = 0, .mmio = true, .fd = kick };
	ck_assert_int_eq(ioeventfd_deassign(vm.vm_fd, &ev), 0);
	ck_assert_int_eq(ioeventfd_assign(vm.vm_fd, &ev), 0);
	ck_assert_uint_eq(take_fd(kick), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio_pci_kvm");
	TCase *t = tcase_create("kvm");

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("test_virtio_pci_kvm: /dev/kvm is absent (%s): skipping the KVM tests\n",
		       strerror(errno));
	} else {
		tcase_set_timeout(t, 60);
		tcase_add_checked_fixture(t, setup, teardown);
		tcase_add_test(t, msix_vectors_become_kvm_routes_and_irqfds);
		tcase_add_test(t, guest_kicks_reach_the_queue_eventfd_without_exits);
	}
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
