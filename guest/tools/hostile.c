/*
 * virtio-hostile: a hostile virtio-blk driver in guest user space (issue 9,
 * "a hostile guest, for real").  It takes a virtio-blk-pci function away
 * from Linux (unbind from virtio-pci), enables memory space and bus
 * mastering through the sysfs config file, maps BAR 0 through sysfs,
 * finds the virtio structures through the PCI capabilities and drives the
 * device from DMA memory it owns: mlock'ed pages whose physical addresses
 * come from /proc/self/pagemap, page by page (plus, for the large attacks,
 * a 2 MiB huge page, physically contiguous by construction).
 *
 * Every attack is followed by an honest check: a known sector of the host's
 * pattern is read and compared, and a scratch sector is written and read
 * back.  When the attack left the device needing a reset (or the check fails
 * without one) the device is reset and set up again first.  One line per
 * attack: name, what the device did, PASS/FAIL; the exit status is 1 when
 * any honest request (or an isolation check) failed.
 *
 * The disk layout both sides agree on (`virtio-hostile layout` prints it
 * for the host's test script; `virtio-hostile pattern FILE` writes the
 * pattern):
 *   [0, PATTERN_END)           the host's pattern; the device must only
 *                              ever read it (sector 0 carries the run id)
 *   [SCRATCH_START, SCRATCH_END) the attacks and honest writes may write
 *   [SCRATCH_END, capacity)    zeros, read by the amplification attack
 *
 *   usage: virtio-hostile attack BLOCKDEV [--amp N,MIB] [--only NAME]...
 *          virtio-hostile pattern FILE BYTES
 *          virtio-hostile layout
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECTOR	      512u
#define PAGE	      4096u
#define MIB	      (1024u * 1024u)
#define PATTERN_END   (32ull * MIB)
#define SCRATCH_START (32ull * MIB)
#define SCRATCH_END   (48ull * MIB)
#define HUGE	      (2u * MIB)

/* DMA pages: rings, request headers, honest buffers, indirect tables, data. */
#define NPAGES	   1024u
#define P_DESC	   0u
#define P_AVAIL	   1u
#define P_USED	   2u
#define P_HDR	   3u  /* 4 pages: 64 request slots of 64 bytes each */
#define P_HONEST   7u  /* 3 pages */
#define P_TABLE	   10u /* 256 pages: one indirect table per slot */
#define P_DATA	   266u
#define DATA_PAGES (NPAGES - P_DATA)
#define NSLOTS	   256u

#define T_IO	   20000 /* ms for a request that should complete (nested TCG) */
#define T_NONE	   300	 /* ms to wait for something that should not happen */

#define F(bit)	   (1ull << (bit))

struct page {
	uint8_t *va;
	uint64_t pa;
};

struct res {
	char what[400];
	bool fail;  /* an isolation or spec check of the attack failed */
	bool dirty; /* the attack left the queue or features changed */
};

static struct dev {
	char bdf[64];
	int cfg_fd;
	volatile uint8_t *bar;
	size_t bar_len;
	uint64_t bar_pa;
	uint32_t bar_lo, bar_hi; /* BAR 0 registers as found */
	volatile uint8_t *common, *isr, *devcfg, *notify;
	uint32_t notify_mult;
	unsigned int msix_cap, pci_cfg_cap;
	uint32_t msix_table, msix_pba; /* BAR offsets */
	unsigned int msix_n;
	uint16_t numq;
	uint64_t offered;
	uint64_t features; /* what the last dev_init negotiated */
	uint64_t capacity; /* sectors */
	uint32_t max_discard_seg;
	/* queue 0 */
	uint16_t qsize;
	uint16_t noff;
	uint16_t avail_idx;
	uint16_t used_seen;
	uint8_t *desc, *avail, *used;
	uint64_t desc_pa, avail_pa, used_pa;
} d;

static struct page pg[NPAGES];
static struct page huge; /* va NULL when no huge page */
static uint64_t ram_top;
static unsigned long honest_round;
static int failures, attacks;
static const char *only[64];
static unsigned int nonly;
static unsigned int amp_reqs = 4, amp_mib = 64;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "virtio-hostile: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void say(struct res *r, const char *fmt, ...)
{
	size_t n = strlen(r->what);
	va_list ap;

	if (n + 2 >= sizeof(r->what))
		return;
	if (n)
		r->what[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(r->what + n, sizeof(r->what) - n, fmt, ap);
	va_end(ap);
}

static void check(struct res *r, bool ok, const char *what)
{
	if (!ok) {
		r->fail = true;
		say(r, "[UNEXPECTED: %s]", what);
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	usleep(ms * 1000u);
}

/* ---- the pattern ---- */

static uint8_t pattern_byte(uint64_t off)
{
	uint64_t s = off / SECTOR;

	return (uint8_t)(s * 151u + (off % SECTOR) * 7u + (s >> 7) + 1u);
}

static bool pattern_ok(const uint8_t *p, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_byte(off + i))
			return false;
	return true;
}

static int cmd_pattern(const char *file, const char *bytes)
{
	uint64_t n = strtoull(bytes, NULL, 0);
	static uint8_t buf[MIB];
	FILE *f = fopen(file, "r+b");

	if (f == NULL)
		f = fopen(file, "wb");
	if (f == NULL)
		die("%s: %s", file, strerror(errno));
	for (uint64_t off = 0; off < n; off += sizeof(buf)) {
		size_t len = n - off < sizeof(buf) ? (size_t)(n - off) : sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = pattern_byte(off + i);
		if (fwrite(buf, 1, len, f) != len)
			die("%s: write: %s", file, strerror(errno));
	}
	if (fclose(f))
		die("%s: %s", file, strerror(errno));
	return 0;
}

/* ---- PCI config space (sysfs) ---- */

static uint32_t cfg_rd(unsigned int off, unsigned int len)
{
	uint32_t v = 0;

	if (pread(d.cfg_fd, &v, len, off) != (ssize_t)len)
		return 0xffffffffu;
	return v;
}

static void cfg_wr(unsigned int off, unsigned int len, uint32_t v)
{
	if (pwrite(d.cfg_fd, &v, len, off) != (ssize_t)len)
		fprintf(stderr, "virtio-hostile: config write %#x/%u: %s\n", off, len,
			strerror(errno));
}

static void set_command(uint16_t set, uint16_t clear)
{
	uint16_t c = (uint16_t)cfg_rd(PCI_COMMAND, 2);

	cfg_wr(PCI_COMMAND, 2, (uint16_t)((c | set) & ~clear));
}

/* ---- MMIO ---- */

static inline uint8_t r8(volatile uint8_t *b, unsigned int o)
{
	return *(volatile uint8_t *)(b + o);
}
static inline uint16_t r16(volatile uint8_t *b, unsigned int o)
{
	return *(volatile uint16_t *)(b + o);
}
static inline uint32_t r32(volatile uint8_t *b, unsigned int o)
{
	return *(volatile uint32_t *)(b + o);
}
static inline void w8(volatile uint8_t *b, unsigned int o, uint8_t v)
{
	*(volatile uint8_t *)(b + o) = v;
}
static inline void w16(volatile uint8_t *b, unsigned int o, uint16_t v)
{
	*(volatile uint16_t *)(b + o) = v;
}
static inline void w32(volatile uint8_t *b, unsigned int o, uint32_t v)
{
	*(volatile uint32_t *)(b + o) = v;
}
static inline void w64(volatile uint8_t *b, unsigned int o, uint64_t v)
{
	*(volatile uint64_t *)(b + o) = v;
}

static uint8_t status(void)
{
	return r8(d.common, VIRTIO_PCI_COMMON_STATUS);
}

static void set_status(uint8_t s)
{
	w8(d.common, VIRTIO_PCI_COMMON_STATUS, s);
}

static void q_addr(unsigned int lo, uint64_t v)
{
	w32(d.common, lo, (uint32_t)v);
	w32(d.common, lo + 4, (uint32_t)(v >> 32));
}

/* ---- DMA memory ---- */

static uint64_t phys_of(int pm, void *va)
{
	uint64_t e;
	uintptr_t v = (uintptr_t)va;

	if (pread(pm, &e, 8, (off_t)(v / PAGE * 8)) != 8 || !(e >> 63))
		die("pagemap: page %p not present", va);
	if ((e & ((1ull << 55) - 1)) == 0)
		die("pagemap: no PFN (not root?)");
	return (e & ((1ull << 55) - 1)) * PAGE + (v % PAGE);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		fprintf(stderr, "virtio-hostile: %s: %s\n", path, strerror(errno));
	close(fd);
}

static void dma_setup(void)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	uint8_t *m;

	if (pm < 0)
		die("pagemap: %s", strerror(errno));
	/* Pages must stay where the device was told they are. */
	write_file("/proc/sys/vm/compact_unevictable_allowed", "0");
	m = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	madvise(m, NPAGES * PAGE, MADV_NOHUGEPAGE);
	if (mlock(m, NPAGES * PAGE))
		die("mlock: %s", strerror(errno));
	memset(m, 0, NPAGES * PAGE);
	for (unsigned int i = 0; i < NPAGES; i++) {
		pg[i].va = m + (size_t)i * PAGE;
		pg[i].pa = phys_of(pm, pg[i].va);
	}
	/* One 2 MiB huge page: physically contiguous, for long buffers. */
	write_file("/proc/sys/vm/nr_hugepages", "4");
	m = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1,
		 0);
	if (m != MAP_FAILED && mlock(m, HUGE) == 0) {
		memset(m, 0, HUGE);
		huge.va = m;
		huge.pa = phys_of(pm, m);
	}
	close(pm);
}

static void find_ram_top(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	unsigned long long a, b;

	if (f == NULL)
		die("/proc/iomem: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (line[0] != ' ' && strstr(line, "System RAM") &&
		    sscanf(line, "%llx-%llx", &a, &b) == 2 && b + 1 > ram_top)
			ram_top = b + 1;
	fclose(f);
	if (ram_top == 0)
		die("no System RAM in /proc/iomem");
}

/* ---- taking the function ---- */

static void find_bdf(const char *blockdev)
{
	char path[256], real[PATH_MAX], *p;
	const char *name = strrchr(blockdev, '/') ? strrchr(blockdev, '/') + 1 : blockdev;

	snprintf(path, sizeof(path), "/sys/block/%s/device", name);
	if (realpath(path, real) == NULL)
		die("%s: %s", path, strerror(errno));
	/* .../0000:00:02.0/virtioN */
	p = strrchr(real, '/');
	if (p == NULL)
		die("%s: odd path", real);
	*p = 0;
	p = strrchr(real, '/');
	snprintf(d.bdf, sizeof(d.bdf), "%s", p + 1);
}

