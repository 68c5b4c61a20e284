"""Deploying models made or loaded with polyglot-ko: GGUF for llama.cpp, model cards, pushing to the hub.

    from polyglot_ko.export import export_gguf, push, write_model_card
    export_gguf("quickstart-out/model", "model.gguf", type="q8_0")   # llama.cpp / llama-cpp-python / ollama
    push("quickstart-out/model", "me/polyglot-ko-tiny", private=True)  # Hugging Face hub

Names are imported lazily: `import polyglot_ko.export` pulls in neither gguf, torch nor huggingface_hub.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _EXPORTS)
