"""Training data: packed sequences from indexed datasets, a seeded mixture, and a loader that resumes exactly.

Every sample is `seq_len + 1` consecutive tokens of a dataset's flat token stream (documents back to back, each
ending with <|endoftext|>), as in GPT-NeoX: sample i of a shard is tokens [i*L, i*L + L + 1), so neighbouring
samples share one token and nothing is dropped but the tail.

The order is a pure function of the *global sample index* g = 0, 1, 2, ...:
- a source (one data path: all shards of a prepared folder, or one .bin/.idx prefix) visits its samples in a
  seeded permutation, a fresh one per epoch, so a small source is repeated (up-sampled) without bias;
- several sources are interleaved in blocks of B samples holding a fixed number of samples of each source
  (largest-remainder rounding of weight x B), shuffled within the block by a seeded permutation. Sample g
  is then found in O(1) without replaying the history, so any position can be resumed.
Step s of training consumes global samples [c + s*G, c + (s+1)*G) (G = global batch, c = samples consumed when
the run resumed) and rank r of W takes a contiguous 1/W of them. The loader's state is just `samples_consumed`;
the batches are the same whatever the number of processes or DataLoader workers, only their split differs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..data.indexed import IndexedDataset, read_manifest, shard_prefixes
from ..data.indexed import exists as indexed_exists
from ..errors import UserError


# --- resolving --data paths --------------------------------------------------------------------------------
@dataclass
class DataSpec:
    """One `data.paths` entry, resolved."""

    path: str
    train_prefixes: list[Path]
    valid_prefixes: list[Path] = field(default_factory=list)
    tokenizer: dict | None = None
    """The manifest's tokenizer record (fingerprint, vocab_size, endoftext_id), None for a bare prefix."""


def resolve_data_path(path: str) -> DataSpec:
    p = Path(path)
    if p.is_dir() or p.name == "manifest.json":
        manifest = read_manifest(p)
        train = shard_prefixes(manifest, "train")
        if not train:
            raise UserError(
                f"data path {path}: its manifest.json lists no training shards; re-run `polyglot-ko prepare`"
            )
        return DataSpec(str(path), train, shard_prefixes(manifest, "valid"), manifest.get("tokenizer"))
    prefix = Path(str(path).removesuffix(".bin").removesuffix(".idx"))
    if indexed_exists(prefix):
        return DataSpec(str(path), [prefix])
    raise UserError(
        f"data path {path} does not exist (neither a folder with manifest.json nor a .bin/.idx prefix); "
        f"create it with `polyglot-ko prepare` or fix --data"
    )


def check_tokenizers(
    specs: Sequence[DataSpec], tokenizer_fingerprint: str | None, tokenizer_name: str | None
) -> dict | None:
    """All manifests must name the same tokenizer, and it must be the recipe's (when one is given)."""
    infos = [(s.path, s.tokenizer) for s in specs if s.tokenizer]
    for path, info in infos[1:]:
        if info.get("fingerprint") != infos[0][1].get("fingerprint"):
            raise UserError(
                f"data path {path} was tokenized with a different tokenizer than {infos[0][0]} "
                f"(fingerprints {str(info.get('fingerprint'))[:12]} vs "
                f"{str(infos[0][1].get('fingerprint'))[:12]}); prepare all data with one tokenizer"
            )
    if tokenizer_fingerprint is not None:
        for path, info in infos:
            if info.get("fingerprint") != tokenizer_fingerprint:
                raise UserError(
                    f"data path {path} was made with another tokenizer (fingerprint "
                    f"{str(info.get('fingerprint'))[:12]}...) than tokenizer {tokenizer_name} "
                    f"({tokenizer_fingerprint[:12]}...); re-run `polyglot-ko prepare` with this tokenizer "
                    f"or set tokenizer= to the one the data was made with"
                )
    return infos[0][1] if infos else None


