"""`polyglot-ko mask-pii`: mask phone, resident registration, bank account and card numbers with the tokenizer's
<|tel|>, <|rrn|>, <|acc|> tokens. Reads stdin (or files), writes stdout.

    polyglot-ko mask-pii < in.txt > out.txt
    polyglot-ko mask-pii --jsonl --text-field body data.jsonl --stats > masked.jsonl
"""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from collections.abc import Iterable

from ..data.pii import PII_TYPES, PIIMasker
from ..errors import UserError
from ._args import Flag, add_parameters


def mask_files(
    files: list[str] = (),
    jsonl: bool = False,
    text_field: str = "text",
    types: str = ",".join(PII_TYPES),
    stats: bool = False,
    cards: bool = True,
) -> int:
    """Mask the lines of `files` (or stdin) to stdout.

    Args:
        files: input text files (default: stdin)
        jsonl: input is JSON lines; mask the --text-field value
        text_field: JSON field to mask with --jsonl
        types: comma-separated types to mask
        stats: print counts per type to stderr at the end
        cards: mask Luhn-valid card numbers (as <|acc|>)
    """
    chosen = {t.strip() for t in types.split(",") if t.strip()}
    unknown = chosen - set(PII_TYPES)
    if unknown:
        raise UserError(f"--types {types}: unknown {sorted(unknown)}; use a subset of {','.join(PII_TYPES)}")
    masker = PIIMasker(tel="tel" in chosen, rrn="rrn" in chosen, acc="acc" in chosen, cards=cards)
    total: Counter = Counter()
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(encoding="utf-8")
    for lineno, line in enumerate(_lines(list(files)), start=1):
        if jsonl:
            if not line.strip():
                out.write(line)
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise UserError(f"line {lineno}: not JSON ({e}); drop --jsonl for plain text") from None
            value = obj.get(text_field) if isinstance(obj, dict) else None
            if isinstance(value, str):
                obj[text_field], counts = masker.mask_with_counts(value)
                total.update(counts)
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            masked, counts = masker.mask_with_counts(line)
            total.update(counts)
            out.write(masked)
    out.flush()
    if stats:
        print(
            "masked: "
            + ", ".join(f"{t} {total[t]}" for t in PII_TYPES)
            + (f" (cards {total['card']}, counted in acc)" if total["card"] else ""),
            file=sys.stderr,
        )
    return 0


def _lines(files: list[str]) -> Iterable[str]:
    if not files:
        # Read bytes and decode as UTF-8 whatever the locale says (a C locale would make stdin ASCII).
        yield from io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
        return
    for name in files:
        try:
            with open(name, encoding="utf-8") as f:
                yield from f
        except FileNotFoundError:
            raise UserError(f"{name}: no such file; pass existing text files or pipe text on stdin") from None
        except UnicodeDecodeError as e:
            raise UserError(f"{name}: not UTF-8 ({e.reason} at byte {e.start}); convert it with iconv") from None


def add_arguments(parser) -> None:
    add_parameters(
        parser,
        mask_files,
        flags={"files": Flag(positional=True), "cards": Flag(help="leave Luhn-valid card numbers unmasked")},
    )


def run(args: dict) -> int:
    return mask_files(**args)
