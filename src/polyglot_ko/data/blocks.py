"""The datatrove blocks of `polyglot-ko prepare` (stages.py puts them in order).

- `ReadBlock` reads this task's share of the input records.
- Formatters (`datatrove BaseFormatter.format(text)`): `NFCFormatter`, `HTMLFormatter`, `WhitespaceFormatter`,
  `RepeatFormatter`, `PIIFormatter`.
- Filters (`datatrove BaseFilter.filter(doc)` -> True or (False, reason)): `filters.KoreanQualityFilter`,
  `ExactDuplicateFilter`, `NearDuplicateFilter`; each writes what it drops through its `exclusion_writer`
  (`reject_writer`: work/rejects/<reason>/<block>-<rank>.jsonl.gz).
- Dedup bookkeeping: `ExactHashBlock`, `ExactFindBlock`, `MinhashBlock` (MinHash signatures that also pass the
  documents on); `ReadRankBlock` / `WriteRankBlock` carry documents between stages (work/<name>/NNNNN.jsonl.gz).

Statistics are datatrove's (`stat_update`, `track_time`, saved by the executor per task): `total`, `dropped`,
`dropped_<reason>` and `doc_len` (characters out) as datatrove's own blocks name them, plus `chars_in`,
`records` (read), `pii:<kind>` and `docs_with_pii` (pii), `duplicates` (exact_find). A block's `name` is its
step in FOLDER/stats.json.
"""

from __future__ import annotations

import gzip
import os
import struct
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.formatters.base import BaseFormatter
from datatrove.pipeline.writers.jsonl import JsonlWriter
from datatrove.utils.typeshelper import StatHints
from fsspec.compression import compr, register_compression

from ..io_utils import atomic_path
from .dedup import (
    KoreanMinhashSignature,
    exact_hashes,
    find_exact_duplicates,
    read_minhash_removals,
    save_hashes,
    text_hash,
)
from .normalize import nfc, normalize_whitespace, reduce_repeats, remove_html
from .pii import PIIMasker
from .readers import ReadStats, iter_documents

# Rejects are most of a web corpus, written once and read rarely: gzip level 1 (fsspec's default is 9, 5x slower).
FAST_GZIP = "gzip-level-1"
if FAST_GZIP not in compr:
    register_compression(
        FAST_GZIP, lambda f, mode="rb", **kw: gzip.GzipFile(fileobj=f, mode=mode, compresslevel=1, **kw), []
    )


def _reject_record(_writer: JsonlWriter, doc: Document) -> dict:
    """A rejected document as FOLDER/rejects/<reason>.jsonl.gz holds it (the writer's adapter)."""
    meta = doc.metadata
    record = {"id": doc.id, "source": meta.get("source"), "line": meta.get("line")}
    if "detail" in meta:
        record["detail"] = meta["detail"]
    return dict(record, text=doc.text, reason=meta["filter_reason"])


def reject_writer(work: str, block: str) -> JsonlWriter:
    """The exclusion writer of a dropping block: work/rejects/<reason>/<block>-<rank>.jsonl.gz."""
    return JsonlWriter(
        str(Path(work) / "rejects"),
        output_filename=f"${{filter_reason}}/{block}-${{rank}}.jsonl.gz",
        compression=FAST_GZIP,
        adapter=_reject_record,
    )


def _doc_record(doc: Document) -> dict:
    meta = doc.metadata
    return {"id": doc.id, "source": meta.get("source"), "line": meta.get("line"), "text": doc.text}


class ReadBlock(PipelineStep):
    """Reads the inputs, this task's share of records; every unusable record goes to the rejects."""

    type = "📖 - READER"
    name = "read"

    def __init__(
        self, inputs: list[str], text_field: str, txt_mode: str, max_chars: int, exclusion_writer: JsonlWriter
    ):
        super().__init__()
        self.inputs, self.text_field, self.txt_mode, self.max_chars = inputs, text_field, txt_mode, max_chars
        self.exclusion_writer = exclusion_writer

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        stats = ReadStats()
        with self.exclusion_writer as rejects:

            def on_problem(p):
                self.stat_update(StatHints.dropped, f"dropped_{p.reason}")
                meta = {"source": p.source, "line": p.line, "detail": p.detail, "filter_reason": p.reason}
                rejects.write(Document(text=p.raw, id=None, metadata=meta), rank)

            records = iter_documents(
                self.inputs,
                text_field=self.text_field,
                txt_mode=self.txt_mode,
                max_chars=self.max_chars,
                stats=stats,
                on_problem=on_problem,
                rank=rank,
                world_size=world_size,
            )
            while True:
                with self.track_time():  # only the reading, not the blocks that run between our yields
                    raw = next(records, None)
                if raw is None:
                    break
                doc = Document(text=raw.text, id=raw.id, metadata={"source": raw.source, "line": raw.line})
                self.update_doc_stats(doc)
                yield doc
        self.stat_update(StatHints.total, "records", value=stats.records)