static void map_bar(void)
{
	char path[256];
	struct stat st;
	unsigned long long start;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", d.bdf);
	f = fopen(path, "r");
	if (f == NULL || fscanf(f, "%llx", &start) != 1)
		die("%s: cannot read", path);
	fclose(f);
	d.bar_pa = start;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", d.bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st))
		die("%s: %s", path, strerror(errno));
	d.bar_len = (size_t)st.st_size;
	d.bar = mmap(NULL, d.bar_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (d.bar == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
}

static void walk_caps(void)
{
	unsigned int ptr = cfg_rd(PCI_CAPABILITY_LIST, 1) & ~3u;

	for (int n = 0; ptr && n < 48; n++) {
		unsigned int id = cfg_rd(ptr, 1);
		if (id == PCI_CAP_ID_VNDR) {
			unsigned int type = cfg_rd(ptr + VIRTIO_PCI_CAP_CFG_TYPE, 1);
			unsigned int bar = cfg_rd(ptr + VIRTIO_PCI_CAP_BAR, 1);
			uint32_t off = cfg_rd(ptr + VIRTIO_PCI_CAP_OFFSET, 4);
			if (type == VIRTIO_PCI_CAP_PCI_CFG)
				d.pci_cfg_cap = ptr;
			else if (bar != 0) {
				/* The port-I/O notify structure (an I/O BAR): this
				 * program drives the device through memory BAR 0,
				 * which has a notify structure of its own. */
			} else if (off >= d.bar_len)
				die("capability type %u in BAR %u at %#x: not handled", type, bar,
				    off);
			else if (type == VIRTIO_PCI_CAP_COMMON_CFG)
				d.common = d.bar + off;
			else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
				d.notify = d.bar + off;
				d.notify_mult = cfg_rd(ptr + sizeof(struct virtio_pci_cap), 4);
			} else if (type == VIRTIO_PCI_CAP_ISR_CFG)
				d.isr = d.bar + off;
			else if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
				d.devcfg = d.bar + off;
		} else if (id == PCI_CAP_ID_MSIX) {
			d.msix_cap = ptr;
			d.msix_n = (cfg_rd(ptr + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
			d.msix_table = cfg_rd(ptr + PCI_MSIX_TABLE, 4) & ~7u;
			d.msix_pba = cfg_rd(ptr + PCI_MSIX_PBA, 4) & ~7u;
		}
		ptr = cfg_rd(ptr + 1, 1) & ~3u;
	}
	if (!d.common || !d.notify || !d.isr || !d.devcfg || !d.msix_cap)
		die("%s: virtio capabilities missing", d.bdf);
}

static void take_device(const char *blockdev)
{
	char path[256];
	int fd;

	find_bdf(blockdev);
	fd = open("/sys/bus/pci/drivers/virtio-pci/unbind", O_WRONLY);
	if (fd < 0 || write(fd, d.bdf, strlen(d.bdf)) < 0)
		die("unbind %s: %s", d.bdf, strerror(errno));
	close(fd);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", d.bdf);
	d.cfg_fd = open(path, O_RDWR);
	if (d.cfg_fd < 0)
		die("%s: %s", path, strerror(errno));
	set_command(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
	d.bar_lo = cfg_rd(PCI_BASE_ADDRESS_0, 4);
	d.bar_hi = cfg_rd(PCI_BASE_ADDRESS_1, 4);
	map_bar();
	walk_caps();
	d.numq = r16(d.common, VIRTIO_PCI_COMMON_NUMQ);
	w32(d.common, VIRTIO_PCI_COMMON_DFSELECT, 0);
	d.offered = r32(d.common, VIRTIO_PCI_COMMON_DF);
	w32(d.common, VIRTIO_PCI_COMMON_DFSELECT, 1);
	d.offered |= (uint64_t)r32(d.common, VIRTIO_PCI_COMMON_DF) << 32;
	d.capacity = r32(d.devcfg, 0) | (uint64_t)r32(d.devcfg, 4) << 32;
	d.max_discard_seg = r32(d.devcfg, offsetof(struct virtio_blk_config, max_discard_seg));
	printf("HOSTILE-DEVICE %s bar0=%#llx len=%#zx queues=%u features=%#llx capacity=%llu "
	       "msix=%u ram_top=%#llx huge=%s\n",
	       d.bdf, (unsigned long long)d.bar_pa, d.bar_len, d.numq,
	       (unsigned long long)d.offered, (unsigned long long)d.capacity, d.msix_n,
	       (unsigned long long)ram_top, huge.va ? "yes" : "no");
}

/* ---- the driver: set-up and requests ---- */

static bool wait_reset(unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (status() != 0) {
		if (now_ms() > end)
			return false;
		sched_yield();
	}
	return true;
}

struct qcfg {
	uint16_t size;
	uint64_t desc, avail, used; /* 0: the default pages */
	bool no_enable;
	bool bad_q1;	 /* also enable queue 1, with its rings outside RAM */
	bool early_kick; /* post a read and kick before DRIVER_OK */
};

static void qc_early_post(void);

/* Reset, negotiate `want` (what the device offers of it, or all of it
 * with raw), set queue 0 up and DRIVER_OK.  0 when the device took it. */
static int dev_init_q(uint64_t want, bool raw, const struct qcfg *qc)
{
	uint64_t f = raw ? want : (want & d.offered);
	uint16_t size = qc && qc->size ? qc->size : 256;

	set_status(0);
	if (!wait_reset(30000))
		return -1;
	set_command(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	w32(d.common, VIRTIO_PCI_COMMON_GFSELECT, 0);
	w32(d.common, VIRTIO_PCI_COMMON_GF, (uint32_t)f);
	w32(d.common, VIRTIO_PCI_COMMON_GFSELECT, 1);
	w32(d.common, VIRTIO_PCI_COMMON_GF, (uint32_t)(f >> 32));
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(status() & VIRTIO_CONFIG_S_FEATURES_OK))
		return -2;
	d.features = f;
	w16(d.common, VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);
	w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, 0);
	w16(d.common, VIRTIO_PCI_COMMON_Q_SIZE, size);
	d.qsize = r16(d.common, VIRTIO_PCI_COMMON_Q_SIZE);
	d.noff = r16(d.common, VIRTIO_PCI_COMMON_Q_NOFF);
	w16(d.common, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	memset(pg[P_DESC].va, 0, PAGE);
	memset(pg[P_AVAIL].va, 0, PAGE);
	memset(pg[P_USED].va, 0, PAGE);
	d.desc = pg[P_DESC].va;
	d.avail = pg[P_AVAIL].va;
	d.used = pg[P_USED].va;
	d.desc_pa = qc && qc->desc ? qc->desc : pg[P_DESC].pa;
	d.avail_pa = qc && qc->avail ? qc->avail : pg[P_AVAIL].pa;
	d.used_pa = qc && qc->used ? qc->used : pg[P_USED].pa;
	q_addr(VIRTIO_PCI_COMMON_Q_DESCLO, d.desc_pa);
	q_addr(VIRTIO_PCI_COMMON_Q_AVAILLO, d.avail_pa);
	q_addr(VIRTIO_PCI_COMMON_Q_USEDLO, d.used_pa);
	if (!(qc && qc->no_enable))
		w16(d.common, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
	d.avail_idx = 0;
	d.used_seen = 0;
	if (qc && qc->bad_q1 && d.numq > 1) {
		w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, 1);
		q_addr(VIRTIO_PCI_COMMON_Q_DESCLO, ram_top);
		q_addr(VIRTIO_PCI_COMMON_Q_AVAILLO, ram_top);
		q_addr(VIRTIO_PCI_COMMON_Q_USEDLO, ram_top);
		w16(d.common, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
		w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, 0);
	}
	if (qc && qc->early_kick)
		qc_early_post();
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	return (status() & VIRTIO_CONFIG_S_NEEDS_RESET) ? -3 : 0;
}

static const uint64_t all_features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |
				     F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |
				     F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_DISCARD) |
				     F(VIRTIO_BLK_F_WRITE_ZEROES);

static int dev_init(void)
{
	return dev_init_q(all_features, false, NULL);
}

/* Entry i of a descriptor table: the ring's (d.desc) or an indirect one.
 * An attack that breaks one field of an honest chain sets it here. */
static struct vring_desc *desc_at(uint8_t *tb, unsigned int i)
{
	return (struct vring_desc *)(tb + 16u * i);
}

static void desc_set(uint8_t *tb, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc *v = desc_at(tb, i);

	v->addr = addr;
	v->len = len;
	v->flags = flags;
	v->next = next;
}

/* Request slot i: header at +0 (16 bytes), status at +16. */
static uint8_t *slot_va(unsigned int i)
{
	return pg[P_HDR + i / 64].va + (i % 64) * 64;
}
static uint64_t hdr_pa(unsigned int i)
{
	return pg[P_HDR + i / 64].pa + (i % 64) * 64;
}
static uint64_t st_pa(unsigned int i)
{
	return hdr_pa(i) + 16;
}
static uint8_t st_of(unsigned int i)
{
	return __atomic_load_n(slot_va(i) + 16, __ATOMIC_ACQUIRE);
}

static void hdr_set(unsigned int i, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .ioprio = 0, .sector = sector };

	memcpy(slot_va(i), &h, sizeof(h));
	slot_va(i)[16] = 0xee; /* "not written" */
}

static void avail_put(uint16_t head)
{
	uint16_t *ring = (uint16_t *)(d.avail + 4);

	ring[d.avail_idx % d.qsize] = head;
	d.avail_idx++;
	__atomic_store_n((uint16_t *)(d.avail + 2), d.avail_idx, __ATOMIC_RELEASE);
}

static void kick(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	w16(d.notify, d.noff * d.notify_mult, 0);
}

static void post(uint16_t head)
{
	avail_put(head);
	kick();
}

static uint16_t used_idx(void)
{
	return __atomic_load_n((uint16_t *)(d.used + 2), __ATOMIC_ACQUIRE);
}

/* The next used element; false after ms without one. */
static bool wait_used(uint16_t *id, uint32_t *len, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (used_idx() == d.used_seen) {
		if (now_ms() > end)
			return false;
		sched_yield();
	}
	struct vring_used_elem *e =
		(struct vring_used_elem *)(d.used + 4 + 8u * (d.used_seen % d.qsize));
	*id = (uint16_t)e->id;
	*len = e->len;
	d.used_seen++;
	return true;
}

/* Waits for head, skipping completions of other chains. */
static bool wait_head(uint16_t head, uint32_t *len, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	uint16_t id;

	for (;;) {
		uint64_t t = now_ms();
		if (t > end || !wait_used(&id, len, (unsigned int)(end - t)))
			return false;
		if (id == head)
			return true;
	}
}

/* Posts head and waits for it: slot's status byte (0xee: not written),
 * 0xdd when it did not complete; the used length in len. */
static uint8_t submit(uint16_t head, unsigned int slot, uint32_t *len)
{
	post(head);
	return wait_head(head, len, T_IO) ? st_of(slot) : 0xdd;
}

/* A request's chain, written into a descriptor table from entry `at` in
 * the order a driver writes it: slot's header, the data buffers, slot's
 * status, each entry linked to the next.  The honest requests and every
 * attack start from one; an attack then breaks only what it is about. */
struct chain {
	uint8_t *tb;
	unsigned int slot;
	unsigned int next; /* the entry the next descriptor goes in */
};

static struct chain chain_begin(uint8_t *tb, unsigned int at, unsigned int slot, uint32_t type,
				uint64_t sector)
{
	hdr_set(slot, type, sector);
	desc_set(tb, at, hdr_pa(slot), 16, VRING_DESC_F_NEXT, (uint16_t)(at + 1));
	return (struct chain){ .tb = tb, .slot = slot, .next = at + 1 };
}

/* n data buffers of len bytes, all n at addr; flags: VRING_DESC_F_WRITE
 * for a buffer the device writes, 0 for one it reads. */
static void chain_data(struct chain *c, uint64_t addr, uint32_t len, uint16_t flags, unsigned int n)
{
	for (; n; n--, c->next++)
		desc_set(c->tb, c->next, addr, len, flags | VRING_DESC_F_NEXT,
			 (uint16_t)(c->next + 1));
}

/* The status byte ends the chain; returns the entry after it (for a
 * chain begun at 0, its length in entries: an indirect table's len / 16). */
static unsigned int chain_end(struct chain *c)
{
	desc_set(c->tb, c->next, st_pa(c->slot), 1, VRING_DESC_F_WRITE, 0);
	return ++c->next;
}

/* The common request: from ring entry 0, slot 0's header, one buffer of
 * len bytes at addr, the status. */
static void plain(uint32_t type, uint64_t sector, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct chain c = chain_begin(d.desc, 0, 0, type, sector);

	chain_data(&c, addr, len, flags, 1);
	chain_end(&c);
}

/* Honest read or write of whole pages at `sector` through slot 0 and
 * descriptors 0.., returns the status byte (0xee: not written, 0xdd: no
 * completion). */
static uint8_t rw_pages(uint32_t type, uint64_t sector, const struct page *p, unsigned int n)
{
	struct chain c = chain_begin(d.desc, 0, 0, type, sector);
	uint32_t len;

	for (unsigned int i = 0; i < n; i++)
		chain_data(&c, p[i].pa, PAGE, type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0, 1);
	chain_end(&c);
	return submit(0, 0, &len);
}

/* The honest check: NULL when a known sector reads back as the host's
 * pattern and a scratch sector written reads back. */
static const char *honest(void)
{
	static char why[128];
	const struct page *rd = &pg[P_HONEST], *wr = &pg[P_HONEST + 1], *rb = &pg[P_HONEST + 2];
	uint64_t known = 8 + (honest_round * 8 * 37) % (PATTERN_END / SECTOR - 16);
	uint64_t scratch = SCRATCH_START / SECTOR + (honest_round * 8) % 2048;
	uint8_t s;

	honest_round++;
	known &= ~7ull;
	memset(rd->va, 0xaa, PAGE);
	s = rw_pages(VIRTIO_BLK_T_IN, known, rd, 1);
	if (s != VIRTIO_BLK_S_OK) {
		snprintf(why, sizeof(why), "read of sector %llu: status %#x",
			 (unsigned long long)known, s);
		return why;
	}
	if (!pattern_ok(rd->va, known * SECTOR, PAGE)) {
		snprintf(why, sizeof(why), "sector %llu is not the host's pattern",
			 (unsigned long long)known);
		return why;
	}
	for (unsigned int i = 0; i < PAGE; i++)
		wr->va[i] = (uint8_t)(i * 13u + honest_round);
	s = rw_pages(VIRTIO_BLK_T_OUT, scratch, wr, 1);
	if (s != VIRTIO_BLK_S_OK) {
		snprintf(why, sizeof(why), "write of scratch sector %llu: status %#x",
			 (unsigned long long)scratch, s);
		return why;
	}
	memset(rb->va, 0x55, PAGE);
	s = rw_pages(VIRTIO_BLK_T_IN, scratch, rb, 1);
	if (s != VIRTIO_BLK_S_OK || memcmp(wr->va, rb->va, PAGE)) {
		snprintf(why, sizeof(why), "scratch sector %llu read back %s",
			 (unsigned long long)scratch, s == VIRTIO_BLK_S_OK ? "wrong" : "failed");
		return why;
	}
	return NULL;
}

/* ---- attack helpers ---- */

/* Posts head, waits and says what came back for slot `slot`. */
static void one(struct res *r, uint16_t head, unsigned int slot)
{
	uint32_t len;

	post(head);
	if (!wait_head(head, &len, T_IO)) {
		say(r, "no completion");
		return;
	}
	uint8_t s = st_of(slot);
	if (s == 0xee)
		say(r, "used_len=%u status=untouched", len);
	else
		say(r, "used_len=%u status=%u", len, s);
}

/* A plain IN chain: header (slot 0), one data buffer, status. */
static void plain_in(uint64_t addr, uint32_t len, uint64_t sector)
{
	plain(VIRTIO_BLK_T_IN, sector, addr, len, VRING_DESC_F_WRITE);
}

/* Waits for up to n completions of any chain, T_IO for each; how many
 * came, the last one's used length in len. */
static unsigned int reap(unsigned int n, uint32_t *len)
{
	unsigned int got = 0;
	uint16_t id;

	while (got < n && wait_used(&id, len, T_IO))
		got++;
	return got;
}

static uint64_t data_pa(unsigned int i)
{
	return pg[P_DATA + i].pa;
}

/* ---- chains ---- */

static void a_chain_loop(struct res *r)
{
	plain_in(data_pa(0), 512, 8);
	desc_at(d.desc, 1)->next = 0;
	one(r, 0, 0);
}

static void a_chain_self_loop(struct res *r)
{
	chain_begin(d.desc, 0, 0, VIRTIO_BLK_T_IN, 8);
	desc_at(d.desc, 0)->next = 0;
	one(r, 0, 0);
}

static void a_next_out_of_range(struct res *r)
{
	static const uint16_t nexts[] = { 256, 257, 0x7fff, 0xffff };

	for (unsigned int i = 0; i < 4; i++) {
		plain_in(data_pa(0), 512, 8);
		desc_at(d.desc, 1)->next = nexts[i];
		say(r, "next=%#x:", nexts[i]);
		one(r, 0, 0);
	}
}

static void a_chain_full_ring(struct res *r)
{
	/* Every descriptor of the ring in one chain: 254 data buffers. */
	struct chain c = chain_begin(d.desc, 0, 0, VIRTIO_BLK_T_IN, 64);

	for (unsigned int i = 1; i < 255; i++)
		chain_data(&c, data_pa(i % DATA_PAGES), 512, VRING_DESC_F_WRITE, 1);
	chain_end(&c);
	one(r, 0, 0);
	check(r, st_of(0) == VIRTIO_BLK_S_OK, "a 256-descriptor chain is valid");
}

static void a_head_out_of_range(struct res *r)
{
	plain_in(data_pa(0), 512, 8);
	post(300);
	sleep_ms(T_NONE);
	say(r, "head=300: used_idx=%u", used_idx());
	r->dirty = true;
}

static void a_avail_idx_jump(struct res *r)
{
	plain_in(data_pa(0), 512, 8);
	d.avail_idx += 1000;
	__atomic_store_n((uint16_t *)(d.avail + 2), d.avail_idx, __ATOMIC_RELEASE);
	kick();
	sleep_ms(T_NONE);
	say(r, "avail idx +1000: used_idx=%u", used_idx());
	r->dirty = true;
}

static void a_read_after_write(struct res *r)
{
	chain_begin(d.desc, 0, 0, VIRTIO_BLK_T_OUT, SCRATCH_START / SECTOR);
	desc_set(d.desc, 1, st_pa(0), 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	desc_set(d.desc, 2, data_pa(0), 512, 0, 0);
	one(r, 0, 0);
}

static void a_no_writable(struct res *r)
{
	hdr_set(0, VIRTIO_BLK_T_IN, 8);
	desc_set(d.desc, 0, hdr_pa(0), 16, 0, 0);
	one(r, 0, 0);
}

static void a_short_header(struct res *r)
{
	struct chain c = chain_begin(d.desc, 0, 0, VIRTIO_BLK_T_IN, 8);

	chain_end(&c);
	desc_at(d.desc, 0)->len = 8;
	one(r, 0, 0);
	check(r, st_of(0) == VIRTIO_BLK_S_IOERR, "IOERR for an 8-byte header");
}

static void a_zero_lengths(struct res *r)
{
	plain_in(data_pa(0), 0, 8);
	desc_at(d.desc, 0)->len = 0;
	desc_at(d.desc, 2)->len = 0;
	one(r, 0, 0);
}

static void a_duplicate_heads(struct res *r)
{
	/* The same chain 256 times in the ring: more "in flight" than the
	 * device has slots for that head. */
	uint32_t len = 0;
	unsigned int got;

	plain_in(data_pa(0), 4096, 8);
	for (unsigned int i = 0; i < d.qsize; i++)
		avail_put(0);
	kick();
	got = reap(d.qsize, &len);
	say(r, "%u of %u completions, last used_len=%u status=%u", got, d.qsize, len, st_of(0));
	check(r, got == d.qsize, "every copy completes");
}

/* ---- indirect tables ---- */

static uint8_t *table(unsigned int i)
{
	return pg[P_TABLE + i].va;
}
static uint64_t table_pa(unsigned int i)
{
	return pg[P_TABLE + i].pa;
}

/* Table t: header (slot s), one data buffer, status; ring desc 0 points
 * at it with len. */
static void indirect_in(unsigned int t, unsigned int s, uint64_t sector, uint32_t tlen,
			uint16_t rflags)
{
	struct chain c = chain_begin(table(t), 0, s, VIRTIO_BLK_T_IN, sector);

	chain_data(&c, data_pa(t % DATA_PAGES), 4096, VRING_DESC_F_WRITE, 1);
	chain_end(&c);
	desc_set(d.desc, 0, table_pa(t), tlen, VRING_DESC_F_INDIRECT | rflags, 1);
}

static void a_indirect_valid(struct res *r)
{
	memset(pg[P_DATA].va, 0, PAGE);
	indirect_in(0, 0, 16, 48, 0);
	one(r, 0, 0);
	check(r, st_of(0) == VIRTIO_BLK_S_OK && pattern_ok(pg[P_DATA].va, 16 * SECTOR, 4096),
	      "a plain indirect read returns the pattern");
}

static void a_indirect_nested(struct res *r)
{
	indirect_in(0, 0, 16, 48, 0);
	desc_set(table(0), 1, table_pa(1), 48, VRING_DESC_F_INDIRECT, 0);
	indirect_in(1, 0, 16, 48, 0);
	desc_set(table(0), 1, table_pa(1), 48, VRING_DESC_F_INDIRECT, 0);
	desc_set(d.desc, 0, table_pa(0), 48, VRING_DESC_F_INDIRECT, 0);
	one(r, 0, 0);
}

static void a_indirect_lengths(struct res *r)
{
	static const uint32_t lens[] = { 0, 8, 24, 47, 32769 * 16, 0xfffffff0u };

	for (unsigned int i = 0; i < 6; i++) {
		indirect_in(0, 0, 16, lens[i], 0);
		say(r, "len=%#x:", lens[i]);
		one(r, 0, 0);
	}
}

static void a_indirect_misaligned(struct res *r)
{
	/* The spec asks no alignment of an indirect table: this one starts
	 * at byte 1 of its page, and must work. */
	struct chain c = chain_begin(table(0) + 1, 0, 0, VIRTIO_BLK_T_IN, 24);

	memset(pg[P_DATA].va, 0, PAGE);
	chain_data(&c, data_pa(0), 4096, VRING_DESC_F_WRITE, 1);
	desc_set(d.desc, 0, table_pa(0) + 1, chain_end(&c) * 16, VRING_DESC_F_INDIRECT, 0);
	one(r, 0, 0);
	check(r, st_of(0) == VIRTIO_BLK_S_OK && pattern_ok(pg[P_DATA].va, 24 * SECTOR, 4096),
	      "a misaligned table works");
}

static void a_indirect_with_next(struct res *r)
{
	indirect_in(0, 0, 16, 48, VRING_DESC_F_NEXT);
	desc_set(d.desc, 1, st_pa(0), 1, VRING_DESC_F_WRITE, 0);
	one(r, 0, 0);
}

static void a_indirect_loop(struct res *r)
{
	indirect_in(0, 0, 16, 48, 0);
	desc_at(table(0), 2)->flags |= VRING_DESC_F_NEXT; /* status -> header */
	say(r, "loop:");
	one(r, 0, 0);
	indirect_in(0, 0, 16, 48, 0);
	desc_at(table(0), 1)->next = 3;
	say(r, "next past the table:");
	one(r, 0, 0);
}

static void a_indirect_bad_address(struct res *r)
{
	const uint64_t addrs[] = { ram_top,  ram_top - 16,  0xc0000000ull,
				   d.bar_pa, 0xfee00000ull, 0xfffffffffffff000ull };

	for (unsigned int i = 0; i < 6; i++) {
		indirect_in(0, 0, 16, 48, 0);
		desc_set(d.desc, 0, addrs[i], 48, VRING_DESC_F_INDIRECT, 0);
		say(r, "table@%#llx:", (unsigned long long)addrs[i]);
		one(r, 0, 0);
	}
}

static void a_indirect_after_direct(struct res *r)
{
	/* A direct descriptor whose NEXT leads to an INDIRECT one. */
	indirect_in(0, 0, 16, 48, 0);
	desc_set(table(0), 0, data_pa(1), 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	chain_begin(d.desc, 2, 0, VIRTIO_BLK_T_IN, 16);
	desc_at(d.desc, 2)->next = 0;
	desc_set(d.desc, 0, table_pa(0), 48, VRING_DESC_F_INDIRECT, 0);
	one(r, 2, 0);
}

static void a_indirect_too_many(struct res *r)
{
	/* Tables in the huge page, header and status around the buffers. */
	static const struct {
		const char *name;
		unsigned int n; /* data buffers */
		uint32_t len;
	} cases[] = {
		{ "300 buffers:", 298, 512 },	/* non-empty: more than seg_max */
		{ "32768 entries:", 32766, 0 }, /* empty: the largest table there is */
	};

	if (!huge.va) {
		say(r, "skipped (no huge page)");
		return;
	}
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chain c = chain_begin(huge.va, 0, 0, VIRTIO_BLK_T_IN, 16);
		chain_data(&c, data_pa(0), cases[i].len, VRING_DESC_F_WRITE, cases[i].n);
		desc_set(d.desc, 0, huge.pa, chain_end(&c) * 16, VRING_DESC_F_INDIRECT, 0);
		say(r, "%s", cases[i].name);
		one(r, 0, 0);
	}
}

static void a_indirect_unnegotiated(struct res *r)
{
	int rc = dev_init_q(all_features & ~F(VIRTIO_RING_F_INDIRECT_DESC), false, NULL);

	say(r, "init without INDIRECT_DESC: %d;", rc);
	indirect_in(0, 0, 16, 48, 0);
	one(r, 0, 0);
	r->dirty = true;
}

/* ---- addresses and lengths ---- */

static void a_buffer_addresses(struct res *r)
{
	const uint64_t addrs[] = { ram_top,	  ram_top - 256, 0xc0000000ull,	       d.bar_pa,
				   0xe0000000ull, 0xfee00000ull, 0xfffffffffffffe00ull };
	const char *names[] = { "ram_top", "straddling ram_top", "hole", "own BAR", "ECAM", "LAPIC",
				"wrapping" };

	for (unsigned int i = 0; i < 7; i++) {
		plain_in(addrs[i], 512, 8);
		say(r, "%s:", names[i]);
		one(r, 0, 0);
	}
}

static void a_length_overflow(struct res *r)
{
	/* OUT buffers (the device only reads them) over real RAM whose
	 * lengths add up past 4 GiB. */
	uint64_t base = 16ull * MIB;
	uint32_t len = (uint32_t)(ram_top - base > 256ull * MIB ? 256ull * MIB : ram_top - base);
	unsigned int n = (unsigned int)((1ull << 32) / len + 2);

	len &= ~(SECTOR - 1);
	if (n > 250)
		n = 250;
	struct chain c = chain_begin(d.desc, 0, 0, VIRTIO_BLK_T_OUT, SCRATCH_START / SECTOR);
	chain_data(&c, base, len, 0, n);
	chain_end(&c);
	say(r, "%u x %u bytes:", n, len);
	one(r, 0, 0);
	/* One buffer of 4 GiB - 1 at a page of ours. */
	plain_in(data_pa(0), 0xffffffffu, 8);
	say(r, "one 0xffffffff buffer:");
	one(r, 0, 0);
}

static void a_sector_ranges(struct res *r)
{
	const uint64_t sectors[] = { d.capacity, d.capacity - 1, ~0ull, ~0ull / SECTOR,
				     1ull << 55 };

	for (unsigned int i = 0; i < 5; i++) {
		plain_in(data_pa(0), 1024, sectors[i]);
		say(r, "sector %#llx:", (unsigned long long)sectors[i]);
		one(r, 0, 0);
		check(r, st_of(0) == VIRTIO_BLK_S_IOERR, "IOERR past the end");
	}
}

/* ---- request contents ---- */

static void a_request_types(struct res *r)
{
	const uint32_t types[] = { 2, 5, 10, 14, 0x7fffffff, 0xdeadbeef };

	for (unsigned int i = 0; i < 6; i++) {
		plain_in(data_pa(0), 512, 8);
		hdr_set(0, types[i], 8);
		say(r, "type %#x:", types[i]);
		one(r, 0, 0);
	}
}

static void a_used_lengths(struct res *r)
{
	struct chain c;
	uint32_t len = 0;
	uint8_t s;

	plain_in(data_pa(0), 4096, 8);
	s = submit(0, 0, &len);
	say(r, "IN ok: used_len=%u status=%u;", len, s);
	check(r, s == 0 && len == 4097, "a read of 4096 reports 4097");
	plain_in(data_pa(0), 4096, d.capacity);
	s = submit(0, 0, &len);
	say(r, "IN failed: used_len=%u status=%u;", len, s);
	check(r, s == VIRTIO_BLK_S_IOERR && len == 0,
	      "a failed read reports 0 (only the status at the end was written)");
	plain(VIRTIO_BLK_T_GET_ID, 0, data_pa(0), 512, VRING_DESC_F_WRITE);
	s = submit(0, 0, &len);
	say(r, "GET_ID 512: used_len=%u status=%u;", len, s);
	check(r, s == 0 && len <= VIRTIO_BLK_ID_BYTES, "GET_ID reports at most 20");
	for (uint32_t n = 1; n <= 21; n += 10) {
		desc_at(d.desc, 1)->len = n;
		s = submit(0, 0, &len);
		say(r, "GET_ID %u: used_len=%u;", n, len);
		check(r, len <= (n < 20 ? n : 20) + 1, "GET_ID never overstates");
	}
	c = chain_begin(d.desc, 0, 0, VIRTIO_BLK_T_FLUSH, 0);
	chain_end(&c);
	s = submit(0, 0, &len);
	say(r, "FLUSH: used_len=%u status=%u", len, s);
	check(r, s == 0 && len <= 1, "FLUSH reports at most its status");
}

static void a_misdirected_data(struct res *r)
{
	/* IN with data in a readable buffer; OUT with a writable data buffer. */
	plain(VIRTIO_BLK_T_IN, 8, data_pa(0), 512, 0);
	say(r, "IN with readable data:");
	one(r, 0, 0);
	plain(VIRTIO_BLK_T_OUT, 8, data_pa(0), 512, VRING_DESC_F_WRITE);
	say(r, "OUT to the pattern with writable data:");
	one(r, 0, 0);
	check(r, st_of(0) != VIRTIO_BLK_S_OK, "refused");
}

static void a_misaligned_buffers(struct res *r)
{
	/* direct=on: misaligned buffers go through the bounce path, which
	 * must move the right bytes: 1 MiB + 512 at byte 8 of the huge page
	 * (several bounce chunks), or a sector at byte 8 of a page. */
	uint32_t len = huge.va ? MIB + 512 : 3584;
	uint64_t pa = huge.va ? huge.pa + 8 : data_pa(0) + 8;
	uint8_t *va = huge.va ? huge.va + 8 : pg[P_DATA].va + 8;
	uint64_t sector = 4096;

	memset(va, 0, len);
	plain_in(pa, len, sector);
	say(r, "IN %u at +8:", len);
	one(r, 0, 0);
	check(r, st_of(0) == 0 && pattern_ok(va, sector * SECTOR, len),
	      "a bounced read returns the pattern");
	for (uint32_t i = 0; i < len; i++)
		va[i] = (uint8_t)(i * 7u + 3u);
	plain(VIRTIO_BLK_T_OUT, SCRATCH_START / SECTOR + 4096, pa, len, 0);
	say(r, "OUT at +8:");
	one(r, 0, 0);
	memset(va, 0, len);
	plain_in(pa, len, SCRATCH_START / SECTOR + 4096);
	one(r, 0, 0);
	bool same = true;
	for (uint32_t i = 0; i < len && same; i++)
		same = va[i] == (uint8_t)(i * 7u + 3u);
	check(r, same, "a bounced write reads back");
}

/* ---- DISCARD / WRITE_ZEROES ---- */

/* A DISCARD/WRITE_ZEROES request in slot s with `n` segments from page
 * area `first` (direct descriptors from `at`). */
static void dwz_chain(unsigned int at, unsigned int s, uint32_t type, unsigned int first,
		      unsigned int n)
{
	struct chain c = chain_begin(d.desc, at, s, type, 0);
	unsigned int bytes = n * 16;

	for (unsigned int off = 0; off < bytes; off += PAGE)
		chain_data(&c, data_pa(first + off / PAGE), bytes - off < PAGE ? bytes - off : PAGE,
			   0, 1);
	chain_end(&c);
}

static void fill_segs(unsigned int first, unsigned int n, uint64_t sector, uint32_t num,
		      uint32_t flags, bool spread)
{
	for (unsigned int i = 0; i < n; i++) {
		struct virtio_blk_discard_write_zeroes *seg =
			(void *)(pg[P_DATA + first + (i * 16) / PAGE].va + (i * 16) % PAGE);
		seg->sector = spread ? sector + (i * 8) % (SCRATCH_END / SECTOR - sector) : sector;
		seg->num_sectors = num;
		seg->flags = flags;
	}
}

static void a_discard_ranges(struct res *r)
{
	uint32_t max = d.max_discard_seg ? d.max_discard_seg : 1;
	uint64_t sc = SCRATCH_START / SECTOR;
	struct {
		const char *name;
		unsigned int n;
		uint64_t sector;
		uint32_t num, flags;
	} cases[] = {
		{ "max ranges", max, sc, 8, 0 },
		{ "max+1 ranges", max + 1, sc, 8, 0 },
		{ "4096 ranges", 4096, sc, 8, 0 },
		{ "overlapping", max, sc, 64, 0 },
		{ "past the end", 1, d.capacity - 1, 8, 0 },
		{ "num 0xffffffff", 1, sc, 0xffffffffu, 0 },
		{ "unknown flags", 1, sc, 8, 0xfe },
		{ "unmap on discard", 1, sc, 8, 1 },
	};

	if (!(d.features & F(VIRTIO_BLK_F_DISCARD))) {
		say(r, "DISCARD not offered");
		return;
	}
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill_segs(0, cases[i].n, cases[i].sector, cases[i].num, cases[i].flags, i != 3);
		dwz_chain(0, 0, VIRTIO_BLK_T_DISCARD, 0, cases[i].n);
		say(r, "%s:", cases[i].name);
		one(r, 0, 0);
	}
	/* 64 requests of max ranges at once (backend completion queue). */
	unsigned int pages = (max * 16 + PAGE - 1) / PAGE, per = 2 + pages, n = 64;
	uint32_t len;
	unsigned int got = 0;
	fill_segs(0, max, sc, 8, 0, true);
	for (unsigned int k = 0; k < n && (k + 1) * per <= d.qsize; k++) {
		dwz_chain(k * per, k, k % 2 ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD, 0,
			  max);
		avail_put((uint16_t)(k * per));
		got++;
	}
	kick();
	n = got;
	got = reap(n, &len);
	say(r, "%u in flight: %u completed", n, got);
	check(r, got == n, "all complete");
}

static void a_write_zeroes(struct res *r)
{
	uint64_t sc = SCRATCH_START / SECTOR;

	if (!(d.features & F(VIRTIO_BLK_F_WRITE_ZEROES))) {
		say(r, "WRITE_ZEROES not offered");
		return;
	}
	fill_segs(0, 1, sc, 4096, 1, false);
	dwz_chain(0, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1);
	say(r, "unmap 2 MiB:");
	one(r, 0, 0);
	fill_segs(0, 1, 8, 8, 0, false);
	dwz_chain(0, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1);
	slot_va(0)[17] = 0xee;
	/* Two writable bytes: the status is the second. */
	desc_at(d.desc, 2)->len = 2;
	say(r, "on the pattern with a 2-byte status buffer:");
	one(r, 0, 0);
	say(r, "status byte=%u", slot_va(0)[17]);
	check(r, slot_va(0)[17] == VIRTIO_BLK_S_IOERR, "refused");
}

/* ---- queue configuration ---- */

static void a_queue_sizes(struct res *r)
{
	static const uint16_t sizes[] = { 0, 3, 255, 257, 512, 32768, 65535 };
	uint16_t got;

	set_status(0);
	wait_reset(30000);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, 0);
	for (unsigned int i = 0; i < 7; i++) {
		w16(d.common, VIRTIO_PCI_COMMON_Q_SIZE, sizes[i]);
		got = r16(d.common, VIRTIO_PCI_COMMON_Q_SIZE);
		say(r, "%u->%u", sizes[i], got);
		check(r, got == 256, "refused");
	}
	struct qcfg qc = { .size = 16 };
	int rc = dev_init_q(all_features, false, &qc);
	const char *h = rc ? "init failed" : honest();
	say(r, "; size 16: %s", h ? h : "honest ok");
	check(r, h == NULL, "a 16-entry queue works");
	r->dirty = true;
}

static void a_ring_addresses(struct res *r)
{
	uint64_t p = pg[P_DATA].pa;
	struct {
		const char *name;
		struct qcfg qc;
	} cases[] = {
		{ "desc above RAM", { .desc = ram_top } },
		{ "desc in own BAR", { .desc = d.bar_pa } },
		{ "desc misaligned", { .desc = p + 8 } },
		{ "avail odd", { .avail = p + 1 } },
		{ "used misaligned", { .used = p + 2 } },
		{ "used straddles RAM end", { .used = ram_top - 64 } },
		{ "desc wraps", { .desc = 0xfffffffffffff000ull } },
		{ "all three on one page", { .size = 16, .desc = p, .avail = p, .used = p } },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (i == 7)
			memset(pg[P_DATA].va, 0, PAGE);
		int rc = dev_init_q(all_features, false, &cases[i].qc);
		uint8_t s = status();
		if (i == 7) {
			/* avail idx 1 and head 0 on the shared page: the
			 * device sees descriptor 0 made of ring fields. */
			__atomic_store_n((uint16_t *)(pg[P_DATA].va + 2), 1, __ATOMIC_RELEASE);
			kick();
			sleep_ms(T_NONE);
			say(r, "(shared page used idx %u)", *(uint16_t *)(pg[P_DATA].va + 2));
		}
		say(r, "%s: init=%d status=%#x;", cases[i].name, rc, s);
		if (i < 7)
			check(r, s & VIRTIO_CONFIG_S_NEEDS_RESET, "needs reset");
	}
	r->dirty = true;
}

/* A read posted and kicked before DRIVER_OK (queue 0 enabled). */
static void qc_early_post(void)
{
	plain_in(data_pa(0), PAGE, 40);
	memset(pg[P_DATA].va, 0, PAGE);
	post(0);
}

static void a_second_queue_bad(struct res *r)
{
	struct qcfg qc = { .bad_q1 = true };
	int rc = dev_init_q(all_features, false, &qc);

	say(r, "queue 1 rings above RAM: init=%d status=%#x", rc, status());
	check(r, d.numq < 2 || (status() & VIRTIO_CONFIG_S_NEEDS_RESET), "needs reset");
	r->dirty = true;
}

static void a_early_kick(struct res *r)
{
	struct qcfg qc = { .early_kick = true };
	uint32_t len = 0;
	int rc = dev_init_q(all_features, false, &qc);
	bool done = rc == 0 && wait_head(0, &len, T_IO);

	say(r, "read kicked before DRIVER_OK: init=%d %s used_len=%u status=%u", rc,
	    done ? "completed" : "NOT completed", len, st_of(0));
	check(r, done && st_of(0) == 0 && pattern_ok(pg[P_DATA].va, 40 * SECTOR, PAGE),
	      "served once DRIVER_OK comes");
}

static void a_queue_select(struct res *r)
{
	/* Queues that do not exist: select, configure, enable, read. */
	const uint16_t sel[] = { d.numq, 255, 256, 0x7fff, 0xffff };

	for (unsigned int i = 0; i < 5; i++) {
		w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, sel[i]);
		w16(d.common, VIRTIO_PCI_COMMON_Q_SIZE, 16);
		q_addr(VIRTIO_PCI_COMMON_Q_DESCLO, 0x1000);
		w16(d.common, VIRTIO_PCI_COMMON_Q_MSIX, 0);
		w16(d.common, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
		say(r, "q%u: size=%u enable=%u", sel[i], r16(d.common, VIRTIO_PCI_COMMON_Q_SIZE),
		    r16(d.common, VIRTIO_PCI_COMMON_Q_ENABLE));
		check(r, r16(d.common, VIRTIO_PCI_COMMON_Q_SIZE) == 0, "absent queue reads 0");
	}
	w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, 0);
	/* Queue 0 after DRIVER_OK: new rings, re-enable, vector games. */
	q_addr(VIRTIO_PCI_COMMON_Q_DESCLO, ram_top);
	w16(d.common, VIRTIO_PCI_COMMON_Q_SIZE, 2);
	w16(d.common, VIRTIO_PCI_COMMON_Q_ENABLE, 0);
	w16(d.common, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
	w16(d.common, VIRTIO_PCI_COMMON_Q_MSIX, 0x7fff);
	say(r, "; q0 after DRIVER_OK: size=%u vector=%#x", r16(d.common, VIRTIO_PCI_COMMON_Q_SIZE),
	    r16(d.common, VIRTIO_PCI_COMMON_Q_MSIX));
	check(r, r16(d.common, VIRTIO_PCI_COMMON_Q_SIZE) == d.qsize, "size fixed after enable");
	w16(d.common, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
}

static void a_bad_notifies(struct res *r)
{
	/* Notifies for queues that do not exist, at odd offsets and widths,
	 * and a storm on queue 0 with nothing new. */
	unsigned int writes = 0;

	for (unsigned int q = 0; q < 1024; q++) {
		unsigned int off = q * d.notify_mult;
		if (off + 8 > PAGE)
			break;
		if (q == d.noff)
			continue;
		w16(d.notify, off, (uint16_t)q);
		w8(d.notify, off + 1, 0xff);
		w32(d.notify, off, 0xffffffffu);
		writes += 3;
	}
	w64(d.notify, 0, 0);
	for (unsigned int i = 0; i < 20000; i++)
		w16(d.notify, d.noff * d.notify_mult, 0);
	say(r, "%u odd notifies, 20000 empty kicks", writes + 1);
}

/* ---- status and features ---- */

static void a_features(struct res *r)
{
	const struct {
		const char *name;
		uint64_t f;
	} cases[] = {
		{ "unoffered bit 40", all_features | F(40) },
		{ "RING_PACKED", all_features | F(34) },
		{ "bit 63", all_features | F(63) },
		{ "no VERSION_1", all_features & ~F(VIRTIO_F_VERSION_1) },
		{ "everything", ~0ull },
	};

	for (unsigned int i = 0; i < 5; i++) {
		int rc = dev_init_q(cases[i].f, true, NULL);
		say(r, "%s: %s;", cases[i].name, rc == -2 ? "FEATURES_OK refused" : "accepted");
		check(r, rc == -2, "FEATURES_OK refused");
		set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK);
		check(r, !(status() & VIRTIO_CONFIG_S_DRIVER_OK), "no DRIVER_OK after a refusal");
	}
	/* Features changed after FEATURES_OK and after DRIVER_OK. */
	dev_init();
	w32(d.common, VIRTIO_PCI_COMMON_GFSELECT, 0);
	w32(d.common, VIRTIO_PCI_COMMON_GF, 0xffffffffu);
	w32(d.common, VIRTIO_PCI_COMMON_GFSELECT, 1);
	w32(d.common, VIRTIO_PCI_COMMON_GF, 0);
	uint32_t hi = r32(d.common, VIRTIO_PCI_COMMON_GF);
	say(r, "GF after DRIVER_OK: hi=%#x;", hi);
	check(r, hi == (uint32_t)(d.features >> 32), "features fixed after FEATURES_OK");
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK);
	set_status(0xff & ~VIRTIO_CONFIG_S_FAILED);
	set_status(VIRTIO_CONFIG_S_NEEDS_RESET);
	say(r, "status games: %#x;", status());
	w32(d.common, VIRTIO_PCI_COMMON_DFSELECT, 0xffffffffu);
	w32(d.common, VIRTIO_PCI_COMMON_GFSELECT, 7);
	w32(d.common, VIRTIO_PCI_COMMON_GF, 0xffffffffu);
	say(r, "DF[0xffffffff]=%#x", r32(d.common, VIRTIO_PCI_COMMON_DF));
	check(r, r32(d.common, VIRTIO_PCI_COMMON_DF) == 0, "absent feature word reads 0");
	/* DRIVER_OK without FEATURES_OK. */
	set_status(0);
	wait_reset(30000);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_DRIVER_OK);
	say(r, "; DRIVER_OK without FEATURES_OK: %#x", status());
	check(r, !(status() & VIRTIO_CONFIG_S_DRIVER_OK), "refused");
	r->dirty = true;
}

