"""Log-likelihood of candidate continuations, fast: each question's context runs once, candidates packed after it.

A multiple-choice question is a context and N candidate continuations (token ids). The harness computes N full
forward passes over `context + candidate`. Here one row holds [context | candidate 1 | ... | candidate N] (each
candidate minus its last token) with a block attention mask: a candidate's tokens see the context and their own
earlier tokens, and their positions continue from the context, so each candidate is computed over exactly the
sequence of the plain computation while the context runs once. (The first design selected a KV cache of the
context per candidate; copying those keys and values cost a quarter of the run time on CPU, so candidates now
share the context's keys in place.) Rows are sorted by length, longest first so memory peaks at once, batched
under a token budget, and left-padded.

Semantics equal lm-evaluation-harness `_loglikelihood_tokens` (the polyglot branch and 0.4 alike):
input = (context + continuation)[-(max_length + 1):][:-1] (left truncation to the model's window),
score = sum of log-softmax (over all output rows) at the continuation tokens, is_greedy = every continuation
token is the argmax. With truncation, candidates of different lengths see different windows, so candidates are
grouped by window start and only a group shares its context: the numbers still equal the plain computation.

`score_plain` is that straightforward computation (one forward per candidate), kept as the reference the tests
compare against and as `--no-prefix-reuse`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from ..constants import PAD_ID

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
    """Units sorted longest first, chunked so that rows x padded row length stays within the budget."""

    def width(u: _Unit) -> int:
        return len(u.prefix) + sum(len(c) - 1 for _, c in u.candidates)

    batch: list[_Unit] = []
    for u in sorted(units, key=lambda u: (-width(u), u.question)):
        # Sorted by width, the first unit of a batch is its widest: the padded size is len(batch) x that width.
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * width(batch[0]) > max_batch_tokens):
            yield batch
            batch = []
        batch.append(u)
    if batch:
        yield batch


def _gather_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position log-probability of `targets` and whether each is the argmax. logits [R, T, V], targets [R, T]."""
    lp = torch.empty(targets.shape, dtype=torch.float32, device=logits.device)
    greedy = torch.empty(targets.shape, dtype=torch.bool, device=logits.device)
    R, T, V = logits.shape
    step = max(1, _LOGITS_BUDGET // max(1, T * V))
    for s in range(0, R, step):
        chunk = logits[s : s + step].float()
        t = targets[s : s + step]
        lp[s : s + step] = chunk.gather(-1, t[..., None])[..., 0] - chunk.logsumexp(-1)
        greedy[s : s + step] = chunk.argmax(-1) == t
    return lp, greedy


@torch.inference_mode()
def _score_batch(model, batch: list[_Unit], pad_id: int) -> list[tuple[int, int, float, bool]]:
    """One forward pass for a batch of units: each row is [left padding | prefix | cand 1 | cand 2 | ...].

    Candidate j's tokens (its continuation minus the last token) sit after the prefix with positions continuing
    from the prefix, and attend to the prefix and to their own earlier tokens only, so each candidate sees
    exactly the sequence prefix + candidate of the plain computation. The prefix runs once per row and nothing
    is copied (a KV cache selected per candidate would copy the prefix's keys and values N times).
    """
    device = model.embed_out.weight.device
    B = len(batch)
    P = max(len(u.prefix) for u in batch)
    T = max(sum(len(c) - 1 for _, c in u.candidates) for u in batch)
    S = P + T
    ids = torch.full((B, S), pad_id, dtype=torch.long)
    pos = torch.zeros((B, S), dtype=torch.long)
    real = torch.zeros((B, S), dtype=torch.bool)
    block = torch.full((B, S), -2, dtype=torch.long)  # -1 prefix, j candidate j, -2 padding
    tgt = torch.zeros((B, T), dtype=torch.long)
    spans = []  # (row, candidate index, continuation, offset of its suffix in [0, T))
    for b, u in enumerate(batch):
        n = len(u.prefix)
        ids[b, P - n : P] = torch.tensor(u.prefix)
        pos[b, P - n : P] = torch.arange(n)
        real[b, P - n : P] = True
        block[b, P - n : P] = -1
        off = 0
        for j, (ci, cont) in enumerate(u.candidates):
            k = len(cont) - 1
            if k:
                ids[b, P + off : P + off + k] = torch.tensor(cont[:-1])
                tgt[b, off : off + k] = torch.tensor(cont[1:])
                pos[b, P + off : P + off + k] = torch.arange(n, n + k)
                real[b, P + off : P + off + k] = True
                block[b, P + off : P + off + k] = j
            spans.append((b, ci, cont, off))
            off += k
    idx = torch.arange(S)
    causal = idx[None, :] <= idx[:, None]  # [S(q), S(k)]
    same = (block[:, None, :] == -1) | (block[:, None, :] == block[:, :, None])  # key is prefix or own block
    mask = causal[None] & real[:, None, :] & same
    mask |= torch.eye(S, dtype=torch.bool)[None]  # padding queries see themselves only: finite, ignored
    # Logits at positions P-1 .. S-1 only: the last context position and every candidate token.
    logits = model(
        ids.to(device), attention_mask=mask[:, None].to(device), position_ids=pos.to(device), num_logits_to_keep=T + 1
    ).logits  # [B, T+1, vocab]
    first = logits[:, 0].float()  # position P-1 predicts every candidate's first token
    first_lp = first - first.logsumexp(-1, keepdim=True)
    first_greedy = first.argmax(-1)
    if T:
        lp_rest, greedy_rest = _gather_logprobs(logits[:, 1:], tgt.to(device))
    results = []
    for b, ci, cont, off in spans:
        total = first_lp[b, cont[0]].item()
        greedy = bool(first_greedy[b].item() == cont[0])
        k = len(cont) - 1
        if k:
            total += lp_rest[b, off : off + k].sum().item()
            greedy = greedy and bool(greedy_rest[b, off : off + k].all().item())
        results.append((batch[b].question, ci, total, greedy))
    return results


def _max_length(model, max_length: int | None) -> int:
    return int(max_length or model.config.max_position_embeddings)


def score(
    model,
    questions: Sequence[Question],
    *,
    max_length: int | None = None,
    batch_size: int = 32,
    max_batch_tokens: int = 16384,
    pad_id: int = PAD_ID,
    progress: bool = True,
    desc: str = "scoring",
) -> list[list[tuple[float, bool]]]:
    """(log-likelihood, is_greedy) of every candidate of every question, with context reuse.

    max_length: the model's window (default: its max_position_embeddings). batch_size: questions per batch.
    max_batch_tokens: bound on rows x padded row length per batch (activations and the attention mask scale with it).
    """
    from tqdm.auto import tqdm

    L = _max_length(model, max_length)
    _check(questions, L)
    units = _units(questions, L)
    out: list[list[tuple[float, bool] | None]] = [[None] * len(q.continuations) for q in questions]
    bar = tqdm(
        total=sum(len(q.continuations) for q in questions), desc=desc, unit="cand", disable=not progress, leave=False
    )
    for batch in _batches(units, batch_size, max_batch_tokens):
        for qi, ci, ll, greedy in _score_batch(model, batch, pad_id):
            out[qi][ci] = (ll, greedy)
        bar.update(sum(len(u.candidates) for u in batch))
    bar.close()
    return out  # type: ignore[return-value]


@torch.inference_mode()
def score_plain(
    model,
    questions: Sequence[Question],
    *,
    max_length: int | None = None,
    progress: bool = False,
    desc: str = "scoring (plain)",
) -> list[list[tuple[float, bool]]]:
    """The straightforward computation: one unbatched forward pass over context+candidate per candidate."""
    from tqdm.auto import tqdm

    L = _max_length(model, max_length)
    _check(questions, L)
    device = model.embed_out.weight.device
    results = []
    for q in tqdm(questions, desc=desc, disable=not progress, leave=False):
        row = []
        for cont in q.continuations:
            inp = (q.context + cont)[-(L + 1) :][:-1]
            logits = model(torch.tensor([inp], device=device), num_logits_to_keep=len(cont)).logits[0].float()
            lp = logits.log_softmax(-1)
            tgt = torch.tensor(cont, device=device)
            row.append((lp.gather(-1, tgt[:, None]).sum().item(), bool((logits.argmax(-1) == tgt).all().item())))
        results.append(row)
    return results
