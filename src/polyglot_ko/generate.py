"""Text generation: a `Generator` (model + tokenizer) with batched and streaming `generate`, on a continuous-batching
engine.

    gen = polyglot_ko.load_generator("EleutherAI/polyglot-ko-1.3b")        # or a local folder
    gen.generate("한국어 문장", max_new_tokens=32).text
    for chunk in gen.stream("옛날 옛적에", temperature=0.8, top_p=0.95): print(chunk, end="")

Decoding runs on `engine.DecodeEngine` (continuous batching), which the HTTP server shares.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from collections.abc import Sequence as Seq
from pathlib import Path
from typing import Any

import torch

from .chat_template import CHAT_TEMPLATE
from .constants import ENDOFTEXT_ID
from .engine import DecodeEngine, DecodingSequence, GenerationResult, _check_batch_size
from .errors import UserError
from .sampling import SamplingParams, SequenceSampler


# --- tokenizer access ------------------------------------------------------------------------------------
def load_tokenizer_for(folder: str | Path):
    """The project's tokenizer (`PolyglotTokenizer`) for a model folder, a tokenizer folder or a hub id."""
    from .tokenizer import load_tokenizer

    return load_tokenizer(folder)


def _adapt_tokenizer(tokenizer):
    """Our `PolyglotTokenizer` as is; a bare `tokenizers.Tokenizer` wrapped in one (which checks its special tokens)."""
    from tokenizers import Tokenizer

    from .tokenizer import PolyglotTokenizer

    return PolyglotTokenizer(tokenizer) if isinstance(tokenizer, Tokenizer) else tokenizer


# --- the user-facing generator ---------------------------------------------------------------------------
class Generator:
    """A model and its tokenizer, ready to generate. Thread-safe (calls take turns on the model).

    `model`: a `GPTNeoXForCausalLM` (e.g. from `load_model`, or straight out of training); `tokenizer`: a
    `PolyglotTokenizer` or a `tokenizers.Tokenizer`. Decoding defaults come from `SamplingParams` and can be
    overridden per call with keyword arguments of the same names.
    """

    def __init__(self, model, tokenizer, max_batch_size: int = 16, defaults: SamplingParams | None = None):
        _check_batch_size(max_batch_size)
        self.model = model.eval()
        self.tokenizer = _adapt_tokenizer(tokenizer)
        self.max_batch_size = max_batch_size
        self.defaults = defaults or SamplingParams()
        self.vocab_size = int(getattr(self.tokenizer, "vocab_size", model.config.tokenizer_vocab_size))
        self.vocab_size = min(self.vocab_size, model.config.vocab_size)
        self.max_context = model.config.max_position_embeddings
        self.endoftext_id = int(getattr(self.tokenizer, "endoftext_id", ENDOFTEXT_ID))
        self.chat_template = CHAT_TEMPLATE
        """The chat template chat prompts are rendered with (load_generator reads the model folder's)."""
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def params(self, params: SamplingParams | None = None, **overrides) -> SamplingParams:
        base = params or self.defaults
        unknown = set(overrides) - set(SamplingParams.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown decoding option(s): {', '.join(sorted(unknown))}")
        return base.replace(**overrides).validate(self.vocab_size) if overrides else base.validate(self.vocab_size)

    def encode_prompt(self, prompt: str | Seq[int]) -> list[int]:
        """Token ids of a prompt (text or ids). An empty prompt starts a new document (<|endoftext|>)."""
        if isinstance(prompt, str):
            ids = list(self.tokenizer.encode(prompt))
        else:
            ids = [int(t) for t in prompt]
            if any(not 0 <= t < self.vocab_size for t in ids):
                raise UserError(f"prompt token ids must be in [0, {self.vocab_size}); got {ids[:8]}...", param="prompt")
        return ids or [self.endoftext_id]

    def new_sequence(
        self,
        prompt: str | Seq[int],
        params: SamplingParams,
        listener: Callable[[DecodingSequence, str], None] | None = None,
        tag: Any = None,
        prompt_ids: list[int] | None = None,
    ) -> DecodingSequence:
        ids = prompt_ids if prompt_ids is not None else self.encode_prompt(prompt)
        if len(ids) >= self.max_context:
            raise UserError(
                f"prompt is {len(ids)} tokens, the model's context is {self.max_context}; shorten it", param="prompt"
            )
        max_new = min(params.max_new_tokens, self.max_context - len(ids))
        sampler = SequenceSampler(params, ids, self.vocab_size, device=self.device)
        return DecodingSequence(
            ids, params, sampler, self.tokenizer.incremental_decoder(), max_new, listener=listener, tag=tag
        )

    def new_engine(self) -> DecodeEngine:
        return DecodeEngine(self.model, self.vocab_size, self.max_batch_size)

    def generate(
        self,
        prompts: str | Seq[int] | Seq[str] | Seq[Seq[int]],
        params: SamplingParams | None = None,
        progress: bool = False,
        **overrides,
    ) -> GenerationResult | list[GenerationResult]:
        """Generate for one prompt (returns a `GenerationResult`) or a list of prompts (returns a list).

        Prompts are text or token-id lists. A list longer than `max_batch_size` is decoded with continuous
        batching (a prompt takes the place of one that finished). `progress` shows a tqdm bar of prompts.
        """
        single = isinstance(prompts, str) or (len(prompts) > 0 and isinstance(prompts[0], int))
        batch = [prompts] if single else list(prompts)
        p = self.params(params, **overrides)
        seqs = [
            self.new_sequence(x, p.replace(seed=p.seed + i) if (p.seed is not None and i) else p)
            for i, x in enumerate(batch)
        ]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(seqs), desc="generate", unit="prompt")
        with self._lock:
            engine = self.new_engine()
            for s in seqs:
                engine.submit(s)
            while engine.has_work:
                done = engine.step()
                if bar is not None and done:
                    bar.update(len(done))
        if bar is not None:
            bar.close()
        _raise_first_error(seqs)
        results = [s.result() for s in seqs]
        return results[0] if single else results

    def stream(self, prompt: str | Seq[int], params: SamplingParams | None = None, **overrides) -> TextStream:
        """Iterate over text chunks as they are decoded; chunks join to exactly `.result().text`."""
        return TextStream(self, prompt, self.params(params, **overrides))

    def __repr__(self) -> str:
        return (
            f"Generator({self.model.config.name}, {self.model.num_parameters():,} parameters, "
            f"{str(next(self.model.parameters()).dtype).removeprefix('torch.')}, {self.device})"
        )


