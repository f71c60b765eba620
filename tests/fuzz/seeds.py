#!/usr/bin/env python3
# Writes the seed corpora tests/fuzz/corpus/<target>/ (committed; rerun only
# to change them): a handful of small, well-formed inputs per target that
# reach deep into each parser, from which libFuzzer mutates.
import os
import struct
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_bzimage ----
def bzimage(setup_sects=4, version=0x020f, syssize_bytes=4096, init_size=0x100000,
            align=0x200000, pref=0x1000000, cmdline_size=2047, xload=1, total=None):
    setup = (setup_sects + 1) * 512
    img = bytearray(setup + syssize_bytes)
    img[0x1f1] = setup_sects
    struct.pack_into("<I", img, 0x1f4, syssize_bytes // 16)
    struct.pack_into("<H", img, 0x1fe, 0xaa55)
    img[0x200] = 0xeb
    img[0x201] = 0x6a  # jump over the header to 0x26c
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = 0x01  # LOADED_HIGH
    struct.pack_into("<I", img, 0x22c, 0x7fffffff)
    struct.pack_into("<I", img, 0x230, align)
    img[0x234] = 1
    struct.pack_into("<H", img, 0x236, xload)
    struct.pack_into("<I", img, 0x238, cmdline_size)
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    return bytes(img)


def bz_params(low_end=64 << 20, isize=1 << 20, claimed_extra=0, cmdline_len=100,
              e820_nr=8):
    p = struct.pack("<QQHIQQBQ", low_end, isize, claimed_extra, cmdline_len,
                    0x10000, 0x1000, e820_nr, 0xe0000)
    return p + bytes(64 - len(p))


def load_params(isize=4096, clen=40, ram_mib=30):
    p = struct.pack("<IHB", isize, clen, ram_mib)
    return p + bytes(64 - len(p))


put("fuzz_bzimage", "pure-ok", b"\x00" + bz_params() + bzimage())
put("fuzz_bzimage", "pure-old-protocol", b"\x00" + bz_params() + bzimage(version=0x0200))
put("fuzz_bzimage", "pure-huge-pref", b"\x00" + bz_params() + bzimage(pref=0xfffffffffffff000))
put("fuzz_bzimage", "load-ok", b"\x01" + load_params() + bzimage())
put("fuzz_bzimage", "load-no-initrd", b"\x01" + load_params(isize=0, ram_mib=2) + bzimage(setup_sects=0))


def vmlinux(entry=0x1000040, text=0x100, paddr=0x1000000, bss=0x2000):
    """An x86-64 ET_EXEC: text, bss-only and note segments, a GNU note
    and the PVH entry note (a 64-bit word, as Linux writes it)."""
    ehdr, phdr = 64, 56
    text_off = ehdr + 3 * phdr
    def note(name, type_, desc):
        n = name + b"\0"
        pad = lambda b: b + bytes(-len(b) % 4)
        return struct.pack("<III", len(n), len(desc), type_) + pad(n) + pad(desc)
    notes = note(b"GNU", 3, bytes(20)) + note(b"Xen", 18, struct.pack("<Q", entry))
    note_off = text_off + text
    img = bytearray(b"\x7fELF" + bytes([2, 1, 1]) + bytes(9))
    img += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, paddr, ehdr, 0, 0, ehdr, phdr, 3, 0, 0, 0)
    for t, off, filesz, pa, memsz in ((1, text_off, text, paddr, text),
                                      (1, note_off, 0, paddr + 0x100000, bss),
                                      (4, note_off, len(notes), 0, 0)):
        img += struct.pack("<IIQQQQQQ", t, 7, off, pa | 0xffffffff80000000 if pa else 0, pa,
                           filesz, memsz, 0x1000)
    img += bytes(range(256)) * (text // 256) + notes
    return bytes(img)


def pvh_params(claimed_extra=0, cmdline_len=100, e820_nr=8):
    p = struct.pack("<HHQQB", claimed_extra, cmdline_len, 0x1f00000, 0x1000, e820_nr)
    return p + bytes(64 - len(p))


put("fuzz_bzimage", "pvh-ok", b"\x02" + pvh_params() + vmlinux())
put("fuzz_bzimage", "pvh-entry-in-bss", b"\x02" + pvh_params() + vmlinux(entry=0x1100000))
put("fuzz_bzimage", "load-pvh", b"\x01" + load_params() + vmlinux())

# ---- fuzz_cli ----
def argv(*args):
    return b"\x00".join(a.encode() for a in args)


put("fuzz_cli", "full", argv("--kernel", "k", "--initrd", "i", "--cmdline", "console=ttyS0",
                             "--cpus", "4", "--memory", "2G",
                             "--disk", "path=a.img,readonly=on,serial=abc,queues=2",
                             "--disk", "path=b.img,direct=on", "--stats"))
put("fuzz_cli", "bad-size", argv("--kernel", "k", "--memory", "18446744073709551615T"))
put("fuzz_cli", "bad-disk", argv("--kernel", "k", "--disk", "path=,queues=99,serial=012345678901234567890"))
put("fuzz_cli", "help", argv("--help"))
put("fuzz_cli", "missing-arg", argv("--kernel"))
put("fuzz_cli", "check-host", argv("--check-host"))
put("fuzz_cli", "stats-json", argv("--kernel", "k", "--stats=json", "--stats-file", "s.json"))

# ---- fuzz_virtq (see config_from, fz_gpa and run_op) ----
def gpa(region, off):  # region 0..3: R0, R1, R2, R3; 4: the hole; 5: near an end
    return struct.pack("<BI", region, off)


def vq_header(log2, indirect=True, event_idx=True, cap=64, desc=(0, 0),
              avail=(0, 0x10000), used=(0, 0x20000)):
    b = log2 | (0x10 if indirect else 0) | (0x20 if event_idx else 0)
    return struct.pack("<BH", b, cap - 1) + gpa(*desc) + gpa(*avail) + gpa(*used)


def desc_run(table, count, addr, length, flags, stride, mode=1, fixed_next=0):
    return (b"\x01" + gpa(*table) + struct.pack("<H", count) + gpa(*addr) +
            struct.pack("<IHIBH", length, flags, stride, mode, fixed_next))


def publish(count, head=0, step=1):
    return b"\x02" + struct.pack("<HHH", count, head, step)


def run(n):
    return b"\x03" + bytes([n - 1])


def patch(where, data):
    return b"\x00" + gpa(*where) + bytes([len(data)]) + data


NEXT, WRITE, INDIRECT = 1, 2, 4
# Three chains of header / data / status, out-of-order completion.
put("fuzz_virtq", "chains", vq_header(8) +
    desc_run((0, 0), 3, (1, 0x1000), 512, NEXT, 512) +
    desc_run((0, 48), 3, (1, 0x2000), 512, NEXT | WRITE, 512) +
    publish(1, 0) + publish(1, 3) + run(4) + b"\x04\x01\x00" + b"\x07")
# A 4096-entry indirect table of writable buffers filling R2.
put("fuzz_virtq", "big-indirect", vq_header(10, cap=1024) +
    desc_run((1, 0x8000), 4096, (2, 0), 64, NEXT | WRITE, 64) +
    patch((0, 0), struct.pack("<QIHH", 2 * 1024 * 1024 + 0x8000, 16 * 4096, INDIRECT, 0)) +
    publish(1, 0) + run(2))
# A 1000-entry indirect table that fits the device's 1024 segments.
put("fuzz_virtq", "indirect-1000", vq_header(10, cap=1024) +
    desc_run((1, 0x8000), 1000, (2, 0), 64, NEXT | WRITE, 64) +
    patch((0, 0), struct.pack("<QIHH", 2 * 1024 * 1024 + 0x8000, 16 * 1000, INDIRECT, 0)) +
    publish(1, 0) + run(2))
# The largest queue, rings in R0 and R1.
put("fuzz_virtq", "max-size", vq_header(15, desc=(0, 0), avail=(1, 0), used=(1, 0x20000)) +
    desc_run((0, 0), 64, (3, 0), 16, 0, 16) + publish(64, 0, 1) + run(70))
# Buffers that straddle R1/R2, sit in the hole, or wrap.
put("fuzz_virtq", "bad-buffers", vq_header(4, cap=8) +
    desc_run((0, 0), 1, (5, 0x00000110), 0x200, 0, 0) +
    desc_run((0, 16), 1, (4, 0x100), 0x200, 0, 0) +
    patch((0, 32), struct.pack("<QIHH", 0xfffffffffffffff0, 0x100, 0, 0)) +
    publish(3, 0, 1) + run(4) + b"\x07")

# ---- fuzz_blk_request ----
def blk(type_, sector, bufs, flags=0x1c, capacity=2048, data_cap=16, extra=b""):
    """bufs: list of (writable, length, first bytes)."""
    out = struct.pack("<BHIBIBHH", flags, capacity, 1024, 4, 512, 2, data_cap - 1, len(bufs))
    for w, n, first in bufs:
        out += struct.pack("<H", (0x8000 if w else 0) | n)
        out += first.ljust(min(n, 64), b"\x00")[:min(n, 64)]
    hdr = struct.pack("<IIQ", type_, 0, sector)
    return out + hdr + extra


def hdr(t, s):
    return struct.pack("<IIQ", t, 0, s)


put("fuzz_blk_request", "in", blk(0, 8, [(0, 16, hdr(0, 8)), (1, 4096, b""), (1, 1, b"")]))
put("fuzz_blk_request", "out-split", blk(1, 0, [(0, 8, hdr(1, 0)[:8]), (0, 520, hdr(1, 0)[8:]), (1, 1, b"")]))
put("fuzz_blk_request", "get-id", blk(8, 0, [(0, 16, hdr(8, 0)), (1, 512, b"")]))
put("fuzz_blk_request", "discard", blk(11, 0, [(0, 48, hdr(11, 0) + struct.pack("<QII", 0, 8, 0) + struct.pack("<QII", 100, 16, 0)), (1, 1, b"")],
                                       extra=b"\x04"))
put("fuzz_blk_request", "write-zeroes", blk(13, 0, [(0, 32, hdr(13, 0) + struct.pack("<QII", 2040, 8, 1)), (1, 1, b"")], extra=b"\x04"))

# ---- fuzz_serial ----
def s_read(port, n=1):
    return b"\x00" + bytes([{1: 0, 2: 1, 4: 2, 8: 3}[n], port - 0x3f0])


def s_write(port, val, n=1):
    return b"\x01" + bytes([{1: 0, 2: 1, 4: 2, 8: 3}[n], port - 0x3f0]) + struct.pack("<Q", val)


def s_input(data):
    return b"\x02" + bytes([len(data)]) + data


put("fuzz_serial", "linux-probe", s_write(0x3fb, 0x80) + s_write(0x3f8, 0x0c) + s_write(0x3f9, 0) +
    s_write(0x3fb, 0x03) + s_write(0x3fc, 0x10) + s_write(0x3f8, 0x55) + s_read(0x3fd) +
    s_read(0x3f8) + s_write(0x3fc, 0x0b) + s_write(0x3f9, 0x0f) + s_read(0x3fa))
put("fuzz_serial", "rx-overrun", s_write(0x3f9, 0x05) + s_input(b"0123456789abcdefXYZ") +
    s_read(0x3fd) + s_read(0x3f8) * 4 + s_read(0x3f8, 4) + s_write(0x3fa, 0x07))
put("fuzz_serial", "thr-irq", s_write(0x3f9, 0x02) + s_read(0x3fa) + s_write(0x3f8, 0x41, 2) +
    s_read(0x3fa) + s_read(0x3fe))

# ---- fuzz_pci (op, len, val, dev, reg[, ...]) ----
def p_op(op, val=0, dev=0, reg=0, n=4):
    return bytes([op, {1: 0, 2: 1, 4: 2, 8: 3}[n]]) + struct.pack("<QBH", val, dev, reg)


put("fuzz_pci", "sizing-and-decode", p_op(5 | 0x40, dev=0, reg=0) + p_op(5 | 0x40, dev=0, reg=1) +
    p_op(5, val=0xc0000000, dev=0, reg=0) + p_op(5, val=0, dev=0, reg=1) +
    p_op(6, val=2, dev=0) + p_op(7 | 0x20, val=0, n=4) + p_op(6, val=2, dev=1))
put("fuzz_pci", "cf8-cfc", p_op(0 | 0x40, dev=1, reg=0) + p_op(1 | (4 << 3)) +
    p_op(0 | 0x40, dev=1, reg=0x10) + p_op(2 | (4 << 3), val=0xffffffff) + p_op(1 | (4 << 3)) +
    p_op(0 | 0x40, dev=5, reg=0) + p_op(1 | (4 << 3), n=2))
put("fuzz_pci", "ecam-caps", p_op(3, dev=0, reg=0x34, n=1) + p_op(4, val=0xffffffff, dev=0, reg=0x40) +
    p_op(3, dev=0, reg=0x44) + p_op(4, val=0xffff, dev=0, reg=0x06, n=2) + p_op(3 | 0x40, val=1 << 56, dev=0, reg=0))

# ---- fuzz_msix (nvec, table, pba, then op, len, val, v) ----
def m_op(op, val=0, v=0, n=4):
    return bytes([op, {1: 0, 2: 1, 4: 2, 8: 3}[n]]) + struct.pack("<QH", val, v)


put("fuzz_msix", "enable-deliver", struct.pack("<HHH", 3, 0, 0x800) +
    m_op(3 | 8, 0x8000) + m_op(0 | 8, 0xfee00000, 0) + m_op(0, 0x4041, 2) + m_op(0, 0, 3) +
    m_op(4, 0, 0) + m_op(5) + m_op(6, 0, 0) + m_op(3 | 8, 0xc000) + m_op(4, 0, 0) + m_op(6, 0, 0) +
    m_op(3 | 8, 0x8000) + m_op(7, 0, 0))
put("fuzz_msix", "many-vectors", struct.pack("<HHH", 0x8000 | 299, 0, 0x2000) +
    m_op(3 | 8, 0x8000) + m_op(0, 0, 4 * 298 + 3) + m_op(4, 0, 298) + m_op(6, 0, 298))

# ---- fuzz_virtio_pci (setup, then op, len, off, val[, ...]) ----
def v_op(op, off=0, val=0, n=4):
    return bytes([op, {1: 0, 2: 1, 4: 2, 8: 3}[n]]) + struct.pack("<HQ", off, val)


def driver_init(queues):
    out = struct.pack("<IBIB", 0xffffffff, 0, 0xffffffff, 0) + struct.pack("<H", 0)
    for q in range(queues):
        out += struct.pack("<BHIIIB", 7, q + 1, 0x1000 * q, 0x40000 + 0x1000 * q, 0x80000 + 0x1000 * q, 1)
    return out


put("fuzz_virtio_pci", "init-and-notify", bytes([0x21]) + v_op(6) + driver_init(2) +
    v_op(5, 0) + v_op(5, 1) + v_op(2, 0x1000, n=1) + v_op(2, 0x14, n=1) + v_op(7 | 8, val=0) +
    v_op(7, val=0xd0000000) + v_op(7 | 8, val=2) + v_op(0, 0x14, 0, n=1))
put("fuzz_virtio_pci", "pci-cfg-window", bytes([0x22]) + v_op(4, 0x34, n=1) +
    v_op(3, 0x88, 0x14, n=4) + v_op(3, 0x84, 0, n=1) + v_op(3, 0x90, 1, n=4) + v_op(4, 0x94, n=4))
