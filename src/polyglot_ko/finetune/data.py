"""Instruction data -> tokenized examples with completion-only labels; every record accounted for.

Sources (`load_examples(sources, tokenizer, ...)`, one or many):
- a `.json` file (a list of records) or a `.jsonl` file (one record per line), or a folder of them;
- a folder written by `datasets.Dataset.save_to_disk` / `DatasetDict.save_to_disk` (read with
  `datasets.load_from_disk`; a DatasetDict gives its `split`, "train" by default);
- a hub id such as `beomi/KoAlpaca-v1.1a` (read with `datasets.load_dataset(id, split=split)`; offline, the
  error says how to pass a local copy instead);
- `ko-instruct`: the bundled set (assets/ko-instruct.jsonl), unless a local path of that name exists.

Two record formats, recognised per record:
- Alpaca / KoAlpaca: `instruction`, optional `input`, `output` (optional `system`) -> a system message (if
  any), user = instruction, plus "\\n" + input when input is not empty, assistant = output;
- chat: `messages: [{"role": "system" | "user" | "assistant", "content": str}, ...]`, a system message only
  first, ending with an assistant message. Every assistant message is trained.
An optional string `task` field is counted in the stats (the bundled set labels every record).

Labels: `labels[i] = input_ids[i]` on assistant tokens (the answers and their endings, see template.py), -100
elsewhere (`train_on_prompt=True` keeps every token); `labels[0]` is always -100 (nothing precedes the first
token, and in a packed row it would be predicted from the previous example). The loss shifts: position i-1
predicts labels[i], transformers' convention. A token counts as assistant text if it overlaps an assistant
character span, as transformers' `return_assistant_tokens_mask` decides.

Too long (> max_length tokens): `truncation="turns"` (default) keeps the longest leading part of the
conversation that ends with a whole assistant message and fits (re-rendered, so it ends with <|endoftext|>);
`truncation="drop"` drops it. Either way a conversation whose first answer does not fit is dropped `too_long`.

Accounting (`DataStats`): `records == kept + sum(dropped.values())`. Drop reasons: `malformed` (not JSON, not
an object, wrong field types, unknown format, a misplaced system message; the problem list names file:line),
`empty_prompt`, `empty_answer`, `no_assistant_turn`, `last_turn_not_assistant`, `control_token` (content holds
<pad>, <eos>, <|endoftext|> or <|sep|>, which would become control ids; the PII masks are fine), `too_long`.
A source unusable as a whole (unreadable, not JSON, a top level that is not a list, no record in a known
format) is a one-line `UserError` naming the file and line.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..chat_template import CHAT_TEMPLATE, render_chat_with_spans
from ..constants import FIXED_SPECIAL_TOKENS, MODEL_MAX_LENGTH
from ..errors import UserError

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant")
TRUNCATION = ("turns", "drop")
DROP_REASONS = (
    "malformed",
    "empty_prompt",
    "empty_answer",
    "no_assistant_turn",
    "last_turn_not_assistant",
    "control_token",
    "too_long",
)
BUNDLED_NAME = "ko-instruct"
MAX_PROBLEMS = 50  # problem messages kept in the stats (the counts are complete)
_CONTROL_TOKENS = tuple(FIXED_SPECIAL_TOKENS.values())


def bundled_path() -> Path:
    """The bundled Korean instruction set (CC0), assets/ko-instruct.jsonl."""
    return Path(__file__).resolve().parent / "assets" / f"{BUNDLED_NAME}.jsonl"


@dataclass
class Example:
    """One tokenized conversation: `labels` is -100 where nothing is trained."""

    input_ids: list[int]
    labels: list[int]
    where: str
    task: str | None = None

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class DataStats:
    """Where every record went. `records == kept + sum(dropped.values())`."""

    records: int = 0
    kept: int = 0
    truncated: int = 0  # kept, but cut to whole leading turns (truncation="turns")
    dropped: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)  # kept records per format (alpaca, chat)
    tasks: Counter = field(default_factory=Counter)  # kept records per `task` field ("-" when absent)
    tokens: int = 0
    trained_tokens: int = 0
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS "where: reason: detail"

    def drop(self, where: str, reason: str, detail: str = "") -> None:
        self.dropped[reason] += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {reason}" + (f": {detail}" if detail else ""))

    def as_dict(self) -> dict:
        return {
            "records": self.records,
            "kept": self.kept,
            "truncated": self.truncated,
            "dropped": dict(sorted(self.dropped.items())),
            "formats": dict(sorted(self.formats.items())),
            "tasks": dict(sorted(self.tasks.items())),
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "problems": list(self.problems),
        }

    def summary(self) -> str:
        drops = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items())) or "none"
        return (
            f"{self.records} records: {self.kept} kept ({self.truncated} truncated), dropped: {drops}; "
            f"{self.tokens} tokens, {self.trained_tokens} trained"
        )

    def save(self, path: str | os.PathLike) -> None:
        from ..io_utils import atomic_write_json

        atomic_write_json(path, self.as_dict())


class _Drop(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


# --- reading records -----------------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror}); check the path and its permissions") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text; re-save the file as UTF-8") from None


def _json_array_records(path: Path, text: str, obj: Any) -> list[tuple[str, Any]]:
    """The elements of a top-level JSON array, each with the line it starts on."""
    if not isinstance(obj, list):
        kind = "an object" if isinstance(obj, dict) else type(obj).__name__
        raise UserError(
            f"{path}:1: the top level is {kind}; expected a list of records (or use JSON Lines, one "
            f"record per line, in a .jsonl file)"
        )
    decoder, out, pos = json.JSONDecoder(), [], text.index("[") + 1
    for _ in obj:  # json.loads succeeded, so this second pass only finds where each element starts
        while text[pos] in " \t\r\n,":
            pos += 1
        line = text.count("\n", 0, pos) + 1
        value, pos = decoder.raw_decode(text, pos)
        out.append((f"{path}:{line}", value))
    return out


def _jsonl_records(path: Path, text: str) -> list[tuple[str, Any]]:
    out, first_bad, parsed = [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"{path}:{n}", json.loads(line)))
            parsed += 1
        except json.JSONDecodeError as e:
            out.append((f"{path}:{n}", _Drop("malformed", f"not valid JSON ({e.msg})")))
            first_bad = first_bad or (n, e.msg)
    if out and not parsed:
        raise UserError(f"{path}:{first_bad[0]}: not JSON Lines ({first_bad[1]}); write one JSON object per line")
    return out


def read_json_records(path: str | os.PathLike) -> list[tuple[str, Any]]:
    """(where, record) for each record of a .json (a list) or .jsonl file; a line that is not JSON comes back
    as a `malformed` marker, a file that is not JSON at all is a `UserError`."""
    path = Path(path)
    text = _read_text(path)
    if path.suffix != ".jsonl":
        try:
            return _json_array_records(path, text, json.loads(text))
        except json.JSONDecodeError as e:
            if not e.msg.startswith("Extra data"):  # several values: JSON Lines in a .json file
                raise UserError(
                    f"{path}:{e.lineno}: not valid JSON ({e.msg}); fix the file, or write one "
                    f"record per line as JSON Lines (.jsonl)"
                ) from None
    return _jsonl_records(path, text)


def _dataset_records(ds, label: str, split: str) -> list[tuple[str, Any]]:
    if hasattr(ds, "keys") and not hasattr(ds, "features"):  # a DatasetDict
        if split not in ds:
            raise UserError(f"{label}: no split {split!r} (it has {', '.join(ds.keys())}); pass one of them")
        ds = ds[split]
    return [(f"{label}[{split}] row {i}", row) for i, row in enumerate(ds)]


def _hub_records(name: str, split: str) -> list[tuple[str, Any]]:
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    try:
        ds = datasets.load_dataset(name, split=split)
    except DatasetNotFoundError:
        raise UserError(
            f"hub dataset {name} was not found (or is private); check the id, or log in with `huggingface-cli login`"
        ) from None
    except ConnectionError:
        raise UserError(
            f"cannot reach the Hugging Face hub to fetch dataset {name}, and it is not in the local "
            f"cache; connect once, or download it elsewhere (`huggingface-cli download {name} "
            f"--repo-type dataset --local-dir DIR`) and pass a .json/.jsonl file from DIR"
        ) from None
    except (OSError, ValueError) as e:
        raise UserError(
            f"could not load hub dataset {name} ({type(e).__name__}: {str(e).splitlines()[0]}); pass "
            f"a local .json/.jsonl file or a saved datasets folder instead"
        ) from None
    return _dataset_records(ds, name, split)


def _source_records(source: str | os.PathLike, split: str) -> list[tuple[str, Any]]:
    from ..hub import looks_like_hub_id

    path = Path(os.path.expanduser(str(source)))
    if not path.exists() and str(source) == BUNDLED_NAME:
        path = bundled_path()
    if path.is_file():
        return read_json_records(path)
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            import datasets

            return _dataset_records(datasets.load_from_disk(str(path)), str(path), split)
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file())
        if not files:
            raise UserError(
                f"{path}: the folder holds no .json/.jsonl files and is not a saved datasets folder; "
                f"pass instruction files, or a folder written by Dataset.save_to_disk"
            )
        return [r for f in files for r in read_json_records(f)]
    if looks_like_hub_id(str(source)):
        return _hub_records(str(source), split)
    raise UserError(
        f"{source}: no such file or folder; pass a .json/.jsonl file, a folder, a hub dataset id "
        f"like beomi/KoAlpaca-v1.1a, or {BUNDLED_NAME}"
    )


def _known_format(record: Any) -> bool:
    return isinstance(record, dict) and ("messages" in record or "instruction" in record or "output" in record)


def iter_records(
    sources: str | os.PathLike | Sequence[str | os.PathLike], split: str = "train"
) -> Iterator[tuple[str, Any]]:
    """(where, record) for every record of every source, in order. A source none of whose records is in a known
    format is a `UserError` (the wrong file, or another format)."""
    for source in [sources] if isinstance(sources, (str, os.PathLike)) else list(sources):
        records = _source_records(source, split)
        if not records:
            raise UserError(f"{source}: holds no records; pass a file with instruction records")
        if not any(_known_format(r) for _, r in records):
            where, r = next((w, r) for w, r in records if not isinstance(r, _Drop))
            keys = ", ".join(sorted(r)[:8]) if isinstance(r, dict) else type(r).__name__
            raise UserError(
                f"{where}: no record in a known format (found {keys}); records need instruction + "
                f"output (Alpaca) or messages (chat)"
            )
        yield from records


# --- records -> messages -------------------------------------------------------------------------------------
def _need_str(record: dict, name: str, optional: bool = False) -> str:
    value = record.get(name)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise _Drop("malformed", f"{name} is {'missing' if value is None else type(value).__name__}, expected a string")
    return value


def _alpaca_messages(record: dict) -> list[dict]:
    instruction, output = _need_str(record, "instruction"), _need_str(record, "output")
    extra, system = _need_str(record, "input", optional=True), _need_str(record, "system", optional=True)
    user = instruction.strip() + ("\n" + extra.strip() if extra.strip() else "")
    messages = [{"role": "system", "content": system}] if system.strip() else []
    return messages + [{"role": "user", "content": user}, {"role": "assistant", "content": output}]


def _chat_messages(record: dict) -> list[dict]:
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise _Drop("malformed", "messages must be a non-empty list of {role, content}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise _Drop("malformed", f"messages[{i}] must be {{role: system|user|assistant, content: string}}")
        if m["role"] == "system" and i:
            raise _Drop("malformed", f"messages[{i}] is a system message; only the first message may be one")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def record_messages(record: Any) -> tuple[list[dict], str]:
    """(messages, format) for one record, or raise `_Drop` with the reason it cannot be trained on."""
    if not isinstance(record, dict):
        raise _Drop("malformed", f"a record must be a JSON object, got {type(record).__name__}")
    if "messages" in record:
        messages, fmt = _chat_messages(record), "chat"
    elif "instruction" in record or "output" in record:
        messages, fmt = _alpaca_messages(record), "alpaca"
    else:
        raise _Drop(
            "malformed",
            f"no known format (keys: {', '.join(sorted(record)[:8])}); needs instruction + output or messages",
        )
    if any(not m["content"].strip() for m in messages if m["role"] == "user"):
        raise _Drop("empty_prompt")
    if not any(m["role"] == "assistant" for m in messages):
        raise _Drop("no_assistant_turn")
    if any(not m["content"].strip() for m in messages if m["role"] == "assistant"):
        raise _Drop("empty_answer")
    if messages[-1]["role"] != "assistant":
        raise _Drop("last_turn_not_assistant")
    for m in messages:
        hit = next((t for t in _CONTROL_TOKENS if t in m["content"]), None)
        if hit:
            raise _Drop("control_token", f"a {m['role']} message contains {hit}")
    return messages, fmt


# --- messages -> tokens --------------------------------------------------------------------------------------
def _backend(tokenizer):
    from ..tokenizer import load_tokenizer

    return load_tokenizer(tokenizer).backend


def tokenize_messages(
    messages: list[dict], tokenizer, template: str = CHAT_TEMPLATE, train_on_prompt: bool = False
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of a conversation rendered without a generation prompt: labels are the ids on tokens
    overlapping an assistant span (all tokens with `train_on_prompt`), -100 elsewhere, and -100 at position 0."""
    text, spans = render_chat_with_spans(messages, False, template)
    enc = _backend(tokenizer).encode(text, add_special_tokens=False)
    ids, labels, s = enc.ids, [], 0
    for tid, (start, end) in zip(ids, enc.offsets, strict=True):
        while s < len(spans) and start >= spans[s][1]:
            s += 1
        trained = train_on_prompt or (s < len(spans) and end > spans[s][0])
        labels.append(tid if trained else IGNORE_INDEX)
    if labels:
        labels[0] = IGNORE_INDEX
    return list(ids), labels


