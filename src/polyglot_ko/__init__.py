"""polyglot-ko: Polyglot-Ko (EleutherAI's Korean GPT-NeoX models) re-implemented in PyTorch.

The public API is imported lazily so that light entry points (`mask_pii`, the CLI's help) never pull in torch.
"""

from __future__ import annotations

from ._lazy import lazy_getattr

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "ModelConfig": "polyglot_ko.config",
    "PRESETS": "polyglot_ko.config",
    "get_config": "polyglot_ko.config",
    "GPTNeoXForCausalLM": "polyglot_ko.model",
    "KVCache": "polyglot_ko.model",
    "build_model": "polyglot_ko.model",
    "load_model": "polyglot_ko.checkpoint",
    "save_model": "polyglot_ko.checkpoint",
    "load_tokenizer": "polyglot_ko.tokenizer",
    "mask_pii": "polyglot_ko.data.pii",
    "load_generator": "polyglot_ko.generate",
    "Generator": "polyglot_ko.generate",
    "SamplingParams": "polyglot_ko.sampling",
    "pretrain": "polyglot_ko.train.loop",
    "finetune": "polyglot_ko.finetune.train",
    "prepare": "polyglot_ko.data.pipeline",
    "train_tokenizer": "polyglot_ko.tokenizer_train",
    "UserError": "polyglot_ko.errors",
    "export_gguf": "polyglot_ko.export.gguf",
    "push": "polyglot_ko.export.hub",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__ = lazy_getattr(__name__, _EXPORTS)
