"""Document quality filters: MassiveText (Gopher) rules with the Polyglot-Ko team's thresholds as defaults,
plus the team's Korean character ratio.

`QualityConfig` holds the thresholds (every one configurable, `None` turns a rule off); `check_quality(text,
config)` returns the reason a document is dropped, or None to keep it; `KoreanQualityFilter` is the datatrove
filter that applies it in the pipeline (as datatrove's GopherQualityFilter does its rules). Reasons are the keys
of prepare's `dropped` stats: too_short, too_long_doc, mean_word_length, symbol_ratio, bullet_lines, ellipsis_lines,
alphabetic_words, korean_ratio.

The alphabetic-word rule (Gopher: 80 % of words contain an alphabetic character) is read with Unicode's
meaning of "alphabetic" (`str.isalpha`, true for Hangul and Hanja), not ASCII letters: with [A-Za-z] every
Korean document would fail it. So it still removes what it was meant to remove (number tables, symbol
dumps, lists of codes) and keeps ordinary Korean prose. Word = a whitespace-separated token (eojeol).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from ..errors import UserError

QUALITY_REASONS = (
    "too_short",
    "too_long_doc",
    "mean_word_length",
    "symbol_ratio",
    "bullet_lines",
    "ellipsis_lines",
    "alphabetic_words",
    "korean_ratio",
)


@dataclass
class QualityConfig:
    """Thresholds of the quality filters (team defaults, ground-truth §3). None disables a rule."""

    min_chars: int | None = 50
    """Drop documents shorter than this many characters (after normalisation)."""
    max_chars: int | None = 100_000
    """Drop documents longer than this many characters."""
    min_mean_word_length: float | None = 3.0
    """Drop documents whose mean word (eojeol) length, punctuation stripped, is below this."""
    max_mean_word_length: float | None = 10.0
    """Drop documents whose mean word length is above this."""
    max_symbol_word_ratio: float | None = 0.1
    """Drop documents with more than this many '#' and ellipsis ('...', '…') per word."""
    max_bullet_lines: float | None = 0.9
    """Drop documents where more than this fraction of lines start with a bullet (•, ·, -, *, ▶, ...)."""
    max_ellipsis_lines: float | None = 0.3
    """Drop documents where more than this fraction of lines end with an ellipsis ('...', '…')."""
    min_alphabetic_words: float | None = 0.8
    """Keep only documents where at least this fraction of words contain a letter (Unicode: Hangul counts)."""
    min_korean_ratio: float | None = 0.25
    """Drop documents where Hangul is less than this fraction of non-space characters."""

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> QualityConfig:
        """Each threshold is None or a finite number >= 0 (ratios at most 1), and every min <= its max."""
        ratios = (
            "max_symbol_word_ratio",
            "max_bullet_lines",
            "max_ellipsis_lines",
            "min_alphabetic_words",
            "min_korean_ratio",
        )
        for name, value in asdict(self).items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UserError(
                    f"quality {name}={value!r}: must be a number >= 0 (or None to turn the rule off)", param=name
                )
            if name in ratios and value > 1:
                raise UserError(f"quality {name}={value!r}: is a fraction, give a value in [0, 1]", param=name)
        for low, high in (("min_chars", "max_chars"), ("min_mean_word_length", "max_mean_word_length")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise UserError(
                    f"quality {low}={a} is above {high}={b}: no document could pass; lower {low}", param=low
                )
        return self


_BULLET = re.compile(r"^\s*[•·∙◦●○■□▪▫◆◇▶▷►‣⁃\-*+]")
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)\s*$")
_ELLIPSIS = re.compile(r"\.\.\.|…")
_LETTER = re.compile(r"[^\W\d_]")  # a Unicode letter: Hangul, Hanja, Latin, ...
# str.translate with a deletion table counts Hangul in C: len(text) - len(text without Hangul)
_DELETE_HANGUL = dict.fromkeys([*range(0xAC00, 0xD7A4), *range(0x3131, 0x318F), *range(0x1100, 0x1200)])
_STRIP = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’「」『』《》〈〉【】…·ㆍ"


def check_quality(text: str, config: QualityConfig | None = None) -> str | None:
    """The first rule `text` fails (a reason from QUALITY_REASONS), or None when it passes all of them."""
    c = config or QualityConfig()
    n = len(text)
    if c.min_chars is not None and n < c.min_chars:
        return "too_short"
    if c.max_chars is not None and n > c.max_chars:
        return "too_long_doc"
    words = text.split()
    if not words:
        return "too_short"
    if c.min_mean_word_length is not None or c.max_mean_word_length is not None:
        lengths = [len(w.strip(_STRIP)) for w in words]
        lengths = [x for x in lengths if x] or [0]
        mean = sum(lengths) / len(lengths)
        if c.min_mean_word_length is not None and mean < c.min_mean_word_length:
            return "mean_word_length"
        if c.max_mean_word_length is not None and mean > c.max_mean_word_length:
            return "mean_word_length"
    if c.max_symbol_word_ratio is not None:
        symbols = text.count("#") + len(_ELLIPSIS.findall(text))
        if symbols / len(words) > c.max_symbol_word_ratio:
            return "symbol_ratio"
    if c.max_bullet_lines is not None or c.max_ellipsis_lines is not None:
        lines = [line for line in text.split("\n") if line.strip()]
        if lines:
            if (
                c.max_bullet_lines is not None
                and sum(1 for line in lines if _BULLET.match(line)) / len(lines) > c.max_bullet_lines
            ):
                return "bullet_lines"
            if (
                c.max_ellipsis_lines is not None
                and sum(1 for line in lines if _ELLIPSIS_END.search(line)) / len(lines) > c.max_ellipsis_lines
            ):
                return "ellipsis_lines"
    if c.min_alphabetic_words is not None:
        search = _LETTER.search
        alpha = sum(1 for w in words if w.isalpha() or search(w))
        if alpha / len(words) < c.min_alphabetic_words:
            return "alphabetic_words"
    if c.min_korean_ratio is not None:
        non_space = sum(map(len, words))
        hangul = n - len(text.translate(_DELETE_HANGUL))
        if non_space and hangul / non_space < c.min_korean_ratio:
            return "korean_ratio"
    return None


class KoreanQualityFilter(BaseFilter):
    """Drops the documents that fail a quality rule, with the rule as the reason (rejects/<rule>.jsonl.gz)."""

    name = "quality"

    def __init__(self, config: QualityConfig | dict | None = None, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.config = QualityConfig(**config) if isinstance(config, dict) else (config or QualityConfig())

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        self.stat_update("chars_in", value=len(doc.text))
        reason = check_quality(doc.text, self.config)
        return True if reason is None else (False, reason)
