/* GSI routing table, irq lines, irqfds and ioeventfds (KVM ioctls). */
#include "core/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/err.h"

int irq_routing_init(struct irq_routing *r, int vm_fd, uint32_t first_msi_gsi)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->first_msi_gsi = first_msi_gsi;
	pthread_mutex_init(&r->lock, NULL);
	int max = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
	if (max <= 0)
		return err_set("KVM lacks KVM_CAP_IRQ_ROUTING (GSI routing)");
	r->max_routes = (unsigned int)max;
	return 0;
}

void irq_routing_destroy(struct irq_routing *r)
{
	free(r->entries);
	r->entries = NULL;
	r->nr = r->cap = 0;
	pthread_mutex_destroy(&r->lock);
}

static int append(struct irq_routing *r, const struct kvm_irq_routing_entry *e)
{
	if (r->nr >= r->max_routes)
		return err_set("GSI routing table full (%u routes)", r->max_routes);
	if (r->nr == r->cap) {
		unsigned int cap = r->cap ? r->cap * 2 : 64;
		void *n = realloc(r->entries, cap * sizeof(*e));
		if (n == NULL)
			return err_set("GSI routing table: out of memory");
		r->entries = n;
		r->cap = cap;
	}
	r->entries[r->nr++] = *e;
	return 0;
}

int irq_route_irqchip(struct irq_routing *r, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry e = {
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
	pthread_mutex_lock(&r->lock);
	int ret = append(r, &e);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static int commit_locked(struct irq_routing *r)
{
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + r->nr * sizeof(t->entries[0]));
	if (t == NULL)
		return err_set("GSI routing table: out of memory");
	t->nr = r->nr;
	memcpy(t->entries, r->entries, r->nr * sizeof(t->entries[0]));
	int ret = ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t);
	free(t);
	if (ret < 0)
		return err_errno("KVM_SET_GSI_ROUTING (%u routes)", r->nr);
	return 0;
}

int irq_routing_commit(struct irq_routing *r)
{
	pthread_mutex_lock(&r->lock);
	int ret = commit_locked(r);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static struct kvm_irq_routing_entry *find_msi(struct irq_routing *r, uint32_t gsi)
{
	for (unsigned int i = 0; i < r->nr; i++)
		if (r->entries[i].gsi == gsi && r->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &r->entries[i];
	return NULL;
}

static bool gsi_used(const struct irq_routing *r, uint32_t gsi)
{
	for (unsigned int i = 0; i < r->nr; i++)
		if (r->entries[i].gsi == gsi)
			return true;
	return false;
}

static void set_msi(const struct irq_routing *r, struct kvm_irq_routing_entry *e, uint32_t gsi,
		    uint32_t devid, uint64_t addr, uint32_t data)
{
	*e = (struct kvm_irq_routing_entry){
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_MSI,
		.flags = r->msi_devid ? KVM_MSI_VALID_DEVID : 0,
		.u.msi = {
			.address_lo = (uint32_t)addr,
			.address_hi = (uint32_t)(addr >> 32),
			.data = data,
			.devid = r->msi_devid ? devid : 0,
		},
	};
}

int irq_msi_add(struct irq_routing *r, uint32_t devid, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	int ret;
	pthread_mutex_lock(&r->lock);
	uint32_t g = r->first_msi_gsi;
	/* Tables are small (a few dozen routes): a linear scan is plenty. */
	while (gsi_used(r, g))
		g++;
	struct kvm_irq_routing_entry e;
	set_msi(r, &e, g, devid, addr, data);
	ret = append(r, &e);
	if (ret == 0) {
		ret = commit_locked(r);
		if (ret == 0)
			*gsi = g;
		else
			r->nr--;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_msi_update(struct irq_routing *r, uint32_t gsi, uint32_t devid, uint64_t addr,
		   uint32_t data)
{
	int ret;
	pthread_mutex_lock(&r->lock);
	struct kvm_irq_routing_entry *e = find_msi(r, gsi);
	if (e == NULL) {
		ret = err_set("GSI %u has no MSI route", gsi);
	} else {
		struct kvm_irq_routing_entry old = *e;
		set_msi(r, e, gsi, devid, addr, data);
		ret = commit_locked(r);
		if (ret)
			*e = old;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_msi_remove(struct irq_routing *r, uint32_t gsi)
{
	int ret;
	pthread_mutex_lock(&r->lock);
	struct kvm_irq_routing_entry *e = find_msi(r, gsi);
	if (e == NULL) {
		ret = err_set("GSI %u has no MSI route", gsi);
	} else {
		struct kvm_irq_routing_entry old = *e;
		size_t i = (size_t)(e - r->entries);
		memmove(e, e + 1, (r->nr - i - 1) * sizeof(*e));
		r->nr--;
		ret = commit_locked(r);
		if (ret) {
			memmove(&r->entries[i + 1], &r->entries[i], (r->nr - i) * sizeof(*e));
			r->entries[i] = old;
			r->nr++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_line(int vm_fd, uint32_t gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };
	if (ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0)
		return err_errno("KVM_IRQ_LINE gsi %u level %d", gsi, level);
	return 0;
}

static int irqfd(int vm_fd, int fd, uint32_t gsi, uint32_t flags)
{
	struct kvm_irqfd req = { .fd = (uint32_t)fd, .gsi = gsi, .flags = flags };
	if (ioctl(vm_fd, KVM_IRQFD, &req) < 0)
		return err_errno("KVM_IRQFD %s fd %d gsi %u", flags ? "deassign" : "assign", fd,
				 gsi);
	return 0;
}

int irqfd_assign(int vm_fd, int fd, uint32_t gsi)
{
	return irqfd(vm_fd, fd, gsi, 0);
}

int irqfd_deassign(int vm_fd, int fd, uint32_t gsi)
{
	return irqfd(vm_fd, fd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

static int ioeventfd(int vm_fd, const struct ioeventfd *ev, uint32_t extra)
{
	struct kvm_ioeventfd req = {
		.datamatch = ev->data,
		.addr = ev->addr,
		.len = ev->len,
		.fd = ev->fd,
		.flags = extra | (ev->mmio ? 0 : KVM_IOEVENTFD_FLAG_PIO) |
			 (ev->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};
	if (ioctl(vm_fd, KVM_IOEVENTFD, &req) < 0)
		return err_errno("KVM_IOEVENTFD %s %s 0x%llx len %u", extra ? "deassign" : "assign",
				 ev->mmio ? "mmio" : "pio", (unsigned long long)ev->addr, ev->len);
	return 0;
}

int ioeventfd_assign(int vm_fd, const struct ioeventfd *ev)
{
	return ioeventfd(vm_fd, ev, 0);
}

int ioeventfd_deassign(int vm_fd, const struct ioeventfd *ev)
{
	return ioeventfd(vm_fd, ev, KVM_IOEVENTFD_FLAG_DEASSIGN);
}