/* ---- resets and bus mastering while I/O runs ---- */

/* Posts n 16 KiB reads (slot k, descriptors 6k..6k+5) from the pattern. */
static unsigned int post_reads(unsigned int n)
{
	unsigned int k;

	for (k = 0; k < n && 6 * (k + 1) <= d.qsize && 4 * (k + 1) <= DATA_PAGES; k++) {
		struct chain c = chain_begin(d.desc, 6 * k, k, VIRTIO_BLK_T_IN, 8 + 32 * k);
		for (unsigned int j = 0; j < 4; j++)
			chain_data(&c, data_pa(4 * k + j), PAGE, VRING_DESC_F_WRITE, 1);
		chain_end(&c);
		avail_put((uint16_t)(6 * k));
	}
	kick();
	return k;
}

/* After a reset or BME clear: nothing the device owned may change. */
static bool quiet_after(unsigned int n)
{
	for (unsigned int i = 0; i < 4 * n; i++)
		memset(pg[P_DATA + i].va, 0x5a, PAGE);
	memset(pg[P_USED].va, 0x5a, PAGE);
	for (unsigned int k = 0; k < n; k++)
		slot_va(k)[16] = 0x5a;
	sleep_ms(T_NONE);
	for (unsigned int i = 0; i < 4 * n; i++)
		for (unsigned int j = 0; j < PAGE; j++)
			if (pg[P_DATA + i].va[j] != 0x5a)
				return false;
	for (unsigned int j = 0; j < PAGE; j++)
		if (pg[P_USED].va[j] != 0x5a)
			return false;
	for (unsigned int k = 0; k < n; k++)
		if (slot_va(k)[16] != 0x5a)
			return false;
	return true;
}

