"""What a training run reports: its start line, one metrics record per step, validation lines, the run files and the
closing summary (summary.json, loss.png, the last line on the terminal). A mixin of `loop.Trainer`, kept apart so
the loop reads as the loop."""

from __future__ import annotations

import sys

import torch

from ..io_utils import atomic_write_json, atomic_write_text
from .config import dump_recipe
from .metrics import MetricsLogger, plot_losses


class RunReport:
    """Reporting methods of `Trainer` (they read the trainer's state; none changes it)."""

    def _start_message(self, accum: int) -> str:
        n = self.model_config.num_parameters()
        what = f"resuming from {self.resumed_from} at step {self.step}" if self.resumed_from else "starting"
        return (
            f"{self.command}: {what}; model {self.model_config.name} {n / 1e6:.2f}M params, "
            f"{self.info.world_size} process(es) on {self.device.type}, {str(self.dtype).removeprefix('torch.')}"
            f"{', FSDP2' if self.fsdp else ''}, {accum} micro-batch(es)/step, "
            f"{self.tokens_per_step} tokens/step"
        )

    def _step_record(self, loss_v: float, lr: float, norm: float, finite: bool, dt: float) -> dict:
        tok_s = self.step_tokens / dt
        rec = {
            "step": self.step,
            "loss": loss_v,
            "lr": lr,
            "grad_norm": norm,
            "tokens_per_s": tok_s,
            "mfu": self.flops_per_token * tok_s / (self.peak * self.info.world_size),
            "step_time_s": dt,
            "tokens": self.tokens_seen(),
        }
        if self.device.type == "cuda":
            rec["gpu_mem_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        if not finite:
            rec["skipped"] = True
        return rec

    def _log_valid(self, logger: MetricsLogger) -> float | None:
        valid_loss = self.validate()
        if valid_loss is not None:
            logger.log({"step": self.step, "split": "valid", "loss": valid_loss}, console=True)
        return valid_loss

    def _write_run_files(self) -> None:
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out / "config.yaml", dump_recipe(self.cfg, header="the resolved config of this run"))
            atomic_write_json(self.out / "model_config.json", self.model_config.to_hf_dict())

    def _finish(self, interrupted: bool, last_loss, valid_loss, tok_rate, wall: float) -> dict:
        t = self.cfg.train
        summary = {
            "out": str(self.out),
            "steps": self.step,
            "interrupted": interrupted,
            "final_train_loss": last_loss,
            "final_valid_loss": valid_loss,
            "tokens_per_s": tok_rate,
            "mfu": (self.flops_per_token * tok_rate / (self.peak * self.info.world_size)) if tok_rate else None,
            "peak_flops": self.peak,
            "peak_flops_source": self.peak_source,
            "skipped_steps": self.skipped_steps,
            "processes": self.info.world_size,
            "device": self.device.type,
            "checkpoint": str(self.last_checkpoint) if self.last_checkpoint else None,
            "hf_model": str(self.last_hf) if self.last_hf else None,
            "metrics": str(self.out / "metrics.jsonl"),
            "wall_s": wall,
            "parameters": self.model_config.num_parameters(),
        }
        summary.update(self.summary_extra())
        if self.info.is_main:
            if self.cfg.logging.plot:
                png = plot_losses(self.out / "metrics.jsonl", self.out / "loss.png")
                summary["loss_plot"] = str(png) if png else None
            atomic_write_json(self.out / "summary.json", summary)
            rate = f"{tok_rate:,.0f} tokens/s" if tok_rate else "n/a tokens/s"
            mfu = f"{summary['mfu'] * 100:.1f}%" if summary["mfu"] else "n/a"
            print(
                f"{self.command}: {'stopped' if interrupted else 'done'} at step {self.step}/{t.max_steps}; "
                f"train loss {_fmt(last_loss)}, valid loss {_fmt(valid_loss)}; {rate}, MFU {mfu} "
                f"({self.peak_source}); {self.skipped_steps} skipped step(s); checkpoint {summary['checkpoint']}; "
                f"{self.export_label()} {summary['hf_model']}",
                file=sys.stderr,
                flush=True,
            )
        return summary


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
