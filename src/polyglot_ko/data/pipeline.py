"""`polyglot-ko prepare`: raw Korean text -> cleaned, filtered, deduplicated, PII-masked text -> GPT-NeoX
indexed datasets, as datatrove pipeline blocks.

Stages (each a datatrove `LocalPipelineExecutor` run over N tasks with `workers` processes; a task that
finished is recorded under FOLDER/work/logs/<stage>/completions and skipped when the command is run again,
so a killed run resumes where it stopped):

  1. clean    (N tasks)  read (records shared round-robin across tasks) -> NFC -> HTML removal -> whitespace
                          -> repeat reduction -> quality filters -> exact-dedup hashes
  2. exact    (N tasks)  find exact duplicates, each task one hash partition
  3. dedup    (N tasks)  drop exact duplicates -> MinHash signatures (Korean character 5-grams)
  4. buckets  (B tasks)  datatrove MinHash buckets
  5. cluster  (1 task)   datatrove MinHash clusters
  6. mask     (N tasks)  drop near duplicates -> PII masking -> FOLDER/clean/NNNNN.jsonl.gz
  7. tokenize (with --tokenizer) -> FOLDER/tokens/{train,valid}-NNNNN.{bin,idx} + FOLDER/manifest.json

Every dropped document is written to FOLDER/rejects/<reason>.jsonl.gz; FOLDER/stats.json says how many
documents came in, were kept and were dropped per reason (input == kept + sum(dropped)), PII per type,
tokens, and per step the documents and characters in/out and the seconds spent.

On a cluster, the same blocks run under datatrove's SlurmPipelineExecutor or RayPipelineExecutor:
`build_stages(...)` returns the (name, pipeline blocks, tasks) list; give each stage to an executor with
`depends=` the previous one (see the README, "Preparing a corpus").
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep

from ..errors import UserError
from ..io_utils import atomic_path, atomic_write_json
from .filters import QualityConfig, check_quality
from .normalize import nfc, normalize_whitespace, reduce_repeats, remove_html
from .readers import DEFAULT_MAX_CHARS, TXT_MODES, iter_documents, resolve_inputs

WORK = "work"
STEP_ORDER = ("read", "nfc", "html", "whitespace", "repeats", "quality", "exact_hash", "exact_dedup",
              "minhash", "near_dedup", "pii", "write")


# -- small helpers used inside the worker processes ------------------------------------------------------------
def _dumps(obj: Any) -> bytes:
    try:
        import orjson

        return orjson.dumps(obj) + b"\n"
    except ImportError:  # pragma: no cover
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")


def _loads(line: bytes) -> Any:
    try:
        import orjson

        return orjson.loads(line)
    except ImportError:  # pragma: no cover
        return json.loads(line)


class _RejectSink:
    """Per-task rejects, one gzip JSONL per reason: work/rejects/<reason>/<stage>-<rank>.jsonl.gz (atomic)."""

    def __init__(self, folder: Path, stage: str, rank: int):
        self.folder, self.stage, self.rank = Path(folder), stage, rank
        self.files: dict[str, Any] = {}
        self.ctx: dict[str, Any] = {}

    def write(self, reason: str, record: dict) -> None:
        f = self.files.get(reason)
        if f is None:
            dest = self.folder / reason / f"{self.stage}-{self.rank:05d}.jsonl.gz"
            ctx = atomic_path(dest)
            tmp = ctx.__enter__()
            self.ctx[reason] = ctx
            # level 1: rejects are most of a web corpus, written once and read rarely; speed matters more
            f = self.files[reason] = gzip.open(tmp, "wb", compresslevel=1)
        record = dict(record, reason=reason)
        f.write(_dumps(record))

    def close(self, ok: bool = True) -> None:
        for reason, f in self.files.items():
            f.close()
            if ok:
                self.ctx[reason].__exit__(None, None, None)
            else:
                self.ctx[reason].__exit__(RuntimeError, RuntimeError("aborted"), None)
        self.files.clear()
        self.ctx.clear()


def _doc_record(doc: Any, **extra: Any) -> dict:
    meta = doc.metadata or {}
    return {"id": doc.id, "source": meta.get("source"), "line": meta.get("line"), "text": doc.text, **extra}


class Block(PipelineStep):
    """A pipeline block that counts docs/chars in and out and its own time, saved per task as JSON."""

    type = "polyglot-ko"
    step = "block"

    def __init__(self, work: str):
        super().__init__()
        self.work = work

    def _save_stats(self, rank: int, counts: Counter, seconds: float) -> None:
        data = {k: int(v) for k, v in counts.items()}
        data["seconds"] = round(seconds, 4)
        atomic_write_json(Path(self.work) / "stats" / self.step / f"{rank:05d}.json", data, indent=None)

    def _map(self, data, rank: int, transform):
        """Yield every document with `doc.text = transform(doc.text, counts)` (a transform may add its own
        counters); counts and own time are saved at the end."""
        counts: Counter = Counter()
        spent = 0.0
        for doc in data:
            t = time.perf_counter()
            counts["docs_in"] += 1
            counts["chars_in"] += len(doc.text)
            doc.text = transform(doc.text, counts)
            counts["docs_out"] += 1
            counts["chars_out"] += len(doc.text)
            spent += time.perf_counter() - t
            yield doc
        self._save_stats(rank, counts, spent)

    def _filter(self, data, rank: int, sink_name: str, decide):
        """Yield the documents `decide(index, doc)` keeps (it returns None); a document it drops goes to
        rejects/<reason> and the stats under `dropped:<reason>`. Counts and own time are saved at the end."""
        counts: Counter = Counter()
        sink = _RejectSink(Path(self.work) / "rejects", sink_name, rank)
        spent = 0.0
        ok = False
        try:
            for idx, doc in enumerate(data):
                t = time.perf_counter()
                counts["docs_in"] += 1
                counts["chars_in"] += len(doc.text)
                reason = decide(idx, doc)
                if reason is not None:
                    counts[f"dropped:{reason}"] += 1
                    sink.write(reason, _doc_record(doc))
                    spent += time.perf_counter() - t
                    continue
                counts["docs_out"] += 1
                counts["chars_out"] += len(doc.text)
                spent += time.perf_counter() - t
                yield doc
            ok = True
        finally:
            sink.close(ok)
        self._save_stats(rank, counts, spent)


class ReadBlock(Block):
    """Reads the inputs, this task's share of records; every unusable record goes to the rejects."""

    name = "read"
    step = "read"

    def __init__(self, work: str, inputs: list[str], text_field: str, txt_mode: str, max_chars: int):
        super().__init__(work)
        self.inputs, self.text_field, self.txt_mode, self.max_chars = inputs, text_field, txt_mode, max_chars

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from .readers import ReadStats

        counts: Counter = Counter()
        stats = ReadStats()
        sink = _RejectSink(Path(self.work) / "rejects", "read", rank)

        def on_problem(p):
            sink.write(p.reason, {"id": None, "source": p.source, "line": p.line, "detail": p.detail,
                                  "text": p.raw})

        ok = False
        try:
            it = iter_documents(self.inputs, text_field=self.text_field, txt_mode=self.txt_mode,
                                max_chars=self.max_chars, stats=stats, on_problem=on_problem,
                                rank=rank, world_size=world_size)
            spent = 0.0
            while True:
                # time only the reading, not the downstream blocks that run between our yields
                t = time.perf_counter()
                raw = next(it, None)
                if raw is None:
                    spent += time.perf_counter() - t
                    break
                doc = Document(text=raw.text, id=raw.id, metadata={"source": raw.source, "line": raw.line})
                counts["docs_out"] += 1
                counts["chars_out"] += len(raw.text)
                spent += time.perf_counter() - t
                yield doc
            ok = True
        finally:
            sink.close(ok)
        counts["records"] = stats.records
        counts["docs_in"] = stats.records
        for reason, n in stats.problems.items():
            counts[f"dropped:{reason}"] = n
        self._save_stats(rank, counts, spent)

