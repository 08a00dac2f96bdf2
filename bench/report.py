#!/usr/bin/python3
"""Turns one `make bench` run into tables: OUT/results.csv, and with --docs DIR also
DIR/benchmarks.md (method, machine, tables, goals), DIR/benchmarks.csv and DIR/benchmarks.png (the
ratios). Reads OUT/vm/results.jsonl, OUT/vm/machine.txt, OUT/vm/bench.env, OUT/vm/mem/ (slabinfo
before/after each fill of the first iteration) and OUT/criterion/ (criterion's estimates).
The hand-written analysis in bench/notes.md is included in benchmarks.md as it is.

  bench/report.py --out tests/qemu/out/bench [--docs docs]
"""
import argparse
import csv
import json
import os
import statistics
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))

WORKLOADS = {
    "crr": ("1. New-connection rate", "connections/s", "TCP connect, 64-byte request, 128-byte response, server closes; {BENCH_CRR_CONC} in flight, {BENCH_CRR_SECS} s"),
    "tput": ("2. Throughput", "Gbit/s", "iperf3, one TCP stream, {BENCH_TPUT_SECS} s (first second omitted)"),
    "pps": ("3. Packet rate", "kpps", "18-byte UDP datagrams from 16 flows, {BENCH_PPS_SECS} s, counted on arrival at the real server"),
    "scale": ("4. Connection-table scale", "kpps", "UDP packets over min(N, 65,536) of N live entries, {BENCH_SCALE_SECS} s"),
    "fill": ("4b. Table fill rate (new UDP entries)", "k entries/s", "one raw UDP packet per new source tuple into an empty table"),
    "pools": ("5. Large pools (wlc, NAT)", "connections/s", "as 1., wlc over N destinations (ports of one real server), {BENCH_POOL_SECS} s"),
    "mem": ("6. Memory per connection", "bytes/entry", "(Slab + VmallocUsed + Percpu) after the fill minus before, per live entry"),
}
TARGETS = ("none", "ip_vs", "rvs")