static void a_reset_in_flight(struct res *r)
{
	unsigned int rounds = 10, quiet = 0;
	uint64_t worst = 0;

	for (unsigned int i = 0; i < rounds; i++) {
		unsigned int n = post_reads(40);
		uint64_t t = now_ms();
		set_status(0);
		bool ok = wait_reset(60000);
		t = now_ms() - t;
		worst = t > worst ? t : worst;
		quiet += ok && quiet_after(n);
		dev_init();
	}
	say(r, "%u resets with 40 reads in flight: %u quiet afterwards, slowest %llu ms", rounds,
	    quiet, (unsigned long long)worst);
	check(r, quiet == rounds, "no DMA after reset");
}

/* Another CPU runs fn until *stop while this one drives the device, the
 * ring holding an honest read of len bytes; false, said in r, when no
 * thread could be started. */
static bool other_cpu(struct res *r, pthread_t *t, void *(*fn)(void *), volatile bool *stop,
		      uint32_t len)
{
	plain_in(data_pa(0), len, 8);
	*stop = false;
	if (pthread_create(t, NULL, fn, NULL) == 0)
		return true;
	say(r, "no thread");
	return false;
}

static volatile bool poster_stop;

static void *poster(void *arg)
{
	(void)arg;
	while (!poster_stop) {
		uint16_t *ring = (uint16_t *)(d.avail + 4);
		uint16_t idx = __atomic_load_n((uint16_t *)(d.avail + 2), __ATOMIC_RELAXED);
		/* Keep the ring full but valid, so the queue keeps working. */
		if ((uint16_t)(idx - used_idx()) >= d.qsize) {
			sched_yield();
			continue;
		}
		ring[idx % d.qsize] = 0;
		__atomic_store_n((uint16_t *)(d.avail + 2), (uint16_t)(idx + 1), __ATOMIC_RELEASE);
		kick();
	}
	return NULL;
}

