"""Text normalisation steps of corpus preparation, in the Polyglot-Ko team's order (ground-truth §3):
Unicode NFC, HTML removal, whitespace normalisation that keeps newlines, repeat/emoticon reduction.

Each step is a pure function `str -> str` (usable on its own and tested as such); blocks.py wraps each in a
datatrove formatter that counts documents and characters in and out. None of them drops a document: an
empty result is dropped later by the length filter, with its reason recorded.
"""

from __future__ import annotations

import html
import re
import unicodedata


def nfc(text: str) -> str:
    """Unicode NFC: decomposed Hangul jamo sequences (macOS file names, some web pages) become syllables."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


# Only real HTML tag names are removed: Korean text uses angle brackets for titles (<기생충>, <사랑의 불시착>)
# and the tokenizer's special tokens look like <|tel|>; neither is HTML.
_TAG_NAMES = (
    "a|abbr|address|area|article|aside|audio|b|base|bdi|bdo|blockquote|body|br|button|canvas|caption|center|"
    "cite|code|col|colgroup|data|dd|del|details|dfn|dialog|div|dl|dt|em|embed|fieldset|figcaption|figure|font|"
    "footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|label|legend|li|link|main|map|mark|meta|"
    "nav|noscript|object|ol|optgroup|option|output|p|param|picture|pre|q|s|samp|section|select|small|source|"
    "span|strike|strong|sub|summary|sup|table|tbody|td|template|textarea|tfoot|th|thead|time|title|tr|track|tt|"
    "u|ul|var|video|wbr|o:p|xml"
)
_BLOCK_TAGS = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|tr|h[1-6]|table|ul|ol|blockquote|section|article|header|footer|hr|dd|dt|pre)"
    r"(?:\s[^<>]*)?/?\s*>",
    re.IGNORECASE,
)
_ANY_TAG = re.compile(rf"<\s*/?\s*(?:{_TAG_NAMES})(?:\s[^<>]*)?/?\s*>", re.IGNORECASE)
_DROP_BLOCKS = re.compile(r"<(script|style|head)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def remove_html(text: str) -> str:
    """Strip HTML markup: script/style blocks and comments go whole, block tags become newlines, other tags
    vanish, entities (&amp;, &nbsp;, &#39;) are decoded. Text without '<' or '&' is returned as is."""
    if "<" in text:
        if "<!--" in text:
            text = _COMMENT.sub("", text)
        text = _DROP_BLOCKS.sub("", text)
        text = _BLOCK_TAGS.sub("\n", text)
        text = _ANY_TAG.sub("", text)
    if "&" in text and _ENTITY.search(text):
        text = html.unescape(text)
    return text


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace except newline
_MANY_NEWLINES = re.compile(r"\n{3,}")
_LINE_EDGES = re.compile(r" *\n *")


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces/tabs (and other Unicode spaces) to one space, trim every line, keep single and
    double newlines (paragraphs) but collapse longer runs to one blank line, drop zero-width characters."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _LINE_EDGES.sub("\n", text)
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def reduce_repeats(text: str, max_repeats: int = 2) -> str:
    """Shorten laughter, crying and emoticon runs to `max_repeats` units: ㅋㅋㅋㅋ -> ㅋㅋ, ㅠㅠㅠㅠ -> ㅠㅠ,
    하하하하 -> 하하, !!!!! -> !!, ^^^^ -> ^^, 대박대박대박 -> 대박대박.

    Digits, letters and periods are left alone (numbers, and ellipses that the ellipsis filter reads)."""
    single, double = _repeat_patterns(max_repeats)

    def shorten(m: re.Match) -> str:
        return m.group(1) * max_repeats

    # Two-character units first, so ㅋㅋㅋㅋㅋㅋ is not read as ㅋㅋ x3 after the single pass.
    return single.sub(shorten, double.sub(shorten, text))


_REPEAT_CACHE: dict[int, tuple[re.Pattern, re.Pattern]] = {}


def _repeat_patterns(n: int) -> tuple[re.Pattern, re.Pattern]:
    if n not in _REPEAT_CACHE:
        if n < 1:
            raise ValueError("max_repeats must be >= 1")
        # one character: Hangul jamo and syllables, and emoticon punctuation
        single = re.compile(r"([\u3131-\u318e\uac00-\ud7a3~!?^♡♥★☆;ㆍ])\1{" + str(n) + ",}")
        # two-character units: ㅋㅎㅋㅎㅋㅎ, 대박대박대박
        double = re.compile(r"([\u3131-\u318e\uac00-\ud7a3]{2})\1{" + str(n) + ",}")
        _REPEAT_CACHE[n] = (single, double)
    return _REPEAT_CACHE[n]
