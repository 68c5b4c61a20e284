"""Read raw text corpora (.txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet) from files, globs or folders.

Two entry points:

- `read_texts(inputs, text_field="text", txt_mode="line")` yields plain strings: what tokenizer training and
  the quickstart need.
- `iter_documents(inputs, ...)` yields `RawDocument`s that remember their source file and line, and reports
  every record it could not use (invalid UTF-8, malformed JSON, missing or non-string field, empty, gigantic,
  a corrupt/truncated compressed file) to a `ReadStats` and an optional callback, by file and line. Nothing
  crashes the run and nothing is dropped silently: `ReadStats.records == documents + sum(problems)`.

`iter_documents(..., rank=r, world_size=n)` keeps only the records whose running index within each file is
`r (mod n)`: n workers share the same files record by record, so one huge file (NSMC is 80 % of the shared
corpus) is still split evenly, and together the workers see every record exactly once.

This module imports only the standard library at the top (pyarrow and zstandard are imported when a file
needs them), so the light entry points stay light.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

try:  # orjson is 3-5x faster than json for the per-line parse; json is the fallback.
    import orjson as _orjson

    def _json_loads(data: str) -> Any:
        return _orjson.loads(data)

    _JSON_ERRORS: tuple[type[BaseException], ...] = (_orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is part of the data extra
    _orjson = None

    def _json_loads(data: str) -> Any:
        return json.loads(data)

    _JSON_ERRORS = (ValueError,)

# Problem reasons, in the order a record is checked. They are also the `dropped` keys of prepare's stats.
PROBLEM_REASONS = ("invalid_utf8", "malformed_json", "missing_field", "empty", "too_long", "corrupt_file")

# Documents longer than this are refused by the reader (the quality filters drop much shorter ones anyway);
# it protects memory and the tokenizer from a 2 GB "line" in a broken dump.
DEFAULT_MAX_CHARS = 5_000_000

TXT_MODES = ("line", "block", "file")

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".jsonl.zstd", ".ndjson")
_TXT_SUFFIXES = (".txt", ".txt.gz", ".txt.zst")
_PARQUET_SUFFIXES = (".parquet",)
SUPPORTED_SUFFIXES = _JSONL_SUFFIXES + _TXT_SUFFIXES + _PARQUET_SUFFIXES


@dataclass
class RawDocument:
    """One document as read: its text and where it came from."""

    text: str
    """The document text (decoded UTF-8, otherwise untouched)."""
    source: str
    """Path of the file it was read from."""
    line: int
    """1-based line of the record in its file (first line of a block in block mode; row for parquet)."""
    id: str
    """The record's id field when it has one, else `<file name>:<line>`."""


@dataclass
class ReadProblem:
    """A record that could not be used, and why."""

    reason: str
    """One of PROBLEM_REASONS."""
    source: str
    """Path of the file."""
    line: int
    """1-based line (or row) of the record; for corrupt_file, the line where reading stopped."""
    detail: str
    """A short human explanation (the parser's message, the missing field's name, the length)."""
    raw: str = ""
    """The start of the offending record, decoded with replacement characters (for the rejects file)."""


@dataclass
class ReadStats:
    """Counts of what a reader saw. `records == documents + sum(problems.values())`."""

    records: int = 0
    """Records seen (lines, blocks, rows, files), usable or not."""
    documents: int = 0
    """Records yielded as documents."""
    chars: int = 0
    """Characters in the yielded documents."""
    problems: Counter = field(default_factory=Counter)
    """reason -> count."""
    examples: list[ReadProblem] = field(default_factory=list)
    """The first `max_examples` problems, for the report."""
    max_examples: int = 20
    """How many problems to keep in `examples`."""
    files: int = 0
    """Files opened."""

    def add_problem(self, problem: ReadProblem) -> None:
        self.records += 1
        self.problems[problem.reason] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(problem)


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(_TXT_SUFFIXES):
        return "txt"
    return None


def resolve_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files, globs and folders (searched recursively for supported files) into a sorted file list.

    The order is deterministic: each argument in the order given, folders and globs sorted by path.
    Raises UserError for a path that does not exist, a file of an unknown kind, or no files at all.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            files.append(p)

    for item in inputs:
        s = os.fspath(item)
        p = Path(s).expanduser()
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and _kind(q) and not q.name.startswith("."))
            if not found:
                raise UserError(
                    f"{s}: folder holds no {', '.join(SUPPORTED_SUFFIXES)} files; "
                    "point --input at the files or the folder that holds them"
                )
            for q in found:
                add(q)
        elif p.is_file():
            if _kind(p) is None:
                raise UserError(f"{s}: unknown file type; use one of {', '.join(SUPPORTED_SUFFIXES)}")
            add(p)
        elif glob.has_magic(s):
            found = sorted(Path(m) for m in glob.glob(os.path.expanduser(s), recursive=True))
            found = [q for q in found if q.is_file() and _kind(q)]
            if not found:
                raise UserError(
                    f"{s}: the pattern matches no {', '.join(SUPPORTED_SUFFIXES)} files; "
                    "check the pattern (quote it so the shell does not expand it)"
                )
            for q in found:
                add(q)
        else:
            raise UserError(f"{s}: no such file or folder; check the --input path")
    if not files:
        raise UserError("no input files given; pass --input with files, globs or folders")
    return files


