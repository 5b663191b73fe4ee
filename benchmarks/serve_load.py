"""Load test of ``clmlf serve`` on loopback: N concurrent clients post real MVSA-Single posts with images for T seconds.

    CLMLF_DATA_DIR=/path/to/data python benchmarks/serve_load.py [--clients 8] [--seconds 30] [--run runs/mvsa_single_demo]

The server is ``python -m clmlf serve RUN`` in its own process. RUN defaults to runs/mvsa_single_demo (``make demo``);
without it, a run is made in a temporary folder from configs/mvsa_single_demo.yaml: its offline pretrained encoders
with untrained heads (the same model size and work per post; only the labels are meaningless). Each client posts the
test split's posts (text + image, multipart) round robin, one at a time. Measured: latency p50/p99, requests/s,
answers by status, and the server's resident memory (VmRSS from /proc, sampled every 0.5 s; VmHWM = its peak).
Writes benchmarks/measured/serve_load.json and benchmarks/SERVE_LOAD.md (with ``uptime``: other work on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "mvsa_single_demo.yaml"


def demo_run(folder: Path) -> Path:
    """A run folder with the demo config's model as built (pretrained encoders, untrained heads)."""
    import clmlf
    from clmlf.train.pipeline import build_splits
    from clmlf.train.run_dir import RunDir, write_atomic

    spec = clmlf.load_spec(DEMO_CONFIG)
    run = RunDir(folder / "run")
    run.write_config(spec)
    clmlf.build_model(spec).save_pretrained(run.checkpoint)
    labels = list(build_splits(spec.data.dataset).label_names)
    write_atomic(run.root / "metrics.json", json.dumps({"label_names": labels, "note": "untrained heads (load test)"}))
    return run.root


def real_posts(count: int) -> list[tuple[str, bytes]]:
    """(text, image bytes) of the first ``count`` MVSA-Single test posts with an image."""
    from clmlf.registry import registry
    from clmlf.spec import validate_spec
    from clmlf.train.pipeline import build_splits

    spec = validate_spec(registry().entry("dataset", "mvsa_single").spec, {"type": "mvsa_single"}, "mvsa_single")
    samples = [sample for sample in build_splits(spec).split("test") if sample.image_path is not None][:count]
    return [(sample.text, sample.image_path.read_bytes()) for sample in samples]


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of process ``pid`` in kB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(run: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "clmlf", "serve", str(run), "--port", str(port)], cwd=REPO)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"clmlf serve exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise RuntimeError("clmlf serve did not answer /health within 300 s")