class TextBlock(Block):
    """Applies one normalisation function to every document."""

    def __init__(self, work: str, step: str, fn_name: str, **kwargs: Any):
        super().__init__(work)
        self.step = self.name = step
        self.fn_name, self.kwargs = fn_name, kwargs

    def run(self, data, rank: int = 0, world_size: int = 1):
        fn = {"nfc": nfc, "html": remove_html, "whitespace": normalize_whitespace,
              "repeats": reduce_repeats}[self.fn_name]
        kwargs = self.kwargs
        yield from self._map(data, rank, lambda text, _counts: fn(text, **kwargs))

class QualityBlock(Block):
    """Drops documents that fail a quality rule; each goes to rejects/<rule>."""

    name = step = "quality"

    def __init__(self, work: str, config: dict):
        super().__init__(work)
        self.config = config

    def run(self, data, rank: int = 0, world_size: int = 1):
        config = QualityConfig(**self.config)
        yield from self._filter(data, rank, "quality", lambda _idx, doc: check_quality(doc.text, config))

class ExactHashBlock(Block):
    """Records a 64-bit hash of every passing document (stage 1 of exact dedup)."""

    name = step = "exact_hash"

    def run(self, data, rank: int = 0, world_size: int = 1):
        from .dedup import exact_hashes, save_hashes, text_hash

        hashes: list[int] = []
        counts: Counter = Counter()
        spent = 0.0
        for doc in data:
            t = time.perf_counter()
            hashes.append(text_hash(doc.text))
            counts["docs_in"] += 1
            counts["docs_out"] += 1
            spent += time.perf_counter() - t
            yield doc
        t = time.perf_counter()
        save_hashes(Path(self.work) / "exact" / "hashes" / f"{rank:05d}.npy", exact_hashes(hashes))
        self._save_stats(rank, counts, spent + time.perf_counter() - t)