class TextFormatter(BaseFormatter):
    """A normalisation step; besides datatrove's document count and time it counts characters in and out."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in super().run(self._count_chars_in(data), rank, world_size):
            self.update_doc_stats(doc)
            yield doc

    def _count_chars_in(self, data: DocumentsPipeline) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("chars_in", value=len(doc.text))
            yield doc


class NFCFormatter(TextFormatter):
    name = "nfc"

    def format(self, text: str) -> str:
        return nfc(text)


class HTMLFormatter(TextFormatter):
    name = "html"

    def format(self, text: str) -> str:
        return remove_html(text)


class WhitespaceFormatter(TextFormatter):
    name = "whitespace"

    def format(self, text: str) -> str:
        return normalize_whitespace(text)


class RepeatFormatter(TextFormatter):
    name = "repeats"

    def __init__(self, max_repeats: int = 2):
        super().__init__()
        self.max_repeats = max_repeats

    def format(self, text: str) -> str:
        return reduce_repeats(text, self.max_repeats)


class PIIFormatter(TextFormatter):
    """Masks phone, registration, account and card numbers with the tokenizer's special tokens."""

    name = "pii"

    def __init__(self, cards: bool = True):
        super().__init__()
        self.cards = cards

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.masker = PIIMasker(cards=self.cards)
        yield from super().run(data, rank, world_size)

    def format(self, text: str) -> str:
        text, found = self.masker.mask_with_counts(text)
        for kind, n in found.items():
            self.stat_update(f"pii:{kind}", value=n)
        if found:
            self.stat_update("docs_with_pii")
        return text


class _MarkedFilter(BaseFilter):
    """Drops the documents an earlier stage marked by their position in this task's file (metadata `index`)."""

    reason = "marked"

    @abstractmethod
    def marked(self, rank: int) -> set[int]:
        """The positions to drop in task `rank`'s file."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.marked_indices = self.marked(rank)
        yield from super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        self.stat_update("chars_in", value=len(doc.text))
        return (False, self.reason) if doc.metadata["index"] in self.marked_indices else True


class ExactDuplicateFilter(_MarkedFilter):
    """Exact dedup, last stage: drops the later copies `ExactFindBlock` found (reason `duplicate`)."""

    name = "exact_dedup"
    reason = "duplicate"

    def __init__(self, folder: str, tasks: int, exclusion_writer: JsonlWriter | None = None):
        super().__init__(exclusion_writer)
        self.folder, self.tasks = folder, tasks

    def marked(self, rank: int) -> set[int]:
        parts = [np.load(Path(self.folder) / f"{p:05d}-{rank:05d}.npy") for p in range(self.tasks)]
        return set(np.concatenate(parts).tolist()) if parts else set()


class NearDuplicateFilter(_MarkedFilter):
    """MinHash dedup, last stage: drops what datatrove's cluster stage marked (reason `near_duplicate`)."""

    name = "near_dedup"
    reason = "near_duplicate"

    def __init__(self, folder: str, exclusion_writer: JsonlWriter | None = None):
        super().__init__(exclusion_writer)
        self.folder = folder

    def marked(self, rank: int) -> set[int]:
        return set(read_minhash_removals(Path(self.folder), rank).tolist())


class ExactHashBlock(PipelineStep):
    """Exact dedup, stage 1: records a 64-bit hash of every passing document, saved per task at the end."""

    type = "🫂 - DEDUP"
    name = "exact_hash"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        hashes: list[int] = []
        for doc in data:
            with self.track_time():
                hashes.append(text_hash(doc.text))
                self.stat_update(StatHints.total)
            yield doc
        with self.track_time():
            save_hashes(Path(self.folder) / "hashes" / f"{rank:05d}.npy", exact_hashes(hashes))


