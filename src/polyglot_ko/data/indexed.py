"""Tokenized corpora on disk: the Megatron / GPT-NeoX memory-mapped indexed dataset (`.bin` + `.idx`).

Byte-compatible with megatron-core's `IndexedDataset` (and GPT-NeoX's `MMapIndexedDataset`), so data prepared
here trains in those frameworks and theirs trains here. Layout of `PREFIX.idx` (little endian):

    b"MMIDIDX\\x00\\x00"            9-byte magic
    uint64 version = 1
    uint8  dtype code             (megatron's DType: 1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64,
                                   7 float32, 8 uint16)
    uint64 sequence count S
    uint64 document-index count D (= documents + 1)
    int32[S]  sequence lengths (tokens)
    int64[S]  sequence byte offsets into PREFIX.bin
    int64[D]  document index: 0, then the sequence count after each document

`PREFIX.bin` is every sequence's tokens back to back. We write one sequence per document (as GPT-NeoX's
`preprocess_data.py` does), each ending with `<|endoftext|>` (id 2, appended by `prepare`), so the `.bin` file
read as one flat array is the packed token stream that pretraining samples from.

A prepared-data folder lists its shards in `manifest.json` (format "polyglot-ko-indexed/1") together with
the fingerprint of the tokenizer that made them; training refuses data whose fingerprint differs from its
tokenizer's.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..io_utils import _fsync_dir, atomic_write_json, read_json

INDEX_MAGIC = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "polyglot-ko-indexed/1"

# megatron-core's DType codes.
DTYPE_CODES: dict[int, type] = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.float32,
    8: np.uint16,
}
CODE_OF_DTYPE = {np.dtype(v): k for k, v in DTYPE_CODES.items()}
_HEADER_SIZE = 9 + 8 + 1 + 8 + 8

PathLike = str | os.PathLike


def idx_path(prefix: PathLike) -> Path:
    return Path(f"{os.fspath(prefix)}.idx")


def bin_path(prefix: PathLike) -> Path:
    return Path(f"{os.fspath(prefix)}.bin")


def exists(prefix: PathLike) -> bool:
    """Both files of an indexed dataset are present (the writer creates `.idx` last, so this means complete)."""
    return idx_path(prefix).is_file() and bin_path(prefix).is_file()


# --- writing -------------------------------------------------------------------------------------------
class IndexedDatasetWriter:
    """Write documents (token id sequences) to `PREFIX.bin` / `PREFIX.idx`, atomically.

    Both files are written under temporary names beside the destination and renamed on `finalize()` (the
    `.bin` first, then the `.idx`), so a crash never leaves a readable but incomplete dataset. Used as a
    context manager, it finalizes on success and discards everything on an exception.

        with IndexedDatasetWriter("out/train_00000") as w:
            for ids in docs:
                w.add_document(ids + [2])
    """

    _FLUSH_TOKENS = 1 << 20

    def __init__(self, path_prefix: PathLike, dtype: Any = np.uint16):
        self.prefix = Path(path_prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in CODE_OF_DTYPE:
            raise UserError(
                f"indexed dataset dtype {self.dtype} is not one of the Megatron codes; use uint16 "
                f"(vocabularies up to 65,536) or int32"
            )
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            self._min, self._max = int(info.min), int(info.max)
        else:
            self._min = self._max = None
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.prefix.name}.bin.", suffix=".tmp", dir=self.prefix.parent)
        self._bin_tmp = Path(tmp)
        self._bin = os.fdopen(fd, "wb")
        self._lengths: list[int] = []
        self._pending: list[np.ndarray] = []
        self._pending_tokens = 0
        self.num_tokens = 0
        self._closed = False

    @property
    def documents(self) -> int:
        return len(self._lengths)

    def add_document(self, tokens: Sequence[int] | np.ndarray | Any) -> None:
        """Append one document; ids that do not fit the dtype are refused (a silent wrap would corrupt data)."""
        if self._closed:
            raise RuntimeError(f"{self.prefix}: writer already finalized or aborted")
        if hasattr(tokens, "numpy") and not isinstance(tokens, np.ndarray):  # torch tensor
            tokens = tokens.detach().cpu().numpy()
        arr = np.asarray(tokens)
        if arr.ndim != 1:
            arr = arr.reshape(-1)
        if arr.size and self._min is not None:
            if arr.dtype.kind not in "iub":
                raise UserError(
                    f"{self.prefix}: document {self.documents} has non-integer tokens ({arr.dtype}); pass token ids"
                )
            lo, hi = int(arr.min()), int(arr.max())
            if lo < self._min or hi > self._max:
                bad = lo if lo < self._min else hi
                raise UserError(
                    f"{self.prefix}: token id {bad} in document {self.documents} does not fit "
                    f"{self.dtype} [{self._min}, {self._max}]; write with dtype=np.int32 or check "
                    f"the tokenizer"
                )
        arr = arr.astype(self.dtype, copy=False)
        self._pending.append(arr)
        self._pending_tokens += arr.size
        self._lengths.append(int(arr.size))
        self.num_tokens += int(arr.size)
        if self._pending_tokens >= self._FLUSH_TOKENS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._bin.write(np.concatenate(self._pending).tobytes(order="C"))
            self._pending.clear()
            self._pending_tokens = 0

    def finalize(self) -> Path:
        """Write the index and move both files into place; returns the prefix."""
        if self._closed:
            raise RuntimeError(f"{self.prefix}: writer already finalized or aborted")
        self._flush()
        self._bin.flush()
        os.fsync(self._bin.fileno())
        self._bin.close()
        self._closed = True
        lengths = np.asarray(self._lengths, dtype=np.int64)
        if lengths.size and lengths.max() > np.iinfo(np.int32).max:
            self._discard()
            raise UserError(f"{self.prefix}: a document has more than 2^31 tokens; split it before writing")
        pointers = np.zeros(len(lengths), dtype=np.int64)
        if len(lengths) > 1:
            np.cumsum(lengths[:-1] * self.dtype.itemsize, out=pointers[1:])
        doc_index = np.arange(len(lengths) + 1, dtype=np.int64)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.prefix.name}.idx.", suffix=".tmp", dir=self.prefix.parent)
        idx_tmp = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(INDEX_MAGIC)
                f.write(struct.pack("<Q", INDEX_VERSION))
                f.write(struct.pack("<B", CODE_OF_DTYPE[self.dtype]))
                f.write(struct.pack("<Q", len(lengths)))
                f.write(struct.pack("<Q", len(doc_index)))
                f.write(lengths.astype(np.int32).tobytes(order="C"))
                f.write(pointers.tobytes(order="C"))
                f.write(doc_index.tobytes(order="C"))
                f.flush()
                os.fsync(f.fileno())
            # .bin first: an .idx beside a stale .bin is the only bad state, and it cannot happen this way
            # except for a crash between the two renames, which leaves the *old* .idx with a new .bin of a
            # different size, which the reader detects and reports.
            os.replace(self._bin_tmp, bin_path(self.prefix))
            os.replace(idx_tmp, idx_path(self.prefix))
            _fsync_dir(self.prefix.parent)
        finally:
            if idx_tmp.exists():
                idx_tmp.unlink()
            if self._bin_tmp.exists():
                self._bin_tmp.unlink()
        return self.prefix

    def _discard(self) -> None:
        if not self._bin.closed:
            self._bin.close()
        self._closed = True
        if self._bin_tmp.exists():
            self._bin_tmp.unlink()

    def abort(self) -> None:
        """Drop everything written so far; the destination is left as it was."""
        self._discard()

    def __enter__(self) -> IndexedDatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if not self._closed:
                self.finalize()
        else:
            self._discard()

    def __del__(self):
        try:
            if not self._closed:
                self._discard()
        except Exception:
            pass


def write_indexed_dataset(path_prefix: PathLike, documents: Iterable[Sequence[int]], dtype: Any = np.uint16) -> Path:
    """Write an iterable of token-id documents in one call."""
    with IndexedDatasetWriter(path_prefix, dtype=dtype) as w:
        for doc in documents:
            w.add_document(doc)
    return Path(path_prefix)


# --- reading -------------------------------------------------------------------------------------------
class IndexedDataset:
    """Read-only, memory-mapped view of `PREFIX.bin` / `PREFIX.idx` (ours or written by Megatron/GPT-NeoX).

    `ds[i]` is document (sequence) i as a read-only numpy array (a view into the mapping, no copy);
    `ds.tokens` is the whole `.bin` as one flat array (all documents back to back).
    """

    def __init__(self, path_prefix: PathLike):
        self.prefix = Path(os.fspath(path_prefix).removesuffix(".idx").removesuffix(".bin"))
        ip, bp = idx_path(self.prefix), bin_path(self.prefix)
        if not ip.is_file() or not bp.is_file():
            missing = ip if not ip.is_file() else bp
            raise UserError(
                f"indexed dataset {self.prefix}: {missing} does not exist; pass the path prefix of a "
                f"prepared .bin/.idx pair (run `polyglot-ko prepare`)"
            )
        size = ip.stat().st_size
        with open(ip, "rb") as f:
            head = f.read(_HEADER_SIZE)
        if len(head) < _HEADER_SIZE or head[:9] != INDEX_MAGIC:
            raise UserError(f"{ip} is not a Megatron indexed-dataset index (bad header); re-run `polyglot-ko prepare`")
        version, code, n_seq, n_doc = struct.unpack("<QBQQ", head[9:])
        if version != INDEX_VERSION:
            raise UserError(f"{ip}: index version {version} is not supported (only 1)")
        if code not in DTYPE_CODES:
            raise UserError(f"{ip}: unknown dtype code {code}; the file is corrupt")
        self.dtype = np.dtype(DTYPE_CODES[code])
        need = _HEADER_SIZE + n_seq * 4 + n_seq * 8 + n_doc * 8
        if size < need:
            raise UserError(f"{ip} is truncated ({size} bytes, needs {need}); re-run `polyglot-ko prepare`")
        self._idx_map = np.memmap(ip, mode="r", dtype=np.uint8)
        buf = self._idx_map
        off = _HEADER_SIZE
        self.sizes = np.frombuffer(buf, dtype=np.int32, count=n_seq, offset=off)
        off += n_seq * 4
        self.pointers = np.frombuffer(buf, dtype=np.int64, count=n_seq, offset=off)
        off += n_seq * 8
        self.document_indices = np.frombuffer(buf, dtype=np.int64, count=n_doc, offset=off)
        self.num_tokens = int(self.sizes.sum(dtype=np.int64))
        bin_size = bp.stat().st_size
        if bin_size != self.num_tokens * self.dtype.itemsize:
            raise UserError(
                f"{bp} holds {bin_size} bytes but its index describes {self.num_tokens} "
                f"{self.dtype} tokens; the pair is inconsistent or truncated, re-run `polyglot-ko prepare`"
            )
        # np.memmap refuses empty files; an empty dataset gets an empty array instead.
        self.tokens: np.ndarray = (
            np.memmap(bp, mode="r", dtype=self.dtype) if bin_size else np.zeros(0, dtype=self.dtype)
        )

    def __len__(self) -> int:
        return len(self.sizes)

    @property
    def num_documents(self) -> int:
        """Documents per the document index (equals len() for our files: one sequence per document)."""
        return max(len(self.document_indices) - 1, 0)

    def _start(self, i: int) -> int:
        return int(self.pointers[i]) // self.dtype.itemsize

    def __getitem__(self, i: int) -> np.ndarray:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"document {i} out of range for {self.prefix} with {n} documents")
        i %= n
        start = self._start(i)
        return self.tokens[start : start + int(self.sizes[i])]

    def get(self, i: int, offset: int = 0, length: int | None = None) -> np.ndarray:
        """Tokens [offset, offset+length) of document i (to its end when length is None)."""
        doc = self[i]
        end = len(doc) if length is None else min(len(doc), offset + length)
        return doc[offset:end]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (
            f"IndexedDataset({str(self.prefix)!r}, documents={len(self)}, tokens={self.num_tokens}, dtype={self.dtype})"
        )


# --- prepared-data folders -----------------------------------------------------------------------------
def tokenizer_record(tokenizer: Any) -> dict:
    """The manifest's tokenizer record from a tokenizer object (ours) or a dict with the same keys."""
    if isinstance(tokenizer, dict):
        info = dict(tokenizer)
    else:
        info = {
            "fingerprint": tokenizer.fingerprint,
            "vocab_size": int(tokenizer.vocab_size),
            "endoftext_id": int(tokenizer.endoftext_id),
        }
    for key in ("fingerprint", "vocab_size", "endoftext_id"):
        if key not in info:
            raise UserError(f"tokenizer info lacks {key!r}; pass fingerprint, vocab_size and endoftext_id")
    return info


