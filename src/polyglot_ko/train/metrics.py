"""Training metrics: MFU, the JSONL log, TensorBoard, the progress bar, and the loss-curve PNG.

MFU = achieved model FLOP/s / peak FLOP/s, with model FLOPs per token from `ModelConfig.flops_per_token`
(6N + attention, PaLM's definition: recomputation is not counted) and the peak from a table of known
accelerators (dense bf16 tensor-core numbers from the vendors' datasheets) or, on CPU, a measured float32
matmul (so CPU "MFU" is relative to what this machine's BLAS reaches, not to a datasheet).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

# Dense (no sparsity) peak FLOP/s per device by name fragment, bf16 tensor cores unless noted.
PEAK_FLOPS_BF16 = [
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("GH200", 989e12),
    ("H800", 989e12),
    ("B200", 2250e12),
    ("B100", 1750e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("A6000", 154.8e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
    ("V100", 125e12),
    ("T4", 65e12),  # V100/T4: fp16
]

_CPU_PEAK: float | None = None


def measure_cpu_matmul_flops(n: int = 512, repeats: int = 5) -> float:
    """Median FLOP/s of an n x n float32 matmul with the current thread count (the practical CPU peak)."""
    g = torch.Generator().manual_seed(0)  # never the global RNG: it is restored on resume before this runs
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    times.sort()
    return 2 * n**3 / times[len(times) // 2]


def peak_flops(device: torch.device) -> tuple[float, str]:
    """(peak FLOP/s of one device, where the number comes from): GPUs by their bf16 datasheet rate whatever the
    training dtype, CPUs by a measured float32 matmul."""
    global _CPU_PEAK
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for fragment, flops in PEAK_FLOPS_BF16:
            if fragment in name:
                # float32 without TF32 runs at a fraction of the tensor-core rate; report against bf16 anyway.
                return flops, f"datasheet bf16 dense ({name})"
        return float("nan"), f"unknown GPU {name!r}"
    if _CPU_PEAK is None:
        _CPU_PEAK = measure_cpu_matmul_flops()
    return _CPU_PEAK, f"measured fp32 matmul, {torch.get_num_threads()} threads"


class MetricsLogger:
    """Rank 0 only: metrics.jsonl (one JSON object per line), TensorBoard scalars, a tqdm bar, console lines."""

    def __init__(
        self,
        out: Path,
        enabled: bool,
        total_steps: int,
        start_step: int,
        tensorboard: bool,
        progress: bool,
        log_every: int,
        desc: str = "pretrain",
    ):
        self.enabled = enabled
        self.path = Path(out) / "metrics.jsonl"
        self.log_every = log_every
        self.tb = None
        self.bar = None
        self._file = None
        if not enabled:
            return
        self._truncate_after(start_step)
        self._file = open(self.path, "a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(out) / "tensorboard"), purge_step=start_step + 1)
            except ImportError:
                self.tb = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, desc=desc, unit="step", dynamic_ncols=True)

    def _truncate_after(self, step: int) -> None:
        """On resume, drop lines of steps after the checkpoint (they are about to be re-run)."""
        if not self.path.exists():
            return
        from ..io_utils import atomic_write_text

        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if rec.get("step", 0) <= step:
                kept.append(line)
        atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))

    def log(self, record: dict[str, Any], console: bool = False) -> None:
        if not self.enabled:
            return
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        step = record.get("step", 0)
        if self.tb is not None:
            prefix = "valid" if record.get("split") == "valid" else "train"
            for k, v in record.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step":
                    self.tb.add_scalar(f"{prefix}/{k}", v, step)
        if self.bar is not None and record.get("split") != "valid":
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(
                loss=f"{record['loss']:.4f}",
                lr=f"{record['lr']:.2e}",
                tok_s=f"{record.get('tokens_per_s', 0):.0f}",
                refresh=False,
            )
        if console or (self.bar is None and step % self.log_every == 0):
            text = " ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())
            if self.bar is not None:
                self.bar.write(text)
            else:
                print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()
        if self._file is not None:
            self._file.close()


def read_metrics(path: Path) -> list[dict]:
    out = []
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def plot_losses(metrics_path: Path, png_path: Path) -> Path | None:
    """Train (per step) and validation loss curves to a PNG; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from ..io_utils import atomic_path

    recs = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in recs if r.get("split", "train") == "train" and "loss" in r]
    valid = [(r["step"], r["loss"]) for r in recs if r.get("split") == "valid"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train", linewidth=1)
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(png_path)


__all__ = ["MetricsLogger", "peak_flops", "plot_losses", "read_metrics", "measure_cpu_matmul_flops"]