static void a_reset_vs_poster(struct res *r)
{
	pthread_t t;
	uint64_t t0, dt;
	bool ok;

	if (!other_cpu(r, &t, poster, &poster_stop, 4096))
		return;
	sleep_ms(200);
	t0 = now_ms();
	set_status(0);
	ok = wait_reset(60000);
	dt = now_ms() - t0;
	poster_stop = true;
	pthread_join(t, NULL);
	say(r, "reset while another CPU keeps posting: %s after %llu ms", ok ? "done" : "NOT done",
	    (unsigned long long)dt);
	check(r, ok, "reset completes");
	r->dirty = true;
}

static void a_reset_storm(struct res *r)
{
	unsigned int fails = 0;

	for (unsigned int i = 0; i < 100; i++) {
		if (dev_init())
			fails++;
		if (i % 3 == 0)
			post_reads(8);
		if (i % 5 == 0)
			set_status(0); /* and go on without waiting for 0 */
	}
	say(r, "100 set-ups with I/O and resets mixed: %u refused", fails);
	r->dirty = true;
}

static void a_bme_cleared(struct res *r)
{
	unsigned int n = post_reads(40);
	bool quiet;

	set_command(0, PCI_COMMAND_MASTER);
	quiet = quiet_after(n);
	say(r, "BME cleared with 40 reads in flight: status=%#x %s", status(),
	    quiet ? "quiet afterwards" : "DMA AFTER BME CLEARED");
	check(r, quiet, "no DMA without bus mastering");
	check(r, status() & VIRTIO_CONFIG_S_NEEDS_RESET, "needs reset");
	set_command(PCI_COMMAND_MASTER, 0);
	/* DRIVER_OK without bus mastering. */
	set_status(0);
	wait_reset(30000);
	set_command(0, PCI_COMMAND_MASTER);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	w32(d.common, VIRTIO_PCI_COMMON_GFSELECT, 1);
	w32(d.common, VIRTIO_PCI_COMMON_GF, 1);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK);
	w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, 0);
	q_addr(VIRTIO_PCI_COMMON_Q_DESCLO, pg[P_DESC].pa);
	q_addr(VIRTIO_PCI_COMMON_Q_AVAILLO, pg[P_AVAIL].pa);
	q_addr(VIRTIO_PCI_COMMON_Q_USEDLO, pg[P_USED].pa);
	w16(d.common, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
	memset(pg[P_AVAIL].va, 0, PAGE);
	d.avail_idx = 0;
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	n = post_reads(4);
	quiet = quiet_after(n);
	say(r, "; DRIVER_OK without BME: status=%#x %s", status(),
	    quiet ? "quiet" : "DMA WITHOUT BME");
	check(r, quiet, "no DMA without bus mastering");
	set_command(PCI_COMMAND_MASTER, 0);
	r->dirty = true;
}

