#!/usr/bin/env python3
"""The storage benchmark's report (tests/bench/fio-bench.sh writes its input).

Reads RAW/rep*/COLUMN/{console.log,samples} and prints, per job, each
column's median IOPS with min-max over the repetitions, mean latency, and
per completed request: the inner KVM's exits by kind, the VMM's CPU time,
the test host's busy CPU time and the guest's interrupts.  Writes
OUT/results.json (every repetition and the medians) and, when gnuplot is
there, OUT/fio.svg (median IOPS, one group of bars per job).

    usage: fio-report.py RAW OUT
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
# Shown in the per-request table (debugfs name -> column title).
EXITS = [("exits", "exits"), ("insn_emulation", "emul"), ("io_exits", "pio"),
         ("mmio_exits", "mmio"), ("halt_exits", "hlt"), ("irq_injections", "inj")]


def terse(path):
    """job -> (iops, MiB/s, mean latency us) from fio's terse v3 lines."""
    res = {}
    for line in open(path, errors="replace"):
        line = line.strip().replace("\r", "")
        i = line.find("3;")
        if i < 0:
            continue
        f = line[i:].split(";")
        if len(f) < 82 or not f[0] == "3":
            continue
        r_iops, w_iops = float(f[7]), float(f[48])
        if r_iops >= w_iops:
            res[f[2]] = (r_iops, float(f[6]) / 1024, float(f[39]))
        else:
            res[f[2]] = (w_iops, float(f[47]) / 1024, float(f[80]))
    return res


