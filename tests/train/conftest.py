"""Fixtures for the pretraining tests: small real datasets tokenized from the shared Korean corpus."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


def _corpus_texts(corpus_dir: Path, name: str, limit: int) -> list[str]:
    texts = []
    with gzip.open(corpus_dir / name, "rt", encoding="utf-8") as f:
        for line in f:
            text = json.loads(line).get("text", "")
            if text.strip():
                texts.append(text)
            if len(texts) >= limit:
                break
    return texts


def make_prepared(
    folder: Path, tokenizer, texts: list[str], valid_fraction: float = 0.1, tokenizer_info: dict | None = None
) -> Path:
    """A prepared-data folder as `polyglot-ko prepare` writes it: shards + manifest with the fingerprint."""
    from polyglot_ko.data.indexed import IndexedDatasetWriter, tokenizer_record, write_manifest

    ids = tokenizer.encode_batch(texts)
    n_valid = max(1, int(len(ids) * valid_fraction))
    folder.mkdir(parents=True, exist_ok=True)
    with IndexedDatasetWriter(folder / "valid_00000") as w:
        for doc in ids[:n_valid]:
            w.add_document(doc + [tokenizer.endoftext_id])
    with IndexedDatasetWriter(folder / "train_00000") as w:
        for doc in ids[n_valid:]:
            w.add_document(doc + [tokenizer.endoftext_id])
    write_manifest(folder, ["train_00000"], tokenizer_info or tokenizer_record(tokenizer), valid_shards=["valid_00000"])
    return folder


@pytest.fixture(scope="session")
def reference_tokenizer(reference_tokenizer_dir):
    from polyglot_ko.tokenizer import load_tokenizer

    return load_tokenizer(reference_tokenizer_dir)


@pytest.fixture(scope="session")
def train_data_dir(tmp_path_factory, corpus_dir, reference_tokenizer) -> Path:
    """~1,500 NSMC reviews and petitions (about 100k tokens), 10% held out, tokenized with the released tokenizer."""
    texts = _corpus_texts(corpus_dir, "nsmc-reviews.jsonl.gz", 1000) + _corpus_texts(
        corpus_dir, "petitions.jsonl.gz", 300
    )
    return make_prepared(tmp_path_factory.mktemp("prepared") / "data", reference_tokenizer, texts)


@pytest.fixture(scope="session")
def second_data_dir(tmp_path_factory, corpus_dir, reference_tokenizer) -> Path:
    """Another source (law texts) for mixture tests."""
    texts = _corpus_texts(corpus_dir, "konlpy-law.jsonl.gz", 200)
    return make_prepared(tmp_path_factory.mktemp("prepared2") / "data", reference_tokenizer, texts)


@pytest.fixture(scope="session")
def other_tokenizer_data(tmp_path_factory, corpus_dir, reference_tokenizer) -> Path:
    """Data whose manifest names another tokenizer (a different fingerprint)."""
    texts = _corpus_texts(corpus_dir, "korsts.jsonl.gz", 200)
    info = {"fingerprint": "0" * 64, "vocab_size": 30003, "endoftext_id": 2}
    return make_prepared(tmp_path_factory.mktemp("other") / "data", reference_tokenizer, texts, tokenizer_info=info)
