"""Train a Polyglot-Ko style tokenizer: morpheme-aware byte-level BPE ("MBBPE") with the released structure.

    polyglot-ko train-tokenizer --input corpus/ --out my-tokenizer [--vocab-size 30000] [--no-morpheme]

The result has the released tokenizer's structure: no normalizer, pre-tokenizer
`Sequence[Split(U+0CF1, Removed), ByteLevel(add_prefix_space=False, use_regex=True)]`, ByteLevel decoder, no
BOS/EOS added, `<pad> <eos> <|endoftext|> <|sep|>` at ids 0..3, the 256-byte alphabet at 4..259, merges, and the
PII tokens `<|acc|> <|tel|> <|rrn|>` as the last three ids (30000..30002 for the default vocabulary).

Morpheme-aware (the default): during training only, the Korean morphological analyzer kiwipiepy finds morpheme
boundaries inside each word and marks them with U+0CF1. The pre-tokenizer splits on the mark, so no merge can
cross a morpheme boundary (`운동이` is learned as `운동` + `이`, never as one token). Encoding needs no analyzer:
ordinary text has no marks. The analyzer dominates training time (see benchmarks/results/tokenizer.md);
`--no-morpheme` trains a plain byte-level BPE in seconds.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import UserError
from .tokenizer import (
    FIXED_SPECIAL_TOKENS,
    MORPHEME_BOUNDARY,
    PII_TOKENS,
    PolyglotTokenizer,
)

MIN_VOCAB_SIZE = len(FIXED_SPECIAL_TOKENS) + 256  # the special tokens plus the byte alphabet
# Texts longer than this go to the analyzer in pieces cut at line ends: the analyzer's memory and latency grow
# with the input, and a morpheme never spans a newline.
ANALYZER_CHUNK_CHARS = 4096
STATS_FILE = "tokenizer_training.json"


# --- morpheme marking ----------------------------------------------------------------------------------
def morpheme_boundaries(text: str, tokens) -> list[int]:
    """Character offsets inside `text` where one morpheme ends and the next begins within a word.

    `tokens`: kiwipiepy tokens of `text` (`.start`, `.end` in characters). Offsets strictly inside a token are
    never boundaries: contractions such as 했 (하 + 었) overlap in one syllable, which cannot be cut. Offsets
    next to whitespace are not marked either: the byte-level pre-tokenizer already splits there.
    """
    edges: set[int] = set()
    inside: set[int] = set()
    for t in tokens:
        s, e = t.start, t.end
        edges.add(s)
        edges.add(e)
        if e - s > 1:
            inside.update(range(s + 1, e))
    n = len(text)
    return sorted(p for p in edges - inside if 0 < p < n and not text[p - 1].isspace() and not text[p].isspace())


def insert_marks(text: str, offsets: list[int], mark: str = MORPHEME_BOUNDARY) -> str:
    if not offsets:
        return text
    parts, last = [], 0
    for p in offsets:
        parts.append(text[last:p])
        last = p
    parts.append(text[last:])
    return mark.join(parts)


def _chunks(text: str, limit: int = ANALYZER_CHUNK_CHARS) -> Iterator[str]:
    if len(text) <= limit:
        yield text
        return
    buf, size = [], 0
    for line in text.splitlines(keepends=True):
        while len(line) > limit:  # one gigantic line: cut at the last space before the limit
            cut = line.rfind(" ", 0, limit)
            cut = cut + 1 if cut > 0 else limit
            if buf:
                yield "".join(buf)
                buf, size = [], 0
            yield line[:cut]
            line = line[cut:]
        if size + len(line) > limit and buf:
            yield "".join(buf)
            buf, size = [], 0
        buf.append(line)
        size += len(line)
    if buf:
        yield "".join(buf)


@functools.lru_cache(maxsize=2)
def make_analyzer(num_workers: int | None = None):
    """A kiwipiepy `Kiwi` using every core (it analyzes texts in its own worker threads).

    Cached: loading the model takes seconds, and one instance serves any number of `tokenize` calls.
    """
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        raise UserError(
            "morpheme-aware training needs kiwipiepy; install it with `pip install kiwipiepy==0.21.0` "
            "(or the data extra), or pass --no-morpheme"
        ) from None
    return Kiwi(num_workers=num_workers or os.cpu_count() or 1)


ANALYSIS_MODES = ("sentence", "word")
_WORD = re.compile(r"\S+")


def mark_morphemes(
    texts: Iterable[str], analyzer=None, analysis: str = "sentence", word_batch: int = 2000, cache_size: int = 2_000_000
) -> Iterator[str]:
    """Yield `texts` with morpheme boundaries marked by U+0CF1.

    analysis="sentence": the analyzer reads whole texts (long ones cut into pieces at line ends, which are
        yielded as separate items), so ambiguous words are segmented in context. Texts stream through the
        analyzer's worker threads (`echo=True` pairs each result with its text) while the caller consumes.
    analysis="word": every distinct whitespace-separated word is analyzed once, alone, and its marking cached;
        texts are processed `word_batch` at a time so that each batch's new words go through the worker threads
        together. Several times faster on large corpora (word frequencies are Zipfian); on the shared corpus
        about 96 % of words get the same marks as in context.
    """
    if analysis not in ANALYSIS_MODES:
        raise UserError(f"analysis {analysis!r}: unknown; use one of {', '.join(ANALYSIS_MODES)}")
    kiwi = analyzer or make_analyzer()
    if analysis == "sentence":
        pieces = (chunk for text in texts for chunk in _chunks(text))
        for tokens, text in kiwi.tokenize(pieces, echo=True):
            yield insert_marks(text, morpheme_boundaries(text, tokens))
        return
    cache: dict[str, str] = {}
    batch: list[str] = []

    def flush() -> Iterator[str]:
        new = {w for t in batch for w in _WORD.findall(t) if w not in cache}
        if len(cache) + len(new) > cache_size:
            cache.clear()  # bounded memory on huge corpora; the frequent words come back within a batch
        for tokens, word in kiwi.tokenize(iter(sorted(new)), echo=True):
            cache[word] = insert_marks(word, morpheme_boundaries(word, tokens))
        sub = lambda m: cache[m.group()]  # noqa: E731
        for t in batch:
            yield _WORD.sub(sub, t)
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= word_batch:
            yield from flush()
    if batch:
        yield from flush()


# --- inputs --------------------------------------------------------------------------------------------
def _looks_like_paths(items: list) -> bool:
    from .data.readers import SUPPORTED_SUFFIXES

    if all(isinstance(x, os.PathLike) for x in items):
        return True
    for x in items:
        s = os.fspath(x) if isinstance(x, (str, os.PathLike)) else None
        if s is None or "\n" in s:
            return False
        if Path(s).expanduser().exists() or s.lower().endswith(tuple(SUPPORTED_SUFFIXES)):
            continue
        import glob

        if glob.has_magic(s) and not any(c.isspace() for c in s):
            continue
        return False
    return True


def _texts_from(inputs, text_field: str, stats) -> Iterator[str]:
    """Paths (a str/PathLike, or a list/tuple of them) go through the data readers; anything else is texts.

    Paths are checked here, before any reading starts, so a missing file is reported at once.
    """
    from .data.readers import iter_documents, resolve_inputs

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)) and inputs and _looks_like_paths(list(inputs)):
        files = resolve_inputs(list(inputs))
        return (doc.text for doc in iter_documents(files, text_field=text_field, stats=stats))
    return _check_strings(inputs)


def _check_strings(texts: Iterable) -> Iterator[str]:
    for t in texts:
        if not isinstance(t, str):
            raise UserError(
                f"train_tokenizer inputs: expected file paths or strings of text, got an item of type "
                f"{type(t).__name__}"
            )
        yield t


_SURROGATE = re.compile("[\ud800-\udfff]")


def _limit(texts: Iterable[str], max_chars: int | None, counter: dict, bar) -> Iterator[str]:
    for t in texts:
        if _SURROGATE.search(t):  # lone surrogates (from JSON escapes) cannot be encoded as UTF-8
            t = _SURROGATE.sub("\ufffd", t)
        if max_chars is not None and counter["chars"] >= max_chars:
            break
        if max_chars is not None and counter["chars"] + len(t) > max_chars:
            t = t[: max_chars - counter["chars"]]
        if not t:
            continue
        counter["docs"] += 1
        counter["chars"] += len(t)
        if bar is not None:
            bar.update(len(t))
        yield t
    if bar is not None:  # reading is done; the trainer now counts pairs and merges (no progress of its own here)
        bar.set_description(f"read {counter['docs']:,} documents; computing merges")
        bar.refresh()


# --- training ------------------------------------------------------------------------------------------
def build_empty_tokenizer():
    """An untrained tokenizer with the released structure (the trainer fills its BPE model)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(MORPHEME_BOUNDARY, behavior="removed"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    # The released file's post-processor: ByteLevel offsets only, adds no BOS/EOS.
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def train_tokenizer(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    vocab_size: int = 30000,
    morpheme_aware: bool = True,
    min_frequency: int = 2,
    text_field: str = "text",
    max_chars: int | None = None,
    show_progress: bool = True,
    analysis: str = "sentence",
) -> PolyglotTokenizer:
    """Train a byte-level BPE like Polyglot-Ko's on `inputs` and save it as a tokenizer folder at `out`.

    Args:
        inputs: a path/glob/folder or a list of them (.txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet; read with
            `polyglot_ko.data.readers`), or an iterable of text strings (a list of strings that are not existing
            paths, or any generator).
        out: folder to write (atomically): tokenizer.json, tokenizer_config.json, special_tokens_map.json and
            tokenizer_training.json (what it was trained on).
        vocab_size: BPE vocabulary including <pad> <eos> <|endoftext|> <|sep|> and the 256 bytes (released:
            30000); the PII tokens come on top, so the tokenizer has vocab_size + 3 ids. A small corpus may yield
            fewer merges than asked for; the PII ids then follow the last merge.
        morpheme_aware: mark kiwipiepy morpheme boundaries during training so no merge crosses one.
        min_frequency: a pair seen fewer times is never merged.
        text_field: JSON key / parquet column holding the text.
        max_chars: stop reading after this many characters.
        show_progress: a progress bar while reading, and a summary at the end.
        analysis: "sentence" (the analyzer sees whole texts) or "word" (each distinct word analyzed once: several
            times faster on large corpora, nearly the same marks; see `mark_morphemes`).
    """
    from tokenizers import AddedToken, pre_tokenizers, trainers

    from .data.readers import ReadStats
    from .io_utils import atomic_dir, atomic_write_json

    out = _check_options(out, vocab_size, analysis, min_frequency, max_chars)
    stats = ReadStats()
    counter = {"docs": 0, "chars": 0}
    t0 = time.perf_counter()
    source = _texts_from(inputs, text_field, stats)
    analyzer = make_analyzer() if morpheme_aware else None
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=max_chars,
            unit="char",
            unit_scale=True,
            desc="reading + analyzing" if morpheme_aware else "reading",
            dynamic_ncols=True,
        )
    texts = _limit(source, max_chars, counter, bar)
    if morpheme_aware:
        texts = mark_morphemes(texts, analyzer, analysis=analysis)

    tok = build_empty_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(FIXED_SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    try:
        tok.train_from_iterator(texts, trainer=trainer)
    finally:
        if bar is not None:
            bar.close()
    if counter["chars"] == 0:
        raise UserError(
            f"{inputs if isinstance(inputs, (str, os.PathLike)) else 'inputs'}: no text to train on "
            f"(all inputs empty or unreadable); check inputs and text_field"
        )
    bpe_size = tok.get_vocab_size(with_added_tokens=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in PII_TOKENS.values()])
    seconds = time.perf_counter() - t0
    tokenizer = PolyglotTokenizer(tok, source=str(out))
    merges = bpe_size - MIN_VOCAB_SIZE
    info = {
        "documents": counter["docs"],
        "characters": counter["chars"],
        "read_problems": dict(stats.problems),
        "morpheme_aware": morpheme_aware,
        "analyzer": _analyzer_version() if morpheme_aware else None,
        "analysis": analysis if morpheme_aware else None,
        "vocab_size_requested": vocab_size,
        "bpe_vocab_size": bpe_size,
        "merges": merges,
        "vocab_size": tokenizer.vocab_size,
        "padded_vocab_size": tokenizer.padded_vocab_size,
        "min_frequency": min_frequency,
        "max_chars": max_chars,
        "seconds": round(seconds, 2),
        "fingerprint": tokenizer.fingerprint,
    }
    with atomic_dir(out) as tmp:
        tokenizer.save(tmp)
        atomic_write_json(tmp / STATS_FILE, info)
    from .tokenizer import load_tokenizer

    result = load_tokenizer(out)
    if show_progress:
        print(
            _summary_line(
                result,
                counter,
                bpe_size,
                vocab_size,
                min_frequency,
                morpheme_aware,
                sum(stats.problems.values()),
                seconds,
                out,
            )
        )
    return result


