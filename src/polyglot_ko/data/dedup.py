"""Deduplication that scales out: exact (hash, partitioned find, filter) and MinHash near-dedup (datatrove's
four MinHash stages with Korean character shingles).

Exact dedup, three stages that each run as N parallel tasks:
  1. `exact_hashes(texts)` -> sorted (hash, index) pairs, saved per task (`save_hashes`);
  2. `find_exact_duplicates(hash_files, part, parts)`: task `part` looks only at hashes with
     `hash % parts == part` across every task's file (so each hash is looked at by exactly one task, like a
     shuffle), keeps the first occurrence in (task, index) order and returns the indices to remove per task;
  3. the pipeline drops those indices when it reads the documents again.

Near dedup: datatrove's MinhashDedupSignature / Buckets / Cluster stages with `KoreanMinhashSignature`,
which shingles *characters* (5-grams over lower-cased, whitespace-collapsed text) instead of words: Korean
eojeol are long and agglutinative, and NSMC-length documents have only a handful of words, so word 5-grams
would leave most short documents with no shingle at all. `minhash_config(threshold)` picks the LSH shape
(buckets x rows) whose S-curve threshold (1/b)^(1/r) is closest to the Jaccard threshold (0.8 -> 14 x 12).
The LSH decides alone (no exact Jaccard check), as in datatrove: a pair at Jaccard j is flagged with
probability 1 - (1 - j^r)^b (0.8 -> 0.66, 0.9 -> 0.9998, 0.7 -> 0.18).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer

from ..errors import UserError
from ..io_utils import atomic_path

_WS = re.compile(r"\s+")


def text_hash(text: str) -> int:
    """64-bit hash of a document for exact dedup (blake2b; stable across processes and runs)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def exact_hashes(hashes: Sequence[int]) -> np.ndarray:
    """Structured array of (hash, index) sorted by hash then index."""
    arr = np.empty(len(hashes), dtype=[("hash", "<u8"), ("index", "<u4")])
    arr["hash"] = np.asarray(hashes, dtype=np.uint64) if len(hashes) else np.empty(0, np.uint64)
    arr["index"] = np.arange(len(hashes), dtype=np.uint32)
    arr.sort(order=["hash", "index"])
    return arr


def save_hashes(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)


def find_exact_duplicates(hash_files: Sequence[Path], part: int = 0, parts: int = 1) -> dict[int, np.ndarray]:
    """Indices to remove, per source task, for the hashes of partition `part` of `parts`.

    hash_files[t] holds task t's (hash, index) pairs; the first occurrence in (t, index) order is kept.
    """
    chunks = []
    for task, path in enumerate(hash_files):
        arr = np.load(path, allow_pickle=False)
        sel = arr[(arr["hash"] % np.uint64(parts)) == np.uint64(part)]
        chunk = np.empty(len(sel), dtype=[("hash", "<u8"), ("task", "<u4"), ("index", "<u4")])
        chunk["hash"], chunk["task"], chunk["index"] = sel["hash"], task, sel["index"]
        chunks.append(chunk)
    allh = np.concatenate(chunks) if chunks else np.empty(0, dtype=[("hash", "<u8"), ("task", "<u4"), ("index", "<u4")])
    allh.sort(order=["hash", "task", "index"])
    dup = np.zeros(len(allh), dtype=bool)
    if len(allh) > 1:
        dup[1:] = allh["hash"][1:] == allh["hash"][:-1]
    removed = allh[dup]
    return {t: np.sort(removed["index"][removed["task"] == t]) for t in range(len(hash_files))}


def minhash_config(threshold: float = 0.8, num_buckets: int = 14, n_grams: int = 5, seed: int = 1):
    """A datatrove MinhashConfig whose LSH threshold (1/b)^(1/r) is closest to `threshold` for b buckets."""
    if not 0.0 < threshold < 1.0:
        raise UserError(f"near-dedup threshold {threshold}: must be between 0 and 1 (exclusive), e.g. 0.8")
    rows = max(1, round(math.log(1.0 / num_buckets) / math.log(threshold)))
    # 32-bit signatures: 4x less bucket data than 64-bit and a 1-in-4-billion chance per hash of a false
    # collision, irrelevant next to the LSH's own approximation.
    return MinhashConfig(
        n_grams=n_grams,
        num_buckets=num_buckets,
        hashes_per_bucket=rows,
        seed=seed,
        hash_config=HashConfig(precision=32, hash_fc="xxhash"),
    )