def _shard_record(folder: Path, shard: Any) -> dict:
    if isinstance(shard, dict):
        rec = dict(shard)
        if "prefix" not in rec:
            raise UserError(f"{folder}: shard record {shard!r} has no 'prefix'")
        if "documents" in rec and "tokens" in rec:
            rec["prefix"] = _relative_prefix(folder, rec["prefix"])
            return rec
        prefix = rec["prefix"]
    else:
        rec, prefix = {}, shard
    p = Path(os.fspath(prefix))
    ds = IndexedDataset(p if p.is_absolute() else folder / p)
    rec.update(prefix=_relative_prefix(folder, prefix), documents=len(ds), tokens=ds.num_tokens)
    return rec


def _relative_prefix(folder: Path, prefix: Any) -> str:
    p = Path(os.fspath(prefix))
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(folder.resolve())
        except ValueError:
            raise UserError(f"shard {prefix} is outside the data folder {folder}; write shards inside it") from None
    return p.as_posix()


def write_manifest(
    folder: PathLike,
    shards: Sequence[Any],
    tokenizer_info: Any,
    valid_shards: Sequence[Any] | None = None,
    dtype: str = "uint16",
    extra: dict | None = None,
) -> Path:
    """Write FOLDER/manifest.json atomically and return its path.

    shards / valid_shards: records `{"prefix", "documents", "tokens"}` (prefix relative to FOLDER, or absolute
    inside it), or bare prefixes whose counts are read from the files. tokenizer_info: a dict with
    fingerprint, vocab_size and endoftext_id, or a tokenizer object with those attributes. `extra`: more
    top-level keys (e.g. pipeline stats), kept as given.
    """
    folder = Path(folder)
    info = tokenizer_record(tokenizer_info)
    train = [_shard_record(folder, s) for s in shards]
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "dtype": str(np.dtype(dtype)),
        "tokenizer": info,
        "shards": train,
        "documents": sum(int(s["documents"]) for s in train),
        "tokens": sum(int(s["tokens"]) for s in train),
    }
    if valid_shards:
        valid = [_shard_record(folder, s) for s in valid_shards]
        manifest["valid_shards"] = valid
        manifest["valid_documents"] = sum(int(s["documents"]) for s in valid)
        manifest["valid_tokens"] = sum(int(s["tokens"]) for s in valid)
    if extra:
        for k, v in extra.items():
            manifest.setdefault(k, v)
    path = folder / MANIFEST_NAME
    atomic_write_json(path, manifest)
    return path


