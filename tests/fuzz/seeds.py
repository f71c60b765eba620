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
