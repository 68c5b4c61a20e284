"""Deploying models made or loaded with polyglot-ko: GGUF for llama.cpp, model cards, pushing to the hub.

    from polyglot_ko.export import export_gguf, push, write_model_card
    export_gguf("quickstart-out/model", "model.gguf", type="q8_0")   # llama.cpp / llama-cpp-python / ollama
    push("quickstart-out/model", "me/polyglot-ko-tiny", private=True)  # Hugging Face hub

Names are imported lazily: `import polyglot_ko.export` pulls in neither gguf, torch nor huggingface_hub.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "export_gguf": "polyglot_ko.export.gguf",
    "GGUF_TYPES": "polyglot_ko.export.gguf",
    "push": "polyglot_ko.export.hub",
    "ModelCardInfo": "polyglot_ko.export.model_card",
    "render_model_card": "polyglot_ko.export.model_card",
    "write_model_card": "polyglot_ko.export.model_card",
    "write_eval_results": "polyglot_ko.export.model_card",
    "EVAL_RESULTS_FILE": "polyglot_ko.export.model_card",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'polyglot_ko.export' has no attribute {name!r}")