def read_manifest(folder: PathLike) -> dict:
    """Read and check FOLDER/manifest.json (FOLDER may also be the manifest file itself).

    Every listed shard must exist. The returned dict is the file's content plus "folder" (absolute path of the
    data folder); shard prefixes stay relative, resolve them with `shard_prefixes`.
    """
    folder = Path(folder)
    path = folder if folder.name == MANIFEST_NAME or folder.is_file() else folder / MANIFEST_NAME
    folder = path.parent
    if not path.is_file():
        raise UserError(f"{folder}: no {MANIFEST_NAME}; pass a folder written by `polyglot-ko prepare`")
    manifest = read_json(path, "re-run `polyglot-ko prepare`")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise UserError(f"{path}: format {fmt!r} is not {MANIFEST_FORMAT!r}; re-run `polyglot-ko prepare`")
    for key in ("tokenizer", "shards"):
        if key not in manifest:
            raise UserError(f"{path}: missing {key!r}; re-run `polyglot-ko prepare`")
    for split in ("shards", "valid_shards"):
        for rec in manifest.get(split) or []:
            prefix = folder / rec["prefix"]
            if not exists(prefix):
                raise UserError(
                    f"{path}: shard {rec['prefix']} ({prefix}.bin/.idx) is missing; copy the whole "
                    f"data folder or re-run `polyglot-ko prepare`"
                )
    manifest["folder"] = str(folder.resolve())
    return manifest


def shard_prefixes(manifest: dict, split: str = "train") -> list[Path]:
    """Absolute prefixes of a manifest's train ("shards") or validation ("valid_shards") datasets."""
    key = "shards" if split == "train" else "valid_shards"
    folder = Path(manifest["folder"])
    return [folder / rec["prefix"] for rec in manifest.get(key) or []]
