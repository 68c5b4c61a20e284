"""The fine-tuning config: the pretraining `TrainConfig` plus a `finetune` section; recipes `sft-*.yaml`.

A fine-tuning recipe is a `FinetuneConfig` written as YAML, like a pretraining recipe, with one more section:

    finetune: {method: lora, lora_r: 8, lora_alpha: 16, lora_dropout: 0.05, lora_targets: [query_key_value],
               train_on_prompt: false, packing: true, max_length: 512, validation_fraction: 0.05,
               truncation: turns, split: train}

The base model is `model.init_from` (`--model BASE`: a Hugging Face folder or hub id); the instruction data are
`data.paths` (`--data FILE ...`: JSON, JSONL, a datasets folder, a hub id or `ko-instruct`). `data.seq_len` is the
row length and always equals `finetune.max_length` (set from it). Every value is a `section.key=value` override.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import UserError
from ..train.config import TrainConfig
from .data import TRUNCATION
from .lora import LORA_TARGETS

METHODS = ("full", "lora", "qlora")


@dataclass
class FinetuneSection:
    """What is trained and how the instruction data become rows."""

    method: str = "lora"
    """"lora" (low-rank adapters, base frozen), "qlora" (LoRA on a 4-bit NF4 base; CUDA + bitsandbytes) or
    "full" (every weight)."""
    lora_r: int = 8
    """LoRA rank."""
    lora_alpha: float = 16.0
    """LoRA alpha; the update is B·A·alpha/r."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA path's input while training."""
    lora_targets: list[str] = field(default_factory=lambda: ["query_key_value"])
    """Layers that get LoRA, among query_key_value, dense, dense_h_to_4h, dense_4h_to_h."""
    train_on_prompt: bool = False
    """Train on every token (prompts too); by default only the assistant's answers are trained."""
    packing: bool = True
    """Pack several examples into each row (position ids restart, block-diagonal causal mask: no leakage);
    false = one right-padded example per row."""
    max_length: int = 2048
    """Longest example in tokens (longer ones are cut to whole turns or dropped) and the row length."""
    validation_fraction: float = 0.05
    """Held-out share of the examples (seeded by data.seed) for the validation loss; 0 = none."""
    truncation: str = "turns"
    """Too-long examples: "turns" (keep the leading whole turns that fit) or "drop"."""
    split: str = "train"
    """Split of a hub dataset or a saved DatasetDict."""


@dataclass
class FinetuneConfig(TrainConfig):
    """Everything a fine-tuning run needs; `recipes/sft-*.yaml` are dumps of this."""

    finetune: FinetuneSection = field(default_factory=FinetuneSection)
    """Method (full, LoRA, QLoRA), LoRA settings, labels, packing, lengths, validation split."""

    def validate(self) -> FinetuneConfig:
        f = self.finetune
        if not self.model.init_from:
            raise UserError("model.init_from: no base model given; pass --model BASE (a model folder or hub id)")
        if not self.data.paths:
            raise UserError(
                "data.paths is empty; pass --data FILE (JSON/JSONL, a datasets folder, a hub id, ko-instruct)"
            )
        if f.method not in METHODS:
            raise UserError(f"finetune.method={f.method!r}: choose one of {', '.join(METHODS)}")
        if f.truncation not in TRUNCATION:
            raise UserError(f"finetune.truncation={f.truncation!r}: choose one of {', '.join(TRUNCATION)}")
        if f.max_length < 8:
            raise UserError(f"finetune.max_length={f.max_length}: must be at least 8")
        if not 0.0 <= f.validation_fraction < 1.0:
            raise UserError(f"finetune.validation_fraction={f.validation_fraction}: must be in [0, 1), e.g. 0.05")
        if f.method != "full":
            if f.lora_r < 1:
                raise UserError(f"finetune.lora_r={f.lora_r}: the LoRA rank must be at least 1, e.g. 8")
            if not (math.isfinite(f.lora_alpha) and f.lora_alpha > 0):
                raise UserError(f"finetune.lora_alpha={f.lora_alpha}: must be a positive number, e.g. 16")
            if not 0.0 <= f.lora_dropout < 1.0:
                raise UserError(f"finetune.lora_dropout={f.lora_dropout}: must be in [0, 1), e.g. 0.05")
            bad = [t for t in f.lora_targets if t not in LORA_TARGETS] or ([] if f.lora_targets else ["(none)"])
            if bad:
                raise UserError(
                    f"finetune.lora_targets: {bad[0]!r} is not a GPT-NeoX linear layer; use some of "
                    f"{', '.join(LORA_TARGETS)}"
                )
        arch = [k for k, v in vars(self.model).items() if k not in ("preset", "init_from") and v is not None]
        if arch:
            raise UserError(
                f"model.{arch[0]}: the architecture comes from the base model (model.init_from); remove the override"
            )
        self.data.seq_len = f.max_length  # rows are max_length tokens long
        return super().validate()


def load_finetune_recipe(path=None, overrides=None) -> FinetuneConfig:
    """A `FinetuneConfig` from a YAML recipe (file or built-in name such as "sft-lora-cpu-tiny"), with overrides."""
    from ..train.config import load_recipe

    return load_recipe(path, overrides, cls=FinetuneConfig)
