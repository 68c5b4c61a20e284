"""Model and tokenizer resolution shared by the evaluation entry points (KOBEST, perplexity, lm-eval adapter).

Every entry point accepts either live objects (what the quickstart passes) or a model folder / hub id, and the
tokenizer defaults to the one saved in the model folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..constants import ENDOFTEXT_ID, PAD_ID
from ..errors import UserError


def load_tokenizer_any(tokenizer: Any) -> Any:
    """A tokenizer object from an object (returned as is), a folder or a hub id."""
    if not isinstance(tokenizer, (str, Path)):
        return tokenizer
    from ..tokenizer import load_tokenizer

    return load_tokenizer(tokenizer)


def load_model_any(model: Any, dtype: str = "float32", device: str = "cpu", adapter: str | Path | None = None) -> Any:
    """A model object from an object (returned as is, in eval mode), a folder or a hub id.

    Args:
        model: a model object, or a model folder or hub id
        dtype: weights dtype when loading
        device: torch device when loading
        adapter: a LoRA adapter folder or hub id (peft format), merged into the loaded weights
    """
    if isinstance(model, (str, Path)):
        from ..checkpoint import load_model

        model = load_model(model, dtype=dtype, device=device, adapter=adapter)
    elif adapter is not None:
        raise UserError(
            f"adapter={str(adapter)!r}: given with a model object; pass the model folder instead, or attach the "
            f"adapter to the object first (polyglot_ko.finetune.lora.load_adapter)"
        )
    model.eval()
    return model


def endoftext_id(tokenizer: Any) -> int:
    return int(getattr(tokenizer, "endoftext_id", None) or ENDOFTEXT_ID)


def pad_id(tokenizer: Any) -> int:
    value = getattr(tokenizer, "pad_id", None)
    return int(value) if value is not None else PAD_ID


def tokenizer_fingerprint(tokenizer: Any) -> str | None:
    return getattr(tokenizer, "fingerprint", None)
