"""lm-evaluation-harness integration: our model as lm-eval's `polyglot-ko` model type, on our fast scorer.

lm-eval 0.4.13 finds models only in its registry (no entry-point discovery), so the registration happens when
this module is imported. Two ways to use it:

    python -m polyglot_ko.eval.lm_eval_adapter --model polyglot-ko --model_args pretrained=FOLDER \\
        --tasks kobest_copa --num_fewshot 5            # = lm_eval's CLI, with the model registered first

    import polyglot_ko.eval.lm_eval_adapter, lm_eval
    lm_eval.simple_evaluate(model="polyglot-ko", model_args="pretrained=FOLDER", tasks=[...])

Our checkpoints also work with lm-eval's own `--model hf` (they are plain transformers GPT-NeoX folders).
`PolyglotKoLM` tokenizes exactly as lm-eval's `hf` model does for these checkpoints (`TemplateLM._encode_pair`,
no special tokens, <|endoftext|> as the prefix of empty contexts) and scores with `loglikelihood.score`:
requests that share their context tokens (the candidates of one multiple-choice question) run the context
once. `offline_kobest_tasks(data_dir, out_dir)` writes lm-eval's own kobest task YAMLs re-pointed at a local
copy of the data, for `--include_path` where the hub is unreachable.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import lm_eval.models  # noqa: F401  (fills the registry first: lm-eval loads its own models only into an empty one)
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model

from ..errors import UserError


@register_model("polyglot-ko", "polyglot_ko")
class PolyglotKoLM(TemplateLM):
    """lm-eval `LM` over a polyglot-ko model. model_args: pretrained, tokenizer, dtype, device, batch_size,
    max_batch_tokens, max_length, max_gen_toks."""

    def __init__(
        self,
        pretrained: Any = None,
        tokenizer: Any = None,
        dtype: str = "float32",
        device: str | None = None,
        batch_size: Any = 32,
        max_batch_tokens: int = 16384,
        max_length: int | None = None,
        max_gen_toks: int = 256,
        **kwargs: Any,
    ):
        super().__init__()
        from ._common import load_model_any, load_tokenizer_any

        if pretrained is None:
            raise UserError("--model_args: polyglot-ko needs pretrained=<model folder or hub id>")
        self.tokenizer = load_tokenizer_any(tokenizer or pretrained)
        self.model = load_model_any(pretrained, dtype=str(dtype).replace("torch.", ""), device=device or "cpu")
        # lm-eval passes batch_size as int, str or "auto"; "auto" keeps our token-budget batching.
        bs = str(batch_size).split(":")[0]
        self._batch_size = int(bs) if bs.isdigit() else 32
        self.max_batch_tokens = int(max_batch_tokens)
        self._max_length = int(max_length or self.model.config.max_position_embeddings)
        self._max_gen_toks = int(max_gen_toks)

    # --- the properties lm-eval reads ---
    @property
    def eot_token_id(self) -> int:
        from ._common import endoftext_id

        return endoftext_id(self.tokenizer)

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def max_gen_toks(self) -> int:
        return self._max_gen_toks

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def device(self):
        return self.model.embed_out.weight.device

    @property
    def tokenizer_name(self) -> str:
        return "polyglot-ko-" + str(getattr(self.tokenizer, "fingerprint", "tokenizer"))[:16]

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        return list(self.tokenizer.encode(string))

    def tok_decode(self, tokens, **kwargs: Any) -> str:
        return self.tokenizer.decode(list(tokens))

    # --- scoring ---
    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs: Any) -> list[tuple[float, bool]]:
        from ._common import pad_id
        from .loglikelihood import Question, score

        # Requests with identical context tokens become one question, so the context runs once.
        groups: dict[tuple[int, ...], int] = {}
        questions: list[Question] = []
        where = []
        for _, ctx, cont in requests:
            key = tuple(ctx)
            if key not in groups:
                groups[key] = len(questions)
                questions.append(Question(list(ctx), []))
            q = groups[key]
            where.append((q, len(questions[q].continuations)))
            questions[q].continuations.append(list(cont))
        scored = score(
            self.model,
            questions,
            max_length=self.max_length,
            batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens,
            pad_id=pad_id(self.tokenizer),
            progress=not disable_tqdm,
            desc="polyglot-ko loglikelihood",
        )
        out = []
        for (cache_key, _, _), (q, c) in zip(requests, where, strict=True):
            answer = scored[q][c]
            if cache_key is not None:
                self.cache_hook.add_partial("loglikelihood", cache_key, answer)
            out.append(answer)
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        from lm_eval import utils

        windows, owner = [], []
        for i, (string,) in enumerate(req.args for req in requests):
            for ctx, cont in map(
                utils.make_disjoint_window,
                utils.get_rolling_token_windows(
                    token_list=self.tok_encode(string),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                ),
            ):
                windows.append((None, ctx, cont))
                owner.append(i)
        totals = [0.0] * len(requests)
        for i, (ll, _) in zip(owner, self._loglikelihood_tokens(windows, disable_tqdm=disable_tqdm), strict=True):
            totals[i] += ll
        for req, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", (req.args[0],), total)
        return totals

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Greedy decoding on our generation engine until a stop string, <|endoftext|> or `max_gen_toks`.

        The requests run through `generate.Generator` (continuous batching, `batch_size` rows at a time); requests
        with the same stops and `max_gen_toks` share one call. Other generation kwargs are ignored (greedy).
        """
        from ..generate import Generator
        from ..sampling import SamplingParams

        eot_text = self.tok_decode([self.eot_token_id])
        groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
        prompts: list[list[int]] = []
        for i, req in enumerate(requests):
            context, gen_kwargs = req.args
            gen_kwargs = gen_kwargs or {}
            until = gen_kwargs.get("until") or []
            until = [until] if isinstance(until, str) else list(until)
            stop = tuple(s for s in until + ([eot_text] if eot_text not in until else []) if s)
            max_new = int(gen_kwargs.get("max_gen_toks", self.max_gen_toks))
            prompts.append(self.tok_encode(context)[-(self.max_length - max_new) :] or [self.eot_token_id])
            groups.setdefault((stop, max_new), []).append(i)
        generator = Generator(self.model, self.tokenizer, max_batch_size=self.batch_size)
        out: list[str] = [""] * len(requests)
        for (stop, max_new), members in groups.items():
            params = SamplingParams(max_new_tokens=max_new, stop=stop, stop_token_ids=(self.eot_token_id,))
            results = generator.generate([prompts[i] for i in members], params, progress=not disable_tqdm)
            for i, result in zip(members, results, strict=True):
                out[i] = result.text
        for req, text in zip(requests, out, strict=True):
            self.cache_hook.add_partial("generate_until", (req.args[0], req.args[1]), text)
        return out


