"""Model and tokenizer resolution shared by the evaluation entry points (KOBEST, perplexity, lm-eval adapter).

Every entry point accepts either live objects (what the quickstart passes) or a model folder / hub id, and the
tokenizer defaults to the one saved in the model folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError


class _TokenizersShim:
    """The minimal `PolyglotTokenizer` surface evaluation needs, over a bare `tokenizers.Tokenizer`.

    Used only when `polyglot_ko.tokenizer` is unavailable; encodes without special tokens as the protocol requires.
    """

    def __init__(self, backend: Any):
        self.backend = backend
        self.endoftext_id = backend.token_to_id("<|endoftext|>")
        self.eos_id = self.endoftext_id
        self.pad_id = backend.token_to_id("<pad>") or 0
        self.vocab_size = backend.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)


def load_tokenizer_any(tokenizer: Any) -> Any:
    """A tokenizer object from an object (returned as is), a folder or a hub id."""
    if not isinstance(tokenizer, (str, Path)):
        return tokenizer
    try:
        from ..tokenizer import load_tokenizer
    except ImportError:
        load_tokenizer = None
    if load_tokenizer is not None:
        return load_tokenizer(tokenizer)
    from ..hub import resolve_folder

    folder = resolve_folder(tokenizer, allow_patterns=["tokenizer*", "special_tokens_map.json"], what="tokenizer")
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise UserError(f"tokenizer folder {folder} has no tokenizer.json; pass a folder with one (--tokenizer)")
    from tokenizers import Tokenizer

    return _TokenizersShim(Tokenizer.from_file(str(path)))


def load_model_any(model: Any, dtype: str = "float32", device: str = "cpu") -> Any:
    """A model object from an object (returned as is, in eval mode), a folder or a hub id."""
    if isinstance(model, (str, Path)):
        from ..checkpoint import load_model

        model = load_model(model, dtype=dtype, device=device)
    model.eval()
    return model


def endoftext_id(tokenizer: Any) -> int:
    return int(getattr(tokenizer, "endoftext_id", None) or 2)


def pad_id(tokenizer: Any) -> int:
    value = getattr(tokenizer, "pad_id", None)
    return int(value) if value is not None else 0


def tokenizer_fingerprint(tokenizer: Any) -> str | None:
    return getattr(tokenizer, "fingerprint", None)