def _open_binary(path: Path) -> io.BufferedIOBase:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith((".zst", ".zstd")):
        try:
            import zstandard
        except ImportError as e:  # pragma: no cover - zstandard is part of the data extra
            raise UserError(f"{path}: reading .zst needs the zstandard package; pip install zstandard") from e
        raw = open(path, "rb")
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return open(path, "rb")


def _snippet(data: bytes | str, n: int = 200) -> str:
    if isinstance(data, bytes):
        data = data[: n * 4].decode("utf-8", errors="replace")
    return data[:n]


Problem = Callable[[ReadProblem], None]


class _Reader:
    """Shared per-record checks; one instance per iter_documents call."""

    def __init__(
        self, text_field: str, id_field: str | None, max_chars: int, stats: ReadStats, on_problem: Problem | None
    ):
        self.text_field = text_field
        self.id_field = id_field
        self.max_chars = max_chars
        self.stats = stats
        self.on_problem = on_problem

    def problem(self, reason: str, source: str, line: int, detail: str, raw: bytes | str = b"") -> None:
        p = ReadProblem(reason, source, line, detail, _snippet(raw))
        self.stats.add_problem(p)
        if self.on_problem is not None:
            self.on_problem(p)

    def document(self, text: str, source: str, line: int, doc_id: str | None) -> RawDocument | None:
        if not text.strip():
            self.problem("empty", source, line, "empty or whitespace-only text", text)
            return None
        if len(text) > self.max_chars:
            self.problem("too_long", source, line, f"{len(text):,} characters > max_chars {self.max_chars:,}", text)
            return None
        self.stats.records += 1
        self.stats.documents += 1
        self.stats.chars += len(text)
        return RawDocument(text, source, line, doc_id if doc_id is not None else f"{Path(source).name}:{line}")

    def share(self, records: Iterable[tuple[int, bytes]], src: str, rank: int, world: int) -> Iterator[tuple[int, str]]:
        """This task's records (every `world`-th from `rank`) as (line, text); invalid UTF-8 is reported."""
        for index, (lineno, raw) in enumerate(records):
            if index % world != rank:
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                self.problem("invalid_utf8", src, lineno, f"invalid UTF-8 at byte {e.start}", raw)
                continue
            yield lineno, text

    def jsonl(self, path: Path, rank: int, world: int) -> Iterator[RawDocument]:
        src = str(path)
        with _open_binary(path) as f:
            for lineno, s in self.share(enumerate(f, start=1), src, rank, world):
                if not s.strip():
                    self.problem("empty", src, lineno, "blank line", s)
                    continue
                try:
                    obj = _json_loads(s)
                except _JSON_ERRORS as e:
                    self.problem("malformed_json", src, lineno, f"malformed JSON: {str(e)[:120]}", s)
                    continue
                if not isinstance(obj, dict):
                    self.problem("malformed_json", src, lineno, f"a JSON {type(obj).__name__}, not an object", s)
                    continue
                text = obj.get(self.text_field)
                if not isinstance(text, str):
                    what = "missing" if text is None else f"a {type(text).__name__}, not a string"
                    self.problem("missing_field", src, lineno, f"field {self.text_field!r} is {what}", s)
                    continue
                doc_id = obj.get(self.id_field) if self.id_field else None
                doc = self.document(text, src, lineno, None if doc_id is None else str(doc_id))
                if doc is not None:
                    yield doc

    def txt(self, path: Path, mode: str, rank: int, world: int) -> Iterator[RawDocument]:
        src = str(path)
        with _open_binary(path) as f:
            if mode == "file":
                records: Iterable[tuple[int, bytes]] = [(1, f.read())]
            elif mode == "line":
                records = enumerate(f, start=1)
            else:
                records = _blocks(f)
            for lineno, s in self.share(records, src, rank, world):
                if mode == "line":
                    s = s.rstrip("\r\n")
                else:  # block or whole file: the surrounding newlines are layout, not text
                    s = s.strip("\r\n")
                doc = self.document(s, src, lineno, None)
                if doc is not None:
                    yield doc

    def parquet(self, path: Path, rank: int, world: int) -> Iterator[RawDocument]:
        try:
            import pyarrow.parquet as pq
        except ImportError as e:  # pragma: no cover - pyarrow is part of the data extra
            raise UserError(f"{path}: reading parquet needs pyarrow; pip install pyarrow") from e
        src = str(path)
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        if self.text_field not in names:
            # Every row counts as a missing field, so the totals still add up and the report says why.
            for row in range(1, pf.metadata.num_rows + 1):
                if (row - 1) % world == rank:
                    self.problem(
                        "missing_field", src, row, f"column {self.text_field!r} not in {names[:10]}; use --text-field"
                    )
            return
        columns = [self.text_field] + ([self.id_field] if self.id_field and self.id_field in names else [])
        row = 0
        for batch in pf.iter_batches(batch_size=8192, columns=columns):
            texts = batch.column(0).to_pylist()
            ids = batch.column(1).to_pylist() if batch.num_columns > 1 else None
            for i, text in enumerate(texts):
                row += 1
                if (row - 1) % world != rank:
                    continue
                if not isinstance(text, str):
                    what = "null" if text is None else f"a {type(text).__name__}, not a string"
                    self.problem("missing_field", src, row, f"column {self.text_field!r} is {what}", repr(text))
                    continue
                doc_id = ids[i] if ids is not None else None
                doc = self.document(text, src, row, None if doc_id is None else str(doc_id))
                if doc is not None:
                    yield doc


