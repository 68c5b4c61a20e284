"""Learning-rate schedule: linear warmup, then cosine decay to a floor, then the floor.

A pure function of the step, so the "scheduler state" in a checkpoint is the step itself (plus the settings,
stored to notice a changed schedule on resume).
"""

from __future__ import annotations

import math


def lr_at(step: int, lr: float, min_lr: float, warmup_steps: int, decay_steps: int) -> float:
    """Learning rate for optimizer step `step` (0-based).

    Warmup: lr * (step + 1) / warmup_steps for step < warmup_steps (never 0, so step 0 already learns).
    Decay: cosine from lr at warmup_steps to min_lr at decay_steps; min_lr after.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if step >= decay_steps or decay_steps <= warmup_steps:
        return min_lr if step >= decay_steps else lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))