static void a_bme_toggle_storm(struct res *r)
{
	for (unsigned int i = 0; i < 200; i++) {
		post_reads(4);
		set_command(0, PCI_COMMAND_MASTER);
		set_command(PCI_COMMAND_MASTER, 0);
	}
	say(r, "200 BME toggles with reads posted: status=%#x", status());
	r->dirty = true;
}

static void a_memory_space_off(struct res *r)
{
	/* BAR decoding off: accesses go to no device. */
	set_command(0, PCI_COMMAND_MEMORY);
	uint32_t v = r32(d.common, 0);
	w8(d.common, VIRTIO_PCI_COMMON_STATUS, 0);
	w16(d.notify, 0, 0);
	set_command(PCI_COMMAND_MEMORY, 0);
	say(r, "read with decoding off: %#x; status now %#x", v, status());
	check(r, status() & VIRTIO_CONFIG_S_DRIVER_OK, "a write without decoding did nothing");
}

/* ---- MSI-X, BAR and config space ---- */

static void a_msix_abuse(struct res *r)
{
	volatile uint8_t *t = d.bar + d.msix_table, *pba = d.bar + d.msix_pba;
	uint16_t ctrl = (uint16_t)cfg_rd(d.msix_cap + PCI_MSIX_FLAGS, 2);
	unsigned int odd = 0;

	/* Enabled, but the function masked: nothing reaches the CPU. */
	cfg_wr(d.msix_cap + PCI_MSIX_FLAGS, 2,
	       ctrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (unsigned int off = 0; off < 64; off++) {
		w8(t, off, (uint8_t)(0xa5 ^ off));
		odd++;
		if (off % 2 == 0) {
			w16(t, off, 0xfee0);
			odd++;
		}
	}
	w64(t, 0, 0xfee00000ull);
	w64(t, 8, 0x0000000100000041ull); /* data, vector control masked */
	/* Entries past the table, up to the end of its page and into the PBA. */
	for (unsigned int off = d.msix_n * 16; off < PAGE; off += 4) {
		w32(t, off, 0xffffffffu);
		odd++;
	}
	w32(t, PAGE - 2, 0xffffffffu);
	w64(pba, 0, ~0ull);
	w8(pba, 7, 0xff);
	w32(pba, PAGE - 4, ~0u);
	uint32_t p0 = r32(pba, 0);
	/* A queue interrupt while masked must become a pending bit. */
	w16(d.common, VIRTIO_PCI_COMMON_Q_SELECT, 0);
	w16(d.common, VIRTIO_PCI_COMMON_Q_MSIX, 0);
	plain_in(data_pa(0), 512, 8);
	one(r, 0, 0);
	uint32_t p1 = r32(pba, 0);
	w16(d.common, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	say(r, "%u odd table writes; PBA after writing ones=%#x, after a masked interrupt=%#x", odd,
	    p0, p1);
	check(r, (p0 >> d.msix_n) == 0, "PBA is read-only");
	check(r, p1 & 1, "a masked vector's interrupt is pending");
	/* An entry unmasked with an address outside the APIC window while
	 * the function stays masked, then everything off. */
	w32(t, 0, 0xdead0000u);
	w32(t, 12, 0);
	cfg_wr(d.msix_cap + PCI_MSIX_FLAGS, 2, ctrl & ~PCI_MSIX_FLAGS_ENABLE);
	w32(t, 12, 1);
}

static void a_bar_abuse(struct res *r)
{
	volatile uint8_t *b = d.bar;
	uint32_t sum = 0;

	/* Unused BAR space, page-crossing and odd-width accesses, writes to
	 * read-only structures. */
	for (unsigned int off = 0x6000; off + 8 <= d.bar_len; off += 0x3f8) {
		w64(b, off, ~0ull);
		sum += r32(b, off) + r8(b, off + 3);
	}
	sum += r32(b, 0xffe) + r32(b, 0x1ffe) + r32(b, 0x2ffe);
	w32(b, 0xffe, 0xffffffffu);
	w32(b, 0x2ffe, 0xffffffffu);
	w64(d.common, 0x38, ~0ull);
	w32(d.common, 0x100, ~0u);
	w8(d.common, VIRTIO_PCI_COMMON_DFSELECT + 1, 1);
	w64(d.common, VIRTIO_PCI_COMMON_MSIX, ~0ull); /* 8 bytes over MSIX/NUMQ/STATUS.. */
	w16(d.common, VIRTIO_PCI_COMMON_STATUS, 0);   /* status with the wrong width */
	w8(d.isr, 0, 0xff);
	w32(d.isr, 0, 0xffffffffu);
	w32(d.devcfg, 0, 0);
	w64(d.devcfg, 0x3c, ~0ull);
	sum += r8(d.isr, 1) + r32(d.devcfg, 0x3c) + r32(d.devcfg, 0xffc);
	say(r, "stray accesses done (read sum %#x); status=%#x capacity=%llu", sum, status(),
	    (unsigned long long)(r32(d.devcfg, 0) | (uint64_t)r32(d.devcfg, 4) << 32));
	check(r, status() & VIRTIO_CONFIG_S_DRIVER_OK, "odd-width writes change no status");
	check(r, (r32(d.devcfg, 0) | (uint64_t)r32(d.devcfg, 4) << 32) == d.capacity,
	      "device config read-only");
}

static void restore_bar(void)
{
	cfg_wr(PCI_BASE_ADDRESS_0, 4, d.bar_lo);
	cfg_wr(PCI_BASE_ADDRESS_1, 4, d.bar_hi);
}

/* Reads the device status through the PCI_CFG capability's window. */
static uint32_t window_read(uint8_t bar, uint32_t off, uint32_t len)
{
	unsigned int c = d.pci_cfg_cap;

	cfg_wr(c + VIRTIO_PCI_CAP_BAR, 1, bar);
	cfg_wr(c + VIRTIO_PCI_CAP_OFFSET, 4, off);
	cfg_wr(c + VIRTIO_PCI_CAP_LENGTH, 4, len);
	return cfg_rd(c + sizeof(struct virtio_pci_cap), 4);
}

static void a_bar_moves(struct res *r)
{
	/* Sizing while requests run, a BAR at the top of the address space
	 * (wraps), over another device's BAR, and back. */
	unsigned int n = post_reads(8);
	uint32_t st;

	cfg_wr(PCI_BASE_ADDRESS_0, 4, 0xffffffffu);
	cfg_wr(PCI_BASE_ADDRESS_1, 4, 0xffffffffu);
	uint32_t lo = cfg_rd(PCI_BASE_ADDRESS_0, 4), hi = cfg_rd(PCI_BASE_ADDRESS_1, 4);
	restore_bar();
	say(r, "sized %#x:%#x;", hi, lo);
	cfg_wr(PCI_BASE_ADDRESS_1, 4, 0xffffffffu);
	cfg_wr(PCI_BASE_ADDRESS_0, 4, 0xfffff000u);
	st = window_read(0, VIRTIO_PCI_COMMON_STATUS, 1);
	restore_bar();
	say(r, "at the top: status via window %#x;", st & 0xff);
	/* Over the root disk's BAR (00:01.0), if there is one. */
	FILE *f = fopen("/sys/bus/pci/devices/0000:00:01.0/resource", "r");
	unsigned long long other;
	if (f && fscanf(f, "%llx", &other) == 1 && other && other != d.bar_pa) {
		cfg_wr(PCI_BASE_ADDRESS_0, 4, (uint32_t)other | (d.bar_lo & 0xf));
		cfg_wr(PCI_BASE_ADDRESS_1, 4, (uint32_t)(other >> 32));
		st = window_read(0, VIRTIO_PCI_COMMON_STATUS, 1);
		restore_bar();
		say(r, "over 00:01.0's BAR: status via window %#x;", st & 0xff);
	}
	if (f)
		fclose(f);
	uint32_t len;
	unsigned int got = reap(n, &len);
	say(r, "%u of %u reads in flight completed", got, n);
	check(r, got == n, "in-flight reads complete");
}

static void a_pci_cfg_window(struct res *r)
{
	static const struct {
		uint8_t bar;
		uint32_t off, len;
	} w[] = { { 0, 0x14, 3 },   { 0, 0x15, 2 },	  { 0, 0x7fff, 4 },
		  { 0, 0x8000, 1 }, { 0, 0xffffffff, 4 }, { 5, 0x14, 1 },
		  { 0xff, 0, 4 },   { 0, 0x14, 0 },	  { 0, 0x14, 0xffffffff } };
	unsigned int c = d.pci_cfg_cap;
	uint32_t v;

	for (unsigned int i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		v = window_read(w[i].bar, w[i].off, w[i].len);
		cfg_wr(c + sizeof(struct virtio_pci_cap), 4, 0);
		say(r, "%u/%#x/%#x=%#x", w[i].bar, w[i].off, w[i].len, v);
	}
	v = window_read(0, VIRTIO_PCI_COMMON_STATUS, 1) & 0xff;
	say(r, "; status via window %#x, via BAR %#x", v, status());
	check(r, v == status(), "the window reads the BAR");
	/* Garbage over read-only config space (ids, capability bodies). */
	uint8_t before[256], after[256];
	for (unsigned int i = 0; i < 256; i += 4)
		*(uint32_t *)&before[i] = cfg_rd(i, 4);
	cfg_wr(0, 4, 0xffffffffu);
	cfg_wr(8, 4, 0xffffffffu);
	cfg_wr(0x2c, 4, 0xffffffffu);
	cfg_wr(0x34, 1, 0xff);
	for (unsigned int p = before[0x34] & ~3u, n = 0; p && n < 16;
	     p = before[p + 1] & ~3u, n++) {
		if (p == d.pci_cfg_cap || p == d.msix_cap)
			continue;
		for (unsigned int o = 0; o < 12; o += 4)
			cfg_wr(p + o, 4, 0xffffffffu);
	}
	for (unsigned int i = 0; i < 256; i += 4)
		*(uint32_t *)&after[i] = cfg_rd(i, 4);
	/* Writable: command/status, the BARs, the interrupt line, the
	 * PCI_CFG window and the MSI-X control. */
	unsigned int changed = 0;
	for (unsigned int i = 0; i < 256; i++)
		changed += before[i] != after[i] && !(i >= 4 && i < 8) &&
			   !(i >= 0x10 && i < 0x28) && i != 0x3c &&
			   !(i >= d.pci_cfg_cap && i < d.pci_cfg_cap + 20) &&
			   !(i >= d.msix_cap && i < d.msix_cap + 4);
	say(r, "; read-only header bytes changed: %u", changed);
	check(r, changed == 0, "read-only config space");
}

/* ---- races and amplification ---- */

static volatile bool racer_stop;

static void *racer(void *arg)
{
	const uint64_t addrs[] = { data_pa(0), ram_top, 0xc0000000ull, ~0ull - 100 };
	const uint32_t lens[] = { 0, 512, 4096, 0xffffffffu, 0xfffffe00u };
	const uint16_t flags[] = { VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, VRING_DESC_F_NEXT,
				   VRING_DESC_F_WRITE, 0 };
	const uint16_t nexts[] = { 2, 0, 1, 256, 0xffff };
	unsigned int x = 1;

	(void)arg;
	while (!racer_stop) {
		x = x * 1103515245u + 12345u;
		struct vring_desc *v = (struct vring_desc *)(d.desc + 16);
		v->addr = addrs[(x >> 8) % 4];
		v->len = lens[(x >> 12) % 5];
		v->flags = flags[(x >> 16) % 4];
		v->next = nexts[(x >> 20) % 5];
	}
	return NULL;
}

static void a_descriptor_race(struct res *r)
{
	/* Another CPU rewrites the data descriptor while the device walks
	 * the chain: every value it can see must be handled. */
	pthread_t t;
	unsigned int posted = 0, done = 0;
	uint64_t end;
	uint16_t id;
	uint32_t len;

	if (!other_cpu(r, &t, racer, &racer_stop, 512))
		return;
	end = now_ms() + 2000;
	while (now_ms() < end) {
		post(0);
		posted++;
		if (wait_used(&id, &len, T_IO))
			done++;
		else
			break;
	}
	racer_stop = true;
	pthread_join(t, NULL);
	say(r, "%u chains posted while racing, %u completed", posted, done);
	check(r, done == posted, "every chain completes");
	plain_in(data_pa(0), 512, 8);
}

static void a_amplification(struct res *r)
{
	/* amp_reqs requests at once, each one indirect table of 254 data
	 * buffers that all overlap the same misaligned guest memory, for
	 * up to amp_mib MiB of data each: with direct=on every one needs
	 * bouncing.  What vmm allocates for them must stay bounded. */
	uint64_t sector = SCRATCH_END / SECTOR;
	uint32_t buf = huge.va ? HUGE - PAGE : PAGE - SECTOR;
	uint64_t pa = (huge.va ? huge.pa : data_pa(0)) + 8;
	uint64_t want = (uint64_t)amp_mib * MIB, room = (d.capacity - sector) * SECTOR;
	unsigned int nbuf, n = amp_reqs > 64 ? 64 : amp_reqs;
	uint16_t id;
	uint32_t len;
	unsigned int got = 0, ok = 0;

	if (want > room)
		want = room;
	nbuf = (unsigned int)(want / buf);
	if (nbuf > 254)
		nbuf = 254;
	if (nbuf == 0) {
		say(r, "no room on the disk");
		return;
	}
	for (unsigned int k = 0; k < n; k++) {
		struct chain c = chain_begin(table(k), 0, k, VIRTIO_BLK_T_IN, sector);
		chain_data(&c, pa, buf, VRING_DESC_F_WRITE, nbuf);
		desc_set(d.desc, k, table_pa(k), chain_end(&c) * 16, VRING_DESC_F_INDIRECT, 0);
		avail_put((uint16_t)k);
	}
	uint64_t t0 = now_ms();
	kick();
	while (got < n && wait_used(&id, &len, 120000)) {
		got++;
		ok += id < n && st_of(id) == VIRTIO_BLK_S_OK && len == nbuf * buf + 1;
	}
	say(r,
	    "%u requests x %u buffers x %u bytes (%llu MiB each, %llu MiB in all): "
	    "%u completed, %u ok with used_len=%u, %llu ms",
	    n, nbuf, buf, (unsigned long long)((uint64_t)nbuf * buf / MIB),
	    (unsigned long long)((uint64_t)n * nbuf * buf / MIB), got, ok, nbuf * buf + 1,
	    (unsigned long long)(now_ms() - t0));
	check(r, ok == n, "all complete OK");
	printf("HOSTILE-AMP done\n");
	fflush(stdout);
}

/* ---- the runner ---- */

struct attack {
	const char *name;
	void (*fn)(struct res *);
};

static const struct attack attacks_list[] = {
	{ "chain-loop", a_chain_loop },
	{ "chain-self-loop", a_chain_self_loop },
	{ "chain-next-out-of-range", a_next_out_of_range },
	{ "chain-whole-ring", a_chain_full_ring },
	{ "chain-read-after-write", a_read_after_write },
	{ "chain-no-writable", a_no_writable },
	{ "chain-short-header", a_short_header },
	{ "chain-zero-lengths", a_zero_lengths },
	{ "chain-duplicate-heads", a_duplicate_heads },
	{ "head-out-of-range", a_head_out_of_range },
	{ "avail-idx-jump", a_avail_idx_jump },
	{ "indirect-valid", a_indirect_valid },
	{ "indirect-nested", a_indirect_nested },
	{ "indirect-bad-lengths", a_indirect_lengths },
	{ "indirect-misaligned", a_indirect_misaligned },
	{ "indirect-with-next", a_indirect_with_next },
	{ "indirect-loop-and-next", a_indirect_loop },
	{ "indirect-bad-address", a_indirect_bad_address },
	{ "indirect-after-direct", a_indirect_after_direct },
	{ "indirect-oversized", a_indirect_too_many },
	{ "indirect-not-negotiated", a_indirect_unnegotiated },
	{ "buffer-addresses", a_buffer_addresses },
	{ "length-overflow", a_length_overflow },
	{ "sector-ranges", a_sector_ranges },
	{ "request-types", a_request_types },
	{ "used-lengths", a_used_lengths },
	{ "misdirected-data", a_misdirected_data },
	{ "misaligned-buffers", a_misaligned_buffers },
	{ "discard-ranges", a_discard_ranges },
	{ "write-zeroes", a_write_zeroes },
	{ "queue-sizes", a_queue_sizes },
	{ "ring-addresses", a_ring_addresses },
	{ "queue-select", a_queue_select },
	{ "second-queue-bad-rings", a_second_queue_bad },
	{ "kick-before-driver-ok", a_early_kick },
	{ "bad-notifies", a_bad_notifies },
	{ "features", a_features },
	{ "reset-in-flight", a_reset_in_flight },
	{ "reset-vs-poster", a_reset_vs_poster },
	{ "reset-storm", a_reset_storm },
	{ "bme-cleared", a_bme_cleared },
	{ "bme-toggle-storm", a_bme_toggle_storm },
	{ "memory-space-off", a_memory_space_off },
	{ "msix-abuse", a_msix_abuse },
	{ "bar-abuse", a_bar_abuse },
	{ "bar-moves", a_bar_moves },
	{ "pci-cfg-window", a_pci_cfg_window },
	{ "descriptor-race", a_descriptor_race },
	{ "amplification", a_amplification },
};

static bool wanted(const char *name)
{
	if (nonly == 0)
		return true;
	for (unsigned int i = 0; i < nonly; i++)
		if (strcmp(only[i], name) == 0)
			return true;
	return false;
}

static void run(const struct attack *a)
{
	struct res r = { 0 };
	const char *h = NULL, *how = "ok";
	uint8_t st;
	bool nr;

	uint64_t t0 = now_ms();

	attacks++;
	a->fn(&r);
	st = status();
	nr = st & VIRTIO_CONFIG_S_NEEDS_RESET;
	if (!r.dirty && !nr && (st & VIRTIO_CONFIG_S_DRIVER_OK)) {
		h = honest();
		if (h) {
			/* It stopped serving without saying so. */
			r.fail = true;
			say(&r, "[UNEXPECTED: honest request failed without a reset: %s]", h);
		}
	}
	if (r.dirty || nr || h || !(st & VIRTIO_CONFIG_S_DRIVER_OK)) {
		int rc = dev_init();
		h = rc ? "set-up after reset refused" : honest();
		how = h ? h : "ok after reset";
	}
	bool pass = h == NULL && !r.fail;
	if (h)
		failures++;
	else if (r.fail)
		failures++;
	printf("HOSTILE %s: %s; status=%#04x needs_reset=%d; honest: %s (%llu ms): %s\n", a->name,
	       r.what, st, nr, how, (unsigned long long)(now_ms() - t0), pass ? "PASS" : "FAIL");
	fflush(stdout);
}

static int cmd_attack(int argc, char **argv)
{
	const char *dev = argv[0];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--amp") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%u,%u", &amp_reqs, &amp_mib) != 2)
				die("--amp N,MIB");
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && nonly < 64) {
			only[nonly++] = argv[++i];
		} else {
			die("unknown argument %s", argv[i]);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	find_ram_top();
	dma_setup();
	take_device(dev);
	if (dev_init())
		die("the device refused an honest set-up (status %#x)", status());
	const char *h = honest();
	if (h)
		die("honest request before any attack: %s", h);
	printf("HOSTILE-BEGIN honest request ok before the attacks\n");
	for (size_t i = 0; i < sizeof(attacks_list) / sizeof(attacks_list[0]); i++)
		if (wanted(attacks_list[i].name))
			run(&attacks_list[i]);
	printf("HOSTILE-SUMMARY attacks=%d failed=%d\n", attacks, failures);
	/* Leave the device reset: nothing runs on it afterwards. */
	set_status(0);
	wait_reset(30000);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "layout") == 0) {
		printf("PATTERN_END=%llu SCRATCH_START=%llu SCRATCH_END=%llu\n", PATTERN_END,
		       SCRATCH_START, SCRATCH_END);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "pattern") == 0)
		return cmd_pattern(argv[2], argv[3]);
	if (argc >= 3 && strcmp(argv[1], "attack") == 0)
		return cmd_attack(argc - 2, argv + 2);
	fprintf(stderr, "usage: virtio-hostile attack BLOCKDEV [--amp N,MIB] [--only NAME]...\n"
			"       virtio-hostile pattern FILE BYTES\n"
			"       virtio-hostile layout\n");
	return 2;
}
