/*
 * Fuzz target for the split virtqueue's descriptor-chain parser: the input
 * becomes a guest RAM image holding the rings, indirect tables and avail
 * entries, and the device pops everything it can.  Any buffer handed out
 * outside guest RAM aborts; ASan/UBSan catch the rest.
 *
 * Built with libFuzzer (clang -fsanitize=fuzzer -DFUZZ_LIBFUZZER) it is a
 * normal fuzz target; built by gcc (make build/fuzz/fuzz_virtq) a small
 * main() replays the input files given on the command line.
 *
 * Input layout: byte 0 = log2 of the queue size (mod 9), byte 1 = ring
 * features (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX), the rest = RAM contents
 * from guest address RAM_GPA on (so the input also writes avail idx,
 * used_event, and every descriptor and indirect table).  Descriptor table at
 * RAM_GPA, avail ring at +0x1000, used ring at +0x1800.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "core/guest_mem.h"

#define RAM_GPA  0x10000ull
#define RAM_SIZE 0x10000ull
#define MAX_SEGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const struct iovec *v, const uint8_t *ram)
{
	const uint8_t *p = v->iov_base;
	if (p < ram || p + v->iov_len > ram + RAM_SIZE || v->iov_len == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct guest_mem mem = { 0 };
	struct virtq vq;
	struct iovec iov[MAX_SEGS];
	struct virtq_req req = { .iov = iov, .iov_cap = MAX_SEGS };
	struct virtq_config cfg;

	if (size < 2)
		return 0;
	if (ram == NULL && (ram = aligned_alloc(4096, RAM_SIZE)) == NULL)
		return 0;
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + 2, size - 2 < RAM_SIZE ? size - 2 : RAM_SIZE);
	if (guest_mem_add(&mem, RAM_GPA, RAM_SIZE, ram) < 0)
		abort();

	cfg = (struct virtq_config){
		.size = (uint16_t)(1u << (data[0] % 9)),
		.desc_gpa = RAM_GPA,
		.avail_gpa = RAM_GPA + 0x1000,
		.used_gpa = RAM_GPA + 0x1800,
		.features = ((data[1] & 1) ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0) |
			    ((data[1] & 2) ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0),
	};
	if (virtq_init(&vq, &mem, &cfg) < 0)
		abort();  /* the layout above is always valid */

	/* At most two laps of the ring: enough to reach every entry. */
	for (unsigned int round = 0; round < 2u * cfg.size + 2; round++) {
		enum virtq_pop_result r;

		virtq_disable_notify(&vq);
		r = virtq_pop(&vq, &req);
		if (r == VIRTQ_POP_EMPTY || r == VIRTQ_POP_BROKEN)
			break;
		if (r == VIRTQ_POP_OK) {
			if (req.nr_readable + req.nr_writable > MAX_SEGS)
				abort();
			for (unsigned int i = 0; i < req.nr_readable + req.nr_writable; i++)
				check_inside(&iov[i], ram);
		}
		if (req.head >= cfg.size || virtq_push(&vq, req.head, req.writable_len) < 0)
			abort();
		(void)virtq_should_notify(&vq);
		(void)virtq_enable_notify(&vq);
	}
	return 0;
}

#ifndef FUZZ_LIBFUZZER
int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s INPUT...  (replays fuzz inputs)\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf = malloc(RAM_SIZE + 2);
		size_t n;

		if (f == NULL || buf == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, RAM_SIZE + 2, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
		printf("%s: ok\n", argv[i]);
	}
	return 0;
}
#endif
