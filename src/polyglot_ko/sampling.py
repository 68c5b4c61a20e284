"""Decoding settings and the per-sequence logits processing that turns one step's logits into one token.

`SamplingParams` holds every decoding option (greedy or sampled, temperature, top-k, top-p, repetition
penalty, no-repeat n-gram size, stops, seed). `SequenceSampler` applies them to one sequence, step after step,
with state that is updated incrementally: the repetition penalty keeps a boolean "seen" row over the
vocabulary and the n-gram ban keeps a dict from (n-1)-gram to banned next tokens, so the work per step does
not grow with the length of the sequence. The order of operations is transformers' (`generate`): repetition
penalty, no-repeat n-gram, then temperature, top-k, top-p, then sampling. Logits are cut to the tokenizer's
vocabulary first, so padding rows (ids >= 30003) can never be chosen.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .constants import ENDOFTEXT_ID
from .errors import UserError


@dataclass
class SamplingParams:
    """How to pick each new token, and when to stop."""

    max_new_tokens: int = 64
    """Most tokens to generate (a stop token does not count as generated text)."""
    temperature: float = 0.0
    """0 = greedy (argmax); > 0 divides the logits before sampling (lower = more conservative)."""
    top_k: int = 0
    """Sample only among the k most likely tokens (0 = no limit)."""
    top_p: float = 1.0
    """Nucleus sampling: the smallest set of tokens whose probability reaches top_p (1.0 = no limit)."""
    repetition_penalty: float = 1.0
    """> 1 discourages every token already in the prompt or output (CTRL / transformers style); 1.0 = off."""
    no_repeat_ngram_size: int = 0
    """Never produce an n-gram of this size that already occurs in the prompt or output (0 = off)."""
    stop: tuple[str, ...] = ()
    """Stop strings, matched on the decoded text (also across token boundaries); excluded from the result."""
    stop_token_ids: tuple[int, ...] = (ENDOFTEXT_ID,)
    """Token ids that end generation; <|endoftext|> (2) by default, not the released configs' eos 0."""
    seed: int | None = None
    """Seed of this sequence's own random generator: same seed, same output, whatever else is batched."""
    logprobs: int | None = None
    """Return the chosen token's log-probability and this many top alternatives per step (None = off)."""

    def __post_init__(self):
        if isinstance(self.stop, str):
            self.stop = (self.stop,)
        self.stop = tuple(self.stop or ())
        self.stop_token_ids = tuple(int(t) for t in (self.stop_token_ids or ()))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def replace(self, **changes) -> SamplingParams:
        return dataclasses.replace(self, **changes)

    def validate(self, vocab_size: int) -> SamplingParams:
        """Raise `UserError` naming the bad option and its valid range."""

        def bad(name, value, rule):
            raise UserError(f"{name}={value!r}: {rule}", param=name)

        def finite(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                bad(name, value, "must be a finite number")
            return value

        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            bad("max_new_tokens", self.max_new_tokens, "must be an integer >= 0")
        if not finite("temperature") >= 0.0:
            bad("temperature", self.temperature, "must be >= 0 (0 = greedy)")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            bad("top_k", self.top_k, "must be an integer >= 0 (0 = off)")
        if not 0.0 < finite("top_p") <= 1.0:
            bad("top_p", self.top_p, "must be in (0, 1] (1 = off)")
        if not finite("repetition_penalty") > 0.0:
            bad("repetition_penalty", self.repetition_penalty, "must be > 0 (1 = off)")
        if not isinstance(self.no_repeat_ngram_size, int) or self.no_repeat_ngram_size < 0:
            bad("no_repeat_ngram_size", self.no_repeat_ngram_size, "must be an integer >= 0 (0 = off)")
        if any(not isinstance(s, str) or not s for s in self.stop):
            bad("stop", self.stop, "stop strings must be non-empty strings")
        if any(not 0 <= t < vocab_size for t in self.stop_token_ids):
            bad("stop_token_ids", self.stop_token_ids, f"ids must be in [0, {vocab_size})")
        if self.seed is not None and not (isinstance(self.seed, int) and 0 <= self.seed < 2**64):
            bad("seed", self.seed, "must be an integer in [0, 2**64)")
        if self.logprobs is not None and not (isinstance(self.logprobs, int) and 0 <= self.logprobs <= 20):
            bad("logprobs", self.logprobs, "must be an integer in [0, 20]")
        return self


def top_k_top_p_filter(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set everything outside the top-k / nucleus to -inf (1-D logits, already temperature-scaled)."""
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the tokens before it already reach top_p; the most likely token always stays.
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter_(0, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


class SequenceSampler:
    """One sequence's decoding state: chooses its next token from a row of logits."""

    def __init__(
        self, params: SamplingParams, prompt_ids: Sequence[int], vocab_size: int, device: torch.device | str = "cpu"
    ):
        self.params = params
        self.vocab_size = vocab_size
        self.generator: torch.Generator | None = None
        if not params.greedy:
            self.generator = torch.Generator(device=device)
            if params.seed is not None:
                self.generator.manual_seed(params.seed)
            else:
                self.generator.seed()
        self.seen: torch.Tensor | None = None
        if params.repetition_penalty != 1.0:
            self.seen = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            ids = [t for t in prompt_ids if t < vocab_size]
            if ids:
                self.seen[torch.tensor(ids, device=device)] = True
        n = params.no_repeat_ngram_size
        self.banned: dict[tuple[int, ...], set[int]] | None = None
        self.history: list[int] = []
        if n:
            self.banned = {}
            self.history = list(prompt_ids)
            for i in range(len(self.history) - n + 1):
                self._add_ngram(self.history[i : i + n])

    @property
    def needs_processing(self) -> bool:
        """False when plain argmax over the logits gives this sequence's token (the batched fast path)."""
        return not self.params.greedy or self.seen is not None or self.banned is not None

    def _add_ngram(self, gram: Sequence[int]) -> None:
        self.banned.setdefault(tuple(gram[:-1]), set()).add(gram[-1])

    def process(self, logits: torch.Tensor) -> torch.Tensor:
        """Repetition penalty and n-gram ban on a float32 row [vocab_size]; returns new logits."""
        if self.seen is not None:
            p = self.params.repetition_penalty
            logits = torch.where(self.seen, torch.where(logits < 0, logits * p, logits / p), logits)
        if self.banned is not None:
            n = self.params.no_repeat_ngram_size
            key = tuple(self.history[len(self.history) - n + 1 :]) if n > 1 else ()
            if len(key) == n - 1 and key in self.banned:
                banned = torch.tensor(sorted(self.banned[key]), device=logits.device)
                logits = logits.index_fill(0, banned, float("-inf"))
        return logits

    def choose(self, logits: torch.Tensor) -> int:
        """The next token for a float32 row of logits [vocab_size] (padding rows already cut off).

        Numerically safe for every legal setting: an extreme penalty can push logits to +-inf in float32 and a
        tiny temperature (1e-300) overflows any division, so sampling runs in float64 on logits shifted to a
        maximum of 0 (the best token keeps weight exp(0) = 1, so the probabilities can never be all zero or NaN).
        """
        processed = self.process(logits)
        if self.params.greedy:
            return int(torch.argmax(processed))
        z = torch.nan_to_num(processed.double(), nan=-math.inf, posinf=torch.finfo(torch.float64).max, neginf=-math.inf)
        best = z.max()
        if not torch.isfinite(best):  # every token banned or penalised to -inf: fall back to the model's choice
            return int(torch.argmax(logits))
        z = (z - best) / self.params.temperature
        z = top_k_top_p_filter(z, self.params.top_k, self.params.top_p)
        probs = torch.softmax(z, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generator))

    def observe(self, token: int) -> None:
        """Record the token that was chosen, in O(n) for the n-gram ban and O(1) for the penalty."""
        if self.seen is not None and token < self.vocab_size:
            self.seen[token] = True
        if self.banned is not None:
            self.history.append(token)
            n = self.params.no_repeat_ngram_size
            if len(self.history) >= n:
                self._add_ngram(self.history[-n:])


def token_logprobs(logits: torch.Tensor, token: int, top: int) -> tuple[float, list[tuple[int, float]]]:
    """log p(token) and the `top` most likely (id, logprob) under the model's raw distribution (1-D row)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    alternatives: list[tuple[int, float]] = []
    if top:
        values, ids = torch.topk(logp, top)
        alternatives = list(zip(ids.tolist(), values.tolist(), strict=False))
    return float(logp[token]), alternatives


__all__ = ["SamplingParams", "SequenceSampler", "top_k_top_p_filter", "token_logprobs"]
