"""The packed mixture loader: exact packing, seeded order, and the same batches for any processes/workers split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polyglot_ko.data.indexed import IndexedDataset, write_indexed_dataset
from polyglot_ko.errors import UserError
from polyglot_ko.train.data import MixtureDataset, TokenSource, TrainLoader, resolve_data_path


def _global_batches(ds, start, steps, world, micro, workers=0, global_batch=8):
    """Concatenate every rank's micro-batches per step, in rank order: the global batch of each step."""
    per_rank = []
    for rank in range(world):
        loader = TrainLoader(ds, global_batch, micro, rank, world, start, steps, workers)
        per_rank.append([torch.cat(loader.next_step()) for _ in range(steps)])
    return [torch.cat([per_rank[r][s] for r in range(world)]) for s in range(steps)]


def test_packing_covers_the_stream_exactly(train_data_dir):
    spec = resolve_data_path(str(train_data_dir))
    src = TokenSource(spec.train_prefixes, seq_len=32, seed=0, index=0)
    flat = IndexedDataset(spec.train_prefixes[0]).tokens
    assert src.num_samples == (len(flat) - 1) // 32
    perm = src.permutation(0)
    assert sorted(perm.tolist()) == list(range(src.num_samples))  # each sample exactly once per epoch
    for j in (0, 5, src.num_samples - 1):
        k = int(perm[j])
        assert src.sample(j).tolist() == flat[k * 32 : k * 32 + 33].tolist()
    # the next epoch is a different order of the same samples
    assert not np.array_equal(src.permutation(1), perm)
    assert src.sample(src.num_samples).tolist() == flat[int(src.permutation(1)[0]) * 32 :][:33].tolist()


def test_same_batches_for_any_world_size_workers_and_resume_point(train_data_dir, second_data_dir):
    sources = [
        TokenSource(resolve_data_path(str(p)).train_prefixes, 16, 7, i)
        for i, p in enumerate((train_data_dir, second_data_dir))
    ]
    ds = MixtureDataset(sources, [0.7, 0.3], seed=7)
    ref = _global_batches(ds, 0, 6, world=1, micro=4)
    assert len(ref) == 6 and all(b.shape == (8, 17) for b in ref)
    for a, b in zip(_global_batches(ds, 0, 6, world=2, micro=2), ref, strict=False):
        assert torch.equal(a, b)
    for a, b in zip(_global_batches(ds, 0, 6, world=4, micro=1, workers=2), ref, strict=False):
        assert torch.equal(a, b)
    # Resuming after 2 steps (16 samples consumed) with another split continues exactly.
    for a, b in zip(_global_batches(ds, 16, 4, world=2, micro=4), ref[2:], strict=False):
        assert torch.equal(a, b)
    # Another seed gives another order.
    other = MixtureDataset([TokenSource(s.prefixes, 16, 8, s.index) for s in sources], [0.7, 0.3], seed=8)
    assert not torch.equal(_global_batches(other, 0, 1, 1, 4)[0], ref[0])


def test_mixture_weights_are_respected(train_data_dir, second_data_dir):
    sources = [
        TokenSource(resolve_data_path(str(p)).train_prefixes, 16, 0, i)
        for i, p in enumerate((train_data_dir, second_data_dir))
    ]
    ds = MixtureDataset(sources, [3, 1], seed=0)
    picks = np.array([ds.locate(g)[0] for g in range(4 * ds.block)])
    assert abs((picks == 1).mean() - 0.25) < 1e-3
    # Within each source the stream indices run 0, 1, 2, ... with no gap or repeat.
    for s in (0, 1):
        idx = [ds.locate(g)[1] for g in range(4 * ds.block) if picks[g] == s]
        assert idx == list(range(len(idx)))


def test_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        resolve_data_path(str(tmp_path / "nope"))
    write_indexed_dataset(tmp_path / "small", [[5, 6, 2]])
    with pytest.raises(UserError, match="fewer than one sequence"):
        TokenSource([tmp_path / "small"], 16, 0, 0)
    sources = [TokenSource([tmp_path / "small"], 1, 0, 0)]
    with pytest.raises(UserError, match="not divisible"):
        TrainLoader(MixtureDataset(sources, None, 0), 6, 2, 0, 2, 0, 1)