def _raise_first_error(seqs: list[DecodingSequence]) -> None:
    for s in seqs:
        if s.error is not None:
            raise RuntimeError(f"generation failed: {type(s.error).__name__}: {s.error}") from s.error


class TextStream:
    """Iterator of text chunks for one prompt; after exhaustion, `.result()` gives the `GenerationResult`."""

    def __init__(self, generator: Generator, prompt, params: SamplingParams):
        self._chunks: deque[str] = deque()
        self.sequence = generator.new_sequence(prompt, params, listener=lambda _s, c: self._chunks.append(c))
        self._generator = generator
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a TextStream can be iterated once")
        self._started = True
        with self._generator._lock:
            engine = self._generator.new_engine()
            engine.submit(self.sequence)
            try:
                while engine.has_work:
                    engine.step()
                    while self._chunks:
                        yield self._chunks.popleft()
            finally:
                if not self.sequence.finished:
                    self.sequence.finish("cancelled")
        while self._chunks:
            yield self._chunks.popleft()
        _raise_first_error([self.sequence])

    def result(self) -> GenerationResult:
        return self.sequence.result()


def load_generator(
    path_or_hub_id: str | Path,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    tokenizer: str | Path | Any | None = None,
    max_batch_size: int = 16,
    quantize: str | None = None,
    revision: str | None = None,
    cpu_fast_linear: bool = True,
    adapter: str | Path | None = None,
) -> Generator:
    """Load a model folder or hub id (and the tokenizer saved with it) into a `Generator`.

    `dtype`: float32, bfloat16 or float16. `device`: "cpu", "cuda", ... `tokenizer`: another tokenizer
    folder or object. `quantize="int8"`: int8 linears for CPU decoding (see `quantize.py`).
    `cpu_fast_linear`: on CPU float32, route batched-decode linears through `W @ x^T`
    (`quantize.prepare_for_cpu_decoding`; same results, faster for 2-32 rows).
    """
    from .checkpoint import load_model
    from .hub import resolve_folder

    folder = resolve_folder(
        path_or_hub_id, revision=revision, what="model", allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]
    )
    model = load_model(folder, dtype=dtype, device=device, adapter=adapter)  # adapter: a LoRA folder, merged
    if tokenizer is None or isinstance(tokenizer, (str, Path)):
        tok = load_tokenizer_for(resolve_folder(tokenizer, what="tokenizer") if tokenizer is not None else folder)
    else:
        tok = tokenizer
    if quantize:
        from .quantize import quantize_model

        model = quantize_model(model, quantize)
    elif (
        cpu_fast_linear
        and model.embed_out.weight.device.type == "cpu"
        and model.embed_out.weight.dtype == torch.float32
    ):
        from .quantize import prepare_for_cpu_decoding

        prepare_for_cpu_decoding(model)
    gen = Generator(model, tok, max_batch_size=max_batch_size)
    from .chat_template import template_from_folder

    gen.chat_template = template_from_folder(folder)
    return gen


__all__ = [
    "Generator",
    "GenerationResult",
    "SamplingParams",
    "TextStream",
    "DecodeEngine",
    "DecodingSequence",
    "load_generator",
    "load_tokenizer_for",
]