class ExactFindBlock(Block):
    """Stage 2 of exact dedup: task `rank` resolves the hash partition `rank` over all tasks' hashes."""

    name = step = "exact_find"

    def __init__(self, work: str, tasks: int):
        super().__init__(work)
        self.tasks = tasks

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        import numpy as np

        from .dedup import find_exact_duplicates

        t0 = time.perf_counter()
        folder = Path(self.work) / "exact"
        files = [folder / "hashes" / f"{t:05d}.npy" for t in range(self.tasks)]
        removed = find_exact_duplicates(files, rank, world_size)
        for task, idx in removed.items():
            dest = folder / "remove" / f"{rank:05d}-{task:05d}.npy"
            with atomic_path(dest) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, idx.astype(np.uint32), allow_pickle=False)
        self._save_stats(rank, Counter(duplicates=sum(len(v) for v in removed.values())),
                         time.perf_counter() - t0)
        return iter(())

class ReadRankBlock(Block):
    """Reads back the documents an earlier stage wrote for this task."""

    def __init__(self, work: str, folder: str):
        super().__init__(work)
        self.folder = folder
        self.step = self.name = f"read_{Path(folder).name}"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        path = Path(self.folder) / f"{rank:05d}.jsonl.gz"
        with gzip.open(path, "rb") as f:
            for line in f:
                obj = _loads(line)
                yield Document(text=obj["text"], id=obj["id"],
                               metadata={"source": obj.get("source"), "line": obj.get("line")})

class WriteRankBlock(Block):
    """Writes this task's documents to FOLDER/<name>/NNNNN.jsonl.gz (atomic; always created)."""

    def __init__(self, work: str, folder: str, step: str, compresslevel: int = 1):
        super().__init__(work)
        self.folder = folder
        self.step = self.name = step
        self.compresslevel = compresslevel  # 1 for work files read once by the next stage

    def run(self, data, rank: int = 0, world_size: int = 1):
        counts: Counter = Counter()
        spent = 0.0
        with atomic_path(Path(self.folder) / f"{rank:05d}.jsonl.gz") as tmp:
            with gzip.open(tmp, "wb", compresslevel=self.compresslevel) as f:
                for doc in data:
                    t = time.perf_counter()
                    f.write(_dumps(_doc_record(doc)))
                    counts["docs_in"] += 1
                    counts["docs_out"] += 1
                    counts["chars_out"] += len(doc.text)
                    spent += time.perf_counter() - t
        self._save_stats(rank, counts, spent)
        return iter(())

