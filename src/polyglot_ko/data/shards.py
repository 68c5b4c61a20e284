"""Tokenize prepare's cleaned text (FOLDER/clean/NNNNN.jsonl.gz) into indexed-dataset shards
(FOLDER/tokens/{train,valid}-NNNNN.bin/.idx, see indexed.py) and FOLDER/manifest.json.

Every document gets `<|endoftext|>` appended. With `valid_fraction > 0` a document goes to the validation shard
of its file when the 64-bit hash of its text is below `valid_fraction * 2**64`: deterministic, whatever the
batch size or the order the files are read in.
"""

from __future__ import annotations

import gzip
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .dedup import text_hash
from .indexed import IndexedDatasetWriter, write_manifest


def _tokenize_file(path: Path, tok: Any, writers: dict, threshold: int, batch_size: int) -> dict[str, list[int]]:
    """Tokenize one cleaned file into its writers; returns [documents, tokens] per split."""
    eot = int(tok.endoftext_id)
    counts = {"train": [0, 0], "valid": [0, 0]}

    def flush(batch: list[str]) -> None:
        for text, ids in zip(batch, tok.encode_batch(batch), strict=True):
            split = "valid" if "valid" in writers and text_hash(text) < threshold else "train"
            ids.append(eot)
            writers[split].add_document(ids)
            counts[split][0] += 1
            counts[split][1] += len(ids)

    batch: list[str] = []
    with gzip.open(path, "rb") as f:
        for line in f:
            batch.append(orjson.loads(line)["text"])
            if len(batch) >= batch_size:
                flush(batch)
                batch = []
    if batch:
        flush(batch)
    return counts


def tokenize_clean(out: Path, tokenizer_path: str, valid_fraction: float, batch_size: int = 512) -> dict:
    """Tokenize FOLDER/clean/*.jsonl.gz into FOLDER/tokens and write the manifest; returns its stats."""
    from tqdm.auto import tqdm

    from .. import load_tokenizer

    tok = load_tokenizer(tokenizer_path)
    dtype = np.uint16 if tok.padded_vocab_size <= 65536 else np.int32
    clean = sorted((out / "clean").glob("*.jsonl.gz"))
    tok_dir = out / "tokens"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    tok_dir.mkdir(parents=True)
    shards: dict[str, list[dict]] = {"train": [], "valid": []}
    totals = {"train_tokens": 0, "valid_tokens": 0, "train_documents": 0, "valid_documents": 0}
    t0 = time.perf_counter()
    bar = tqdm(total=sum(p.stat().st_size for p in clean), unit="B", unit_scale=True, desc="tokenize", file=sys.stderr)
    for path in clean:
        stem = path.name.split(".")[0]
        splits = ("train", "valid") if valid_fraction > 0 else ("train",)
        writers = {split: IndexedDatasetWriter(tok_dir / f"{split}-{stem}", dtype=dtype) for split in splits}
        counts = _tokenize_file(path, tok, writers, int(valid_fraction * 2**64), batch_size)
        for split, w in writers.items():
            if split == "valid" and counts["valid"][0] == 0:
                w.abort()
                continue
            w.finalize()
            shards[split].append(
                {"prefix": f"tokens/{split}-{stem}", "documents": counts[split][0], "tokens": counts[split][1]}
            )
        for split, (documents, tokens) in counts.items():
            totals[f"{split}_documents"] += documents
            totals[f"{split}_tokens"] += tokens
        bar.update(path.stat().st_size)
    bar.close()
    write_manifest(out, shards["train"], tok, valid_shards=shards["valid"] or None, dtype=np.dtype(dtype).name)
    return {
        "tokens": totals["train_tokens"] + totals["valid_tokens"],
        **totals,
        "fingerprint": tok.fingerprint,
        "seconds": round(time.perf_counter() - t0, 3),
    }