def load(out):
    rows = []
    path = os.path.join(out, "vm", "results.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    env = {}
    p = os.path.join(out, "vm", "bench.env")
    if os.path.exists(p):
        for line in open(p):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v.strip('"')
    machine = ""
    p = os.path.join(out, "vm", "machine.txt")
    if os.path.exists(p):
        machine = open(p).read()
    return rows, env, machine


def case_key(c):
    return (0, int(c)) if str(c).isdigit() else (1, str(c))


def summarize(rows):
    """{(workload, case): {target: [values by iteration]}} and the iterations' values."""
    by = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        by[(r["workload"], str(r["case"]))][r["target"]][r["iter"]] = float(r["value"])
    return by


def stats(vals):
    v = sorted(vals)
    return statistics.median(v), v[0], v[-1]


def ratio(by_t, a, b):
    """Median of a / median of b, and the min-max of the per-iteration ratios a_i / b_i."""
    if a not in by_t or b not in by_t:
        return None
    ma, mb = statistics.median(by_t[a].values()), statistics.median(by_t[b].values())
    if mb == 0:
        return None
    pairs = [by_t[a][i] / by_t[b][i] for i in by_t[a] if i in by_t[b] and by_t[b][i] != 0]
    return ma / mb, (min(pairs) if pairs else None), (max(pairs) if pairs else None)


def fmt(x):
    if x is None:
        return "–"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if x < 1 else f"{x:.2f}"


def fmt_ratio(r):
    if r is None:
        return "–"
    m, lo, hi = r
    if lo is None:
        return f"{m:.2f}"
    return f"**{m:.2f}** ({lo:.2f}–{hi:.2f})"


def slab_diff(before, after):
    """Bytes gained per slab cache between two /proc/slabinfo snapshots, largest first."""
    def parse(p):
        d = {}
        for line in open(p):
            if line.startswith(("slabinfo", "#")):
                continue
            f = line.split()
            d[f[0]] = (int(f[1]), int(f[3]))  # active_objs, objsize
        return d
    b, a = parse(before), parse(after)
    out = []
    for name, (objs, size) in a.items():
        d = objs - b.get(name, (0, size))[0]
        if d > 0:
            out.append((d * size, name, d, size))
    return sorted(out, reverse=True)


def criterion(out):
    """{benchmark id: median ns} from criterion's estimates.json files."""
    res = {}
    root = os.path.join(out, "criterion")
    for dirpath, _, files in os.walk(root):
        if "estimates.json" in files and dirpath.endswith(os.sep + "new"):
            bench = json.load(open(os.path.join(dirpath, "benchmark.json"))) if os.path.exists(
                os.path.join(dirpath, "benchmark.json")) else None
            est = json.load(open(os.path.join(dirpath, "estimates.json")))
            name = bench["title"] if bench else os.path.relpath(os.path.dirname(dirpath), root)
            res[name] = est["median"]["point_estimate"]
    return res


def write_csv(path, rows):
    keys = ["workload", "case", "target", "iter", "metric", "value"]
    extra = sorted({k for r in rows for k in r} - set(keys))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(keys + extra)
        for r in rows:
            w.writerow([r.get(k, "") for k in keys + extra])


def chart(path, by):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels, vs_ipvs, vs_none = [], [], []
    for (w, c) in sorted(by, key=lambda k: (list(WORKLOADS).index(k[0]), case_key(k[1]))):
        if w in ("fill",):
            continue
        r1 = ratio(by[(w, c)], "rvs", "ip_vs")
        r2 = ratio(by[(w, c)], "rvs", "none") if w != "mem" else None
        if r1 is None:
            continue
        labels.append(f"{w}\n{c}")
        vs_ipvs.append(r1[0])
        vs_none.append(r2[0] if r2 else 0)
    if not labels:
        return
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(labels)), 4.5))
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], vs_ipvs, 0.4, label="rvs / ip_vs")
    ax.bar([i + 0.2 for i in x], vs_none, 0.4, label="rvs / no balancer")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("ratio of medians (mem: lower is better)")
    ax.set_title("rvs against ip_vs and against no balancer (one TCG VM boot)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def goals(by):
    """The issue's goals, each (text, met or None when not measured, figures)."""
    g = []

    def med(w, c, t):
        d = by.get((w, c), {}).get(t)
        return statistics.median(d.values()) if d else None

    for w in ("crr", "tput", "pps"):
        for (ww, c) in sorted(k for k in by if k[0] == w):
            r = ratio(by[(ww, c)], "rvs", "ip_vs")
            g.append((f"{WORKLOADS[w][0]}, {c}: rvs/ip_vs ≥ 1.0", None if r is None else r[0] >= 1.0,
                      "–" if r is None else f"{r[0]:.2f}"))
    r = ratio(by.get(("tput", "dr"), {}), "rvs", "none") if ("tput", "dr") in by else None
    g.append(("DR throughput ≥ 0.9 × no balancer", None if r is None else r[0] >= 0.9,
              "–" if r is None else f"{r[0]:.2f}"))
    sizes = sorted({int(c) for (w, c) in by if w == "scale"})
    if sizes:
        lo, hi = str(sizes[0]), str(sizes[-1])
        a, b = med("scale", hi, "rvs"), med("scale", lo, "rvs")
        g.append((f"4: rvs at {int(hi):,} entries ≥ 0.9 × rvs at {int(lo):,}",
                  None if not (a and b) else a / b >= 0.9, "–" if not (a and b) else f"{a / b:.2f}"))
        r = ratio(by[("scale", hi)], "rvs", "ip_vs")
        g.append((f"4: rvs ≥ 2 × ip_vs at {int(hi):,} entries", None if r is None else r[0] >= 2,
                  "–" if r is None else f"{r[0]:.2f}"))
    pools = sorted({int(c) for (w, c) in by if w == "pools"})
    if pools:
        r = ratio(by[("pools", str(pools[-1]))], "rvs", "ip_vs")
        g.append((f"5: rvs ≥ 2 × ip_vs at {pools[-1]:,} destinations", None if r is None else r[0] >= 2,
                  "–" if r is None else f"{r[0]:.2f}"))
    mems = sorted({int(c) for (w, c) in by if w == "mem"})
    if mems:
        a, b = med("mem", str(mems[-1]), "rvs"), med("mem", str(mems[-1]), "ip_vs")
        g.append((f"6: ≤ 160 bytes per connection (at {mems[-1]:,} entries)", None if a is None else a <= 160,
                  f"rvs {fmt(a)}, ip_vs {fmt(b)}"))
    return g


def markdown(rows, by, env, machine, out, crit):
    L = []
    L.append("# Benchmarks: rvs against ip_vs and against no balancer")
    L.append("")
    L.append("Generated by `make bench` (`bench/report.py`) from the run's results; the analysis at the")
    L.append("end is hand-written (`bench/notes.md`). Raw per-iteration figures: `docs/benchmarks.csv`.")
    L.append("Chart of the ratios: `docs/benchmarks.png`.")
    L.append("")
    L.append("![ratios](benchmarks.png)")
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(f"One boot of the bench kernel (`scripts/kernel.sh build bench`: the test kernel's configuration without")
    L.append("lockdep, kmemleak, DEBUG_LIST, debug objects and DEBUG_ATOMIC_SLEEP) under QEMU TCG, with both `ip_vs`")
    L.append("and `rvs.ko ipvs_compat=0` loaded. Topology as the data-path tests (`tests/qemu/dp-lib.sh`):")
    L.append("client, director and one real server `rs1`, veth pairs and bridges between namespaces. Each")
    L.append("measurement runs against three targets in turn, the order rotating every iteration:")
    L.append("")
    L.append("- **none**: no balancer; the client addresses the real server itself, so the director only")
    L.append("  routes (same links, same hops, no IPVS hook registered in the director);")
    L.append("- **ip_vs**: stock ip_vs configured with stock `ipvsadm` (conn table: 4,096 buckets, the default);")
    L.append("- **rvs**: rvs configured with `rvsadm --family RVS`.")
    L.append("")
    L.append("A target's services are deleted after each of its runs, so the other's hooks are not")
    L.append("registered during a run. Load generators are ours (`bench/loadgen`, Rust, epoll, one process")
    L.append("per side) except for iperf3. Settings of this run:")
    L.append("")
    L.append("```")
    L.extend(f"{k}={v}" for k, v in env.items() if k.startswith("BENCH_") and k not in ("BENCH_KO", "BENCH_LOADGEN", "BENCH_RVSADM"))
    L.append("```")
    L.append("")
    L.append("| workload | unit | what |")
    L.append("|---|---|---|")
    for w, (title, unit, what) in WORKLOADS.items():
        try:
            what = what.format(**env)
        except KeyError:
            pass
        L.append(f"| {title} | {unit} | {what} |")
    L.append("")
    once = env.get("BENCH_SCALE_ONCE", "").strip()
    L.append("Scaled for TCG (a full run takes about 65 minutes): durations of 5-6 s per run; the")
    n = env.get("BENCH_SCALE_ITER", "?")
    L.append(f"table-scale and memory workloads run {'once' if n == '1' else n + ' iterations'}"
             + (f", and their largest size(s) ({once} entries) only in the first, so those figures"
                " are single measurements" if once else
                " at every size (filling a million entries takes minutes under emulation)")
             + "; the table is filled by two")
    L.append("raw-socket sender threads, and replayed by one. Large pools use one real server's ports as")
    L.append("the destinations (10,000 listening sockets), not 10,000 hosts.")
    L.append("")
    L.append("Each figure is the **median** of the iterations, with the min–max range; ratios are ratios of")
    L.append("medians, in parentheses the range of the per-iteration ratios. TCG emulates every instruction,")
    L.append("so absolute numbers mean little (and all three targets share two emulated CPUs with the load")
    L.append("generators); ratios measured in one boot do.")
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append("```")
    L.append(machine.strip())
    L.append("```")
    L.append("")
    L.append("## Goals (issue 7)")
    L.append("")
    L.append("| goal | figure | met |")
    L.append("|---|---|---|")
    for text, met, fig in goals(by):
        L.append(f"| {text} | {fig} | {'–' if met is None else ('yes' if met else '**no**')} |")
    L.append("")
    L.append("## Results")
    L.append("")
    for w, (title, unit, _) in WORKLOADS.items():
        cases = sorted((c for (ww, c) in by if ww == w), key=case_key)
        if not cases:
            continue
        L.append(f"### {title} ({unit})")
        L.append("")
        L.append("| case | none | ip_vs | rvs | rvs / ip_vs | rvs / none |")
        L.append("|---|---|---|---|---|---|")
        for c in cases:
            cells = []
            for t in TARGETS:
                d = by[(w, c)].get(t)
                if d:
                    m, lo, hi = stats(d.values())
                    cells.append(f"{fmt(m)} ({fmt(lo)}–{fmt(hi)})")
                else:
                    cells.append("–")
            L.append(f"| {c} | " + " | ".join(cells) +
                     f" | {fmt_ratio(ratio(by[(w, c)], 'rvs', 'ip_vs'))} | {fmt_ratio(ratio(by[(w, c)], 'rvs', 'none'))} |")
        L.append("")
        if w == "crr" or w == "pools":
            errs = sum(int(r.get("errors", 0)) for r in rows if r["workload"] == w)
            L.append(f"Failed transactions over all runs of this workload: {errs}.")
            L.append("")
    # Memory attribution: which slab caches grew during the largest fill.
    memdir = os.path.join(out, "vm", "mem")
    if os.path.isdir(memdir):
        sizes = sorted({int(f.split("-")[1].split(".")[0]) for f in os.listdir(memdir) if f.endswith(".after")})
        if sizes:
            n = sizes[-1]
            L.append(f"### Where the memory goes ({n:,} entries, first iteration, /proc/slabinfo)")
            L.append("")
            L.append("| target | cache | objects gained | object size | MB |")
            L.append("|---|---|---|---|---|")
            for t in ("ip_vs", "rvs"):
                b, a = os.path.join(memdir, f"{t}-{n}.before"), os.path.join(memdir, f"{t}-{n}.after")
                if os.path.exists(a) and os.path.exists(b):
                    for nbytes, name, objs, size in slab_diff(b, a)[:4]:
                        L.append(f"| {t} | {name} | {objs:,} | {size} | {nbytes / 1e6:.1f} |")
            L.append("")
            L.append("SLUB merges caches of equal object size and flags, so ip_vs's `ip_vs_conn` cache (320-byte")
            L.append("objects) can show up under the name of a cache it was merged with (e.g. `xfrm_dst`).")
            L.append("Vmalloc'd memory (rvs's rhashtable bucket array once large) is not in slabinfo; it is in the")
            L.append("bytes-per-entry figure above (VmallocUsed).")
            L.append("")
    for case, title in (("pps-dr", "DR UDP flood (workload 3)"),
                        ("crr-nat", "NAT new connections (workload 1)"),
                        ("scale-nat", f"NAT replay over {env.get('BENCH_PROFILE_ENTRIES', '?')} "
                                      "entries (workload 4)")):
        profs = [(t, os.path.join(out, "vm", f"profile-{case}-{t}.txt")) for t in ("ip_vs", "rvs")]
        if not any(os.path.exists(p) and os.path.getsize(p) for _, p in profs):
            continue
        L.append(f"### Profile: {title}, perf cpu-clock, whole VM, top symbols")
        L.append("")
        for t, p in profs:
            if os.path.exists(p):
                mod = p[: -len(".txt")] + ".module"
                share = open(mod).read().strip() if os.path.exists(mod) else ""
                rate = p[: -len(".txt")] + ".kpps"
                kpps = open(rate).read().strip() if os.path.exists(rate) else ""
                notes = ([f"{share} % of all samples in its own module"] if share else []) + \
                    ([f"{kpps} kpps reached the real server while sampled"] if kpps else [])
                L.append(f"{t}" + (f" ({'; '.join(notes)}):" if notes else ":"))
                L.append("")
                L.append("```")
                L.extend(line for line in open(p).read().splitlines()[:25] if line.strip())
                L.append("```")
                L.append("")
                syms = p[: -len(".txt")] + ".module-syms"
                if os.path.exists(syms) and os.path.getsize(syms):
                    L.append(f"{t}, its own module's top symbols (% of all samples):")
                    L.append("")
                    L.append("```")
                    L.extend(line for line in open(syms).read().splitlines()[:12] if line.strip())
                    L.append("```")
                    L.append("")
    if crit:
        L.append("### 7. Host micro-benchmarks (rvs-core, criterion, median ns per operation)")
        L.append("")
        L.append("On the host, not in the VM: `cargo bench -p rvs-core --bench sched` (short warm-up and")
        L.append("measurement times, see `bench/run.sh`). `pick/X/N`: one new connection scheduled by X over N")
        L.append("destinations (with its connection accounting for the counting schedulers);")
        L.append("`ipvs-scan/wlc/N`: a transcription of ip_vs's O(N) wlc loop, for comparison.")
        L.append("")
        groups = defaultdict(dict)
        for name, ns in crit.items():
            parts = name.split("/")
            if parts[-1].isdigit():
                groups["/".join(parts[:-1])][parts[-1]] = ns
            else:
                groups[name]["single"] = ns
        sizes = sorted({s for g in groups.values() for s in g}, key=case_key)
        L.append("| benchmark | " + " | ".join(sizes) + " |")
        L.append("|---|" + "---|" * len(sizes))
        for g in sorted(groups):
            L.append(f"| {g} | " + " | ".join(fmt(groups[g].get(s)) if s in groups[g] else "" for s in sizes) + " |")
        L.append("")
    L.append("## How to reproduce")
    L.append("")
    L.append("```sh")
    L.append("make bench                 # BENCH_ITER=5; about 65 min under TCG on 2 cores, plus the")
    L.append("                           # bench kernel's first build (~20 min, cached in /var/lib/rvs)")
    L.append("BENCH_ITER=1 make bench    # smoke")
    L.append("BENCH_WORKLOADS='crr pps' BENCH_DOCS=0 make bench   # some workloads, docs/ untouched")
    L.append("```")
    L.append("")
    L.append("Results of a run: `tests/qemu/out/bench/` (`results.csv`, `vm/results.jsonl`, `vm/output.log`,")
    L.append("`vm/mem/` slabinfo snapshots, `criterion/`).")
    L.append("")
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        L.append(open(notes).read().rstrip())
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs")
    a = ap.parse_args()
    rows, env, machine = load(a.out)
    if not rows:
        print("report: no results", file=sys.stderr)
    write_csv(os.path.join(a.out, "results.csv"), rows)
    by = summarize(rows)
    crit = criterion(a.out)
    md = markdown(rows, by, env, machine, a.out, crit)
    with open(os.path.join(a.out, "benchmarks.md"), "w") as f:
        f.write(md)
    if a.docs:
        with open(os.path.join(a.docs, "benchmarks.md"), "w") as f:
            f.write(md)
        write_csv(os.path.join(a.docs, "benchmarks.csv"), rows)
        chart(os.path.join(a.docs, "benchmarks.png"), by)
    else:
        chart(os.path.join(a.out, "benchmarks.png"), by)
    for text, met, fig in goals(by):
        print(f"goal: {text}: {fig} ({'not measured' if met is None else 'met' if met else 'MISSED'})")


if __name__ == "__main__":
    main()
