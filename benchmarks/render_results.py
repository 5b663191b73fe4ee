"""Render pytest-benchmark JSON files (loss, train-step and input-pipeline suites, any machines) as RESULTS.md.

    python benchmarks/render_results.py benchmarks/measured/*.json [-o benchmarks/RESULTS.md]

Files are merged in the order given: a later measurement of the same case replaces an earlier one.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

ORDER = ("pml", "naive", "chunked", "triton")
LABEL = {"pml": "PML", "naive": "naive", "chunked": "chunked", "triton": "triton"}
TITLES = {
    "lbcl/supcon": "LBCL `supcon` (vs PML `SupConLoss`)",
    "dbcl/ntxent": "DBCL `ntxent` (vs PML `SelfSupervisedLoss(NTXentLoss)`)",
    "lbcl/clmlf": "LBCL `clmlf` (no PML equivalent)",
    "dbcl/clmlf": "DBCL `clmlf` (no PML equivalent)",
}
HEADLINE = ("lbcl/supcon", 8192, 768, "float32", "fwd+bwd", "cpu")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f}" if seconds < 10 else f"{seconds * 1e3:,.0f}"


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def machine_section(name: str, data: dict) -> list[str]:
    info = data["machine_info"]
    cpu = info.get("cpu", {})
    loads = sorted(b["extra_info"]["loadavg_1min"] for b in data["benchmarks"] if "loadavg_1min" in b["extra_info"])
    load_line = (
        f"- 1-minute load average after each case: min {loads[0]:.2f}, median {loads[len(loads) // 2]:.2f}, max {loads[-1]:.2f} "
        f"on {cpu.get('count', '?')} cores (the benchmark itself accounts for about {info.get('torch_threads', '?')}; "
        "the rest is other work on the machine)"
        if loads else "- load average per case: not recorded"
    )
    return [
        f"### `{name}`",
        "",
        f"- date: {data.get('datetime', '?')}",
        f"- CPU: {cpu.get('brand_raw', info.get('processor', '?'))}, {cpu.get('count', '?')} logical cores; "
        f"torch {info.get('torch', '?')} with {info.get('torch_threads', '?')} threads; Python {info.get('python_version', '?')}",
        f"- GPU: {info.get('cuda_device') or 'none'}",
        f"- load average at start (1/5/15 min): {', '.join(f'{x:.2f}' for x in info.get('loadavg_at_start', []))}",
        load_line,
        f"- command: `{info.get('command', '?')}`",
        "",
    ]


def loss_tables(benchmarks: list[dict]) -> tuple[list[str], dict]:
    groups: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for bench in benchmarks:
        extra = bench["extra_info"]
        if extra.get("kind") != "loss":
            continue
        key = (extra["loss"], extra["n"], extra["d"], extra["dtype"], extra["mode"], extra["device"])
        groups[key][extra["impl"]] = {"min": bench["stats"]["min"], "median": bench["stats"]["median"], **extra}
    lines = [
        "## Loss throughput",
        "",
        "Time: minimum over rounds (ms), median in parentheses; memory: extra peak (MiB) of one step over the inputs "
        "(CPU: peak RSS in a fresh process; CUDA: max_memory_allocated). `×PML` = PML time / our time (higher is "
        "better), `mem/PML` = our peak / PML peak. \"—\": not run (estimated not to fit in memory) or no such impl. "
        "`naive` is the `reference` implementation (direct N×N torch autograd).",
        "",
    ]
    for loss, title in TITLES.items():
        keys = sorted(k for k in groups if k[0] == loss)
        if not keys:
            continue
        impls = [impl for impl in ORDER if any(impl in groups[k] for k in keys)]
        fused = [impl for impl in ("chunked", "triton") if impl in impls]
        header = ["device", "N", "d", "dtype", "mode"] + [f"{LABEL[i]} ms" for i in impls] + [f"{LABEL[i]} MiB" for i in impls]
        vs_pml = "pml" in impls
        for impl in fused:
            header += ([f"{impl} ×PML", f"{impl} mem/PML"] if vs_pml else []) + [f"{impl} ×naive"]
        lines += [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for key in keys:
            row = groups[key]
            cells = [key[5], f"{key[1]:,}", str(key[2]), key[3], key[4]]
            cells += [f"{_ms(row[i]['min'])} ({_ms(row[i]['median'])})" if i in row else "—" for i in impls]
            cells += [f"{row[i]['peak_mb']:,.0f}" if i in row else "—" for i in impls]
            for impl in fused:
                mine = row.get(impl, {})
                if vs_pml:
                    memory = mine.get("memory_fraction_of_pml")
                    cells += [_x(mine.get("speedup_vs_pml")), "—" if memory is None else f"{memory:.3f}"]
                cells.append(_x(mine.get("speedup_vs_naive")))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines, groups


def headline(groups: dict, benchmarks: list[dict]) -> list[str]:
    lines = ["## Headline", ""]
    row = groups.get(HEADLINE, {})
    if {"pml", "naive", "chunked"} <= set(row):
        pml, naive, ours = row["pml"], row["naive"], row["chunked"]
        lines.append(
            f"- supcon fwd+bwd, N=8192, d=768, fp32, CPU: PML {pml['min']:.2f} s / {pml['peak_mb']:,.0f} MiB, "
            f"naive {naive['min']:.2f} s / {naive['peak_mb']:,.0f} MiB, chunked {ours['min']:.2f} s / {ours['peak_mb']:,.0f} MiB "
            f"→ chunked is {pml['min'] / ours['min']:.1f}× faster than PML with {ours['peak_mb'] / pml['peak_mb']:.3f} of its "
            f"extra peak memory, and {naive['min'] / ours['min']:.1f}× faster than naive torch."
        )
    for device in ("cpu", "cuda"):
        repo = {b["extra_info"]["impl"]: b for b in benchmarks
                if b["extra_info"].get("kind") == "clmlf_repo" and b["extra_info"].get("device", "cpu") == device}
        ours = next((impl for impl in ("chunked", "triton") if impl in repo), None)
        if "clmlf_repo" in repo and ours:
            slow, fast = repo["clmlf_repo"]["stats"]["min"], repo[ours]["stats"]["min"]
            lines.append(
                f"- LBCL `clmlf` fwd+bwd, N=2048, d=768, fp32, {device.upper()}: the CLMLF reference code's algorithm (per-anchor "
                f"Python loop building gather indices) {_ms(slow)} ms, {ours} {_ms(fast)} ms → {slow / fast:.0f}× faster."
            )
    lines += gpu_headline(groups, benchmarks)
    return lines + [""]


def gpu_headline(groups: dict, benchmarks: list[dict]) -> list[str]:
    """The GPU target row (supcon, bf16, d=768, fwd+bwd, N=32k) against the compute floor 4·N²·d / matmul rate."""
    rates = [b["extra_info"]["tflops"] for b in benchmarks if b["extra_info"].get("kind") == "matmul_rate" and b["extra_info"]["d"] == 768]
    lines = []
    for n in (32768, 1048576):
        row = groups.get(("lbcl/supcon", n, 768, "bfloat16", "fwd+bwd", "cuda"), {})
        if "triton" not in row:
            continue
        ours = row["triton"]
        text = f"- supcon fwd+bwd, N={n:,}, d=768, bf16, GPU: triton {_ms(ours['min'])} ms / {ours['peak_mb']:,.0f} MiB"
        for other in ("pml", "naive"):
            if other in row:
                text += f"; {LABEL[other]} {_ms(row[other]['min'])} ms / {row[other]['peak_mb']:,.0f} MiB ({row[other]['min'] / ours['min']:.1f}× slower)"
        if rates:
            floor = 4 * n * n * 768 / (max(rates) * 1e12)
            text += f"; compute floor 4·N²·d / {max(rates):.0f} TFLOP/s (bf16 matmul measured in the same runs) = {_ms(floor)} ms → triton at {ours['min'] / floor:.2f}× the floor"
        lines.append(text + ".")
    if rates:
        ratios = [
            f"N={n:,}: {row['triton']['min'] / (4 * n * n * 768 / (max(rates) * 1e12)):.2f}×"
            for (loss, n, d, dtype, mode, device), row in sorted(groups.items())
            if (loss, d, dtype, mode, device) == ("lbcl/supcon", 768, "bfloat16", "fwd+bwd", "cuda") and "triton" in row
        ]
        lines.append(f"- triton supcon fwd+bwd (bf16, d=768) time over the compute floor, by N: {', '.join(ratios)}.")
    return lines


def train_step_table(benchmarks: list[dict]) -> list[str]:
    rows = [b["extra_info"] for b in benchmarks if b["extra_info"].get("kind") == "train_step"]
    if not rows:
        return []
    lines = ["## Train step", "", "One optimizer step with both DBCL views (fwd + bwd + AdamW), median of the rounds; paths as in "
             "`benchmarks/train_step_cases.py`. `×ref` = samples/s over the reference-style path's in the same run.", "",
             "| device | model | batch | path | samples/s | peak MiB | ×ref | mem/ref | warm-up s |", "|---|---|---|---|---|---|---|---|---|"]
    for e in rows:
        memory = e.get("memory_fraction_of_reference")
        lines.append(f"| {e['device']} | {e['size']} | {e['batch']} | {e['path']} | {e['samples_per_s']:,.0f} | "
                     f"{e.get('peak_mib', float('nan')):,.0f} | {_x(e.get('speedup_vs_reference'))} | {'—' if memory is None else f'{memory:.2f}'} | {e['warmup_s']:.1f} |")
    return lines + [""]


def input_table(benchmarks: list[dict]) -> list[str]:
    rows = [b for b in benchmarks if b["extra_info"].get("kind") == "input_pipeline"]
    if not rows:
        return []
    rows.sort(key=lambda b: (b["machine"], b["extra_info"]["workers"]))
    groups = dict.fromkeys(f"{b['machine']}: {b['group']}" for b in rows)
    lines = ["## Input pipeline", "", *[f"- {group}" for group in groups], "", "DataLoader batches of 64, median of the rounds.", "",
             "| machine | workers | CPU cores | samples/s |", "|---|---|---|---|"]
    lines += [f"| {b['machine']} | {e['workers']} | {e['cpu_count']} | {e['samples_per_s']:,.0f} |" for b in rows for e in [b["extra_info"]]]
    return lines + [""]


def machine_label(data: dict) -> str:
    """The machine a file was measured on: its GPU's name, or its CPU core count."""
    info = data["machine_info"]
    return info.get("cuda_device") or f"{info.get('cpu', {}).get('count', '?')}-core CPU, no GPU"


def merged(files: dict[str, dict]) -> list[dict]:
    """All benchmarks, each tagged with its ``machine``; a later file's measurement of a case on the same machine
    replaces an earlier one."""
    by_name = {}
    for data in files.values():
        for bench in data["benchmarks"]:
            by_name[bench["fullname"], machine_label(data)] = {**bench, "machine": machine_label(data)}
    return list(by_name.values())


def render(files: dict[str, dict]) -> str:
    benchmarks = merged(files)
    tables, groups = loss_tables(benchmarks)
    lines = ["# Benchmarks", "", "Generated by `benchmarks/render_results.py` from the pytest-benchmark JSON files in "
             "`benchmarks/measured/` (each file's machine and exact command below).", ""]
    lines += headline(groups, benchmarks) + tables + train_step_table(benchmarks) + input_table(benchmarks)
    if not any(key[5] == "cuda" for key in groups):
        lines += ["## GPU", "", "GPU rows pending — no GPU was available when these numbers were measured.", ""]
    lines += ["## Machines and commands", ""]
    for name, data in files.items():
        lines += machine_section(name, data)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    args.output.write_text(render({path.name: json.loads(path.read_text()) for path in args.json}))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
