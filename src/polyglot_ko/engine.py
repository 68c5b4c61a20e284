"""The continuous-batching decode engine: sequences join a running batch at the next step and leave when done.

`DecodeEngine` runs any number of sequences on one model: a sequence waits in a queue, joins the running
batch at the next step (its prompt is prefilled, left-padded, then its key/value rows are copied into the
running cache, right-aligned), gets one token per step, and leaves the batch when it finishes, at which
point the cache is compacted. `generate.Generator` and the HTTP server (`serve/`) share it, so a batch given
to `generate` and concurrent HTTP requests decode the same way.

Costs per decode step stay flat in the sequence length: the KV cache is allocated once per batch change
with room for every running sequence's remaining tokens (the model's `KVCache` is written in place), logits
are computed for the last position only (`num_logits_to_keep=1`), the repetition penalty and n-gram ban
update incrementally (`sampling.py`), and stop strings are searched in a window as long as the longest stop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .constants import PAD_ID
from .errors import UserError
from .model import KVCache
from .sampling import SamplingParams, SequenceSampler, token_logprobs


# --- one sequence ----------------------------------------------------------------------------------------
@dataclass
class GenerationResult:
    """What one prompt produced."""

    text: str
    """Generated text (without the prompt, the stop string or the stop token)."""
    token_ids: list[int]
    """Generated ids, without a stop token (with the tokens of a stop string, which the text leaves out)."""
    prompt_token_ids: list[int]
    """The prompt as the model saw it."""
    finish_reason: str
    """"stop" (stop token or string), "length" (max_new_tokens or the context), "cancelled" or "error"."""
    logprobs: list[dict] | None = None
    """Per generated token: {"token_id", "logprob", "top": [(id, logprob), ...]} when requested."""


class DecodingSequence:
    """One prompt being decoded: sampler state, incremental text, stop-string matching and its listener."""

    def __init__(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        sampler: SequenceSampler,
        decoder,
        max_new_tokens: int,
        listener: Callable[[DecodingSequence, str], None] | None = None,
        tag: Any = None,
    ):
        self.prompt_ids = prompt_ids
        self.params = params
        self.sampler = sampler
        self.decoder = decoder
        self.max_new_tokens = max_new_tokens
        self.listener = listener
        self.tag = tag
        self.out_ids: list[int] = []
        self.logprobs: list[dict] | None = [] if params.logprobs is not None else None
        self.text = ""
        self.emitted = 0
        self.finish_reason: str | None = None
        self.error: BaseException | None = None
        """Why the engine failed this sequence (finish_reason "error"): the exception of the failed step."""
        self.cancelled = False
        self._max_stop = max((len(s) for s in params.stop), default=0)
        self.created = time.perf_counter()
        self.first_token_time: float | None = None
        self.want_prompt_logprobs = False
        """Also score the prompt (echo + logprobs): `prompt_logprobs[k]` = log p(prompt[k+1] | prompt[:k+1])."""
        self.prompt_logprobs: list[float] | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def remaining(self) -> int:
        return self.max_new_tokens - len(self.out_ids)

    def cancel(self) -> None:
        """Ask the engine to drop this sequence at its next step (safe from any thread)."""
        self.cancelled = True

    def fail(self, error: BaseException) -> None:
        """End this sequence because the step it was in failed; its partial text is kept, nothing more is sent."""
        if not self.finished:
            self.error = error
            self.finish_reason = "error"

    def result(self) -> GenerationResult:
        return GenerationResult(
            self.text, list(self.out_ids), list(self.prompt_ids), self.finish_reason or "", self.logprobs
        )

    # called by the engine
    def add_token(self, token: int, logits_row: torch.Tensor | None) -> None:
        if self.first_token_time is None:
            self.first_token_time = time.perf_counter()
        self.sampler.observe(token)
        if token in self.params.stop_token_ids:
            self.finish("stop")
            return
        self.out_ids.append(token)
        if self.logprobs is not None and logits_row is not None:
            lp, top = token_logprobs(logits_row, token, self.params.logprobs)
            self.logprobs.append({"token_id": token, "logprob": lp, "top": top})
        self._push_text(self.decoder.add([token]), final=False)
        if not self.finished and len(self.out_ids) >= self.max_new_tokens:
            self.finish("length")

    def finish(self, reason: str) -> None:
        if self.finished:
            return
        self.finish_reason = reason
        if reason != "cancelled":
            self._push_text(self.decoder.flush(), final=True)

    def _emit(self, end: int) -> None:
        if end > self.emitted:
            chunk = self.text[self.emitted : end]
            self.emitted = end
            if self.listener is not None:
                self.listener(self, chunk)

    def _push_text(self, chunk: str, final: bool) -> None:
        before = len(self.text)
        self.text += chunk
        hold = 0
        if self.params.stop and (chunk or final):
            # A stop string can only end inside the new chunk: search from where the longest one could begin.
            start = max(0, before - self._max_stop + 1)
            hits = [i for i in (self.text.find(s, start) for s in self.params.stop) if i >= 0]
            if hits:
                cut = min(hits)
                self.text = self.text[:cut]
                self.finish_reason = "stop"
                self._emit(cut)
                return
            if not final:
                # Hold back a tail that could still grow into a stop string.
                for s in self.params.stop:
                    for k in range(min(len(s) - 1, len(self.text)), hold, -1):
                        if self.text.endswith(s[:k]):
                            hold = k
                            break
        self._emit(len(self.text) - hold)


def _check_batch_size(max_batch_size) -> None:
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise UserError(f"max_batch_size={max_batch_size!r} must be an integer >= 1", param="max_batch_size")


# --- the engine ------------------------------------------------------------------------------------------
class DecodeEngine:
    """Continuous batching on one model: `submit` sequences, call `step` until `has_work` is False.

    Not thread-safe: one thread owns it (the server's worker, or the caller of `Generator.generate`);
    other threads may only `DecodingSequence.cancel()`. The running batch is right-aligned in one `KVCache`
    (left padding masked out), which is rebuilt only when sequences join or leave.
    """

    def __init__(self, model, vocab_size: int, max_batch_size: int = 16):
        _check_batch_size(max_batch_size)
        self.model = model
        self.vocab_size = vocab_size
        self.max_batch_size = max_batch_size
        self.device = next(model.parameters()).device
        self.pending: deque[DecodingSequence] = deque()
        self.active: list[DecodingSequence] = []
        self.cache = None
        self.mask: torch.Tensor | None = None  # [B, capacity] long, 1 = real token
        self.pos: torch.Tensor | None = None  # [B] position id of each row's next input token
        self.last: torch.Tensor | None = None  # [B] each row's latest token, the next step's input
        self.padded = False  # some row has left padding: the mask must be passed
        self.admitting: list[DecodingSequence] = []  # taken from `pending`, not yet in `active`
        self.steps = 0
        self.failed_steps = 0

    @property
    def has_work(self) -> bool:
        return bool(self.pending or self.active)

    def submit(self, seq: DecodingSequence) -> None:
        self.pending.append(seq)

    @torch.inference_mode()
    def step(self) -> list[DecodingSequence]:
        """One decode step for the running batch, then admit waiting sequences; returns those that finished.

        Failure-safe: if anything in the step raises, every sequence of the running batch and of the admission
        is finished with `finish_reason == "error"` (`.error` holds the exception) and returned, the batch
        starts afresh and the engine stays usable; sequences still waiting are untouched.
        """
        finished: list[DecodingSequence] = []
        try:
            cancelled = [i for i, s in enumerate(self.active) if s.cancelled]
            if cancelled:
                for i in cancelled:
                    self.active[i].finish("cancelled")
                finished += self._drop(cancelled)
            if self.active:
                finished += self._decode()
            finished += self._admit()
        except Exception as e:
            finished += self._fail_batch(e)
        self.steps += 1
        return finished

    def _fail_batch(self, error: Exception) -> list[DecodingSequence]:
        self.failed_steps += 1
        failed = list(dict.fromkeys(self.active + self.admitting))  # the two can share sequences mid-admission
        for s in failed:
            s.fail(error)
        self.active, self.admitting = [], []
        self.cache = self.mask = self.pos = self.last = None
        self.padded = False
        return failed

    # -- internals --
    def _choose(self, seqs: list[DecodingSequence], logits: torch.Tensor) -> list[int]:
        if not any(s.sampler.needs_processing for s in seqs):
            return logits.argmax(-1).tolist()
        return [s.sampler.choose(logits[i]) for i, s in enumerate(seqs)]

    def _feed(self, seqs: list[DecodingSequence], logits: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """Choose and record each row's token; returns the tokens [B] and the rows that finished."""
        tokens = self._choose(seqs, logits)
        want_rows = any(s.logprobs is not None for s in seqs)
        done = []
        for i, (seq, tok) in enumerate(zip(seqs, tokens, strict=False)):
            seq.add_token(tok, logits[i] if want_rows else None)
            if seq.finished:
                done.append(i)
        return torch.tensor(tokens, dtype=torch.long, device=self.device), done

    def _decode(self) -> list[DecodingSequence]:
        cache = self.cache
        L = cache.length
        if L + 1 > self.mask.shape[1]:
            self.mask = torch.cat([self.mask, torch.zeros_like(self.mask)], 1)
        self.mask[:, L] = 1
        out = self.model(
            self.last[:, None],
            attention_mask=self.mask[:, : L + 1] if self.padded else None,
            position_ids=self.pos[:, None],
            past_key_values=cache,
            num_logits_to_keep=1,
        )
        self.pos += 1
        logits = out.logits[:, -1, : self.vocab_size].float()
        self.last, done = self._feed(self.active, logits)
        return self._drop(done) if done else []

    def _admit(self) -> list[DecodingSequence]:
        finished, new = [], self.admitting
        while self.pending and len(self.active) + len(new) < self.max_batch_size:
            seq = self.pending.popleft()
            if seq.cancelled:
                seq.finish("cancelled")
                finished.append(seq)
            elif seq.max_new_tokens <= 0:
                seq.finish("length")
                finished.append(seq)
            else:
                new.append(seq)
        if not new:
            return finished
        finished += self._prefill(new)
        self.admitting = []
        return finished

    def _prefill(self, new: list[DecodingSequence]) -> list[DecodingSequence]:
        """Run the prompts of `new` and merge them into the running batch; returns those that already finished."""
        finished = []
        B, P = len(new), max(len(s.prompt_ids) for s in new)
        ids = torch.full((B, P), PAD_ID, dtype=torch.long)
        mask = torch.zeros((B, P), dtype=torch.long)
        for i, s in enumerate(new):
            n = len(s.prompt_ids)
            ids[i, P - n :] = torch.tensor(s.prompt_ids, dtype=torch.long)
            mask[i, P - n :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        padded = bool((mask == 0).any())
        # Reserve the whole run up front when nothing else is running, so no cache copy ever follows.
        capacity = P + max(s.remaining for s in new) if not self.active else P
        cache = self.model.allocate_cache(B, capacity)
        scored = [i for i, s in enumerate(new) if s.want_prompt_logprobs]
        out = self.model(
            ids, attention_mask=mask if padded else None, past_key_values=cache, num_logits_to_keep=0 if scored else 1
        )
        for i in scored:
            s, n = new[i], len(new[i].prompt_ids)
            logp = torch.log_softmax(out.logits[i, P - n : P - 1, : self.vocab_size].float(), -1)
            targets = torch.tensor(s.prompt_ids[1:], device=self.device)
            s.prompt_logprobs = logp.gather(1, targets[:, None])[:, 0].tolist()
        logits = out.logits[:, -1, : self.vocab_size].float()
        pos = mask.sum(1)
        full_mask = torch.zeros((B, capacity), dtype=torch.long, device=self.device)
        full_mask[:, :P] = mask
        tokens, done = self._feed(new, logits)
        finished += [new[i] for i in done]
        keep = [i for i in range(B) if i not in set(done)]
        if not keep:
            return finished
        if not self.active:
            self.cache, self.mask, self.padded, self.pos, self.last = cache, full_mask, padded, pos, tokens
            self.active = new
            if done:
                self._drop(done)
        else:
            self._merge(cache, full_mask, pos, tokens, [new[i] for i in keep], keep)
        return finished

    def _extra(self, seqs: list[DecodingSequence]) -> int:
        return max((s.remaining for s in seqs), default=0) + 1

    def _drop(self, indices: list[int]) -> list[DecodingSequence]:
        gone = set(indices)
        finished = [self.active[i] for i in indices]
        keep = [i for i in range(len(self.active)) if i not in gone]
        if not keep:
            self.active, self.cache, self.mask, self.pos, self.last = [], None, None, None, None
            return finished
        self.active = [self.active[i] for i in keep]
        self.cache, self.mask = KVCache.compose([(self.cache, self.mask, keep)], self._extra(self.active))
        idx = torch.tensor(keep, device=self.device)
        self.pos, self.last = self.pos[idx], self.last[idx]
        self.padded = bool((self.mask[:, : self.cache.length] == 0).any())
        return finished

    def _merge(self, cache, mask, pos, last, seqs: list[DecodingSequence], rows: list[int]) -> None:
        keep_old = list(range(len(self.active)))
        everyone = self.active + seqs
        self.cache, self.mask = KVCache.compose(
            [(self.cache, self.mask, keep_old), (cache, mask, rows)], self._extra(everyone)
        )
        idx = torch.tensor(rows, device=self.device)
        self.pos = torch.cat([self.pos, pos[idx]])
        self.last = torch.cat([self.last, last[idx]])
        self.active = everyone
        self.padded = bool((self.mask[:, : self.cache.length] == 0).any())
