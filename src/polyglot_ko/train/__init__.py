"""Pretraining: YAML recipes -> packed indexed data -> FSDP2 training loop -> checkpoints and HF model folders.

    from polyglot_ko.train import pretrain, load_recipe
    summary = pretrain("recipes/cpu-tiny.yaml", out="runs/tiny", data="data/prepared", max_steps=50)

Modules: config (TrainConfig, recipes, overrides), data (packed mixture loader), loss (fused output layer +
cross-entropy), parallel (process groups, FSDP2, activation checkpointing), schedule (warmup + cosine),
train_state (training checkpoints: DCP, atomic step folders, HF export), metrics (MFU, JSONL, TensorBoard,
plot), loop (the
trainer), cli (`polyglot-ko pretrain`). Imported lazily so that `import polyglot_ko.train` stays light.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "pretrain": "polyglot_ko.train.loop",
    "Trainer": "polyglot_ko.train.loop",
    "TrainingStopped": "polyglot_ko.train.loop",
    "TrainConfig": "polyglot_ko.train.config",
    "load_recipe": "polyglot_ko.train.config",
    "dump_recipe": "polyglot_ko.train.config",
    "apply_overrides": "polyglot_ko.train.config",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