def _check_options(out, vocab_size: int, analysis: str, min_frequency: int, max_chars: int | None) -> Path:
    """`train_tokenizer`'s arguments, checked before any reading; returns the output folder."""
    from .io_utils import check_output_path

    out = check_output_path(out, "out", folder=True)
    if vocab_size < MIN_VOCAB_SIZE + 1:
        raise UserError(
            f"vocab_size {vocab_size}: must be at least {MIN_VOCAB_SIZE + 1} (4 special tokens + 256 "
            f"bytes + at least one merge); Polyglot-Ko uses 30000"
        )
    if analysis not in ANALYSIS_MODES:
        raise UserError(f"analysis {analysis!r}: unknown; use one of {', '.join(ANALYSIS_MODES)}")
    if min_frequency < 1:
        raise UserError(f"min_frequency {min_frequency}: must be >= 1")
    if max_chars is not None and max_chars <= 0:
        raise UserError(f"max_chars {max_chars}: must be a positive number of characters (or None for all)")
    if out.exists() and not out.is_dir():
        raise UserError(f"out {out}: exists and is a file; pass a folder path")

    return out


def _summary_line(
    result,
    counter: dict,
    bpe_size: int,
    vocab_size: int,
    min_frequency: int,
    morpheme_aware: bool,
    problems: int,
    seconds: float,
    out: Path,
) -> str:
    merges = bpe_size - MIN_VOCAB_SIZE
    short = (
        ""
        if bpe_size >= vocab_size
        else (f" (asked for {vocab_size}: the corpus ran out of pairs seen >= {min_frequency} times)")
    )
    return (
        f"trained {'morpheme-aware ' if morpheme_aware else ''}byte-level BPE on {counter['docs']:,} documents "
        f"/ {counter['chars']:,} characters in {seconds:.1f} s: {result.vocab_size:,} ids = {bpe_size:,} BPE "
        f"({merges:,} merges){short} + 3 PII tokens; padded to {result.padded_vocab_size:,}; "
        f"{problems:,} unreadable records skipped; saved to {out}"
    )


def _analyzer_version() -> str:
    try:
        import kiwipiepy

        return f"kiwipiepy {kiwipiepy.__version__}"
    except ImportError:
        return "kiwipiepy"
