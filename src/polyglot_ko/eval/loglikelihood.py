"""Log-likelihood of candidate continuations, fast: one shared context pass per question, candidates batched.

A multiple-choice question is a context and N candidate continuations (token ids). The harness-style
computation runs N full forward passes over `context + candidate`; here the context runs once, its KV cache
is copied to the N candidates (`KVCache.select`) and all candidates run as one padded batch over that cache.
Questions are sorted by length (longest first, so memory peaks at once) and batched, their contexts left-padded.

Semantics equal lm-evaluation-harness `_loglikelihood_tokens` (the polyglot branch and 0.4 alike):
input = (context + continuation)[-(max_length + 1):][:-1] (left truncation to the model's window),
score = sum of log-softmax (over all output rows) at the continuation tokens, is_greedy = every continuation
token is the argmax. With truncation, candidates of different lengths see different windows, so candidates
are grouped by window start and only a group shares its prefix: the numbers still equal the plain computation.

`score_plain` is that straightforward computation (one forward per candidate), kept as the reference the tests
compare against and as `--no-prefix-reuse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import torch

# log-softmax of [rows, positions, vocab] logits is done in chunks of at most this many float32 values,
# so a batch of 4-way questions does not hold several GB of logits at once.
_LOGITS_BUDGET = 48 * 1024 * 1024


@dataclass
class Question:
    """One context and its candidate continuations, as token ids (no special tokens added)."""

    context: list[int]
    """Token ids of the context (few-shot examples + the prompt); must not be empty."""
    continuations: list[list[int]]
    """Token ids of each candidate continuation; each non-empty and at most the model's window long."""


@dataclass
class _Unit:
    """Candidates of one question that share a window start, hence an identical prefix."""

    question: int
    prefix: list[int]
    candidates: list[tuple[int, list[int]]]  # (candidate index, continuation ids)


def _check(questions: Sequence[Question], max_length: int) -> None:
    for qi, q in enumerate(questions):
        if not q.context:
            raise ValueError(f"question {qi}: empty context (pass at least one token, e.g. <|endoftext|>)")
        for c in q.continuations:
            if not c:
                raise ValueError(f"question {qi}: empty continuation")
            if len(c) > max_length:
                raise ValueError(f"question {qi}: continuation of {len(c)} tokens exceeds the window {max_length}")


def _window_start(context_len: int, cont_len: int, max_length: int) -> int:
    """Index into context+continuation where the (left-truncated) model input begins."""
    return max(0, context_len + cont_len - (max_length + 1))


def _units(questions: Sequence[Question], max_length: int) -> list[_Unit]:
    units = []
    for qi, q in enumerate(questions):
        groups: dict[int, list[tuple[int, list[int]]]] = {}
        for ci, cont in enumerate(q.continuations):
            groups.setdefault(_window_start(len(q.context), len(cont), max_length), []).append((ci, cont))
        for start, cands in groups.items():
            units.append(_Unit(qi, q.context[start:], cands))
    return units


def _batches(units: list[_Unit], batch_size: int, max_batch_tokens: int) -> Iterable[list[_Unit]]:
    """Units sorted longest first, chunked so that (cached rows x padded length) stays within the budget."""
    order = sorted(units, key=lambda u: (-(len(u.prefix) + max(len(c) for _, c in u.candidates)), u.question))
    batch: list[_Unit] = []
    rows = 0
    width = 0
    for u in order:
        u_width = len(u.prefix) + max(len(c) for _, c in u.candidates)
        new_rows = rows + len(u.candidates)
        new_width = max(width, u_width)
        if batch and (len(batch) >= batch_size or new_rows * new_width > max_batch_tokens):
            yield batch
            batch, rows, new_rows, new_width = [], 0, len(u.candidates), u_width
        batch.append(u)
        rows, width = new_rows, new_width
    if batch:
        yield batch