def lsh_threshold(config) -> float:
    return (1.0 / config.num_buckets) ** (1.0 / config.hashes_per_bucket)


def char_shingles(text: str, n: int) -> np.ndarray:
    """Hashes (uint64, shape (k, 1)) of the character n-grams of lower-cased, whitespace-collapsed text.

    A polynomial rolling hash in numpy (wrapping uint64 arithmetic), so a document costs n vector operations
    instead of one Python call per n-gram.
    """
    s = _WS.sub(" ", text.lower()).strip()
    if len(s) < n:
        return np.empty((0, 1), dtype=np.uint64) if not s else np.array([[text_hash(s)]], dtype=np.uint64)
    codes = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    k = len(codes) - n + 1
    h = np.zeros(k, dtype=np.uint64)
    mult = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * mult + codes[j : j + k] + np.uint64(j + 1)
        # final avalanche (splitmix64) so nearby n-grams do not give nearby hashes
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    # Repeated n-grams are kept: they cannot change a minimum, and sorting them away costs more than the
    # extra rows do in the signature.
    return h.reshape(-1, 1)


class CharacterWords(WordTokenizer):
    """Characters as datatrove's "words": what `KoreanMinhashSignature` shingles (its own get_shingles does the
    hashing; this keeps datatrove from loading a Korean word tokenizer the signatures never use)."""

    def word_tokenize(self, text: str) -> list[str]:
        return list(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in range(len(text))]


class KoreanMinhashSignature(MinhashDedupSignature):
    """datatrove's MinHash stage 1 with character n-gram shingles (see the module docstring)."""

    name = "🎯 MinHash stage 1 (Korean character shingles)"

    def __init__(self, output_folder, config: MinhashConfig | None = None):
        super().__init__(output_folder, config, language=CharacterWords("ko"))
        self.wrapping_parameters: tuple[np.ndarray, np.ndarray] | None = None

    def get_shingles(self, text: str) -> np.ndarray:
        return char_shingles(text, self.config.n_grams)

    def get_signature(self, shingles: np.ndarray) -> list[list[int]]:
        # Universal hashing a*x + b with wrapping arithmetic (a odd) instead of datatrove's
        # `% (2**61 - 1)`: no 64-bit modulo per (shingle, hash) pair, and in 32 bits (the default config,
        # see minhash_config) numpy does 6x more pairs per second. The shingles are already avalanche-
        # mixed, which is what makes this simple family min-wise enough (tests check the Jaccard estimate).
        if self.wrapping_parameters is None:
            a, b = self.parameters
            if self.config.hash_config.precision == 32:
                self.wrapping_parameters = (
                    (a & np.uint64(0xFFFFFFFF)).astype(np.uint32) | np.uint32(1),
                    (b & np.uint64(0xFFFFFFFF)).astype(np.uint32),
                )
            else:
                self.wrapping_parameters = (a | np.uint64(1), b)
        a, b = self.wrapping_parameters
        x = shingles if self.config.hash_config.precision == 64 else (shingles >> np.uint64(32)).astype(np.uint32)
        with np.errstate(over="ignore"):
            mins = (x * a + b).min(axis=0)
        return [v.tolist() for v in np.split(mins, self.config.num_buckets)]


def read_minhash_removals(folder: Path, rank: int) -> np.ndarray:
    """Indices datatrove's MinHash cluster stage marked for removal in task `rank` (sorted)."""
    path = Path(folder) / f"{rank:06d}.remove"
    if not path.exists():
        return np.empty(0, dtype=np.uint32)
    return np.sort(np.fromfile(path, dtype="<u4"))


def jaccard(a: Iterable, b: Iterable) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0
