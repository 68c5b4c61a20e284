"""Mask Korean personal data (phone, resident registration, bank account and card numbers) with the special
tokens of the released Polyglot-Ko tokenizer: `<|tel|>`, `<|rrn|>`, `<|acc|>`.

How it decides (the team's published regexes masked dates as accounts and missed most phone formats; this is
a small classifier instead of one regex per type):

1. Full-width digits, dashes, parentheses and spaces are mapped to ASCII in a same-length *view* of the text,
   so positions in the view are positions in the original (the original characters are what gets replaced).
2. A candidate is a run of digit groups joined by one kind of separator (`-`, `.`, space or none), with an
   optional `+82`/`0082` prefix and optional parentheses around the area code (`(02) 123-4567`, `02)123-4567`,
   `02 ) 123-4567`).
3. Each candidate is split into the longest leading group sequences that classify as a type, in priority
   order rrn > tel > card > acc; a span may only start or end at a space between groups, so
   `12-010-1234-5678` or `010-1234-5678-9` never lose part of a number to a mask.
4. Types:
   - tel: mobile 010/011/016-019, Seoul 02 and the 16 regional area codes, 070, 080, 050X, and 15XX/16XX/18XX
     service numbers (not when the two halves read as a range of years such as 1600-1700, unless a phone word
     is near); the +82 prefix (with or without the trunk 0) is masked with the number. Without separators:
     01X and 0X numbers always, except a landline-shaped run whose nearest label is an order/tracking/serial
     word (주문번호 0212345678); 15XX/16XX/18XX runs (15881234) only next to a phone word. Local numbers
     without the area code (123-4567, 2345-6789; a 4-digit exchange starts with 2-9) only next to a phone word,
     not before a unit (원, 명, ...) and not as a range of years; an area code written apart from a dashed
     number (02 123-4567) is part of it.
     Business numbers are masked like personal ones: the digits cannot tell a shop's 02 number or a 070 line
     from a person's, and service numbers (1588-XXXX) go with the rest so that the token stands for "a phone
     number" whatever its owner; masking a business number loses little, leaking a person's number does not.
   - rrn: YYMMDD + G NNNNNN, a real calendar date, G 1-8 (no checksum: numbers issued since 2020 fail it),
     with `-`, space or nothing between; a 13-digit run that is a valid EAN-13 Korean barcode (880...) or
     sits next to a barcode/tracking word is not an rrn. Partly masked forms (`900101-1******`) count too.
   - card (masked as acc, `cards=False` to keep them): 15/16 digits in 4-4-4-4, 4-6-5 or one run, Luhn-valid,
     with a real issuer prefix; next to 카드 (신용카드(...), 체크카드, 카드번호) any number of those shapes.
   - acc: the groupings that Korean banks print (6-2-6, 3-3-6, 4-3-6, 3-6-5, 4-2-7, 3-4-4-2, 3-2-6, 3-6-2-3,
     3-2-4-3, 4-4-4-1) are accounts unless a non-account word (business registration, tracking, order number,
     ISBN, ...) is the nearest keyword; any other 10-16 digit run (no separator, 4-4-4, ...) is an account only
     when the nearest keyword is an account word (bank names, 계좌, 입금, 출금, 잔액, 예금주, 송금, 이체, 통장,
     가상계좌; so a bank notification that ends with the number is covered). So are dashed or spaced numbers
     that end in a one-digit check group (대구은행/수협 3-2-6-1 `508-10-284716-3`, `977 83 574699 9`, 3-3-6-1,
     ...), with the same account-word condition (spaced, a bank grouping before the digit is enough).
5. Never masked: dates, times, prices (commas are not separators), zip codes, versions, short codes (112,
   119), business registration numbers (3-2-5), ISBNs, product and tracking codes without account words.

Only the digits (and their prefix/parentheses) are replaced, so a following particle stays:
`010-1234-5678로` -> `<|tel|>로`.

This module imports only the standard library: `from polyglot_ko import mask_pii` never loads torch.
CLI: `polyglot-ko mask-pii < in.txt > out.txt` (also `--jsonl` for JSON lines, `--stats` for counts).
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from ..constants import PII_TOKENS

PII_TYPES = tuple(sorted(PII_TOKENS))  # ("acc", "rrn", "tel"): the kinds, in report order

# Same-length mapping of full-width and typographic variants to ASCII (str.translate keeps positions).
_FULLWIDTH = {0xFF10 + i: ord("0") + i for i in range(10)}
_FULLWIDTH.update(
    {
        0xFF0D: ord("-"),
        0x2010: ord("-"),
        0x2011: ord("-"),
        0x2012: ord("-"),
        0x2013: ord("-"),
        0x2014: ord("-"),
        0x2015: ord("-"),
        0x2212: ord("-"),
        0xFE63: ord("-"),
        0xFF0E: ord("."),
        0xFF08: ord("("),
        0xFF09: ord(")"),
        0xFF0B: ord("+"),
        0x3000: ord(" "),
        0x00A0: ord(" "),
        0x2002: ord(" "),
        0x2003: ord(" "),
        0x2009: ord(" "),
        0x202F: ord(" "),
        0xFF0A: ord("*"),
    }
)
_NEEDS_VIEW = re.compile("[" + "".join(re.escape(chr(c)) for c in _FULLWIDTH) + "]")
_HAS_DIGIT = re.compile(r"[0-9]")

# The candidate: optional international prefix, optional "(", then digit groups joined by separators.
# A separator is ")" (after an area code), "-" or "." with optional spaces around, or one space.
_CAND = re.compile(
    # The leading lookahead lets the engine reject a position with one class test before the lookbehinds
    # (10x faster on Korean prose, where almost no position starts a number).
    r"(?=[0-9+(])"
    # Not inside a code, URL or longer number: no letter/digit/URL character right before, no digit + separator
    # (12-010-...), no letter + dash (1AA-1708-...). A letter + dot is a label (TEL.02-..., H.P.010-...), and
    # a slash after a digit separates numbers (010-1234-5678/010-2345-6789); after a letter it is a URL path.
    r"(?<![0-9A-Za-z=?&#%_])(?<![A-Za-z_.\-]/)(?<![0-9][-.])(?<![0-9] [-.])(?<![0-9][-.] )(?<![0-9] [-.] )"
    r"(?<![A-Za-z]-)(?<![A-Za-z] -)(?<![A-Za-z]- )"
    r"(?P<intl>(?:\+|00)[ ]?82[ ]?(?:[-.][ ]?)?(?:\(0\)[ ]?)?)?"
    r"(?P<open>\([ ]?)?"
    r"(?P<body>[0-9]+(?:(?:[ ]?\)[ ]?|[ ]?[-.][ ]?|[ ])[0-9]+)*)"
)
_GROUP = re.compile(r"[0-9]+")
# Partly masked registration numbers: 900101-1****** (the birth date and sex digit are still personal).
_RRN_PARTIAL = re.compile(r"(?<![0-9A-Za-z])[0-9]{6}[- ]?[1-8][*xX●○]{6}(?![*xX●○0-9])")

_AREA = r"(?:3[1-3]|4[1-4]|5[1-5]|6[1-4])"
# Canonical form: groups joined by "-" (the separator kind is checked separately).
_TEL = re.compile(
    r"01[016789]-?[0-9]{3,4}-?[0-9]{4}"
    rf"|0(?:2|{_AREA})-?[0-9]{{3,4}}-?[0-9]{{4}}"
    r"|0[78]0-?[0-9]{3,4}-?[0-9]{4}"
    r"|050[2-8]-?[0-9]{3,4}-?[0-9]{4}"
)
_SERVICE = re.compile(r"1[568][0-9]{2}-[0-9]{4}")
# A unit or counter right after a number makes it a quantity, not a phone number (300-5000원, 120-1500명).
_UNIT_AFTER = frozenset("원년명개호회건점위만억천배분초일월세살%~")

_ACC_STRONG = {
    (6, 2, 6),
    (3, 3, 6),
    (4, 3, 6),
    (3, 6, 5),
    (4, 2, 7),
    (3, 4, 4, 2),
    (3, 2, 6),
    (3, 6, 2, 3),
    (3, 2, 4, 3),
    (4, 4, 4, 1),
    (6, 2, 5),
    (4, 4, 5),
    (3, 3, 2, 6),
}
# Banks that end the number with a one-digit check group: 대구은행 and 수협 508-10-284716-3 (3-2-6-1), 새마을금고
# 9002-1234-5678-9 (4-4-4-1, also in _ACC_STRONG); see _classify for the rule (dashes and an account word).
_CARD_SHAPES = {(4, 4, 4, 4), (4, 6, 5), (16,), (15,)}
_CARD_PREFIX = re.compile(r"3[47]|3[05689]|4|5[1-5]|2[2-7]|6|9")

# Keywords near a number. The nearest one (before within _CTX_BEFORE chars or after within _CTX_AFTER)
# decides ambiguous cases.
_ACC_WORDS = (
    "계좌",
    "입금",
    "예금주",
    "송금",
    "이체",
    "통장",
    "은행",
    "뱅크",
    "신한",
    "농협",
    "우체국",
    "새마을금고",
    "신협",
    "수협",
    "카뱅",
    "토스",
    "가상",
    "후원",
    "잔액",
    "출금",
    "account",
    "KB",
    "NH",
    "IBK",
    "SC",
)
_NEG_WORDS = (
    "사업자",
    "법인",
    "운송장",
    "송장",
    "택배",
    "배송",
    "등기",
    "주문",
    "결제번호",
    "승인번호",
    "ISBN",
    "isbn",
    "바코드",
    "모델",
    "제품",
    "상품",
    "코드",
    "우편",
    "일련",
    "시리얼",
    "serial",
    "고유번호",
    "특허",
    "출원",
    "사건",
    "의안",
    "고시",
    "관리번호",
    "접수번호",
    "예약번호",
    "회원번호",
    "학번",
    "사번",
    "차량",
    "트래킹",
    "tracking",
    "invoice",
    "order",
)
_TEL_WORDS = (
    "전화",
    "연락",
    "문의",
    "콜센터",
    "고객센터",
    "상담",
    "대표번호",
    "휴대폰",
    "핸드폰",
    "폰",
    "팩스",
    "TEL",
    "Tel",
    "tel",
    "FAX",
    "Fax",
    "fax",
    "☎",
    "☏",
    "📞",
    "H.P",
    "HP",
    "번호로",
)
_RRN_WORDS = ("주민", "외국인등록", "생년월일")
_CARD_WORDS = ("카드", "card", "Card", "CARD")
_KEYWORDS = re.compile(
    "|".join(
        f"(?P<{name}>{'|'.join(re.escape(w) for w in sorted(words, key=len, reverse=True))})"
        for name, words in (
            ("acc", _ACC_WORDS),
            ("neg", _NEG_WORDS),
            ("tel", _TEL_WORDS),
            ("rrn", _RRN_WORDS),
            ("card", _CARD_WORDS),
        )
    )
)
_CTX_BEFORE = 24
_CTX_AFTER = 12


@dataclass(frozen=True)
class PIIMatch:
    """One masked span: its type ("tel", "rrn", "acc"; cards are "acc" with card=True) and position."""

    type: str
    start: int
    end: int
    text: str
    card: bool = False


def _nearest_keyword(view: str, start: int, end: int) -> str | None:
    """The kind of the keyword nearest to [start, end) on the same line, or None."""
    lo = max(0, start - _CTX_BEFORE)
    nl = view.rfind("\n", lo, start)
    if nl != -1:
        lo = nl + 1
    hi = min(len(view), end + _CTX_AFTER)
    nl = view.find("\n", end, hi)
    if nl != -1:
        hi = nl
    # The nearest keyword before the number wins (Korean puts the label first: 계좌번호 ..., 전화 ...);
    # only without one does the first keyword after it count (123456789012 국민은행).
    before = None
    for m in _KEYWORDS.finditer(view, lo, start):
        before = m.lastgroup
    if before is not None:
        return before
    m = _KEYWORDS.search(view, end, hi)
    return None if m is None else m.lastgroup


def _valid_date(yy: int, mm: int, dd: int, century: int) -> bool:
    if not 1 <= mm <= 12 or dd < 1:
        return False
    return dd <= calendar.monthrange(century + yy, mm)[1]


def _is_rrn_digits(d: str) -> bool:
    g = ord(d[6]) - 48
    if not 1 <= g <= 8:
        return False
    century = 1900 if g in (1, 2, 5, 6) else 2000
    return _valid_date(int(d[0:2]), int(d[2:4]), int(d[4:6]), century)


def _luhn(d: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(d)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _ean13(d: str) -> bool:
    s = sum((ord(c) - 48) * (3 if i % 2 else 1) for i, c in enumerate(d[:12]))
    return (10 - s % 10) % 10 == ord(d[12]) - 48


class PIIMasker:
    """Finds and masks personal numbers. Options choose which types to mask.

    >>> PIIMasker().mask("연락처 010-1234-5678로 주세요")
    '연락처 <|tel|>로 주세요'
    """

    def __init__(self, tel: bool = True, rrn: bool = True, acc: bool = True, cards: bool = True):
        self.enabled = {"tel": tel, "rrn": rrn, "acc": acc}
        self.cards = cards and acc

    # -- classification of one group sequence ------------------------------------------------------------
    def _classify(
        self, view: str, groups: list[str], kinds: list[str], intl: bool, start: int, end: int, ctx: dict
    ) -> tuple[str, bool] | None:
        n = len(groups)
        paren = bool(kinds) and kinds[0] == ")"
        rest = kinds[1:] if paren else kinds
        shape = tuple(len(g) for g in groups)
        digits = "".join(groups)
        L = len(digits)
        if rest and any(k != rest[0] for k in rest):
            # Mixed separators: two numbers written next to each other, not one; except an area code written
            # apart from a dashed local number ("02 123-4567", "010 1234-5678").
            if (
                not paren
                and not intl
                and kinds == [" ", "-"]
                and self.enabled["tel"]
                and _TEL.fullmatch("-".join(groups))
            ):
                return "tel", False
            return None
        sep = rest[0] if rest else ("" if not paren else "-")
        if L >= 9 and digits == (digits[:2] * L)[:L]:
            return None  # 1010101010101, 0000000000: filler, not anyone's number
        nxt = view[end : end + 2]
        if nxt and nxt.isascii() and (nxt[0].isalpha() or nxt[0] == "_" or (nxt[0] in "./" and nxt[1:].isalpha())):
            return None  # part of a code, file name or URL path (2010021101634.html, 0200000000AKR)

        def keyword() -> str | None:
            if "kw" not in ctx:
                ctx["kw"] = _nearest_keyword(view, start, end)
            return ctx["kw"]

        # Phone numbers (and the +82 forms)
        if self.enabled["tel"] and 9 <= L <= 13 or intl:
            gs = list(groups)
            if intl or (not paren and n >= 3 and gs[0] in ("82", "0082") and sep in "- "):
                if not intl:
                    gs = gs[1:]
                if not gs[0].startswith("0"):
                    gs[0] = "0" + gs[0]
            canon = "-".join(gs) if sep else "".join(gs)
            # A landline number written without separators next to an order/tracking/serial word is that
            # number (주문번호 0212345678); a mobile number (01X) is masked whatever the label says.
            if (
                len(gs) <= 3
                and _TEL.fullmatch(canon)
                and (n > 1 or intl or canon.startswith("01") or keyword() != "neg")
            ):
                return ("tel", False) if self.enabled["tel"] else None
            if intl:
                return None
        if paren:
            return None
        # Service numbers 15XX/16XX/18XX-XXXX
        if self.enabled["tel"] and shape == (4, 4) and _SERVICE.fullmatch("-".join(groups)):
            a, b = int(groups[0]), int(groups[1])
            year_range = (a < b <= 2100) or view.startswith("년", end)
            if sep in "-." and not year_range:
                return ("tel", False)
            if keyword() == "tel":
                return ("tel", False)
            return None
        # Service numbers written as one run (대표번호 15881234) and local numbers without the area code
        # (연락처 123-4567, 전화 2345-6789; a 4-digit exchange starts with 2-9): only next to a phone word, not
        # before a unit (300-5000원) and not a range of years (문의 2022-2023).
        if self.enabled["tel"] and L in (7, 8) and view[end : end + 1] not in _UNIT_AFTER:
            service = shape == (8,) and digits[:2] in ("15", "16", "18")
            local = sep == "-" and (
                (shape == (3, 4) and groups[0][0] != "0")
                or (shape == (4, 4) and groups[0][0] in "23456789" and not int(groups[0]) < int(groups[1]) <= 2100)
            )
            if (service or local) and keyword() == "tel":
                return "tel", False
        # Resident / foreigner registration numbers
        if self.enabled["rrn"] and L == 13 and (shape == (6, 7) and sep in "- " or shape == (13,)):
            if _is_rrn_digits(digits):
                if shape == (13,):
                    kw = keyword()
                    if kw == "neg" or (digits.startswith("880") and _ean13(digits) and kw != "rrn"):
                        return None
                return "rrn", False
        if sep == ".":
            return None  # dotted runs are dates, versions, IPs, section numbers: never accounts
        # Card numbers
        if self.cards and shape in _CARD_SHAPES:
            if _luhn(digits) and _CARD_PREFIX.match(digits):
                if keyword() != "neg":
                    return "acc", True
            elif keyword() == "card":  # next to 카드 (신용카드(...), 카드번호 ...), a mistyped or test number too
                return "acc", True
        # Bank accounts
        if self.enabled["acc"] and 10 <= L <= 16:
            if shape in _ACC_STRONG:
                return None if keyword() == "neg" else ("acc", False)
            if min(shape) >= 2 and keyword() == "acc":
                return "acc", False
            # The check-digit family: three or more dashed (or spaced) groups of 2+ digits, then one check
            # digit (3-2-6-1, 3-3-6-1, 3-4-4-1, ...), next to an account word, and never a phone number with
            # a digit after it (010-1234-5678-9). Spaced, a bank grouping before the digit is enough (its
            # groups alone would be masked anyway): the check digit goes with them (977 83 574699 9).
            if (
                n >= 4
                and sep in "- "
                and shape[-1] == 1
                and min(shape[:-1]) >= 2
                and L >= 11
                and not _TEL.fullmatch("-".join(groups[:-1]))
            ):
                kw = keyword()
                if kw == "acc" or (sep == " " and shape[:-1] in _ACC_STRONG and kw != "neg"):
                    return "acc", False
        return None

    # -- scanning ----------------------------------------------------------------------------------------
    def find(self, text: str) -> list[PIIMatch]:
        """All PII spans in `text`, in order, non-overlapping."""
        view = text.translate(_FULLWIDTH) if _NEEDS_VIEW.search(text) else text
        if not _HAS_DIGIT.search(view):
            return []
        out: list[PIIMatch] = []
        for m in _CAND.finditer(view):
            body_start = m.start("body")
            spans = [(g.start() + body_start, g.end() + body_start) for g in _GROUP.finditer(m.group("body"))]
            groups = [view[a:b] for a, b in spans]
            kinds = []
            for (_, b), (a2, _) in pairwise(spans):
                s = view[b:a2]
                kinds.append(")" if ")" in s else "-" if "-" in s else "." if "." in s else " ")
            n = len(groups)
            i = 0
            while i < n:
                found = False
                for k in range(min(n, i + 6), i, -1):
                    if k < n and kinds[k - 1] != " ":
                        continue  # a span may end only at a space between groups
                    intl = i == 0 and m.group("intl") is not None
                    span_start = spans[i][0]
                    if i == 0:
                        span_start = m.start()
                        if m.group("open") and not (k > 1 and kinds[0] == ")") and m.group("intl") is None:
                            span_start = m.start("body")  # "(010-1234-5678)": keep the parentheses
                    span_end = spans[k - 1][1]
                    res = self._classify(view, groups[i:k], kinds[i : k - 1], intl, span_start, span_end, {})
                    if res is not None:
                        out.append(PIIMatch(res[0], span_start, span_end, text[span_start:span_end], res[1]))
                        i = k
                        found = True
                        break
                if not found:
                    # The next span may start only after a space between groups, or after the ")" that
                    # closes something that was not an area code ("(3000) 010-1234-5678").
                    i += 1
                    while i < n and kinds[i - 1] not in " )":
                        i += 1
        if self.enabled["rrn"] and ("*" in view or "x" in view or "X" in view or "●" in view or "○" in view):
            taken = [(p.start, p.end) for p in out]
            added = False
            for m in _RRN_PARTIAL.finditer(view):
                d = m.group()
                if _valid_date(int(d[:2]), int(d[2:4]), int(d[4:6]), 1900 if int(d[:2]) > 30 else 2000) and not any(
                    a < m.end() and m.start() < b for a, b in taken
                ):
                    out.append(PIIMatch("rrn", m.start(), m.end(), text[m.start() : m.end()]))
                    added = True
            if added:
                out.sort(key=lambda p: p.start)
        return out

    def mask_with_counts(self, text: str) -> tuple[str, Counter]:
        """(masked text, Counter of masked spans per type)."""
        matches = self.find(text)
        counts: Counter = Counter()
        if not matches:
            return text, counts
        parts = []
        pos = 0
        for p in matches:
            parts.append(text[pos : p.start])
            parts.append(PII_TOKENS[p.type])
            counts[p.type] += 1
            if p.card:
                counts["card"] += 1
            pos = p.end
        parts.append(text[pos:])
        return "".join(parts), counts

    def mask(self, text: str) -> str:
        return self.mask_with_counts(text)[0]


_DEFAULT = PIIMasker()


def mask_pii(text: str, *, cards: bool = True) -> str:
    """Replace phone, registration, account and card numbers in `text` with <|tel|>, <|rrn|>, <|acc|>."""
    return (_DEFAULT if cards else PIIMasker(cards=False)).mask(text)


def mask_pii_with_counts(text: str, *, cards: bool = True) -> tuple[str, Counter]:
    """Like mask_pii, plus a Counter {"tel": n, "rrn": n, "acc": n, "card": n (cards, also in acc)}."""
    return (_DEFAULT if cards else PIIMasker(cards=False)).mask_with_counts(text)


def find_pii(text: str, *, cards: bool = True) -> list[PIIMatch]:
    """The PII spans of `text` (type, start, end, original text)."""
    return (_DEFAULT if cards else PIIMasker(cards=False)).find(text)
