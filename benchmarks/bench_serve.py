"""Server throughput and latency with 1, 4 and 16 concurrent clients, continuous batching vs one at a time.

    .venv/bin/python benchmarks/bench_serve.py [--preset small] [--requests 32] [--max-tokens 32]

A randomly initialised model (default the `small` preset, float32) with the released tokenizer is served by a
real uvicorn server on 127.0.0.1 (a free port) twice: with continuous batching (`max_batch_size` 16) and with
`max_batch_size` 1, which serves the same requests strictly one at a time. For each concurrency, the same
`--requests` streaming completions (different prompts, greedy, `max_tokens` each, stop tokens off so every
request generates exactly that many) are sent by that many client threads. Reported: completion tokens/s over
the wall time, request latency p50/p90/p99 and time to first token p50/p90, and the throughput ratio of
batching over one-at-a-time at the same concurrency. The machine is shared: compare ratios within this run.
Results: benchmarks/results/serve.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import torch
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from polyglot_ko import build_model, save_model  # noqa: E402
from polyglot_ko.generate import load_generator  # noqa: E402
from polyglot_ko.io_utils import atomic_write_json, atomic_write_text  # noqa: E402
from polyglot_ko.serve import ServerLimits, create_app  # noqa: E402

TOKENIZER = ROOT.parent / "shared" / "reference" / "polyglot-ko-tokenizer"
PROMPTS = [
    "안녕하세요, 오늘은 날씨가",
    "한국어 언어 모델은",
    "서울특별시 종로구에 있는 경복궁은",
    "옛날 옛적에 호랑이가",
    "인공지능 기술의 발전으로",
    "부산은 대한민국 제2의 도시로",
    "맛있는 김치찌개를 만드는 방법은",
    "대한민국의 수도는",
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


class Server:
    def __init__(self, app):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)


def one_request(url: str, prompt: str, max_tokens: int) -> dict:
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True, "stop_token_ids": []}
    t0 = time.perf_counter()
    first = None
    chunks = 0
    with httpx.stream("POST", url + "/v1/completions", json=body, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                if first is None and json.loads(line[6:])["choices"][0]["text"]:
                    first = time.perf_counter()
                chunks += 1
    end = time.perf_counter()
    return {"latency": end - t0, "ttft": (first or end) - t0}


def run_load(url: str, concurrency: int, n_requests: int, max_tokens: int) -> dict:
    prompts = [PROMPTS[i % len(PROMPTS)] + " " * (i // len(PROMPTS)) for i in range(n_requests)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda p: one_request(url, p, max_tokens), prompts))
    wall = time.perf_counter() - t0
    lat = [r["latency"] for r in results]
    ttft = [r["ttft"] for r in results]
    return {
        "concurrency": concurrency,
        "requests": n_requests,
        "wall_s": wall,
        "tokens_per_s": n_requests * max_tokens / wall,
        "latency_p50_s": pct(lat, 50),
        "latency_p90_s": pct(lat, 90),
        "latency_p99_s": pct(lat, 99),
        "ttft_p50_s": pct(ttft, 50),
        "ttft_p90_s": pct(ttft, 90),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serve"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    tok = tmp / "tokenizer"
    tok.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(TOKENIZER / f"MBBPE_62ce27a_2022-06-01_{name}", tok / name)
    save_model(build_model(args.preset, seed=0), tmp / "model", tokenizer=tok)
    results = {
        "preset": args.preset,
        "requests": args.requests,
        "max_tokens": args.max_tokens,
        "threads": torch.get_num_threads(),
        "note": "shared 2-core machine; compare ratios within this run",
        "load_average_at_start": os.getloadavg()[0],
        "runs": [],
    }
    limits = ServerLimits(max_queue=4 * args.requests, max_tokens=max(512, args.max_tokens))
    for mode, batch in (("continuous batching", 16), ("one at a time", 1)):
        gen = load_generator(tmp / "model", max_batch_size=batch)
        app = create_app(gen, "bench", limits=limits)
        with Server(app) as s:
            url = f"http://127.0.0.1:{s.port}"
            one_request(url, "워밍업", 4)
            for c in args.concurrency:
                app.state.worker.peak_batch = 0
                row = {"mode": mode, "max_batch_size": batch, **run_load(url, c, args.requests, args.max_tokens)}
                row["peak_batch"] = app.state.worker.peak_batch
                results["runs"].append(row)
                print(json.dumps(row), flush=True)
    by = {(r["mode"], r["concurrency"]): r for r in results["runs"]}
    results["throughput_ratio_batching_vs_one_at_a_time"] = {
        str(c): by[("continuous batching", c)]["tokens_per_s"] / by[("one at a time", c)]["tokens_per_s"]
        for c in args.concurrency
    }
    results["load_average_at_end"] = os.getloadavg()[0]
    out = Path(args.out)
    atomic_write_json(out.with_suffix(".json"), results)
    lines = [
        "# Server benchmark (benchmarks/bench_serve.py)",
        "",
        f"`{args.preset}` preset (random weights, float32), {args.requests} streaming completions of "
        f"{args.max_tokens} tokens each (greedy), real uvicorn on 127.0.0.1, {results['threads']} torch threads, "
        f"shared 2-core CPU (1-min load average {results['load_average_at_start']:.1f} at start, "
        f'{results["load_average_at_end"]:.1f} at end). "one at a time" = the same server with max_batch_size 1.',
        "",
        "| mode | clients | tokens/s | latency p50 / p90 / p99 (s) | TTFT p50 / p90 (s) | largest batch |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['mode']} | {r['concurrency']} | {r['tokens_per_s']:.1f} | {r['latency_p50_s']:.2f} / "
            f"{r['latency_p90_s']:.2f} / {r['latency_p99_s']:.2f} | {r['ttft_p50_s']:.2f} / "
            f"{r['ttft_p90_s']:.2f} | {r['peak_batch']} |"
        )
    lines += [
        "",
        "Throughput, continuous batching / one at a time: "
        + ", ".join(f"{c} clients {v:.2f}x" for c, v in results["throughput_ratio_batching_vs_one_at_a_time"].items()),
        "",
    ]
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