class RemoveBlock(Block):
    """Drops the documents at the indices an earlier stage marked (exact or near duplicates)."""

    def __init__(self, work: str, kind: str, tasks: int = 0, minhash_folder: str | None = None):
        super().__init__(work)
        self.kind, self.tasks, self.minhash_folder = kind, tasks, minhash_folder
        self.step = self.name = "exact_dedup" if kind == "exact" else "near_dedup"

    def run(self, data, rank: int = 0, world_size: int = 1):
        import numpy as np

        from .dedup import read_minhash_removals

        if self.kind == "exact":
            folder = Path(self.work) / "exact" / "remove"
            parts = [np.load(folder / f"{p:05d}-{rank:05d}.npy") for p in range(self.tasks)]
            remove = set(np.concatenate(parts).tolist()) if parts else set()
            reason = "duplicate"
        else:
            remove = set(read_minhash_removals(Path(self.minhash_folder), rank).tolist())
            reason = "near_duplicate"
        yield from self._filter(data, rank, self.step, lambda idx, _doc: reason if idx in remove else None)

class PIIBlock(Block):
    """Masks phone, registration, account and card numbers with the tokenizer's special tokens."""

    name = step = "pii"

    def __init__(self, work: str, cards: bool = True):
        super().__init__(work)
        self.cards = cards

    def run(self, data, rank: int = 0, world_size: int = 1):
        from .pii import PIIMasker

        masker = PIIMasker(cards=self.cards)

        def mask(text: str, counts: Counter) -> str:
            text, found = masker.mask_with_counts(text)
            for k, v in found.items():
                counts[f"pii:{k}"] += v
            if found:
                counts["docs_with_pii"] += 1
            return text

        yield from self._map(data, rank, mask)

class MinhashBlock(Block):
    """MinHash stage 1 (signatures) that also passes documents through, so they are written once."""

    name = step = "minhash"

    def __init__(self, work: str, config: Any):
        super().__init__(work)
        self.config = config

    def run(self, data, rank: int = 0, world_size: int = 1):
        import struct

        from .dedup import KoreanMinhashSignature

        sig = KoreanMinhashSignature(str(Path(self.work) / "minhash" / "signatures"), self.config)
        cfg = self.config
        fmt = f"<{cfg.hashes_per_bucket}{cfg.hash_config.struct_format}I"
        folder = Path(self.work) / "minhash" / "signatures"
        tmp_files = []
        outs = []
        for b in range(cfg.num_buckets):
            dest = folder / f"bucket_{b:03d}" / f"{rank:05d}.minhash.sig"
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            tmp_files.append((tmp, dest))
            outs.append(open(tmp, "wb"))
        counts: Counter = Counter()
        spent = 0.0
        try:
            for idx, doc in enumerate(data):
                t = time.perf_counter()
                counts["docs_in"] += 1
                counts["docs_out"] += 1
                shingles = sig.get_shingles(doc.text)
                if shingles.size:
                    for f, bucket_sig in zip(outs, sig.get_signature(shingles)):
                        f.write(struct.pack(fmt, *bucket_sig, idx))
                spent += time.perf_counter() - t
                yield doc
        finally:
            for f in outs:
                f.close()
        t = time.perf_counter()
        _sort_signature_files(tmp_files, cfg)
        self._save_stats(rank, counts, spent + time.perf_counter() - t)



BLOCKS = dict(read=ReadBlock, text=TextBlock, quality=QualityBlock, exact_hash=ExactHashBlock,
              exact_find=ExactFindBlock, read_rank=ReadRankBlock, write_rank=WriteRankBlock,
              remove=RemoveBlock, pii=PIIBlock, minhash=MinhashBlock)