def _gather_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position log-probability of `targets` and whether each is the argmax. logits [R, T, V], targets [R, T]."""
    lp = torch.empty(targets.shape, dtype=torch.float32, device=logits.device)
    greedy = torch.empty(targets.shape, dtype=torch.bool, device=logits.device)
    R, T, V = logits.shape
    step = max(1, _LOGITS_BUDGET // max(1, T * V))
    for s in range(0, R, step):
        chunk = logits[s:s + step].float()
        t = targets[s:s + step]
        lp[s:s + step] = chunk.gather(-1, t[..., None])[..., 0] - chunk.logsumexp(-1)
        greedy[s:s + step] = chunk.argmax(-1) == t
    return lp, greedy


@torch.inference_mode()
def _score_batch(model, batch: list[_Unit], pad_id: int) -> list[tuple[int, int, float, bool]]:
    device = model.embed_out.weight.device
    P = max(len(u.prefix) for u in batch)
    T = max(len(c) - 1 for u in batch for _, c in u.candidates)
    B = len(batch)
    ids = torch.full((B, P), pad_id, dtype=torch.long)
    mask = torch.zeros((B, P), dtype=torch.long)
    for b, u in enumerate(batch):
        ids[b, P - len(u.prefix):] = torch.tensor(u.prefix)
        mask[b, P - len(u.prefix):] = 1
    ids, mask = ids.to(device), mask.to(device)
    padded = bool((mask == 0).any())
    # Room for the candidates' tokens is reserved up front, so their pass never re-allocates the cache.
    cache = model.allocate_cache(B, P + max(T, 0))
    out = model(ids, attention_mask=mask if padded else None, past_key_values=cache, num_logits_to_keep=1)
    first = out.logits[:, 0].float()  # [B, V]: predicts every candidate's first token
    first_lp = first - first.logsumexp(-1, keepdim=True)
    first_greedy = first.argmax(-1)

    rows = [(b, ci, cont) for b, u in enumerate(batch) for ci, cont in u.candidates]
    results = []
    lp_rest = greedy_rest = None
    if T > 0:
        row_idx = torch.tensor([b for b, _, _ in rows], device=device)
        sel = out.past_key_values.select(row_idx)
        s_ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
        s_tgt = torch.zeros((len(rows), T), dtype=torch.long)
        s_mask = torch.zeros((len(rows), T), dtype=torch.long)
        for r, (_, _, cont) in enumerate(rows):
            n = len(cont) - 1
            if n:
                s_ids[r, :n] = torch.tensor(cont[:-1])
                s_tgt[r, :n] = torch.tensor(cont[1:])
                s_mask[r, :n] = 1
        s_ids, s_tgt, s_mask = s_ids.to(device), s_tgt.to(device), s_mask.to(device)
        full_mask = torch.cat([mask.index_select(0, row_idx), s_mask], dim=1)
        logits = model(s_ids, attention_mask=full_mask, past_key_values=sel).logits
        lp_rest, greedy_rest = _gather_logprobs(logits, s_tgt)
    for r, (b, ci, cont) in enumerate(rows):
        total = first_lp[b, cont[0]].item()
        greedy = bool(first_greedy[b].item() == cont[0])
        n = len(cont) - 1
        if n:
            total += lp_rest[r, :n].sum().item()
            greedy = greedy and bool(greedy_rest[r, :n].all().item())
        results.append((batch[b].question, ci, total, greedy))
    return results


def _max_length(model, max_length: Optional[int]) -> int:
    return int(max_length or model.config.max_position_embeddings)


def score(model, questions: Sequence[Question], *, max_length: Optional[int] = None, batch_size: int = 32,
          max_batch_tokens: int = 16384, pad_id: int = 0, progress: bool = True,
          desc: str = "scoring") -> list[list[tuple[float, bool]]]:
    """(log-likelihood, is_greedy) of every candidate of every question, with context reuse.

    max_length: the model's window (default: its max_position_embeddings). batch_size: questions per batch.
    max_batch_tokens: bound on candidate rows x padded length per batch (the KV-cache copies dominate memory).
    """
    from tqdm.auto import tqdm

    L = _max_length(model, max_length)
    _check(questions, L)
    units = _units(questions, L)
    out: list[list[Optional[tuple[float, bool]]]] = [[None] * len(q.continuations) for q in questions]
    bar = tqdm(total=sum(len(q.continuations) for q in questions), desc=desc, unit="cand", disable=not progress,
               leave=False)
    for batch in _batches(units, batch_size, max_batch_tokens):
        for qi, ci, ll, greedy in _score_batch(model, batch, pad_id):
            out[qi][ci] = (ll, greedy)
        bar.update(sum(len(u.candidates) for u in batch))
    bar.close()
    return out  # type: ignore[return-value]


@torch.inference_mode()
def score_plain(model, questions: Sequence[Question], *, max_length: Optional[int] = None, progress: bool = False,
                desc: str = "scoring (plain)") -> list[list[tuple[float, bool]]]:
    """The straightforward computation: one unbatched forward pass over context+candidate per candidate."""
    from tqdm.auto import tqdm

    L = _max_length(model, max_length)
    _check(questions, L)
    device = model.embed_out.weight.device
    results = []
    for q in tqdm(questions, desc=desc, disable=not progress, leave=False):
        row = []
        for cont in q.continuations:
            inp = (q.context + cont)[-(L + 1):][:-1]
            logits = model(torch.tensor([inp], device=device), num_logits_to_keep=len(cont)).logits[0].float()
            lp = logits.log_softmax(-1)
            tgt = torch.tensor(cont, device=device)
            row.append((lp.gather(-1, tgt[:, None]).sum().item(), bool((logits.argmax(-1) == tgt).all().item())))
        results.append(row)
    return results
