"""The indexed dataset format: round trip, byte compatibility with megatron-core both ways, atomicity, manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from polyglot_ko.data.indexed import (
    IndexedDataset,
    IndexedDatasetWriter,
    read_manifest,
    shard_prefixes,
    write_indexed_dataset,
    write_manifest,
)
from polyglot_ko.errors import UserError


def _random_docs(seed: int, n: int = 50, high: int = 30080):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, high, size=int(rng.integers(1, 300))).tolist() + [2] for _ in range(n)]


def test_round_trip(tmp_path):
    docs = _random_docs(0) + [[2]]
    with IndexedDatasetWriter(tmp_path / "ds") as w:
        for d in docs:
            w.add_document(d)
    ds = IndexedDataset(tmp_path / "ds")
    assert len(ds) == len(docs) == ds.num_documents
    assert ds.dtype == np.uint16
    assert ds.num_tokens == sum(map(len, docs))
    assert ds.sizes.tolist() == [len(d) for d in docs]
    for i, d in enumerate(docs):
        assert ds[i].tolist() == d
    assert ds[-1].tolist() == docs[-1]
    assert ds.get(3, offset=2, length=5).tolist() == docs[3][2:7]
    assert ds.get(3, offset=4).tolist() == docs[3][4:]
    # The flat token stream is every document back to back (what the packed loader samples from).
    assert ds.tokens.tolist() == [t for d in docs for t in d]


def test_megatron_reads_ours_and_we_read_megatrons(tmp_path):
    pytest.importorskip("torch")  # megatron-core imports it
    mcore = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    docs = _random_docs(1)
    write_indexed_dataset(tmp_path / "ours", docs)
    theirs_view = mcore.IndexedDataset(str(tmp_path / "ours"))
    assert len(theirs_view) == len(docs)
    assert theirs_view.document_indices.tolist() == list(range(len(docs) + 1))
    for i, d in enumerate(docs):
        assert theirs_view[i].tolist() == d
        assert theirs_view.get(i, offset=1, length=3).tolist() == d[1:4]

    builder = mcore.IndexedDatasetBuilder(str(tmp_path / "theirs.bin"), dtype=np.uint16)
    for d in docs:
        builder.add_document(np.asarray(d), [len(d)])
    builder.finalize(str(tmp_path / "theirs.idx"))
    ours_view = IndexedDataset(tmp_path / "theirs")
    assert [ours_view[i].tolist() for i in range(len(ours_view))] == docs
    # Identical bytes: the two writers produce the same files.
    for ext in (".bin", ".idx"):
        assert (tmp_path / f"theirs{ext}").read_bytes() == (tmp_path / f"ours{ext}").read_bytes()


def test_int32_dtype_and_out_of_range_ids(tmp_path):
    with pytest.raises(UserError, match="does not fit uint16"):
        with IndexedDatasetWriter(tmp_path / "bad") as w:
            w.add_document([1, 2, 70000])
    # Nothing was left behind: an aborted write produces no dataset and no temp files.
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match="does not fit"):
        IndexedDatasetWriter(tmp_path / "neg").add_document([-1])
    write_indexed_dataset(tmp_path / "wide", [[70000, 2], [5]], dtype=np.int32)
    ds = IndexedDataset(tmp_path / "wide")
    assert ds.dtype == np.int32 and ds[0].tolist() == [70000, 2]


def test_atomic_until_finalize_and_corruption_detected(tmp_path):
    w = IndexedDatasetWriter(tmp_path / "ds")
    w.add_document([5, 6, 2])
    # Before finalize no dataset is visible under the destination name.
    assert not (tmp_path / "ds.bin").exists() and not (tmp_path / "ds.idx").exists()
    w.finalize()
    assert IndexedDataset(tmp_path / "ds")[0].tolist() == [5, 6, 2]
    with open(tmp_path / "ds.bin", "ab") as f:
        f.write(b"\x00\x00")
    with pytest.raises(UserError, match="inconsistent or truncated"):
        IndexedDataset(tmp_path / "ds")
    (tmp_path / "junk.idx").write_bytes(b"not an index at all, clearly")
    (tmp_path / "junk.bin").write_bytes(b"")
    with pytest.raises(UserError, match="bad header"):
        IndexedDataset(tmp_path / "junk")
    with pytest.raises(UserError, match="does not exist"):
        IndexedDataset(tmp_path / "absent")


def test_manifest(tmp_path):
    write_indexed_dataset(tmp_path / "train_00000", _random_docs(2, 10))
    write_indexed_dataset(tmp_path / "train_00001", _random_docs(3, 7))
    write_indexed_dataset(tmp_path / "valid_00000", _random_docs(4, 3))
    info = {"fingerprint": "ab" * 32, "vocab_size": 30003, "endoftext_id": 2}
    path = write_manifest(tmp_path, ["train_00000", tmp_path / "train_00001"], info, valid_shards=["valid_00000"])
    m = json.loads(path.read_text())
    assert m["format"] == "polyglot-ko-indexed/1" and m["dtype"] == "uint16" and m["tokenizer"] == info
    assert [s["prefix"] for s in m["shards"]] == ["train_00000", "train_00001"]
    assert m["documents"] == 17
    assert m["tokens"] == (
        IndexedDataset(tmp_path / "train_00000").num_tokens + IndexedDataset(tmp_path / "train_00001").num_tokens
    )
    assert m["valid_shards"][0]["documents"] == 3
    read = read_manifest(tmp_path)
    assert shard_prefixes(read) == [tmp_path.resolve() / "train_00000", tmp_path.resolve() / "train_00001"]
    assert shard_prefixes(read, "valid") == [tmp_path.resolve() / "valid_00000"]
    (tmp_path / "train_00001.bin").unlink()
    with pytest.raises(UserError, match="train_00001.*missing"):
        read_manifest(tmp_path)
    with pytest.raises(UserError, match="no manifest.json"):
        read_manifest(tmp_path / "nowhere")