# --- offline task definitions ------------------------------------------------------------------------------
def offline_kobest_tasks(data_dir: str | Path, out_dir: str | Path) -> Path:
    """Copy lm-eval's own kobest task files into `out_dir` with `dataset_path` set to the local `data_dir`.

    The task names stay `kobest_*`, so `--include_path out_dir` (or `TaskManager(include_path=out_dir)`) runs
    lm-eval's unmodified task definitions on the local data, offline.
    """
    import lm_eval.tasks

    data_dir = Path(data_dir).resolve()
    if not (data_dir / "copa" / "test.jsonl").is_file():
        raise UserError(f"{data_dir}: not a KOBEST folder in the skt/kobest_v1 layout (copa/test.jsonl is missing)")
    src = Path(lm_eval.tasks.__file__).parent / "kobest"
    if not src.is_dir():
        raise UserError(f"this lm-eval ({src.parent}) has no kobest tasks; install lm-eval==0.4.13")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.suffix == ".yaml":
            text = re.sub(r"(?m)^dataset_path:.*$", f"dataset_path: {data_dir}", f.read_text(encoding="utf-8"))
            (out / f.name).write_text(text, encoding="utf-8")
        elif f.suffix == ".py":
            shutil.copy(f, out / f.name)
    return out


def main(argv: list[str] | None = None) -> None:
    """lm-eval's command line with `polyglot-ko` registered (`python -m polyglot_ko.eval.lm_eval_adapter ...`)."""
    from lm_eval.__main__ import cli_evaluate

    if argv is not None:
        sys.argv = [sys.argv[0]] + list(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cli_evaluate()


if __name__ == "__main__":
    main()