def _fit(messages, tokenizer, max_length, truncation, template, train_on_prompt):
    ids, labels = tokenize_messages(messages, tokenizer, template, train_on_prompt)
    if len(ids) <= max_length:
        return ids, labels, False
    if truncation == "turns":
        ends = [i + 1 for i, m in enumerate(messages[:-1]) if m["role"] == "assistant"]
        for k in reversed(ends):
            ids, labels = tokenize_messages(messages[:k], tokenizer, template, train_on_prompt)
            if len(ids) <= max_length:
                return ids, labels, True
    raise _Drop(
        "too_long",
        f"{len(ids)} tokens > max_length {max_length}"
        + (" even cut to its first answer" if truncation == "turns" else ""),
    )


def load_examples(
    sources: str | os.PathLike | Sequence[str | os.PathLike],
    tokenizer,
    *,
    max_length: int = MODEL_MAX_LENGTH,
    truncation: str = "turns",
    train_on_prompt: bool = False,
    template: str = CHAT_TEMPLATE,
    split: str = "train",
) -> tuple[list[Example], DataStats]:
    """Read, check and tokenize instruction records (see the module docstring); returns the kept examples in
    source order and the stats of every record. `tokenizer`: a `PolyglotTokenizer` or a tokenizer folder."""
    if not isinstance(max_length, int) or max_length < 2:
        raise UserError(f"max_length {max_length!r}: must be an integer >= 2; pass the sequence length to train at")
    if truncation not in TRUNCATION:
        raise UserError(f"truncation {truncation!r}: unknown; use one of {', '.join(TRUNCATION)}")
    from ..tokenizer import load_tokenizer

    tokenizer = load_tokenizer(tokenizer)
    stats, examples = DataStats(), []
    for where, record in iter_records(sources, split):
        stats.records += 1
        try:
            if isinstance(record, _Drop):
                raise record
            messages, fmt = record_messages(record)
            ids, labels, cut = _fit(messages, tokenizer, max_length, truncation, template, train_on_prompt)
        except _Drop as d:
            stats.drop(where, d.reason, d.detail)
            continue
        task = record.get("task") if isinstance(record.get("task"), str) else None
        examples.append(Example(ids, labels, where, task))
        stats.kept += 1
        stats.truncated += cut
        stats.formats[fmt] += 1
        stats.tasks[task or "-"] += 1
        stats.tokens += len(ids)
        stats.trained_tokens += sum(t != IGNORE_INDEX for t in labels)
    return examples, stats


def split_examples(
    examples: Sequence[Any], validation_fraction: float = 0.05, seed: int = 0
) -> tuple[list[Any], list[Any]]:
    """(train, validation): a seeded random `validation_fraction` of the examples (at least one when the fraction
    is > 0 and there are two or more), both in their original order. The same inputs and seed give the same
    split."""
    if not 0.0 <= validation_fraction < 1.0:
        raise UserError(f"validation fraction {validation_fraction!r}: must be in [0, 1); e.g. 0.05")
    n = len(examples)
    k = round(n * validation_fraction)
    if validation_fraction > 0 and n >= 2:
        k = min(max(k, 1), n - 1)
    chosen = set(random.Random(seed).sample(range(n), k))
    return ([e for i, e in enumerate(examples) if i not in chosen], [e for i, e in enumerate(examples) if i in chosen])


def count_by(examples: Iterable[Example], key: str = "task") -> Counter:
    """How many examples have each value of `key` (e.g. task)."""
    return Counter(getattr(e, key) or "-" for e in examples)