def markers(path):
    """job -> (guest interrupts, completed requests)."""
    res = {}
    for line in open(path, errors="replace"):
        m = re.search(r"fio-bench: irqs (\S+) (\d+) (\d+)", line)
        if m:
            res[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return res


def samples(path):
    """job -> {counter: end - begin}."""
    begin, res = {}, {}
    if not os.path.exists(path):
        return res
    for line in open(path):
        f = line.split()
        if len(f) < 2:
            continue
        vals = dict(kv.split("=", 1) for kv in f[2:] if "=" in kv)
        vals = {k: int(v) for k, v in vals.items() if v.lstrip("-").isdigit()}
        if f[0] == "begin":
            begin[f[1]] = vals
        elif f[0] == "irqs":
            # (older runs could cut a begin line's job name short)
            b = begin.get(f[1]) or next((v for k, v in begin.items() if k and f[1].startswith(k)), None)
            if b is not None:
                res[f[1]] = {k: v - b.get(k, 0) for k, v in vals.items()}
    return res


def vmm_stats(path):
    """vmm's --stats disk line of disk 1: (requests, kicks, interrupts,
    merged, completed late, refill waits that ran out, found without a
    kick, busy s, mean
    requests in flight, mean ios at the backend); older builds print fewer
    fields (0 then)."""
    for line in open(path, errors="replace"):
        m = re.search(r"vmm: disk 1: (\d+) requests, (\d+) kicks, (\d+) interrupts"
                      r"(?:, (\d+) merged)?(?:, (\d+) completed late)?(?:, (\d+) refill waits ran out)?"
                      r"(?:, (\d+) found without a kick)?"
                      r"(?:; busy ([\d.]+) s, ([\d.]+) requests in flight, ([\d.]+) ios at the backend)?",
                      line)
        if m:
            g = m.groups()
            return tuple(int(x or 0) for x in g[:7]) + tuple(float(x or 0) for x in g[7:])
    return None


def speed(path):
    """The test host's CPU probe around a part: {"before": ms, "after": ms}."""
    res = {}
    if os.path.exists(path):
        for line in open(path):
            f = line.split()
            if len(f) == 2 and f[1].isdigit():
                res[f[0]] = int(f[1])
    return res


def load(raw):
    runs = []  # dicts: rep, column, job, metrics
    reruns = []
    # raw/repN/COLUMN/ per part; raw/repN.COLUMN.bootK.out are the parts' logs.
    for rep in sorted(d for d in os.listdir(raw)
                      if d.startswith("rep") and os.path.isdir(os.path.join(raw, d))):
        for col in sorted(os.listdir(os.path.join(raw, rep))):
            d = os.path.join(raw, rep, col)
            log = os.path.join(d, "console.log")
            if not os.path.exists(log):
                continue
            if os.path.exists(os.path.join(d, "rerun")):
                reruns.append(f"{rep}/{col}")
            # A hung guest boot retried inside the same test host.
            attempts = os.path.join(d, "boot-attempts")
            if os.path.exists(attempts):
                with open(attempts) as f:
                    reruns.append(f"{rep}/{col} (guest boot attempt {f.read().strip()})")
            t, mk, sm = terse(log), markers(log), samples(os.path.join(d, "samples"))
            sp = speed(os.path.join(d, "speed"))
            if sp:
                runs.append({"rep": int(rep[3:]), "column": col, "job": "_speed", **sp})
            st = vmm_stats(log)
            for job, (iops, bw, lat) in t.items():
                m = {"iops": iops, "mib_s": bw, "lat_us": lat}
                irqs, reqs = mk.get(job, (0, 0))
                s = sm.get(job, {})
                if reqs > 0:
                    m["requests"] = reqs
                    if col != "host":
                        m["irq_per_req"] = irqs / reqs
                    for k, _ in EXITS:
                        if "kvm_" + k in s and col != "host":
                            m[k + "_per_req"] = s["kvm_" + k] / reqs
                    if "vmm_ticks" in s and col != "host":
                        m["vmm_cpu_us_per_req"] = s["vmm_ticks"] * TICK_US / reqs
                        if "guest_ticks" in s:
                            m["guest_cpu_us_per_req"] = s["guest_ticks"] * TICK_US / reqs
                    if s.get("io_sleeps") and col != "host":
                        m["io_cpu_us_per_req"] = s["io_ticks"] * TICK_US / reqs
                        m["io_wakeups_per_req"] = s["io_sleeps"] / reqs
                    if "host_busy_ticks" in s:
                        m["host_cpu_us_per_req"] = s["host_busy_ticks"] * TICK_US / reqs
                runs.append({"rep": int(rep[3:]), "column": col, "job": job, **m})
            if st:
                runs.append({"rep": int(rep[3:]), "column": col, "job": "_whole_run",
                             "requests": st[0], "kicks_per_req": st[1] / max(st[0], 1),
                             "irq_per_req": st[2] / max(st[0], 1), "merged": st[3],
                             "late": st[4], "refill_timeouts": st[5],
                             "unnotified": st[6],
                             "busy_s": st[7], "inflight": st[8], "backend_ios": st[9]})
    return runs, reruns


def med(vals):
    return statistics.median(vals) if vals else None


def summarise(runs):
    cols, jobs, summary = [], [], {}
    for r in runs:
        if r["job"].startswith("_"):  # _whole_run, _speed: not jobs
            continue
        if r["column"] not in cols:
            cols.append(r["column"])
        if r["job"] not in jobs:
            jobs.append(r["job"])
    order = ["host", "vmm", "qemu-io", "qemu"]
    cols.sort(key=lambda c: (order.index(c) if c in order else 2.5, c))
    for job in jobs:
        for col in cols:
            rs = [r for r in runs if r["job"] == job and r["column"] == col]
            if not rs:
                continue
            keys = sorted({k for r in rs for k in r if k not in ("rep", "column", "job")})
            s = {"n": len(rs)}
            for k in keys:
                v = [r[k] for r in rs if k in r]
                s[k] = {"median": med(v), "min": min(v), "max": max(v)}
            summary.setdefault(job, {})[col] = s
    return cols, jobs, summary


def fmt(x, nd=0):
    if x is None:
        return "-"
    return f"{x:.{nd}f}"


def table(cols, jobs, summary, peer):
    lines = []
    vcols = [c for c in cols if c != "host"]
    head = ["job"] + [f"{c} IOPS (min–max)" for c in cols]
    ratio_cols = [c for c in vcols if c != peer]
    head += [f"{c}/{peer}" for c in ratio_cols]
    head += [f"{c} lat µs" for c in vcols]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for job in jobs:
        row = [job]
        sj = summary[job]
        for c in cols:
            i = sj.get(c, {}).get("iops")
            spread = ""
            if i and i["median"]:
                spread = f" ({fmt(i['min'])}–{fmt(i['max'])}, spread {fmt(100 * (i['max'] - i['min']) / i['median'])}%)"
            row.append(fmt(i["median"]) + spread if i else "-")
        for c in ratio_cols:
            a, b = sj.get(c, {}).get("iops"), sj.get(peer, {}).get("iops")
            row.append(f"{a['median'] / b['median']:.2f} ({a['min'] / b['min']:.2f} worst)"
                       if a and b and b["median"] and b["min"] else "-")
        for c in vcols:
            lat = sj.get(c, {}).get("lat_us")
            row.append(fmt(lat["median"]) if lat else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Per completed request (medians over the repetitions): inner-KVM exits "
                 "(all / instruction emulation / port I/O (every OUT/IN exit, also those an ioeventfd serves in the kernel) / MMIO to user space / HLT / "
                 "interrupt injections), guest interrupts, VMM process CPU µs and the part of it spent in guest mode (the "
                 "vCPUs running the guest), its I/O threads' "
                 "CPU µs and wake-ups (voluntary context switches; qemu-io: the iothread), "
                 "test-host busy CPU µs.")
    lines.append("")
    head = ["job", "column"] + [t for _, t in EXITS] + ["irq", "VMM µs", "in guest µs", "I/O thr µs",
                                                        "I/O thr wake", "host µs"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for job in jobs:
        for c in cols:
            s = summary[job].get(c)
            if not s:
                continue

            def g(k, nd=2):
                v = s.get(k)
                return fmt(v["median"], nd) if v else "-"
            row = [job, c] + [g(k + "_per_req") for k, _ in EXITS]
            row += [g("irq_per_req"), g("vmm_cpu_us_per_req", 0), g("guest_cpu_us_per_req", 0),
                    g("io_cpu_us_per_req", 0),
                    g("io_wakeups_per_req"), g("host_cpu_us_per_req", 0)]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def chart(out, cols, jobs, summary):
    if not shutil.which("gnuplot"):
        return None
    dat = os.path.join(out, "fio.dat")
    with open(dat, "w") as f:
        f.write("job " + " ".join(cols) + "\n")
        for job in jobs:
            vals = [summary[job].get(c, {}).get("iops", {}).get("median") or 0 for c in cols]
            f.write(job + " " + " ".join(f"{v:.0f}" for v in vals) + "\n")
    svg = os.path.join(out, "fio.svg")
    plot = ", ".join(f"'{dat}' using {i + 2}:xtic(1) title columnheader({i + 2})"
                     for i in range(len(cols)))
    script = f"""set terminal svg size 900,450 dynamic
set output '{svg}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'IOPS (median)'
set logscale y
set key top left
set xtics rotate by -20
plot {plot}
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    return svg if r.returncode == 0 else None


def main():
    raw, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    runs, reruns = load(raw)
    if not runs:
        print("fio-report: no results in " + raw, file=sys.stderr)
        return 1
    cols, jobs, summary = summarise(runs)
    meta = {}
    if os.path.exists(os.path.join(raw, "meta")):
        for line in open(os.path.join(raw, "meta")):
            k, _, v = line.strip().partition("=")
            meta[k] = v
    peer = "qemu-io" if "qemu-io" in cols else (cols[-1] if cols else "")
    print()
    done = len({r["rep"] for r in runs})
    print(f"fio benchmark, {meta.get('date', '?')}, {meta.get('machine', '?')}; "
          f"{done} of {meta.get('reps', '?')} repetitions done, {meta.get('runtime', '?')} s per job "
          f"(+{meta.get('ramp', '?')} s ramp); vmm {meta.get('vmm', '')}")
    print()
    print(table(cols, jobs, summary, peer))
    whole = [r for r in runs if r["job"] == "_whole_run"]
    for r in whole:
        print(f"  rep {r['rep']} {r['column']}: whole run, vmm --stats: {r['kicks_per_req']:.3f} kicks "
              f"and {r['irq_per_req']:.3f} interrupts per request ({r['requests']} requests, "
              f"{r['merged']} merged into another's io, {r.get('late', 0)} completed late, "
              f"{r.get('refill_timeouts', 0)} refill waits ran out, "
              f"{r.get('unnotified', 0)} found without a kick"
              + (f"; while busy ({r['busy_s']:.1f} s) {r['inflight']:.2f} requests in flight, "
                 f"{r['backend_ios']:.2f} ios at the backend" if r.get("busy_s") else "") + ")")
    probes = [r for r in runs if r["job"] == "_speed"]
    if probes:
        print("  test-host CPU probe, ms for a fixed awk loop before / after each part "
              "(lower is faster): " +
              ", ".join(f"rep {r['rep']} {r['column']} {r.get('before', '-')}/{r.get('after', '-')}"
                        for r in probes))
    if reruns:
        print("re-run after a dead test host or a hung guest boot: " + ", ".join(reruns))
    svg = chart(out, cols, jobs, summary)
    strace_out = {}
    strace_dir = os.path.join(raw, "strace")
    if os.path.isdir(strace_dir):
        print("\nI/O threads' syscalls per request (strace -c attached during each job; "
              "the traced run is slower, its IOPS are not in the table):")
        for col in sorted(os.listdir(strace_dir)):
            d = os.path.join(strace_dir, col)
            log = os.path.join(d, "console.log")
            if not os.path.exists(log):
                continue
            mk = markers(log)
            for job, (_, reqs) in mk.items():
                p = os.path.join(d, f"strace-{job}.txt")
                if not os.path.exists(p) or not reqs:
                    continue
                total, calls = 0, {}
                for line in open(p):
                    f = line.split()
                    if len(f) >= 5 and f[-1] != "total" and f[3].isdigit():
                        calls[f[-1]] = int(f[3])
                    if f and f[-1] == "total" and len(f) >= 4:
                        total = int(f[3])
                top = ", ".join(f"{k} {v / reqs:.2f}" for k, v in
                                sorted(calls.items(), key=lambda kv: -kv[1])[:4])
                print(f"  {col} {job}: {total / reqs:.2f} per request ({top})")
                strace_out.setdefault(col, {})[job] = {"syscalls_per_req": total / reqs,
                                                       "by_call": calls, "requests": reqs}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "reruns": reruns, "runs": runs, "summary": summary,
                   "io_thread_syscalls": strace_out}, f, indent=1)
    print(f"\nwritten: {os.path.join(out, 'results.json')}" + (f", {svg}" if svg else " (no gnuplot: no chart)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