def _blocks(f: io.BufferedIOBase) -> Iterator[tuple[int, bytes]]:
    """Blank-line separated blocks as (first line number, bytes); runs of blank lines separate once."""
    buf: list[bytes] = []
    start = 0
    for lineno, raw in enumerate(f, start=1):
        if raw.strip(b" \t\r\n") == b"":
            if buf:
                yield start, b"".join(buf)
                buf = []
            continue
        if not buf:
            start = lineno
        buf.append(raw)
    if buf:
        yield start, b"".join(buf)


def iter_documents(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    text_field: str = "text",
    txt_mode: str = "line",
    *,
    id_field: str | None = "id",
    max_chars: int = DEFAULT_MAX_CHARS,
    stats: ReadStats | None = None,
    on_problem: Problem | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[RawDocument]:
    """Yield the usable documents of `inputs`, reporting every unusable record to `stats` and `on_problem`.

    inputs: a file, glob or folder, or a list of them (see `resolve_inputs`).
    text_field: the JSON key / parquet column holding the text.
    txt_mode: for .txt files, "line" (one document per line), "block" (blank-line separated) or "file".
    id_field: JSON key / column used as the document id when present (else `<file name>:<line>`).
    max_chars: longer documents are reported as `too_long` instead of yielded.
    stats: a ReadStats to fill (pass one to read the counts afterwards).
    on_problem: called with each ReadProblem (the pipeline writes them to its rejects files).
    rank, world_size: keep records whose index within each file is rank mod world_size.
    """
    if txt_mode not in TXT_MODES:
        raise UserError(f"txt_mode {txt_mode!r}: unknown; use one of {', '.join(TXT_MODES)}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside world_size {world_size}")
    files = resolve_inputs(inputs)
    stats = stats if stats is not None else ReadStats()
    reader = _Reader(text_field, id_field, max_chars, stats, on_problem)
    for path in files:
        stats.files += 1
        kind = _kind(path)
        if kind == "jsonl":
            gen = reader.jsonl(path, rank, world_size)
        elif kind == "txt":
            gen = reader.txt(path, txt_mode, rank, world_size)
        else:
            gen = reader.parquet(path, rank, world_size)
        last_line = 0
        try:
            for doc in gen:
                last_line = doc.line
                yield doc
        except (EOFError, OSError, gzip.BadGzipFile) as e:
            # A truncated or corrupt compressed file: keep what was read, report where it stopped, go on.
            reader.problem("corrupt_file", str(path), last_line + 1, f"{type(e).__name__}: {str(e)[:120]}")
        except Exception as e:  # zstandard/pyarrow raise their own error types for corrupt input
            if type(e).__module__.split(".")[0] in ("zstandard", "pyarrow", "zstd"):
                reader.problem("corrupt_file", str(path), last_line + 1, f"{type(e).__name__}: {str(e)[:120]}")
            else:
                raise


def read_texts(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    text_field: str = "text",
    txt_mode: str = "line",
    **kwargs: Any,
) -> Iterator[str]:
    """Yield the text of every usable document in `inputs` (see `iter_documents` for the options)."""
    for doc in iter_documents(inputs, text_field=text_field, txt_mode=txt_mode, **kwargs):
        yield doc.text
