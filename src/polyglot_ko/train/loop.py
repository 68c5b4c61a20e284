"""The pretraining loop: set up (everything that can fail, fails here), train, checkpoint, export, summarise.

`pretrain(config, **overrides)` is the Python entry point; `polyglot-ko pretrain` calls it. One optimizer step:
this rank's micro-batches (gradient accumulation) -> forward/backward (FSDP reduce-scatters the gradients on the
last micro-batch) -> loss averaged over all processes -> global gradient norm and clipping -> if the loss and the
norm are finite, AdamW step with the scheduled learning rate, else the step is skipped and counted -> metrics.
SIGTERM/SIGINT set a flag that every rank sees at the same step (it travels with the loss all-reduce), the run
then saves a checkpoint and returns normally.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ..config import ModelConfig
from ..errors import UserError
from ..io_utils import check_output_path
from . import train_state as ckpt
from .config import (
    TrainConfig,
    model_config_from,
    resolve_config,  # noqa: F401  (re-exported: pretrain's config resolution)
)
from .data import (
    DataSpec,
    MixtureDataset,
    TrainLoader,
    ValidSet,
    build_sources,
    check_tokenizers,
    resolve_data_path,
)
from .loss import CausalLMTrainingModule
from .metrics import MetricsLogger, peak_flops
from .parallel import (
    DistInfo,
    all_reduce_,
    apply_activation_checkpointing,
    apply_compile,
    apply_fsdp,
    barrier,
    compute_dtype,
    destroy_distributed,
    init_distributed,
    set_num_threads,
)
from .reporting import RunReport
from .schedule import lr_at


class TrainingStopped(UserError):
    """Training cannot go on (e.g. too many consecutive non-finite steps); the message says why and what to do."""


def _load_tokenizer(name: str | None):
    if not name:
        return None
    from ..tokenizer import load_tokenizer

    return load_tokenizer(name)


def build_optimizer(root: torch.nn.Module, cfg: TrainConfig, device: torch.device, sharded: bool) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices (and embeddings) only, never on biases or LayerNorm parameters."""
    o = cfg.optim
    decay, no_decay = [], []
    for _name, p in root.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    impl = o.implementation
    if impl == "auto":
        impl = "fused" if device.type == "cuda" or not sharded else "foreach"
    kwargs = {"fused": True} if impl == "fused" else {"foreach": impl == "foreach"}
    return torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, **kwargs)


