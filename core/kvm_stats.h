/*
 * KVM's own statistics of a VM or a vCPU through KVM_GET_STATS_FD (Linux
 * 5.14 and later): the binary header, descriptors and data of the stats
 * file, read without debugfs.  Only scalar statistics (cumulative, instant,
 * peak) are reported; histograms are left out.
 */
#ifndef CORE_KVM_STATS_H
#define CORE_KVM_STATS_H

#include <stdint.h>

/* KVM's names are at most 48 bytes with the NUL (KVM_STATS_NAME_SIZE). */
#define KVM_STAT_NAME_MAX 64

typedef void (*kvm_stat_fn)(void *opaque, const char *name, uint64_t value);

/*
 * Calls fn for each scalar statistic in a stats file (the fd
 * KVM_GET_STATS_FD returned, or any file with its layout), in descriptor
 * order.  The file is checked like any input: -1 with err_msg() set when
 * it is truncated or its header does not add up.
 */
int kvm_stats_read(int stats_fd, kvm_stat_fn fn, void *opaque);

/* KVM_GET_STATS_FD on a VM or vCPU fd, then kvm_stats_read.  -1 with
 * err_msg() set when the kernel has no binary statistics. */
int kvm_stats_each(int kvm_obj_fd, kvm_stat_fn fn, void *opaque);

#endif
