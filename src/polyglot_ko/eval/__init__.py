"""Evaluation: KOBEST as the Polyglot-Ko model cards report it, perplexity, and lm-evaluation-harness integration.

- `kobest.evaluate_kobest(model, tokenizer, tasks, shots, data_dir, limit=None, ...)`: the cards' protocol (or
  lm-eval 0.4's), scored with context reuse across candidates (`loglikelihood.score`).
- `perplexity.perplexity(model, tokenizer, texts_or_paths, ...)`: sliding-window perplexity per token and per
  character, on texts, text files or indexed datasets.
- `lm_eval_adapter`: registers the model type `polyglot-ko` with lm-eval (`python -m polyglot_ko.eval.lm_eval_adapter`).
- `cli`: `polyglot-ko evaluate`.

Names are imported lazily so that `import polyglot_ko.eval` stays light.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "evaluate_kobest": "polyglot_ko.eval.kobest",
    "markdown_table": "polyglot_ko.eval.kobest",
    "TASKS": "polyglot_ko.eval.kobest",
    "perplexity": "polyglot_ko.eval.perplexity",
    "Question": "polyglot_ko.eval.loglikelihood",
    "score": "polyglot_ko.eval.loglikelihood",
    "score_plain": "polyglot_ko.eval.loglikelihood",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
