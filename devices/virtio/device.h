/*
 * The contract between a virtio transport (virtio-pci) and a virtio device
 * (virtio-blk): the transport owns registers, feature negotiation state,
 * the status byte, queue configuration, kick eventfds and interrupts; the
 * device owns its config space, its requests and its threads.  Devices
 * never touch PCI, KVM or irqfds: they call back into the transport.
 */
#ifndef DEVICES_VIRTIO_DEVICE_H
#define DEVICES_VIRTIO_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/queue.h"

/* Device status (virtio 1.x, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1u
#define VIRTIO_STATUS_DRIVER		 2u
#define VIRTIO_STATUS_DRIVER_OK		 4u
#define VIRTIO_STATUS_FEATURES_OK	 8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED		 128u

/* Reserved feature bits (virtio 1.x, 6). */
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_ID_BLOCK	   2

struct virtio_device;

/* Set by the transport before the driver can reach the device.  Both
 * callbacks may be called from any device thread. */
struct virtio_transport {
	void *opaque;
	/* Used buffers on queue q, and the guest wants an interrupt for them. */
	void (*notify_queue)(void *opaque, unsigned int q);
	/* The guest broke the protocol beyond recovery (e.g. a corrupt ring):
	 * set DEVICE_NEEDS_RESET and raise a configuration interrupt. */
	void (*needs_reset)(void *opaque);
};

struct virtio_device_ops {
	/* Feature bits the device offers. */
	uint64_t (*features)(struct virtio_device *dev);
	/* The driver's choice, when it sets FEATURES_OK.  -1 refuses it
	 * (the transport then leaves FEATURES_OK clear). */
	int (*set_features)(struct virtio_device *dev, uint64_t features);
	/* Device-specific config space; bytes past its end read as zero and
	 * ignore writes. */
	void (*config_read)(struct virtio_device *dev, uint32_t offset, void *buf, uint32_t len);
	void (*config_write)(struct virtio_device *dev, uint32_t offset, const void *buf,
			     uint32_t len);
	/*
	 * Starts serving queue q, at DRIVER_OK, for each queue the driver
	 * enabled.  cfg->features must be the negotiated features.  kick_fd is
	 * the eventfd the transport registered with KVM_IOEVENTFD for q; it
	 * stays the transport's (the device only reads it).  0, or -1 with a
	 * message (a bad ring configuration: DEVICE_NEEDS_RESET).
	 */
	int (*queue_start)(struct virtio_device *dev, unsigned int q,
			   const struct virtq_config *cfg, int kick_fd);
	/*
	 * Device reset (status written 0): stops every queue after its
	 * in-flight requests completed, and forgets negotiated features.
	 * Returns when that is done, so the driver may reuse its memory.
	 */
	void (*reset)(struct virtio_device *dev);
	/* Reset, then free the device. */
	void (*destroy)(struct virtio_device *dev);
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	uint16_t device_id;
	unsigned int num_queues;
	uint16_t queue_max_size; /* what queue_size reads as before the driver writes it */
	uint32_t config_size;
	struct virtio_transport transport;
};

#endif
