"""Instruction fine-tuning on the pretraining Trainer: full, LoRA or QLoRA, packed rows without leakage.

`finetune(model=BASE, data=FILES, out=OUT, config=RECIPE, method=..., max_steps=..., **overrides)` and
`polyglot-ko finetune` run a `FinetuneTrainer`: the pretraining `Trainer` (train/loop.py: FSDP2/DDP, activation
checkpointing, bf16 on GPU, gradient accumulation, exact resume, SIGTERM save, metrics, TensorBoard, loss.png)
with its data, training module and export hooks replaced:

- data: `finetune.data.load_examples` (every record accounted for: printed, and saved as OUT/data_stats.json),
  a seeded validation split, then rows: packed first-fit (`finetune.packing`) or one right-padded example per
  row. The loader draws rows by global sample index (a seeded permutation per epoch), so resume is exact with any
  number of processes;
- training module: the model's one forward (`hidden_states`) with position ids restarting per example and the
  block-diagonal causal mask (SDPA with a boolean mask) for packed rows, plain causal attention for padded rows
  (right padding never reaches a real token), then the fused chunked cross-entropy with ignore_index -100;
- the loss of a step is the mean over the trained tokens of the whole step: each micro-batch's summed token loss is
  divided by the step's trained-token count over all micro-batches and processes (counted before the forward,
  one all-reduce). A mean of per-micro-batch means would weight a token in a micro-batch with few answer tokens
  more than one in a micro-batch with many, so micro-batch size and process count would change the loss and the
  gradient; this way they do not (tests/finetune/test_train.py checks it);
- LoRA/QLoRA: only the LoRA weights are trainable and in the optimizer; checkpoints hold only them (and their
  optimizer state); the export is a peft adapter folder (OUT/adapter, OUT/hf/step_N per checkpoint) with the
  tokenizer and chat template. Full: Hugging Face model folders (OUT/model, OUT/hf/step_N).
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from ..io_utils import atomic_dir
from ..train import train_state as ckpt
from ..train.loop import Trainer
from ..train.loss import DEFAULT_CHUNK, IGNORE_INDEX, linear_cross_entropy
from ..train.parallel import all_reduce_, barrier, resolve_device
from .config import FinetuneConfig, load_finetune_recipe
from .packing import block_causal_mask, pack_examples, pad_examples

ROW_FIELDS = ("input_ids", "labels", "position_ids", "document_ids")


class SFTTrainingModule(nn.Module):
    """`forward(input_ids, labels, position_ids, document_ids) -> summed loss over trained tokens` (float32).

    Packed rows: the block-diagonal causal mask from `document_ids` and the restarting `position_ids` go through
    the model's one forward; unpacked (right-padded) rows need neither. labels are aligned with input_ids
    (position i-1 predicts labels[i]); -100 is not trained. The wrapper is the FSDP root.
    """

    def __init__(self, model: nn.Module, packed: bool = True, chunk: int = DEFAULT_CHUNK):
        super().__init__()
        self.model = model
        self.packed = packed
        self.chunk = chunk

    def forward(self, input_ids, labels, position_ids=None, document_ids=None) -> torch.Tensor:
        if self.packed:
            h = self.model.hidden_states(input_ids, block_causal_mask(document_ids), position_ids)
        else:
            h = self.model.hidden_states(input_ids)
        h = h[:, :-1]
        return linear_cross_entropy(
            h.reshape(-1, h.shape[-1]),
            self.model.embed_out.weight,
            labels[:, 1:].reshape(-1),
            chunk=self.chunk,
            reduction="sum",
            ignore_index=IGNORE_INDEX,
        )


class RowDataset(torch.utils.data.Dataset):
    """Global sample index -> a row (dict of int64 tensors): epoch e = index // rows, in a permutation seeded by
    (seed, e), so the order depends only on the index (exact resume, any process count)."""

    def __init__(self, rows: list, seed: int):
        self.tensors = {k: torch.tensor([getattr(r, k) for r in rows], dtype=torch.long) for k in ROW_FIELDS}
        self.n = len(rows)
        self.seed = seed

    def __len__(self) -> int:  # nominal: the loader draws indices itself, epochs repeat
        return 2**62

    @lru_cache(maxsize=2)  # noqa: B019 - one dataset per run
    def _order(self, epoch: int) -> np.ndarray:
        return np.random.Generator(np.random.PCG64([self.seed, 7_919, epoch])).permutation(self.n)

    def __getitem__(self, g: int) -> dict:
        epoch, pos = divmod(int(g), self.n)
        i = int(self._order(epoch)[pos])
        return {k: v[i] for k, v in self.tensors.items()}


def _rows(examples: list, cfg: FinetuneConfig) -> list:
    f = cfg.finetune
    return pack_examples(examples, f.max_length) if f.packing else pad_examples(examples, f.max_length)


def _real_and_trained(batch: dict) -> tuple[int, int]:
    return int((batch["document_ids"] >= 0).sum()), int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


class FinetuneTrainer(Trainer):
    """The pretraining Trainer with instruction data, the answer-only loss, LoRA and adapter exports."""

    command = "finetune"

    # --- data --------------------------------------------------------------------------------------------
    def setup_data(self) -> None:
        from ..chat_template import template_from_folder
        from ..config import ModelConfig
        from ..hub import resolve_folder
        from ..tokenizer import load_tokenizer
        from .data import load_examples, split_examples

        cfg, f = self.cfg, self.cfg.finetune
        if f.method == "qlora":
            from .lora import check_qlora_supported

            check_qlora_supported(resolve_device(cfg.parallel.device))
        base = resolve_folder(cfg.model.init_from, what="model", allow_patterns=["*.json", "*.safetensors", "*.txt"])
        self.base_folder = base
        self.model_config = (
            ModelConfig.from_json_file(base / "config.json") if (base / "config.json").is_file() else None
        )
        if self.model_config is None:
            raise UserError(
                f"model.init_from={cfg.model.init_from}: has no config.json; pass a Hugging Face model folder"
            )
        tok_source = resolve_folder(cfg.tokenizer, what="tokenizer") if cfg.tokenizer else base
        if not (tok_source / "tokenizer.json").is_file():
            raise UserError(
                f"{tok_source}: has no tokenizer.json; pass --tokenizer FOLDER (or a base model folder with one)"
            )
        self.tokenizer_source = tok_source
        self.template = template_from_folder(tok_source)
        self.tokenizer = load_tokenizer(tok_source)
        if self.tokenizer.vocab_size > self.model_config.vocab_size:
            raise UserError(
                f"tokenizer {tok_source}: {self.tokenizer.vocab_size} ids, more than the model's "
                f"{self.model_config.vocab_size} embedding rows; use the base model's own tokenizer"
            )
        from ..data.indexed import tokenizer_record

        self.data_tokenizer = tokenizer_record(self.tokenizer)
        examples, self.data_stats = load_examples(
            cfg.data.paths,
            self.tokenizer,
            max_length=f.max_length,
            truncation=f.truncation,
            train_on_prompt=f.train_on_prompt,
            template=self.template,
            split=f.split,
        )
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"finetune data: {self.data_stats.summary()}", file=sys.stderr, flush=True)
        if not examples:
            raise UserError(
                f"data.paths: no record is usable ({self.data_stats.summary()}); see the problems listed by "
                f"load_examples, or raise finetune.max_length"
            )
        train, valid = split_examples(examples, f.validation_fraction, cfg.data.seed)
        self.n_examples = (len(train), len(valid))
        self.dataset = RowDataset(_rows(train, cfg), cfg.data.seed)
        self.valid_rows = _rows(valid, cfg) if valid else []

    # --- model -------------------------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        from ..checkpoint import load_model

        f = self.cfg.finetune
        model = load_model(self.base_folder, dtype="float32")
        self.model_config = model.config
        if f.method != "full":
            from .lora import add_lora

            quantize = "4bit" if f.method == "qlora" else None
            if quantize:
                model.to(self.device)
            add_lora(model, f.lora_r, f.lora_alpha, f.lora_dropout, f.lora_targets, quantize_base=quantize)
        model.train()
        return model

    def training_module(self, model: nn.Module) -> nn.Module:
        return SFTTrainingModule(model, packed=self.cfg.finetune.packing)

    def trainable_only_checkpoints(self) -> bool:
        return self.cfg.finetune.method != "full"

    # --- one step ----------------------------------------------------------------------------------------
    def forward_backward(self, batches: list) -> torch.Tensor:
        counts = torch.tensor([_real_and_trained(b) for b in batches], dtype=torch.float64).sum(0).to(self.device)
        all_reduce_(counts)
        self.step_tokens = float(counts[0])
        self._tokens_seen += int(counts[0])
        scale = self.info.world_size / max(float(counts[1]), 1.0)
        loss_sum = torch.zeros((), dtype=torch.float32, device=self.device)
        for i, batch in enumerate(batches):
            with self._micro_batch_sync(i == len(batches) - 1):
                loss = self.root(**{k: batch[k].to(self.device, non_blocking=True) for k in ROW_FIELDS})
                (loss * scale).backward()
            loss_sum += loss.detach().float()
        return loss_sum * scale

    def tokens_seen(self) -> int:
        return self._tokens_seen

    def _resume(self) -> None:
        self._tokens_seen = 0
        super()._resume()

    def on_resume(self, meta: dict) -> None:
        self._tokens_seen = int(meta.get("tokens_seen", 0))

    def _meta(self) -> dict:
        return {**super()._meta(), "tokens_seen": self._tokens_seen, "finetune": dict(vars(self.cfg.finetune))}

    @torch.no_grad()
    def validate(self) -> float | None:
        """Mean loss per trained token over the held-out rows (all processes together)."""
        if not self.valid_rows:
            return None
        mb, rank, world = self.cfg.train.micro_batch_size, self.info.rank, self.info.world_size
        mine = self.valid_rows[rank::world]
        batches = [mine[i : i + mb] for i in range(0, len(mine), mb)]
        n = torch.tensor([len(batches)], device=self.device)
        all_reduce_(n, "max")  # under FSDP every rank runs the same number of forwards
        self.root.eval()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        for i in range(int(n.item())):
            rows = batches[i] if i < len(batches) else self.valid_rows[:1]
            batch = {k: torch.tensor([getattr(r, k) for r in rows], device=self.device) for k in ROW_FIELDS}
            loss = self.root(**batch)
            if i < len(batches):
                total[0] += loss.double()
                total[1] += _real_and_trained(batch)[1]
        all_reduce_(total)
        self.root.train()
        return float(total[0] / total[1]) if total[1] > 0 else None

    def on_train_start(self, logger) -> None:
        # The untrained model's validation loss, as step 0 of the curve (not on resume: it is in metrics.jsonl).
        if self.step == 0 and self.valid_rows:
            self._log_valid(logger)

    # --- outputs -----------------------------------------------------------------------------------------
    def _write_run_files(self) -> None:
        super()._write_run_files()
        if self.info.is_main:
            from ..chat_template import save_template

            self.data_stats.save(self.out / "data_stats.json")
            with atomic_dir(self.out / "tokenizer") as tmp:
                self.tokenizer.save(tmp)
                save_template(tmp, self.template)
        barrier()

    def final_export_folder(self) -> Path:
        return self.out / ("model" if self.cfg.finetune.method == "full" else "adapter")

    def export_label(self) -> str:
        return "HF model" if self.cfg.finetune.method == "full" else "adapter"

    def _base_name(self) -> str:
        base = self.cfg.model.init_from
        return str(Path(base).expanduser().resolve()) if Path(base).expanduser().exists() else base

    def export(self, folder: Path) -> Path | None:
        if self.cfg.finetune.method == "full":
            out = ckpt.export_hf(self.root, self.model_config, folder, self.out / "tokenizer", self.info)
        else:
            out = self._export_adapter(folder)
        if out is not None:
            self.last_hf = out
        return out

    def _export_adapter(self, folder: Path) -> Path | None:
        """Gather the LoRA weights (collective under FSDP) and write a peft adapter folder on rank 0."""
        from ..model import GPTNeoXForCausalLM
        from .lora import add_lora, save_adapter

        lora = {}
        for k, v in self.root.state_dict().items():
            if ".lora_" in k:
                v = v.full_tensor() if hasattr(v, "full_tensor") else v
                lora[k.removeprefix("module.").removeprefix("model.")] = v.detach().to("cpu", torch.float32)
        if self.info.is_main:
            f = self.cfg.finetune
            with torch.device("meta"):
                copy = GPTNeoXForCausalLM(self.model_config)
            add_lora(copy, f.lora_r, f.lora_alpha, f.lora_dropout, f.lora_targets)
            missing = [k for k in copy.state_dict() if ".lora_" in k and k not in lora]
            if missing:
                raise RuntimeError(f"LoRA weights missing from the training model: {missing[:3]}")
            copy.load_state_dict(lora, strict=False, assign=True)
            save_adapter(copy, folder, self._base_name(), tokenizer=self.out / "tokenizer")
        barrier()
        return folder if self.info.is_main else None

    def summary_extra(self) -> dict:
        f = self.cfg.finetune
        trainable = sum(p.numel() for p in self.root.parameters() if p.requires_grad)
        return {
            "method": f.method,
            "adapter": str(self.last_hf) if self.last_hf and f.method != "full" else None,
            "trainable_parameters": trainable * (self.info.world_size if self.fsdp else 1),
            "examples": {"train": self.n_examples[0], "valid": self.n_examples[1]},
            "rows": {"train": self.dataset.n, "valid": len(self.valid_rows)},
            "data_stats": str(self.out / "data_stats.json"),
            "records": self.data_stats.as_dict(),
        }


def resolve_finetune_config(config: Any = None, **overrides: Any) -> FinetuneConfig:
    """A `FinetuneConfig` from a recipe (object, path, built-in name, dict or None) and overrides; see `finetune`."""
    from ..train.config import apply_overrides, config_from_dict, shortcut_overrides

    if isinstance(config, FinetuneConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = config_from_dict(config, FinetuneConfig)
    else:
        cfg = load_finetune_recipe(config)
    shortcuts = {
        "model": "model.init_from",
        "data": "data.paths",
        "method": "finetune.method",
        "max_steps": "train.max_steps",
        "save_every": "checkpoint.save_every",
        "resume": "checkpoint.resume",
    }
    dotted = shortcut_overrides(overrides, shortcuts)
    return apply_overrides(cfg, dotted)


def finetune(
    model: str | os.PathLike | None = None,
    data: str | os.PathLike | list | None = None,
    out: str | os.PathLike | None = None,
    config: Any = None,
    method: str | None = None,
    max_steps: int | None = None,
    **overrides: Any,
) -> dict:
    """Fine-tune `model` (a Hugging Face folder or hub id) on instruction `data`; return the run's summary.

    config: a `FinetuneConfig`, a recipe path or built-in name ("sft-lora-cpu-tiny", "sft-lora-1.3b", ...), a
    dict shaped like a recipe, or None (defaults). method: "full", "lora" or "qlora". overrides: dotted keys
    (`**{"finetune.lora_r": 16}`), `section__key` keywords, or tokenizer, save_every, resume.
    Summary keys: as `pretrain`'s (steps, final_train_loss, final_valid_loss, tokens_per_s, checkpoint, hf_model,
    metrics, loss_plot, ...) plus method, adapter (OUT/adapter for LoRA), trainable_parameters, examples, rows,
    data_stats, records.
    """
    cfg = resolve_finetune_config(
        config, model=model, data=data, out=out, method=method, max_steps=max_steps, **overrides
    )
    trainer = FinetuneTrainer(cfg)
    try:
        return trainer.train()
    finally:
        trainer.close()


__all__ = ["finetune", "FinetuneTrainer", "SFTTrainingModule", "RowDataset", "resolve_finetune_config"]