class ExactFindBlock(PipelineStep):
    """Exact dedup, stage 2: task `rank` resolves the hash partition `rank` over all tasks' hashes."""

    type = "🫂 - DEDUP"
    name = "exact_find"

    def __init__(self, folder: str, tasks: int):
        super().__init__()
        self.folder, self.tasks = folder, tasks

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        folder = Path(self.folder)
        with self.track_time():
            files = [folder / "hashes" / f"{t:05d}.npy" for t in range(self.tasks)]
            removed = find_exact_duplicates(files, rank, world_size)
            for task, idx in removed.items():
                with atomic_path(folder / "remove" / f"{rank:05d}-{task:05d}.npy") as tmp:
                    with open(tmp, "wb") as f:
                        np.save(f, idx.astype(np.uint32), allow_pickle=False)
        self.stat_update("duplicates", value=sum(len(v) for v in removed.values()))
        return iter(())


class MinhashBlock(KoreanMinhashSignature):
    """MinHash stage 1 (signatures) that also passes the documents on, so they are written once.

    Each bucket file is written beside its place, sorted (datatrove's buckets stage merges sorted files) and
    then moved in, so a killed task leaves no half-written signatures."""

    name = "minhash"

    def __init__(self, output_folder: str, config: Any):
        super().__init__(output_folder, config)
        self.folder = output_folder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        cfg = self.config
        fmt = f"<{cfg.hashes_per_bucket}{cfg.hash_config.struct_format}I"
        dests = [Path(self.folder) / f"bucket_{b:03d}" / f"{rank:05d}.minhash.sig" for b in range(cfg.num_buckets)]
        tmps = [dest.with_name(f".{dest.name}.tmp") for dest in dests]
        outs = []
        for tmp in tmps:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            outs.append(open(tmp, "wb"))
        try:
            for idx, doc in enumerate(data):
                with self.track_time():
                    self.stat_update(StatHints.total)
                    shingles = self.get_shingles(doc.text)
                    if shingles.size:
                        for f, bucket_sig in zip(outs, self.get_signature(shingles), strict=True):
                            f.write(struct.pack(fmt, *bucket_sig, idx))
                yield doc
        finally:
            for f in outs:
                f.close()
        with self.track_time():
            dtype = np.dtype(
                [(f"f{i}", f"<{cfg.hash_config.struct_format}") for i in range(cfg.hashes_per_bucket)]
                + [("doc", "<u4")]
            )
            for tmp, dest in zip(tmps, dests, strict=True):
                records = np.fromfile(tmp, dtype=dtype)
                records.sort(order=list(dtype.names))
                records.tofile(tmp)
                os.replace(tmp, dest)


class ReadRankBlock(PipelineStep):
    """Reads back the documents an earlier stage wrote for this task; metadata `index` is each one's position."""

    type = "📖 - READER"

    def __init__(self, folder: str):
        self.name = f"read_{Path(folder).name}"  # before PipelineStep.__init__, which names the stats after it
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with gzip.open(Path(self.folder) / f"{rank:05d}.jsonl.gz", "rb") as f:
            for index, line in enumerate(f):
                obj = orjson.loads(line)
                self.stat_update(StatHints.total)
                yield Document(
                    text=obj["text"],
                    id=obj["id"],
                    metadata={"source": obj.get("source"), "line": obj.get("line"), "index": index},
                )


class WriteRankBlock(PipelineStep):
    """Writes this task's documents to FOLDER/NNNNN.jsonl.gz (atomic; always created, even when empty)."""

    type = "💽 - WRITER"

    def __init__(self, folder: str, name: str, compresslevel: int = 1):
        self.name = name  # before PipelineStep.__init__, which names the stats after it
        super().__init__()
        self.folder = folder
        self.compresslevel = compresslevel  # 1 for work files read once by the next stage

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with atomic_path(Path(self.folder) / f"{rank:05d}.jsonl.gz") as tmp:
            with gzip.open(tmp, "wb", compresslevel=self.compresslevel) as f:
                for doc in data:
                    with self.track_time():
                        f.write(orjson.dumps(_doc_record(doc), option=orjson.OPT_APPEND_NEWLINE))
                        self.stat_update(StatHints.total)
                        self.update_doc_stats(doc)
        return iter(())
