"""Rows for fine-tuning: examples packed into fixed-length rows without leakage, or one padded example per row.

`pack_examples(examples, row_length)` places each example, in input order, into the *first* row that still has
room for all of it (first-fit; a new row when none has). First-fit keeps rows nearly full (typically a few
percent padding, where greedy next-fit wastes the tail of every row it closes) and stays deterministic and close
to the input order; a segment tree over the rows' free space makes each placement O(log rows). Examples are
never split across rows.

Every row (a `Row`, all lists of `row_length`):
- `input_ids`, padded with `pad_id` (0, <pad>);
- `labels`: the examples' labels, -100 on padding and at every example's first token (so no token is ever
  predicted from the previous example: with the shifted loss, position s-1 would predict labels[s]);
- `position_ids`: 0, 1, ... restarting at every example (and on the padding);
- `document_ids`: the example's index within the row (0, 1, ...), -1 on padding;
- `seq_lens`: the examples' lengths in the row (then the padding length, if any): the `cu_seqlens` a varlen
  kernel needs; `example_indices`: which input examples the row holds.

`block_causal_mask(document_ids)` turns `document_ids` [B, T] into the boolean attention mask SDPA takes
([B, 1, T, T], True = may attend): a token sees the earlier tokens of its own example only; padding sees only
padding (so no row of the mask is empty and softmax stays finite).

`pad_examples(examples)` is the unpacked mode: one example per row, right-padded to the longest (or to
`row_length`), the same fields, so the same mask function and trainer code serve both modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..constants import PAD_ID
from .data import IGNORE_INDEX


@dataclass
class Row:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    document_ids: list[int]
    seq_lens: list[int]
    example_indices: list[int]


def _ids_labels(example) -> tuple[list[int], list[int]]:
    if isinstance(example, dict):
        return list(example["input_ids"]), list(example["labels"])
    return list(example.input_ids), list(example.labels)


def _build_row(members: list[int], examples: Sequence, row_length: int, pad_id: int) -> Row:
    row = Row([], [], [], [], [], list(members))
    for doc, i in enumerate(members):
        ids, labels = _ids_labels(examples[i])
        if len(ids) != len(labels):
            raise ValueError(f"example {i}: {len(ids)} input_ids but {len(labels)} labels")
        row.input_ids += ids
        row.labels += [IGNORE_INDEX] + labels[1:]
        row.position_ids += range(len(ids))
        row.document_ids += [doc] * len(ids)
        row.seq_lens.append(len(ids))
    pad = row_length - len(row.input_ids)
    if pad:
        row.input_ids += [pad_id] * pad
        row.labels += [IGNORE_INDEX] * pad
        row.position_ids += range(pad)
        row.document_ids += [-1] * pad
        row.seq_lens.append(pad)
    return row


class _FreeSpace:
    """Free space of rows 0..n-1 (all start at `capacity`); `first_fit(k)` is the lowest row with >= k free."""

    def __init__(self, n: int, capacity: int):
        self.size = 1
        while self.size < max(n, 1):
            self.size *= 2
        self.tree = [0] * (2 * self.size)
        for i in range(n):
            self.tree[self.size + i] = capacity
        for i in range(self.size - 1, 0, -1):
            self.tree[i] = max(self.tree[2 * i], self.tree[2 * i + 1])

    def first_fit(self, k: int) -> int:
        i = 1
        while i < self.size:
            i = 2 * i if self.tree[2 * i] >= k else 2 * i + 1
        return i - self.size

    def take(self, row: int, k: int) -> None:
        i = self.size + row
        self.tree[i] -= k
        while i > 1:
            i //= 2
            self.tree[i] = max(self.tree[2 * i], self.tree[2 * i + 1])


def pack_examples(examples: Sequence, row_length: int, pad_id: int = PAD_ID) -> list[Row]:
    """First-fit packing of `examples` (each an `Example` or a dict with input_ids and labels, none longer than
    `row_length`) into rows of exactly `row_length` tokens; see the module docstring for the fields."""
    if row_length < 1:
        raise ValueError(f"row_length must be positive, got {row_length}")
    space, rows = _FreeSpace(len(examples), row_length), []
    for i, example in enumerate(examples):
        n = len(_ids_labels(example)[0])
        if not 0 < n <= row_length:
            raise ValueError(f"example {i} has {n} tokens; packing needs 1..{row_length} (truncate when loading)")
        r = space.first_fit(n)
        space.take(r, n)
        if r == len(rows):
            rows.append([])
        rows[r].append(i)
    return [_build_row(members, examples, row_length, pad_id) for members in rows]


def pad_examples(examples: Sequence, row_length: int | None = None, pad_id: int = PAD_ID) -> list[Row]:
    """One example per row, right-padded to `row_length` (default: the longest example), labels -100 on
    padding: the unpacked mode, with the same fields as `pack_examples`."""
    lengths = [len(_ids_labels(e)[0]) for e in examples]
    length = row_length if row_length is not None else max(lengths, default=0)
    for i, n in enumerate(lengths):
        if not 0 < n <= length:
            raise ValueError(f"example {i} has {n} tokens; rows hold 1..{length}")
    return [_build_row([i], examples, length, pad_id) for i in range(len(examples))]


def rows_to_tensors(rows: Sequence[Row]) -> dict:
    """A batch: `input_ids`, `labels`, `position_ids`, `document_ids` as int64 tensors [B, T] and
    `attention_mask` = `block_causal_mask(document_ids)` [B, 1, T, T] (bool). All rows must have one length."""
    import torch

    if len({len(r.input_ids) for r in rows}) != 1:
        raise ValueError("rows of a batch must all have the same length")
    batch = {
        name: torch.tensor([getattr(r, name) for r in rows], dtype=torch.long)
        for name in ("input_ids", "labels", "position_ids", "document_ids")
    }
    batch["attention_mask"] = block_causal_mask(batch["document_ids"])
    return batch


def block_causal_mask(document_ids):
    """Bool [B, 1, T, T] from document ids [B, T] (or [T]): True where query i may attend key j, i.e.
    j <= i and both tokens belong to the same example (padding, id -1, attends to padding only)."""
    import torch

    doc = torch.as_tensor(document_ids)
    if doc.dim() == 1:
        doc = doc[None]
    t = doc.shape[-1]
    causal = torch.ones(t, t, dtype=torch.bool, device=doc.device).tril()
    return ((doc[:, :, None] == doc[:, None, :]) & causal)[:, None]
