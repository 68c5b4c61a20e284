"""Packing without leakage: every token once, positions restart, no label predicted across examples, and a mask
that makes SDPA on a packed row give each example exactly what it gets alone."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from polyglot_ko.finetune.data import Example, load_examples
from polyglot_ko.finetune.packing import block_causal_mask, pack_examples, pad_examples, rows_to_tensors


def random_examples(n: int, seed: int, longest: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = rng.randint(1, longest)
        ids = [rng.randint(4, 29999) for _ in range(length)]
        prompt = rng.randint(0, length - 1)
        labels = [-100] * prompt + ids[prompt:]
        labels[0] = -100
        out.append(Example(ids, labels, f"random:{i}"))
    return out


def segments(row):
    """(example index, start, length) of each example in a row, read off document_ids."""
    out, start = [], 0
    for doc, (example, length) in enumerate(zip(row.example_indices, row.seq_lens, strict=False)):
        assert row.document_ids[start : start + length] == [doc] * length
        out.append((example, start, length))
        start += length
    return out


@pytest.mark.parametrize("seed, longest, row_length", [(0, 40, 64), (1, 64, 64), (2, 7, 16), (3, 120, 128)])
def test_every_token_exactly_once_positions_restart_labels_never_leak(seed, longest, row_length):
    examples = random_examples(300, seed, longest)
    rows = pack_examples(examples, row_length)
    seen = []
    for row in rows:
        assert {len(row.input_ids), len(row.labels), len(row.position_ids), len(row.document_ids)} == {row_length}
        assert sum(row.seq_lens) == row_length
        for example, start, length in segments(row):
            ex = examples[example]
            assert row.input_ids[start : start + length] == ex.input_ids
            assert row.position_ids[start : start + length] == list(range(length))
            assert row.labels[start] == -100  # never a target of the previous example's last position
            assert row.labels[start + 1 : start + length] == ex.labels[1:]
            seen.append(example)
        used = sum(len(examples[i]) for i in row.example_indices)
        assert row.document_ids[used:] == [-1] * (row_length - used)
        assert row.labels[used:] == [-100] * (row_length - used) and row.input_ids[used:] == [0] * (row_length - used)
    assert sorted(seen) == list(range(len(examples)))
    # Shifted loss: the target of the last position of an example (the next example's first token) is ignored.
    batch = rows_to_tensors(rows)
    targets, docs = batch["labels"][:, 1:], batch["document_ids"]
    crossing = docs[:, 1:] != docs[:, :-1]
    assert crossing.any() and (targets[crossing] == -100).all()
    # First-fit fills rows: padding is a small share of the tokens.
    total = sum(len(e) for e in examples)
    assert total / (len(rows) * row_length) > 0.9


def test_first_fit_by_hand():
    lengths = [6, 6, 3, 4, 1, 10]
    examples = [Example(list(range(4, 4 + n)), [-100] * n, str(i)) for i, n in enumerate(lengths)]
    rows = pack_examples(examples, 10)
    assert [r.example_indices for r in rows] == [[0, 2, 4], [1, 3], [5]]
    assert rows[0].seq_lens == [6, 3, 1] and rows[1].seq_lens == [6, 4] and rows[2].seq_lens == [10]
    assert rows[0].position_ids == [0, 1, 2, 3, 4, 5, 0, 1, 2, 0]
    with pytest.raises(ValueError, match="11 tokens"):
        pack_examples([Example([5] * 11, [-100] * 11, "x")], 10)


def test_block_causal_mask_by_hand():
    mask = block_causal_mask(torch.tensor([[0, 0, 1, 1, 1, -1]]))
    assert mask.shape == (1, 1, 6, 6) and mask.dtype == torch.bool
    want = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [0, 0, 1, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 0],
            [0, 0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask[0, 0], want)


def test_mask_blocks_attention_across_examples_in_sdpa():
    torch.manual_seed(0)
    examples = random_examples(12, seed=5, longest=20)
    rows = pack_examples(examples, 48)
    batch = rows_to_tensors(rows)
    b, t, heads, d = len(rows), 48, 2, 8
    q, k, v = (torch.randn(b, heads, t, d, dtype=torch.float64) for _ in range(3))
    packed = F.scaled_dot_product_attention(q, k, v, attn_mask=batch["attention_mask"])
    assert torch.isfinite(packed).all()  # padding rows attend to padding, never to nothing
    for r, row in enumerate(rows):
        for _, start, length in segments(row):
            s = slice(start, start + length)
            alone = F.scaled_dot_product_attention(
                q[r : r + 1, :, s], k[r : r + 1, :, s], v[r : r + 1, :, s], is_causal=True
            )
            torch.testing.assert_close(packed[r : r + 1, :, s], alone, rtol=0, atol=1e-12)


def test_unpacked_rows_are_right_padded(tok, tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text(
        '{"instruction": "안녕?", "output": "안녕하세요."}\n'
        '{"instruction": "한국에서 가장 높은 산은?", "output": "한라산이에요. 높이는 1,947 m입니다."}\n',
        encoding="utf-8",
    )
    examples, _ = load_examples(path, tok)
    rows = pad_examples(examples)
    longest = max(len(e) for e in examples)
    assert [r.example_indices for r in rows] == [[0], [1]]
    for row, ex in zip(rows, examples, strict=True):
        n = len(ex)
        assert len(row.input_ids) == longest and row.input_ids[:n] == ex.input_ids
        assert row.labels == ex.labels + [-100] * (longest - n)
        assert row.input_ids[n:] == [tok.pad_id] * (longest - n)
        assert row.position_ids[:n] == list(range(n)) and row.document_ids == [0] * n + [-1] * (longest - n)
    mask = rows_to_tensors(rows)["attention_mask"]
    n0 = len(examples[0])
    assert torch.equal(mask[0, 0, :n0, :n0], torch.ones(n0, n0, dtype=torch.bool).tril())
    assert not mask[0, 0, :n0, n0:].any() and not mask[0, 0, n0:, :n0].any()
    assert len(pad_examples(examples, row_length=64)[0].input_ids) == 64