async def load(url: str, posts: list[tuple[str, bytes]], clients: int, seconds: float, pid: int) -> dict:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    memory: list[tuple[float, int]] = []
    start = time.monotonic()
    end = start + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        turn = index
        while time.monotonic() < end:
            text, image = posts[turn % len(posts)]
            turn += clients
            began = time.monotonic()
            try:
                answer = await http.post(url, data={"text": text}, files={"image": ("post.jpg", image, "image/jpeg")})
                statuses[str(answer.status_code)] += 1
                if answer.status_code == 200:
                    latencies.append(time.monotonic() - began)
            except httpx.TransportError as error:
                statuses[type(error).__name__] += 1

    async def sample() -> None:
        while time.monotonic() < end:
            memory.append((round(time.monotonic() - start, 1), memory_kb(pid)["VmRSS"]))
            await asyncio.sleep(0.5)

    async with httpx.AsyncClient(timeout=120) as http:
        await asyncio.gather(sample(), *[client(index, http) for index in range(clients)])
    wall = time.monotonic() - start
    latencies.sort()
    rss = [kb for _, kb in memory]
    quarter = max(1, len(rss) // 4)
    return {
        "requests_ok": len(latencies),
        "answers_by_status": dict(statuses),
        "errors_5xx": sum(n for status, n in statuses.items() if status.startswith("5")),
        "wall_s": round(wall, 1),
        "requests_per_s": round(len(latencies) / wall, 2),
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p99_s": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3) if latencies else None,
        "rss_mb_first_quarter_mean": round(statistics.mean(rss[:quarter]) / 1024, 1),
        "rss_mb_last_quarter_mean": round(statistics.mean(rss[-quarter:]) / 1024, 1),
        "rss_mb_max": round(max(rss) / 1024, 1),
        "rss_mb_series": [(t, round(kb / 1024, 1)) for t, kb in memory[::4]],
    }


def markdown(result: dict, command: str) -> str:
    r = result
    return f"""# `clmlf serve` under load

Command (from the repository root, data at `CLMLF_DATA_DIR`):

    {command}

{r['clients']} concurrent clients on loopback, each posting real MVSA-Single test posts (text + image, multipart)
one after another for {r['seconds']} s, against `clmlf serve` on {r['model']}; CPU only.
Machine: {r['cpus']} CPU cores, shared with the clients and other work: `uptime` before: `{r['uptime_before']}`,
after: `{r['uptime_after']}`. {r['note']}

| measure | value |
|---|---|
| requests answered 200 | {r['requests_ok']} |
| answers by status | {r['answers_by_status']} |
| 5xx errors | {r['errors_5xx']} |
| requests/s | {r['requests_per_s']} |
| latency p50 / p99 | {r['latency_p50_s']} s / {r['latency_p99_s']} s |
| server RSS: after warm-up (idle) | {r['rss_mb_idle']} MB |
| server RSS: mean of first / last quarter of the run | {r['rss_mb_first_quarter_mean']} / {r['rss_mb_last_quarter_mean']} MB |
| server RSS: max sampled / peak (VmHWM) | {r['rss_mb_max']} / {r['rss_mb_peak_vmhwm']} MB |

The model runs one post at a time in one worker thread (`clmlf/serve/app.py`, `ModelQueue`), so latency is the
queue wait: about {r['clients']} x the time of one post. RSS every 2 s (s, MB): {r['rss_mb_series']}.
Raw numbers: benchmarks/measured/serve_load.json.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--run", default=None, help="run to serve (default: runs/mvsa_single_demo, else an untrained demo model)")
    parser.add_argument("--posts", type=int, default=64, help="distinct test posts cycled through")
    parser.add_argument("--note", default="", help="what else ran on the machine (goes into SERVE_LOAD.md)")
    args = parser.parse_args()
    posts = real_posts(args.posts)
    with tempfile.TemporaryDirectory() as folder:
        run = Path(args.run) if args.run else REPO / "runs" / "mvsa_single_demo"
        model = f"the run {run}"
        if args.run is None and not (run / "checkpoint").is_dir():
            run, model = demo_run(Path(folder)), "configs/mvsa_single_demo.yaml's model (pretrained encoders, untrained heads)"
        port = free_port()
        server = start_server(run, port)
        try:
            url = f"http://127.0.0.1:{port}/predict"
            for text, image in posts[:3]:  # warm-up
                httpx.post(url, data={"text": text}, files={"image": ("post.jpg", image, "image/jpeg")}, timeout=120)
            idle = memory_kb(server.pid)["VmRSS"]
            uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            result = asyncio.run(load(url, posts, args.clients, args.seconds, server.pid))
            result |= {"rss_mb_idle": round(idle / 1024, 1), "rss_mb_peak_vmhwm": round(memory_kb(server.pid)["VmHWM"] / 1024, 1)}
            alive = httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        finally:
            server.terminate()
            server.wait(30)
    command = "python benchmarks/serve_load.py " + " ".join(f"--{k} {v}" for k, v in (("clients", args.clients), ("seconds", args.seconds)))
    result = {"clients": args.clients, "seconds": args.seconds, "model": model, "cpus": os.cpu_count(),
              "uptime_before": uptime_before, "uptime_after": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
              "server_alive_after": alive, "command": command.strip(), "note": args.note, **result}
    (REPO / "benchmarks" / "measured").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "measured" / "serve_load.json").write_text(json.dumps(result, indent=2) + "\n")
    (REPO / "benchmarks" / "SERVE_LOAD.md").write_text(markdown(result, command.strip()))
    print(json.dumps({key: value for key, value in result.items() if key != "rss_mb_series"}, indent=2))


if __name__ == "__main__":
    main()