def _blocks() -> dict:
    return BLOCKS


def _sort_signature_files(files: list[tuple[Path, Path]], cfg: Any) -> None:
    """Sort each bucket's records (datatrove's buckets stage merges sorted files) and move them in place."""
    import numpy as np

    dtype = np.dtype([(f"f{i}", f"<{cfg.hash_config.struct_format}") for i in range(cfg.hashes_per_bucket)]
                     + [("doc", "<u4")])
    for tmp, dest in files:
        records = np.fromfile(tmp, dtype=dtype)
        records.sort(order=list(dtype.names))
        records.tofile(tmp)
        os.replace(tmp, dest)


# -- the stages -------------------------------------------------------------------------------------------------
def _default_options() -> dict:
    return {
        "text_field": "text",
        "txt_mode": "line",
        "max_chars": DEFAULT_MAX_CHARS,
        "quality": QualityConfig().as_dict(),
        "max_repeats": 2,
        "near_dedup_threshold": 0.8,
        "minhash_buckets": 14,
        "minhash_ngrams": 5,
        "exact_dedup": True,
        "near_dedup": True,
        "mask_pii": True,
        "mask_cards": True,
        "seed": 1,
    }


def build_stages(inputs: list[str], out: Path, tasks: int, options: dict | None = None
                 ) -> list[tuple[str, list, int]]:
    """The pipeline as (stage name, datatrove blocks, number of tasks), for any datatrove executor.

    options: step options as for `prepare` (missing ones take the defaults). Give each stage's executor
    `logging_dir=out/work/logs/<stage name>` so that a later `prepare(..., tokenizer=...)` on the same folder
    finds them finished and only tokenizes.
    """
    from .dedup import minhash_config

    out = Path(out)
    options = {**_default_options(), **(options or {})}
    B = _blocks()
    work = str(out / WORK)
    q = {k: v for k, v in options["quality"].items()}
    stages: list[tuple[str, list, int]] = []
    clean1 = [B["read"](work, inputs, options["text_field"], options["txt_mode"], options["max_chars"]),
              B["text"](work, "nfc", "nfc"), B["text"](work, "html", "html"),
              B["text"](work, "whitespace", "whitespace"),
              B["text"](work, "repeats", "repeats", max_repeats=options["max_repeats"]),
              B["quality"](work, q)]
    if options["exact_dedup"]:
        clean1.append(B["exact_hash"](work))
    clean1.append(B["write_rank"](work, str(out / WORK / "filtered"), "write_filtered"))
    stages.append(("clean", clean1, tasks))
    source = str(out / WORK / "filtered")
    if options["exact_dedup"] or options["near_dedup"]:
        if options["exact_dedup"]:
            stages.append(("exact", [B["exact_find"](work, tasks)], tasks))
        dd = [B["read_rank"](work, source)]
        if options["exact_dedup"]:
            dd.append(B["remove"](work, "exact", tasks=tasks))
        if options["near_dedup"]:
            cfg = minhash_config(options["near_dedup_threshold"], options["minhash_buckets"],
                                 options["minhash_ngrams"], options["seed"])
            dd.append(B["minhash"](work, cfg))
        dd.append(B["write_rank"](work, str(out / WORK / "deduped"), "write_deduped"))
        stages.append(("dedup", dd, tasks))
        source = str(out / WORK / "deduped")
        if options["near_dedup"]:
            from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupCluster

            mh = out / WORK / "minhash"
            stages.append(("buckets", [MinhashDedupBuckets(input_folder=str(mh / "signatures"), output_folder=str(mh / "buckets"), config=cfg)],
                           cfg.num_buckets))
            stages.append(("cluster", [MinhashDedupCluster(input_folder=str(mh / "buckets"), output_folder=str(mh / "remove"), config=cfg)], 1))
    final = [B["read_rank"](work, source)]
    if options["near_dedup"]:
        final.append(B["remove"](work, "near", minhash_folder=str(out / WORK / "minhash" / "remove")))
    if options["mask_pii"]:
        final.append(B["pii"](work, cards=options["mask_cards"]))
    final.append(B["write_rank"](work, str(out / "clean"), "write", compresslevel=6))
    stages.append(("mask", final, tasks))
    return stages