# --- sources -------------------------------------------------------------------------------------------------
class TokenSource:
    """One mixture source: the packed samples of one or more indexed datasets, in seeded per-epoch orders."""

    def __init__(self, prefixes: Sequence[Path], seq_len: int, seed: int, index: int, name: str = ""):
        self.prefixes = [Path(p) for p in prefixes]
        self.seq_len = seq_len
        self.seed = seed
        self.index = index
        self.name = name or str(self.prefixes[0])
        self._datasets: list[IndexedDataset] | None = None
        counts = []
        self.num_tokens = 0
        for p in self.prefixes:
            ds = IndexedDataset(p)
            counts.append(max((ds.num_tokens - 1) // seq_len, 0))
            self.num_tokens += ds.num_tokens
        self.shard_samples = np.asarray(counts, dtype=np.int64)
        self.cum = np.concatenate([[0], np.cumsum(self.shard_samples)])
        self.num_samples = int(self.cum[-1])
        if self.num_samples == 0:
            raise UserError(
                f"data {self.name}: {self.num_tokens} tokens are fewer than one sequence of "
                f"data.seq_len + 1 = {seq_len + 1}; use more data or a smaller data.seq_len"
            )
        self._perm_cache: dict[int, np.ndarray] = {}

    @property
    def datasets(self) -> list[IndexedDataset]:
        # Opened lazily in each process (DataLoader workers get a pickled source without open memmaps).
        if self._datasets is None:
            self._datasets = [IndexedDataset(p) for p in self.prefixes]
        return self._datasets

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_datasets"] = None
        state["_perm_cache"] = {}
        return state

    def permutation(self, epoch: int) -> np.ndarray:
        perm = self._perm_cache.get(epoch)
        if perm is None:
            rng = np.random.Generator(np.random.PCG64([self.seed, self.index, epoch]))
            dtype = np.int32 if self.num_samples < 2**31 else np.int64
            perm = rng.permutation(self.num_samples).astype(dtype)
            if len(self._perm_cache) >= 2:
                self._perm_cache.pop(next(iter(self._perm_cache)))
            self._perm_cache[epoch] = perm
        return perm

    def sample(self, j: int) -> np.ndarray:
        """The j-th sample this source serves (j may run past one epoch): seq_len + 1 tokens as int64."""
        epoch, k = divmod(int(j), self.num_samples)
        k = int(self.permutation(epoch)[k])
        shard = int(np.searchsorted(self.cum, k, side="right") - 1)
        i = k - int(self.cum[shard])
        start = i * self.seq_len
        return self.datasets[shard].tokens[start : start + self.seq_len + 1].astype(np.int64)

    def sequential(self, k: int) -> np.ndarray:
        """Sample k in file order (no shuffle): validation reads the same sequences every time."""
        shard = int(np.searchsorted(self.cum, k, side="right") - 1)
        start = (k - int(self.cum[shard])) * self.seq_len
        return self.datasets[shard].tokens[start : start + self.seq_len + 1].astype(np.int64)


def _block_counts(weights: np.ndarray, block: int) -> np.ndarray:
    """Samples of each source per block: largest-remainder rounding of weights x block (sums to block)."""
    exact = weights * block
    counts = np.floor(exact).astype(np.int64)
    rest = block - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


class MixtureDataset(torch.utils.data.Dataset):
    """Global sample index -> seq_len + 1 tokens, interleaving sources by weight (see the module docstring)."""

    def __init__(
        self, sources: Sequence[TokenSource], weights: Sequence[float] | None, seed: int, block: int | None = None
    ):
        self.sources = list(sources)
        self.seed = seed
        if weights is None:
            weights = [s.num_tokens for s in self.sources]
        w = np.asarray(weights, dtype=np.float64)
        self.weights = w / w.sum()
        positive = self.weights[self.weights > 0]
        # Every source with a positive weight gets at least one sample per block.
        self.block = block or max(1024, int(math.ceil(1.0 / positive.min())))
        self.counts = _block_counts(self.weights, self.block)

    def __len__(self) -> int:  # nominal: the loader draws indices itself, epochs repeat sources
        return 2**62

    @lru_cache(maxsize=4)  # noqa: B019 - one dataset per run; the cache lives as long as it, by design
    def _block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(len(self.sources)), self.counts)
        rng = np.random.Generator(np.random.PCG64([self.seed, 1_000_003, b]))
        labels = labels[rng.permutation(len(labels))]
        ranks = np.empty_like(labels)
        for s in range(len(self.sources)):
            where = labels == s
            ranks[where] = np.arange(int(where.sum()))
        return labels, ranks

    def locate(self, g: int) -> tuple[int, int]:
        """(source, index within that source's stream) of global sample g."""
        if len(self.sources) == 1:
            return 0, int(g)
        b, pos = divmod(int(g), self.block)
        labels, ranks = self._block(b)
        s = int(labels[pos])
        return s, b * int(self.counts[s]) + int(ranks[pos])

    def __getitem__(self, g: int) -> torch.Tensor:
        s, j = self.locate(g)
        return torch.from_numpy(self.sources[s].sample(j))

    def __getstate__(self):
        state = dict(self.__dict__)
        return state


class _StepSampler(torch.utils.data.Sampler):
    """This rank's global sample indices, step after step, from `start` (samples consumed) on."""

    def __init__(self, start: int, global_batch: int, rank: int, world: int, steps: int):
        self.start, self.global_batch, self.rank, self.world, self.steps = start, global_batch, rank, world, steps
        self.per_rank = global_batch // world

    def __iter__(self) -> Iterator[int]:
        for s in range(self.steps):
            base = self.start + s * self.global_batch + self.rank * self.per_rank
            yield from range(base, base + self.per_rank)

    def __len__(self) -> int:
        return self.steps * self.per_rank


class TrainLoader:
    """Yields, for each optimizer step, the list of this rank's micro-batches (LongTensor [micro, seq_len + 1])."""

    def __init__(
        self,
        dataset: MixtureDataset,
        global_batch: int,
        micro_batch: int,
        rank: int,
        world: int,
        samples_consumed: int,
        steps: int,
        num_workers: int = 0,
        pin_memory: bool = False,
    ):
        if global_batch % (micro_batch * world):
            raise UserError(
                f"train.global_batch_size={global_batch} is not divisible by train.micro_batch_size="
                f"{micro_batch} x {world} process(es); choose a global batch that is a multiple of "
                f"{micro_batch * world}"
            )
        self.dataset = dataset
        self.global_batch, self.micro_batch, self.world = global_batch, micro_batch, world
        self.accum = global_batch // (micro_batch * world)
        self.samples_consumed = samples_consumed
        sampler = _StepSampler(samples_consumed, global_batch, rank, world, steps)
        self._loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=micro_batch,
            sampler=sampler,
            num_workers=num_workers,
            persistent_workers=False,
            prefetch_factor=4 if num_workers else None,
            drop_last=False,
            pin_memory=pin_memory,
            # Its own generator: creating the iterator draws a seed, which must not advance the global torch RNG
            # (restored on resume; dropout draws from it).
            generator=torch.Generator().manual_seed(samples_consumed),
        )
        self._iter = iter(self._loader)

    def next_step(self) -> list[torch.Tensor]:
        batches = [next(self._iter) for _ in range(self.accum)]
        self.samples_consumed += self.global_batch
        return batches

    def state_dict(self) -> dict:
        return {"samples_consumed": self.samples_consumed}


def build_sources(prefix_groups: Sequence[tuple[str, Sequence[Path]]], seq_len: int, seed: int) -> list[TokenSource]:
    return [TokenSource(prefixes, seq_len, seed, i, name) for i, (name, prefixes) in enumerate(prefix_groups)]


class ValidSet:
    """A fixed set of held-out sequences (file order), split across ranks, evaluated in micro-batches."""

    def __init__(self, sources: Sequence[TokenSource], max_samples: int):
        self.items: list[tuple[int, int]] = []
        for s_i, src in enumerate(sources):
            for k in range(src.num_samples):
                if len(self.items) >= max_samples:
                    break
                self.items.append((s_i, k))
        self.sources = list(sources)

    def __len__(self) -> int:
        return len(self.items)

    def batches(self, rank: int, world: int, micro_batch: int) -> Iterator[torch.Tensor]:
        mine = self.items[rank::world]
        for i in range(0, len(mine), micro_batch):
            chunk = mine[i : i + micro_batch]
            yield torch.from_numpy(np.stack([self.sources[s].sequential(k) for s, k in chunk]))