class Trainer(RunReport):
    """Holds one run's state. Construction validates everything (data, tokenizer, sizes) before any training."""

    command = "pretrain"  # the name in console lines and the progress bar

    def __init__(self, config: TrainConfig):
        self.cfg = cfg = config.validate()
        if not cfg.out:
            raise UserError("out: no run folder given; pass --out DIR")
        self.out = check_output_path(cfg.out, "out", folder=True)
        set_num_threads(cfg.parallel.num_threads)
        # Data and tokenizer: checked before any process group or model exists.
        self.setup_data()
        self._setup_processes()
        torch.manual_seed(cfg.train.seed)
        self.model = model = self.build_model()
        if cfg.parallel.activation_checkpointing:
            apply_activation_checkpointing(model)
        if cfg.parallel.compile:
            apply_compile(model)
        root = self.training_module(model)
        if self.fsdp:
            apply_fsdp(root, model, self.info, self.dtype)
        else:
            root.to(self.device)
            if self.info.distributed:
                root = torch.nn.parallel.DistributedDataParallel(
                    root, device_ids=[self.device.index] if self.device.type == "cuda" else None
                )
        self.root = root
        self.optimizer = build_optimizer(root, cfg, self.device, sharded=self.fsdp or self.info.distributed)
        self._resume()
        if self.tokenizer is None and cfg.checkpoint.export_hf != "never":
            self._warn(
                "no tokenizer given (tokenizer=... or --tokenizer): the data's tokenizer is not checked and "
                "the exported Hugging Face folders will have no tokenizer files"
            )
        self.stop_requested = False
        self.last_checkpoint: Path | None = self.resumed_from
        self.last_hf: Path | None = None
        self.tokens_per_step = self.step_tokens = cfg.train.global_batch_size * cfg.data.seq_len
        self.flops_per_token = self.model_config.flops_per_token(cfg.data.seq_len)
        self.peak, self.peak_source = peak_flops(self.device)

    # --- hooks (a subclass, e.g. the fine-tuning trainer, overrides these) ---------------------------------
    def setup_data(self) -> None:
        """Sets tokenizer, data_tokenizer, model_config, dataset (global sample index -> sample) and
        valid_sources."""
        cfg = self.cfg
        self.specs: list[DataSpec] = [resolve_data_path(p) for p in cfg.data.paths]
        valid_specs = [resolve_data_path(p) for p in cfg.data.valid_paths]
        self.tokenizer = _load_tokenizer(cfg.tokenizer)
        fp = self.tokenizer.fingerprint if self.tokenizer is not None else None
        self.data_tokenizer = check_tokenizers(self.specs + valid_specs, fp, cfg.tokenizer)
        manifest_vocab = int(self.data_tokenizer["vocab_size"]) if self.data_tokenizer else None
        if manifest_vocab is None and self.tokenizer is not None:
            manifest_vocab = self.tokenizer.vocab_size
        self.model_config: ModelConfig = model_config_from(cfg.model, cfg.data.seq_len, manifest_vocab)
        if manifest_vocab is not None and manifest_vocab > self.model_config.vocab_size:
            raise UserError(
                f"model.vocab_size={self.model_config.vocab_size} is smaller than the data's tokenizer "
                f"({manifest_vocab} ids); set model.vocab_size=auto"
            )
        seq_len = cfg.data.seq_len
        self.sources = build_sources([(s.path, s.train_prefixes) for s in self.specs], seq_len, cfg.data.seed)
        if valid_specs:
            valid_groups = [(s.path, s.train_prefixes + s.valid_prefixes) for s in valid_specs]
        else:
            valid_groups = [(s.path, s.valid_prefixes) for s in self.specs if s.valid_prefixes]
        self.valid_sources = build_sources(valid_groups, seq_len, cfg.data.seed) if valid_groups else []
        self.dataset = MixtureDataset(self.sources, cfg.data.weights, cfg.data.seed)

    def build_model(self) -> torch.nn.Module:
        """The model to train (float32, on CPU; moved or sharded afterwards); may update model_config."""
        from ..model import build_model

        cfg = self.cfg
        if cfg.model.init_from:
            from ..checkpoint import load_model

            model = load_model(cfg.model.init_from, dtype="float32")
            if model.config.vocab_size != self.model_config.vocab_size:
                raise UserError(
                    f"model.init_from={cfg.model.init_from}: its vocab_size {model.config.vocab_size} "
                    f"differs from the recipe's {self.model_config.vocab_size}"
                )
            self.model_config = model.config
            model.train()
            return model
        # Built on CPU with the seed, then moved/sharded: the same initial weights for any process count.
        return build_model(self.model_config, device="cpu", seed=cfg.train.seed)

    def training_module(self, model: torch.nn.Module) -> torch.nn.Module:
        """The FSDP/DDP root whose forward returns the loss."""
        return CausalLMTrainingModule(model)

    def make_loader(self, steps: int) -> TrainLoader:
        """The loader of the next `steps` optimizer steps, from `samples_consumed` on."""
        t = self.cfg.train
        return TrainLoader(
            self.dataset,
            t.global_batch_size,
            t.micro_batch_size,
            self.info.rank,
            self.info.world_size,
            self.samples_consumed,
            steps,
            self.cfg.data.num_workers,
            pin_memory=self.device.type == "cuda",
        )

    def forward_backward(self, batches: list) -> torch.Tensor:
        """Forward and backward over this rank's micro-batches; returns this rank's part of the step loss (the
        sum over ranks, divided by the number of processes, is the step's loss). Sets `step_tokens`."""
        loss_sum = torch.zeros((), dtype=torch.float32, device=self.device)
        for i, batch in enumerate(batches):
            with self._micro_batch_sync(i == len(batches) - 1):
                loss = self.root(batch.to(self.device, non_blocking=True))
                (loss / len(batches)).backward()
            loss_sum += loss.detach().float()
        return loss_sum / len(batches)

    def tokens_seen(self) -> int:
        """Training tokens consumed so far (the metrics' `tokens`)."""
        return self.samples_consumed * self.cfg.data.seq_len

    def trainable_only_checkpoints(self) -> bool:
        """Whether checkpoints leave out frozen parameters (LoRA: the base weights never change)."""
        return False

    def _setup_processes(self) -> None:
        cfg = self.cfg
        world = int(os.environ.get("WORLD_SIZE", "1"))
        t = cfg.train
        if t.global_batch_size % (t.micro_batch_size * world):
            raise UserError(
                f"train.global_batch_size={t.global_batch_size} is not divisible by "
                f"train.micro_batch_size={t.micro_batch_size} x {world} process(es); choose a multiple "
                f"of {t.micro_batch_size * world}"
            )
        self.info: DistInfo = init_distributed(cfg.parallel.device)
        self.device = self.info.device
        self.dtype = compute_dtype(cfg.parallel.precision, self.device)
        if self.dtype != torch.float32 and not dist.is_initialized():
            # bf16 compute with fp32 master weights is FSDP2's MixedPrecisionPolicy: use it on one process too.
            self._init_single_process_group()
        fsdp = (
            cfg.parallel.fsdp == "on"
            or (cfg.parallel.fsdp == "auto" and self.info.distributed)
            or self.dtype != torch.float32
        )
        if cfg.parallel.fsdp == "off" and self.dtype != torch.float32:
            raise UserError("parallel.fsdp=off with bfloat16: mixed precision is done by FSDP2; use parallel.fsdp=auto")
        if fsdp and not dist.is_initialized():
            self._init_single_process_group()
        self.fsdp = fsdp

    def _resume(self) -> None:
        cfg = self.cfg
        self.step = 0
        self.samples_consumed = 0
        self.skipped_steps = 0
        self.bad_in_a_row = 0
        self.resumed_from: Path | None = None
        resume = ckpt.agree(str(ckpt.find_resume(self.out, cfg.checkpoint.resume) or ""), self.info)
        if not resume:
            return
        meta = ckpt.load_checkpoint(
            Path(resume), self.root, self.optimizer, self.info, trainable_only=self.trainable_only_checkpoints()
        )
        self.step = int(meta["step"])
        self.samples_consumed = int(meta["samples_consumed"])
        self.skipped_steps = int(meta.get("skipped_steps", 0))
        self.bad_in_a_row = int(meta.get("bad_in_a_row", 0))
        self.resumed_from = Path(resume)
        self.on_resume(meta)
        if meta.get("seq_len") != cfg.data.seq_len or meta.get("data_seed") != cfg.data.seed:
            self._warn(
                f"resuming {resume} with a different data.seq_len/data.seed than it was saved with; "
                f"the sample order changes from here on"
            )

    def on_resume(self, meta: dict) -> None:
        """Restore what a subclass added to the checkpoint's meta.json."""

    def _micro_batch_sync(self, last: bool):
        """Gradients are reduced across processes once per step, on the last micro-batch."""
        if self.fsdp:
            self.root.set_requires_gradient_sync(last)
        if isinstance(self.root, torch.nn.parallel.DistributedDataParallel) and not last:
            return self.root.no_sync()
        return contextlib.nullcontext()

    # --- helpers -----------------------------------------------------------------------------------------
    def _init_single_process_group(self) -> None:
        store = dist.HashStore()
        backend = "nccl" if self.device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend,
            store=store,
            rank=0,
            world_size=1,
            device_id=self.device if self.device.type == "cuda" else None,
        )

    def _warn(self, msg: str) -> None:
        if self.info.is_main:
            print(f"warning: {msg}", file=sys.stderr, flush=True)

    def _meta(self) -> dict:
        return {
            "step": self.step,
            "samples_consumed": self.samples_consumed,
            "skipped_steps": self.skipped_steps,
            "bad_in_a_row": self.bad_in_a_row,
            "seq_len": self.cfg.data.seq_len,
            "data_seed": self.cfg.data.seed,
            "world_size": self.info.world_size,
            "global_batch_size": self.cfg.train.global_batch_size,
            "schedule": {k: getattr(self.cfg.optim, k) for k in ("lr", "min_lr", "warmup_steps", "decay_steps")},
            "model": self.model_config.to_hf_dict(),
            "config": self.cfg.to_dict(),
            "tokenizer": self.data_tokenizer,
            "time": time.time(),
        }

    def save(self) -> Path:
        path = ckpt.save_checkpoint(
            self.out,
            self.step,
            self.root,
            self.optimizer,
            self._meta(),
            self.info,
            self.cfg.checkpoint.keep_last,
            trainable_only=self.trainable_only_checkpoints(),
        )
        self.last_checkpoint = path
        return path

    def export(self, folder: Path) -> Path | None:
        out = ckpt.export_hf(self.root, self.model_config, folder, self.tokenizer, self.info)
        if out is not None:
            self.last_hf = out
        return out

    def _set_lr(self) -> float:
        o = self.cfg.optim
        lr = lr_at(self.step, o.lr, o.min_lr, o.warmup_steps, o.decay_steps or self.cfg.train.max_steps)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        return lr

    def _grad_norm(self) -> torch.Tensor:
        clip = self.cfg.optim.grad_clip
        norm = torch.nn.utils.clip_grad_norm_(self.root.parameters(), clip if clip > 0 else float("inf"), foreach=True)
        if hasattr(norm, "full_tensor"):
            norm = norm.full_tensor()
        return norm

    def train_step(self, batches: list) -> tuple[float, float, bool, bool]:
        """Forward/backward over this rank's micro-batches, then clip and step (or skip when non-finite).

        Returns (loss averaged over all processes, global grad norm, finite, stop requested on any rank).
        """
        part = self.forward_backward(batches)
        # One all-reduce carries the loss and the stop flag (so every rank stops at the same step).
        packed = torch.stack([part, torch.tensor(float(self.stop_requested), device=self.device)])
        all_reduce_(packed)
        loss_v = float(packed[0]) / self.info.world_size
        stop = bool(packed[1] > 0)
        norm = float(self._grad_norm())
        finite = math.isfinite(loss_v) and math.isfinite(norm)
        if finite:
            self.optimizer.step()
            self.bad_in_a_row = 0
        else:
            self.skipped_steps += 1
            self.bad_in_a_row += 1
        self.optimizer.zero_grad(set_to_none=True)
        return loss_v, norm, finite, stop

    @torch.no_grad()
    def validate(self) -> float | None:
        """Mean loss per token over the fixed held-out sequences (all processes together)."""
        if not self.valid_sources:
            return None
        vs = ValidSet(self.valid_sources, self.cfg.train.valid_batches * self.cfg.train.micro_batch_size)
        self.root.eval()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        batches = list(vs.batches(self.info.rank, self.info.world_size, self.cfg.train.micro_batch_size))
        # Under FSDP every rank must run the same number of forwards (each one all-gathers).
        n = torch.tensor([len(batches)], device=self.device)
        all_reduce_(n, "max")
        for i in range(int(n.item())):
            b = batches[i] if i < len(batches) else None
            tokens = (b if b is not None else torch.zeros(1, self.cfg.data.seq_len + 1, dtype=torch.long)).to(
                self.device
            )
            loss_sum = self.root(tokens, reduction="sum")
            if b is not None:
                total[0] += loss_sum.double()
                total[1] += tokens[:, 1:].numel()
        all_reduce_(total)
        self.root.train()
        return float(total[0] / total[1]) if total[1] > 0 else None

    def _install_signals(self) -> dict:
        previous = {}
        if threading_main():

            def handler(signum, frame):
                if self.stop_requested and signum == signal.SIGINT:
                    raise KeyboardInterrupt
                self.stop_requested = True
                if self.info.is_main:
                    print(
                        f"\n{signal.Signals(signum).name}: saving a checkpoint after this step, then stopping "
                        f"(Ctrl-C again to abort without saving)",
                        file=sys.stderr,
                        flush=True,
                    )

            for s in (signal.SIGTERM, signal.SIGINT):
                previous[s] = signal.signal(s, handler)
        return previous

    # --- the loop ----------------------------------------------------------------------------------------
    def _periodic(self, logger: MetricsLogger) -> tuple[bool, float | None]:
        """Checkpoint, export and validate when due (not at the last step); returns (saved, valid loss or None)."""
        cfg, t = self.cfg, self.cfg.train
        saved, valid_loss = False, None
        # Validate before saving: a kill after the save would resume past this step and never validate it.
        if t.valid_every and self.step % t.valid_every == 0 and self.step < t.max_steps:
            valid_loss = self._log_valid(logger)
        if cfg.checkpoint.save_every and self.step % cfg.checkpoint.save_every == 0 and self.step < t.max_steps:
            self.save()
            saved = True
            if cfg.checkpoint.export_hf == "checkpoint":
                self.export(self.out / "hf" / ckpt.step_name(self.step))
                if self.info.is_main:
                    ckpt.prune(self.out / "hf", cfg.checkpoint.keep_last)
        return saved, valid_loss

    def train(self) -> dict:
        cfg, t = self.cfg, self.cfg.train
        self._write_run_files()
        barrier()
        previous = self._install_signals()
        logger = MetricsLogger(
            self.out,
            self.info.is_main,
            t.max_steps,
            self.step,
            cfg.logging.tensorboard,
            cfg.logging.progress,
            cfg.logging.log_every,
            desc=self.command,
        )
        loader = self.make_loader(max(t.max_steps - self.step, 0))
        if self.info.is_main:
            print(self._start_message(loader.accum), file=sys.stderr, flush=True)
        self.on_train_start(logger)
        self.root.train()
        tok_rates: list[float] = []
        valid_loss = last_loss = None
        last_saved = self.step if self.resumed_from else -1
        start_time = time.perf_counter()
        try:
            while self.step < t.max_steps:
                t0 = time.perf_counter()
                batches = loader.next_step()
                lr = self._set_lr()
                loss_v, norm, finite, stop = self.train_step(batches)
                self.step += 1
                self.samples_consumed = loader.samples_consumed
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                rec = self._step_record(loss_v, lr, norm, finite, time.perf_counter() - t0)
                if self.step > 1 or self.resumed_from:
                    tok_rates.append(rec["tokens_per_s"])
                logger.log(rec)
                if finite:
                    last_loss = loss_v
                if self.bad_in_a_row >= t.max_bad_steps:
                    raise TrainingStopped(
                        f"{self.bad_in_a_row} consecutive steps had a non-finite loss or gradient norm (last at step "
                        f"{self.step}); lower optim.lr, raise optim.warmup_steps or check the data; the last good "
                        f"checkpoint is {self.last_checkpoint or 'none'}"
                    )
                if stop:
                    break
                saved, v = self._periodic(logger)
                last_saved = self.step if saved else last_saved
                valid_loss = v if v is not None else valid_loss
            interrupted = self.step < t.max_steps
            if last_saved != self.step:
                self.save()
            if not interrupted:
                valid_loss = self._log_valid(logger)
                if cfg.checkpoint.export_hf != "never":
                    self.export(self.final_export_folder())
            elif cfg.checkpoint.export_hf == "checkpoint":
                self.export(self.out / "hf" / ckpt.step_name(self.step))
        finally:
            logger.close()
            for s, h in previous.items():
                signal.signal(s, h)
        tok_rate = sorted(tok_rates)[len(tok_rates) // 2] if tok_rates else None
        return self._finish(interrupted, last_loss, valid_loss, tok_rate, time.perf_counter() - start_time)

    def on_train_start(self, logger: MetricsLogger) -> None:
        """Called once before the first step (after the metrics logger is open)."""

    def final_export_folder(self) -> Path:
        return self.out / "model"

    def summary_extra(self) -> dict:
        """More summary.json keys (a subclass's)."""
        return {}

    def export_label(self) -> str:
        return "HF model"

    def close(self) -> None:
        destroy_distributed()


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def pretrain(config: TrainConfig | str | os.PathLike | dict | None = None, **overrides: Any) -> dict:
    """Train per a recipe and return a summary dict.

    config: a `TrainConfig`, a recipe path, a dict shaped like a recipe, or None (defaults). overrides: dotted keys
    (`**{"train.max_steps": 10}`), `section__key=value` keywords (`train__max_steps=10`), or the shortcuts
    out, data (a path or list), valid_data, tokenizer, max_steps, save_every, resume.
    Summary keys: steps, final_train_loss, final_valid_loss, tokens_per_s, mfu, checkpoint, hf_model, metrics,
    loss_plot, interrupted, skipped_steps, out.
    """
    trainer = Trainer(resolve_config(config, **overrides))
    try:
        return trainer.train()
    finally:
        trainer.close()