from datatrove.executor import LocalPipelineExecutor  # noqa: E402


class _QuietExecutor(LocalPipelineExecutor):
    """datatrove's local executor with task logs kept in FOLDER/work/logs only (its console INFO output for
    every task would drown the progress bar); errors still reach the console."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        return super()._run_for_rank(rank, local_rank=1, node_rank=node_rank)


def _run_stages(stages: list[tuple[str, list, int]], out: Path, workers: int) -> None:
    from tqdm.auto import tqdm

    # loguru reads LOGURU_LEVEL when a process imports it: datatrove's forkserver workers then keep their
    # default console logger at WARNING between tasks (the full logs stay in FOLDER/work/logs).
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    _quiet_datatrove()
    bar = tqdm(stages, desc="prepare", unit="stage", file=sys.stderr)
    for name, blocks, n in bar:
        bar.set_postfix_str(f"{name} ({n} tasks)")
        executor = _QuietExecutor(pipeline=blocks, tasks=n, workers=min(workers, n),
                                         logging_dir=str(out / WORK / "logs" / name), skip_completed=True)
        executor.run()
        _quiet_datatrove()
        missing = executor.get_incomplete_ranks()
        if missing:
            raise UserError(f"{out}: stage {name!r} did not finish tasks {missing[:10]}; see "
                            f"{out / WORK / 'logs' / name}/logs, then run the same command again to resume")


def _quiet_datatrove() -> None:
    """datatrove logs every task start/stop at INFO; keep warnings only (the per-task logs stay on disk)."""
    try:
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    except Exception:  # pragma: no cover - loguru ships with datatrove
        pass


def _merge_rejects(out: Path) -> dict[str, int]:
    """Concatenate the per-task reject parts into FOLDER/rejects/<reason>.jsonl.gz (gzip members concatenate)."""
    parts_root = out / WORK / "rejects"
    dest_root = out / "rejects"
    counts: dict[str, int] = {}
    if dest_root.exists():
        shutil.rmtree(dest_root)
    dest_root.mkdir(parents=True)
    if not parts_root.exists():
        return counts
    for reason_dir in sorted(p for p in parts_root.iterdir() if p.is_dir()):
        parts = sorted(p for p in reason_dir.glob("*.jsonl.gz") if not p.name.startswith("."))
        if not parts:
            continue
        with atomic_path(dest_root / f"{reason_dir.name}.jsonl.gz") as tmp:
            with open(tmp, "wb") as f:
                for p in parts:
                    with open(p, "rb") as src:
                        shutil.copyfileobj(src, f)
    return counts


def _collect_stats(out: Path, tasks_by_step: dict[str, int]) -> dict:
    stats_root = out / WORK / "stats"
    steps: dict[str, dict] = {}
    for step in STEP_ORDER + ("write_filtered", "write_deduped", "exact_find"):
        folder = stats_root / step
        if not folder.exists():
            continue
        total: Counter = Counter()
        seconds = 0.0
        for f in sorted(folder.glob("*.json")):
            d = json.loads(f.read_text())
            seconds += d.pop("seconds", 0.0)
            total.update(d)
        steps[step] = dict(sorted(total.items()), seconds=round(seconds, 3))
    return steps


def _tokenize(out: Path, tokenizer_path: str, valid_fraction: float, batch_size: int = 512) -> dict:
    """Tokenize FOLDER/clean/*.jsonl.gz into indexed datasets and write the manifest; returns its stats."""
    import numpy as np
    from tqdm.auto import tqdm

    from .. import load_tokenizer
    from .indexed import IndexedDatasetWriter, write_manifest

    tok = load_tokenizer(tokenizer_path)
    eot = int(tok.endoftext_id)
    dtype = np.uint16 if tok.padded_vocab_size <= 65536 else np.int32
    clean = sorted((out / "clean").glob("*.jsonl.gz"))
    tok_dir = out / "tokens"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    tok_dir.mkdir(parents=True)
    train_shards, valid_shards = [], []
    totals = Counter()
    t0 = time.perf_counter()
    threshold = int(valid_fraction * 2**64)
    bar = tqdm(total=sum(p.stat().st_size for p in clean), unit="B", unit_scale=True, desc="tokenize",
               file=sys.stderr)
    for path in clean:
        stem = path.name.split(".")[0]
        writers = {"train": IndexedDatasetWriter(tok_dir / f"train-{stem}", dtype=dtype)}
        if valid_fraction > 0:
            writers["valid"] = IndexedDatasetWriter(tok_dir / f"valid-{stem}", dtype=dtype)
        counts = {"train": [0, 0], "valid": [0, 0]}
        with gzip.open(path, "rb") as f:
            batch: list[str] = []

            def flush() -> None:
                for text, ids in zip(batch, tok.encode_batch(batch)):
                    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
                    split = "valid" if valid_fraction > 0 and h < threshold else "train"
                    ids.append(eot)
                    writers[split].add_document(ids)
                    counts[split][0] += 1
                    counts[split][1] += len(ids)
                batch.clear()

            for line in f:
                batch.append(_loads(line)["text"])
                if len(batch) >= batch_size:
                    flush()
            if batch:
                flush()
        for split, w in writers.items():
            if split == "valid" and counts["valid"][0] == 0:
                w.abort()
                continue
            w.finalize()
            rec = {"prefix": f"tokens/{split}-{stem}", "documents": counts[split][0], "tokens": counts[split][1]}
            (train_shards if split == "train" else valid_shards).append(rec)
        for split in counts:
            totals[f"{split}_documents"] += counts[split][0]
            totals[f"{split}_tokens"] += counts[split][1]
        bar.update(path.stat().st_size)
    bar.close()
    write_manifest(out, train_shards, tok, valid_shards=valid_shards or None,
                   dtype=np.dtype(dtype).name)
    return {"tokens": totals["train_tokens"] + totals["valid_tokens"], "train_tokens": totals["train_tokens"],
            "valid_tokens": totals["valid_tokens"], "train_documents": totals["train_documents"],
            "valid_documents": totals["valid_documents"], "fingerprint": tok.fingerprint,
            "seconds": round(time.perf_counter() - t0, 3)}


def _check_config(out: Path, config: dict) -> None:
    path = out / WORK / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old != config:
            def flat(d: dict, prefix: str = "") -> dict:
                out = {}
                for k, v in d.items():
                    out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
                return out

            a, b = flat(old), flat(config)
            changed = sorted(k.split("options.", 1)[-1] for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise UserError(f"{out}: was prepared with different settings ({', '.join(changed)}); resume with "
                            f"the same options (--tasks defaults to --workers), use a new --out folder, or "
                            f"--overwrite to start over")
    else:
        atomic_write_json(path, config)


def prepare(inputs: str | os.PathLike | Sequence[str | os.PathLike], out: str | os.PathLike,
            tokenizer: str | os.PathLike | None = None, workers: int = 2, valid_fraction: float = 0.0,
            tasks: int | None = None, overwrite: bool = False, quiet: bool = False, **step_options: Any) -> dict:
    """Clean, filter, deduplicate, mask and (with `tokenizer`) tokenize `inputs` into the folder `out`.

    step_options (defaults in brackets): text_field ["text"], txt_mode ["line"], max_chars [5,000,000],
    quality [dict of QualityConfig fields, team thresholds], max_repeats [2], near_dedup_threshold [0.8],
    minhash_buckets [14], minhash_ngrams [5], exact_dedup [True], near_dedup [True], mask_pii [True],
    mask_cards [True], seed [1]. tasks: how many shards the work is split into (default: workers); it fixes
    the output layout, so a resumed run must use the same value.

    Returns the stats written to FOLDER/stats.json. Re-running the same call resumes: finished tasks are
    skipped, and a later call with a tokenizer reuses the cleaned text and only tokenizes.
    """
    out = Path(out)
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    if not 0.0 <= valid_fraction < 1.0:
        raise UserError(f"--valid-fraction {valid_fraction}: must be in [0, 1), e.g. 0.01")
    options = _default_options()
    unknown = set(step_options) - set(options)
    if unknown:
        raise UserError(f"unknown prepare option(s) {sorted(unknown)}; known: {sorted(options)}")
    if "quality" in step_options:
        q = dict(options["quality"])
        bad = set(step_options["quality"]) - set(q)
        if bad:
            raise UserError(f"unknown quality threshold(s) {sorted(bad)}; known: {sorted(q)}")
        q.update(step_options.pop("quality"))
        options["quality"] = q
    options.update(step_options)
    if options["txt_mode"] not in TXT_MODES:
        raise UserError(f"--txt-mode {options['txt_mode']}: use one of {', '.join(TXT_MODES)}")
    files = [str(p.resolve()) for p in resolve_inputs(inputs)]
    tasks = tasks or workers
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {"inputs": files, "tasks": tasks, "options": options}
    _check_config(out, config)

    t0 = time.perf_counter()
    stages = build_stages(files, out, tasks, options)
    _run_stages(stages, out, workers)
    _merge_rejects(out)
    steps = _collect_stats(out, {})
    elapsed_clean = time.perf_counter() - t0

    read = steps.get("read", {})
    dropped: Counter = Counter()
    for s in steps.values():
        for k, v in s.items():
            if k.startswith("dropped:"):
                dropped[k.split(":", 1)[1]] += v
    kept = steps.get("write", {}).get("docs_out", 0)
    pii_step = steps.get("pii", {})
    stats: dict[str, Any] = {
        "documents": {"input": read.get("records", 0), "kept": kept, "dropped": dict(sorted(dropped.items()))},
        "characters": {"input": read.get("chars_out", 0), "kept": steps.get("write", {}).get("chars_out", 0)},
        "input_bytes": sum(Path(f).stat().st_size for f in files),
        "pii": {"acc": pii_step.get("pii:acc", 0), "rrn": pii_step.get("pii:rrn", 0),
                "tel": pii_step.get("pii:tel", 0), "cards": pii_step.get("pii:card", 0),
                "documents": pii_step.get("docs_with_pii", 0)},
        "tokens": 0,
        "steps": steps,
        "workers": workers,
        "tasks": tasks,
        "options": options,
        "seconds": {"clean": round(elapsed_clean, 3)},
    }
    if tokenizer is not None:
        tstats = _tokenize(out, str(tokenizer), valid_fraction)
        stats["tokens"] = tstats["tokens"]
        stats["tokenize"] = tstats
        stats["seconds"]["tokenize"] = tstats["seconds"]
    stats["seconds"]["total"] = round(time.perf_counter() - t0, 3)
    docs = stats["documents"]
    if docs["input"] != docs["kept"] + sum(docs["dropped"].values()):
        raise RuntimeError(f"document accounting broke: {docs}")  # a bug, not a user mistake
    atomic_write_json(out / "stats.json", stats)
    if not quiet:
        print(summary(stats), file=sys.stderr)
    return stats


def summary(stats: dict) -> str:
    d = stats["documents"]
    lines = [f"documents: {d['input']:,} in, {d['kept']:,} kept, {sum(d['dropped'].values()):,} dropped"]
    for reason, n in sorted(d["dropped"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  dropped {reason}: {n:,}")
    lines.append(f"characters: {stats['characters']['input']:,} in, {stats['characters']['kept']:,} kept")
    p = stats["pii"]
    lines.append(f"PII masked: tel {p['tel']:,}, rrn {p['rrn']:,}, acc {p['acc']:,} (cards {p['cards']:,})")
    if stats.get("tokens"):
        t = stats["tokenize"]
        lines.append(f"tokens: {t['train_tokens']:,} train, {t['valid_tokens']:,} valid")
    lines.append(f"time: {stats['seconds']['total']:.1f} s")
    return "\n".join(lines)
