"""Generates tests/fixtures/pii_labelled.jsonl: realistic Korean sentences with labelled PII spans.

Run `python tests/data/pii_fixture_gen.py` to rebuild the fixture (seeded, so the file is reproducible). Each
line is {"text", "spans": [{"start", "end", "type"}], "form"}: `type` is tel / rrn / acc (cards are acc),
`form` names the format used, for per-form error analysis. Hard negatives (dates, times, prices, zip codes,
ISBNs, versions, product and tracking codes, business registration numbers, short codes, year ranges,
barcodes, order numbers) carry no spans. The numbers are random but well-formed: valid area codes, real
calendar dates in registration numbers, Luhn-valid cards, the digit groupings banks print.
"""

from __future__ import annotations

import calendar
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "pii_labelled.jsonl"
AREAS = ["031", "032", "033", "041", "042", "043", "044", "051", "052", "053", "054", "055", "061", "062", "063", "064"]
FW = str.maketrans("0123456789-", "０１２３４５６７８９－")


def d(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def joined(parts: list[str], sep: str) -> str:
    return sep.join(parts)


def tel(r: random.Random) -> tuple[str, str]:
    kind = r.choice(
        [
            "mobile",
            "mobile",
            "mobile",
            "old_mobile",
            "seoul",
            "seoul_paren",
            "area",
            "area_paren",
            "070",
            "080",
            "050x",
            "service",
            "intl",
            "intl",
            "nosep_mobile",
            "nosep_area",
        ]
    )
    sep = r.choice(["-", "-", "-", ".", " "])
    if kind == "mobile":
        s = joined(["010", d(r, 4), d(r, 4)], sep)
    elif kind == "old_mobile":
        s = joined([r.choice(["011", "016", "017", "018", "019"]), d(r, r.choice([3, 4])), d(r, 4)], sep)
    elif kind == "seoul":
        s = joined(["02", d(r, r.choice([3, 4])), d(r, 4)], sep)
    elif kind == "seoul_paren":
        s = r.choice(["(02) ", "(02)", "02) "]) + d(r, r.choice([3, 4])) + "-" + d(r, 4)
    elif kind == "area":
        s = joined([r.choice(AREAS), d(r, r.choice([3, 4])), d(r, 4)], sep)
    elif kind == "area_paren":
        s = f"({r.choice(AREAS)}) " + d(r, 3) + "-" + d(r, 4)
    elif kind == "070":
        s = joined(["070", d(r, 4), d(r, 4)], sep)
    elif kind == "080":
        s = joined(["080", d(r, 3), d(r, 4)], sep)
    elif kind == "050x":
        s = joined([f"050{r.randint(2, 8)}", d(r, r.choice([3, 4])), d(r, 4)], sep)
    elif kind == "service":
        s = (
            f"{r.choice(['1588', '1577', '1544', '1566', '1600', '1644', '1661', '1670', '1688', '1800', '1899'])}"
            f"-{r.randint(0, 1499):04d}"
        )
    elif kind == "intl":
        s = r.choice(
            [
                f"+82-10-{d(r, 4)}-{d(r, 4)}",
                f"+82 10 {d(r, 4)} {d(r, 4)}",
                f"+82 (0)10-{d(r, 4)}-{d(r, 4)}",
                f"+8210{d(r, 8)}",
                f"+82-2-{d(r, 3)}-{d(r, 4)}",
                f"0082-10-{d(r, 4)}-{d(r, 4)}",
                f"+82 31 {d(r, 3)} {d(r, 4)}",
            ]
        )
    elif kind == "nosep_mobile":
        s = "010" + d(r, 8)
    else:
        s = r.choice(AREAS) + d(r, 7)
    if r.random() < 0.08 and not s.startswith(("+", "(")):
        s, kind = s.translate(FW), kind + "_fullwidth"
    return s, kind


def rrn(r: random.Random) -> tuple[str, str]:
    g = r.randint(1, 8)
    century = 1900 if g in (1, 2, 5, 6) else 2000
    yy = r.randint(40, 99) if century == 1900 else r.randint(0, 24)
    mm = r.randint(1, 12)
    dd = r.randint(1, calendar.monthrange(century + yy, mm)[1])
    birth = f"{yy:02d}{mm:02d}{dd:02d}"
    kind = r.choice(["dash", "dash", "dash", "space", "nosep", "partial"])
    if kind == "partial":
        return f"{birth}-{g}******", "partial"
    sep = {"dash": "-", "space": " ", "nosep": ""}[kind]
    return f"{birth}{sep}{g}{d(r, 6)}", ("foreigner_" if g >= 5 else "") + kind


BANKS = [
    ("KB국민은행", (6, 2, 6)),
    ("국민은행", (3, 2, 4, 3)),
    ("신한은행", (3, 3, 6)),
    ("신한", (3, 2, 6)),
    ("우리은행", (4, 3, 6)),
    ("하나은행", (3, 6, 5)),
    ("NH농협", (3, 4, 4, 2)),
    ("농협", (6, 2, 6)),
    ("IBK기업은행", (3, 6, 2, 3)),
    ("카카오뱅크", (4, 2, 7)),
    ("케이뱅크", (3, 3, 6)),
    ("토스뱅크", (4, 4, 4)),
    ("SC제일은행", (3, 2, 6)),
    ("우체국", (6, 2, 6)),
    ("새마을금고", (4, 4, 4, 1)),
    ("부산은행", (3, 4, 4, 2)),
]


def acc(r: random.Random) -> tuple[str, str, str]:
    """(bank name, number, form)."""
    bank, shape = r.choice(BANKS)
    groups = [d(r, n) for n in shape]
    if bank == "카카오뱅크":
        groups[0] = "3333"
    sep = r.choice(["-", "-", "-", " ", ""])
    return bank, sep.join(groups), "-".join(map(str, shape)) + ("_nosep" if sep == "" else "")


def card(r: random.Random) -> tuple[str, str]:
    kind = r.choice(["visa", "master", "bc", "amex"])
    if kind == "amex":
        body = r.choice(["34", "37"]) + d(r, 12)
        n = 15
    else:
        body = {"visa": "4", "master": "5" + str(r.randint(1, 5)), "bc": "94"}[kind] + d(
            r, 15 - (1 if kind == "visa" else 2)
        )
        n = 16
    body = body[: n - 1]
    for check in "0123456789":
        if _luhn(body + check):
            num = body + check
            break
    sep = r.choice(["-", " ", ""])
    if n == 16:
        s = sep.join([num[0:4], num[4:8], num[8:12], num[12:16]])
    else:
        s = sep.join([num[0:4], num[4:10], num[10:15]])
    return s, kind + ("_nosep" if sep == "" else "")


def _luhn(num: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(num)):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return total % 10 == 0


TEL_TEMPLATES = [
    "문의사항은 {x}로 연락 주세요.",
    "제 번호는 {x}입니다.",
    "연락처: {x} (평일 9시~18시)",
    "☎ {x}",
    "자세한 내용은 고객센터({x})에 문의하시기 바랍니다.",
    "급하면 {x}으로 전화해.",
    "담당자 김민수 {x}",
    "{x} 번호로 문자 남겨 주세요",
    "예약은 {x} 또는 홈페이지에서 가능합니다.",
    "TEL {x} / FAX 없음",
    "휴대폰 {x}, 이메일 minsu@example.com",
    "사무실 전화가 {x}에서 바뀌었습니다.",
    "{x}",
    "이 영화 파일 있으신 분 {x} 연락주세요ㅠㅠ",
    "대표번호 {x}를 누르고 1번을 선택하세요.",
    "보이스피싱 번호 {x}을 신고합니다.",
    "해외에서는 {x}로 걸어 주십시오.",
    "배달 주문 {x}이요",
]
RRN_TEMPLATES = [
    "주민등록번호 {x}를 입력하세요.",
    "제 주민번호는 {x}인데 조회가 안 돼요.",
    "신청인: 홍길동({x})",
    "외국인등록번호 {x} 확인 부탁드립니다.",
    "생년월일 및 주민번호: {x}",
    "{x} 이 번호로 가입되어 있어요",
    "성명 김영희 주민등록번호 {x} 주소 서울시 강남구",
    "본인 확인을 위해 {x}을 적어 주세요.",
]
ACC_TEMPLATES = [
    "입금 계좌: {bank} {x} (예금주 홍길동)",
    "{bank} {x}로 보내 주세요.",
    "후원 계좌는 {bank} {x}입니다.",
    "계좌번호 {x} {bank}",
    "환불은 {bank} {x} 예금주 김철수로 부탁드립니다.",
    "{bank} 계좌 {x}에 입금 완료했어요",
    "송금할 곳: {bank} {x}",
    "회비는 {bank}({x})로 이체해 주세요.",
]
VIRTUAL_TEMPLATES = ["가상계좌 {x}로 입금하시면 자동 확인됩니다.", "입금하실 가상계좌: {bank} {x}"]
CARD_TEMPLATES = [
    "카드번호 {x} 유효기간 12/27",
    "결제 카드 {x}로 승인되었습니다.",
    "이 카드({x}) 분실 신고해 주세요.",
    "{x} 카드로 결제했는데 취소가 안 돼요",
]
NEGATIVES = [
    "2023-01-05에 계약했습니다.",
    "회의는 2024.03.15 14:30에 시작합니다.",
    "2019. 8. 15. 광복절 행사",
    "20230105 기준 자료입니다.",
    "가격은 15,000원이고 배송비 3,000원 별도입니다.",
    "총 1,234,567원이 청구되었습니다.",
    "우편번호 06236 서울특별시 강남구 테헤란로 152",
    "구 우편번호 135-080",
    "ISBN 978-89-12345-67-8",
    "ISBN 9788912345673 도서",
    "버전 1.2.3에서 10.0.19045로 업데이트",
    "모델명 SM-G991N 중고 판매",
    "운송장번호 6123-4567-8901 조회해 보세요",
    "CJ대한통운 송장 612345678901",
    "등기번호 6012345678901 우체국 택배",
    "사업자등록번호 123-45-67890",
    "사업자번호: 2148612345",
    "긴급전화 112, 119를 기억하세요.",
    "1600-1700년 사이 조선의 인구",
    "1800-1850년대 유럽",
    "상품코드 8801234567893 바코드",
    "바코드 8806358571029",
    "주문번호 2023010512345678 확인 바랍니다.",
    "주문번호 1234-5678-9012-3456",
    "서버 IP는 192.168.0.1입니다.",
    "좌표 37.5665, 126.9780",
    "인구 51,780,579명",
    "득점 3-2로 승리",
    "사건번호 2019가합123456",
    "제3조 제2항에 따라",
    "오전 9:00 ~ 오후 6:00",
    "시속 120km로 달렸다",
    "점수는 95.5점",
    "의안번호 2012345 발의",
    "1998년 3월 2일 입학",
    "예산 2,345억 원",
    "전화번호 안내는 114",
    "전국 1,234개 매장",
    "2022-2023 시즌",
    "상담 시간 09:00-18:00",
    "문서번호 2021-123456호",
    "회원번호 12345678",
    "학번 20231234",
    "계좌 개설은 2023년 5월 1일부터",
    "3.14159265358979",
    "1,000-2,000원대 제품",
    "고객님의 주문(1234567890123456)이 접수되었습니다",
    "ISBN 979-11-6224-123-4",
    "국민신문고 1AA-1708-186257 민원",
    "관리번호 2018-0012345",
    "접수번호 1234-5678-9012",
    "차량번호 12가 3456",
    "객실 1203호, 1204호",
    "https://news.example.co.kr/2012/12/13/2012121300109.html",
    "제품 시리얼 20190412-0001",
    "특허 출원번호 10-2019-0123456",
    "주가 1,234.56포인트",
    "2,500-3,000명 규모",
    "우편번호 04524, 04525",
    "인증번호 482913을 입력하세요",
]


# Hand-written hard cases and real lines from ../shared/data/korean-corpus (petitions, NSMC reviews),
# spans marked [[text|type]].
HARD = [
    "연락처 [[010-1234-5678|tel]],[[010-2345-6789|tel]] 둘 중 아무 데나",
    "[[(010)1234-5678|tel]]로 연락 바람",
    "번호: [[010 - 3456 - 7890|tel]]",
    "<[[010-9876-5432|tel]]> 김 과장",
    "[[02-123-4567|tel]]~8 대표전화",
    "주민번호 앞자리 900101만 적으세요",
    "계좌 [[110-123-456789|acc]](신한) 홍길동",
    "[[123456789012|acc]] 국민은행 김철수",
    "담당 [[010.4321.8765|tel]]. 감사합니다",
    "생일은 1990-01-01이고 번호는 [[010-5555-1234|tel]]",
    "입금: [[3333-05-7654321|acc]] 카뱅",
    "주소 서울 마포구 월드컵로 240, 우편번호 03932, 전화 [[02-330-1234|tel]]",
    "예산분석관 김 태 완 ([[02-788-4649|tel]], tanzania@assembly.go.kr)",
    "이 영화 있는사람 공유 부탁합니다 제 폰번호 [[010 4427 2774|tel]] 연락한통만요^-^;",
    "주택정비과 *** ([[0442013393|tel]]) 신청번호 1AA-1707-123456",
    "보건관리과([[☎031-828-4782|tel]])로 문의하여 주시면 성심껏",
    "상담원([[1577-1000|tel]])에게 문의한 결과 15세",
    "민원처리 담당자 TEL [[０４４－２０１－４７５２|tel]]에게 문의",
    "검거 팀 ([[055 –640-4583|tel]]) 지명수배",
    "국민신문고 1AA-1810-126896관련 글을 통하여",
    "공정거래위원회(1AD-1902-028416호)에 제출",
    "28,000원 | 9788896077076 사용자 경험",
    "https://www.example.kr/site/data/html/2012/12/13/2012121300109.html",
    "1010101010101재밌네영",
    "택시기사님이 알려준 112와 [[1577-1389|tel]]에 전화를 해서",
    "TEL.[[02-123-4567|tel]] / H.P.[[010-9876-1234|tel]]",
    "연락처 [[010-1234-5678|tel]]/[[02-345-6789|tel]]",
    "http://news.example.co.kr/view/0200000000AKR20170417 기사",
    "문의 [[1577 1577|tel]] 고객센터",
    # Banks that end the number with a one-digit check group (대구은행, 수협: 3-2-6-1), a space before the ")"
    # of an area code, a phone number after a parenthesised count, and check-digit look-alikes that stay.
    "보증금 입금 계좌: 대구은행 [[508-10-284716-3|acc]] (예금주 배순자)",
    "택배 거래 시 수협 [[977-83-574699-9|acc]] 홍예린으로 입금 부탁드려요.",
    "회비 자동 이체 계좌: 수협 [[999-86-125112-8|acc]]\n예금주: 최경민",
    "민원 문의 TEL : [[02 ) 123-4567|tel]]",
    "수량(2) [[010-2345-6789|tel]]로 주문 부탁드립니다",
    "예금주 확인 후 사업자등록번호 123-45-67890-1 기재",
    "계좌 개설일 2023-05-01 오후 2시",
    # Forms added by the hardening issue: the brief's own examples, then their look-alikes that stay.
    "연락처 [[01012345678|tel]]로 주세요",
    "전화 [[0212345678|tel]]",
    "대표번호 [[15881234|tel]]로 전화 주세요",
    "[국민은행] 입금 50,000원 잔액 1,234,567원 [[123456-01-234567|acc]]",
    "계좌 [[110-234-567890|acc]]",
    "신용카드([[1234-5678-9012-3456|acc]])",
    "연락처 [[123-4567|tel]]",
    "수협 [[977 83 574699 9|acc]] 홍예린",
    "전화 [[02 123-4567|tel]], [[123-4568|tel]]",
    "주문번호 2023010512345",
    "운송장 번호 123456789012",
    "주문번호 0212345678 조회",
    "운송장 977 83 574699 9",
    "카드 결제 주문번호 1234-5678-9012-3456",
    "문의 2022-2023 시즌",
    "연락 바랍니다 300-5000원",
    "15771234명이 다녀갔다",
    "인구 16001234",
    "상담 시간 0900-1800",
    "[국민은행] 2023-01-05 입금 50,000원 잔액 1,234,567원",
    "잔액 조회 2023.01.05 14:22",
    "카드 포인트 12,345점 적립",
]


def _hard_rows() -> list[dict]:
    rows = []
    for line in HARD:
        text, spans = "", []
        rest = line
        while "[[" in rest:
            pre, rest = rest.split("[[", 1)
            inner, rest = rest.split("]]", 1)
            value, typ = inner.rsplit("|", 1)
            text += pre
            if value.startswith("☎"):  # the symbol is context, not part of the number
                text += "☎"
                value = value[1:]
            spans.append({"start": len(text), "end": len(text) + len(value), "type": typ})
            text += value
        rows.append({"text": text + rest, "spans": spans, "form": "hard"})
    return rows


def build(seed: int = 20261123) -> list[dict]:
    r = random.Random(seed)
    rows: list[dict] = []

    def add(template: str, pieces: list[tuple[str, str]], form: str, **fmt: str) -> None:
        # pieces: [(slot text, type)] filling "{x}" (and "{y}" for a second span)
        text = template
        spans = []
        for slot, (value, typ) in zip(("{x}", "{y}"), pieces, strict=False):
            i = text.index(slot)
            text = text[:i] + value + text[i + len(slot) :]
            spans.append({"start": i, "end": i + len(value), "type": typ})
        for k, v in fmt.items():
            if "{" + k + "}" not in text:
                continue
            j = text.index("{" + k + "}")
            text = text[:j] + v + text[j + len(k) + 2 :]
            for s in spans:
                if s["start"] > j:
                    s["start"] += len(v) - len(k) - 2
                    s["end"] += len(v) - len(k) - 2
        rows.append({"text": text, "spans": spans, "form": form})

    for _ in range(260):
        v, form = tel(r)
        add(r.choice(TEL_TEMPLATES), [(v, "tel")], "tel:" + form)
    for _ in range(130):
        v, form = rrn(r)
        add(r.choice(RRN_TEMPLATES), [(v, "rrn")], "rrn:" + form)
    for _ in range(170):
        bank, v, form = acc(r)
        add(r.choice(ACC_TEMPLATES), [(v, "acc")], "acc:" + form, bank=bank)
    for _ in range(20):
        bank, _v, _f = acc(r)
        v = r.choice(["562", "270", "013"]) + d(r, 11)
        add(r.choice(VIRTUAL_TEMPLATES), [(v, "acc")], "acc:virtual", bank=bank)
    for _ in range(50):
        v, form = card(r)
        add(r.choice(CARD_TEMPLATES), [(v, "acc")], "card:" + form)
    # Two numbers in one sentence, and a positive next to a hard negative.
    for _ in range(40):
        t, _ = tel(r)
        bank, a, _ = acc(r)
        add("2023-05-01 주문 건, 문의 {x}, 환불 계좌 " + bank + " {y}", [(t, "tel"), (a, "acc")], "mixed")
    for _ in range(20):
        t, _ = tel(r)
        add("배송 예정일 2024.02.14, 가격 32,000원, 기사님 연락처 {x}", [(t, "tel")], "mixed")
    rows.extend(_hard_rows())
    for text in NEGATIVES:
        rows.append({"text": text, "spans": [], "form": "negative"})
    # Negatives with random numbers in their common forms.
    for _ in range(60):
        y, m = r.randint(1990, 2030), r.randint(1, 12)
        day = r.randint(1, 28)
        text = r.choice(
            [
                f"{y}-{m:02d}-{day:02d} 기준",
                f"{y}.{m:02d}.{day:02d}. 작성",
                f"{y}년 {m}월 {day}일",
                f"가격 {r.randint(1, 999)},{r.randint(0, 999):03d}원",
                f"우편번호 {r.randint(1000, 63999):05d}",
                f"사업자등록번호 {d(r, 3)}-{d(r, 2)}-{d(r, 5)}",
                f"운송장 {r.choice('56')}{d(r, 11)}",
                f"v{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)} 릴리스",
                f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d} 출발",
                f"모델 A{d(r, 4)}-{d(r, 4)}",
            ]
        )
        rows.append({"text": text, "spans": [], "form": "negative"})
    rows.extend(_hardening_rows(r))
    return rows


SMS_BANKS = [
    ("국민은행", (6, 2, 6)),
    ("KB국민", (3, 2, 4, 3)),
    ("신한은행", (3, 3, 6)),
    ("우리은행", (4, 3, 6)),
    ("하나은행", (3, 6, 5)),
    ("농협", (3, 4, 4, 2)),
    ("카카오뱅크", (4, 2, 7)),
    ("기업은행", (3, 6, 2, 3)),
    ("토스뱅크", (4, 4, 4)),
    ("SC제일", (3, 2, 6)),
]
SMS_TEMPLATES = [
    "[{bank}] 입금 {amt}원 잔액 {bal}원 {x}",
    "[Web발신]\n[{bank}] {mm}/{dd} {hh}:{mi} 출금 {amt}원 잔액 {bal}원 {x}",
    "[{bank}] 홍길동님 {mm}/{dd} 입금 {amt}원 잔액 {bal}원 {x}",
    "{bank} 출금 {amt}원 {mm}/{dd} {hh}:{mi} 잔액 {bal}원 {x}",
]
LOCAL_TEMPLATES = ["연락처 {x}", "전화 {x}로 주세요", "문의: {x}", "사무실 전화 {x}", "상담 {x} (내선 없음)"]
SERVICE_TEMPLATES = ["대표번호 {x}", "고객센터 {x}로 전화 주세요", "문의는 {x}번으로", "상담 전화 {x}"]
CARD_WORD_TEMPLATES = ["신용카드({x})", "체크카드 {x}로 결제", "카드번호: {x}", "법인카드 {x} 분실"]


def _money(r: random.Random) -> str:
    return f"{r.randint(1, 9_999_999):,}"


def _hardening_rows(r: random.Random) -> list[dict]:
    """Forms added by the hardening issue (drawn after every older row, so those stay as they were)."""
    rows: list[dict] = []

    def add(template: str, value: str, typ: str | None, form: str, **fmt: str) -> None:
        before, after = template.split("{x}")
        before, after = before.format(**fmt), after.format(**fmt)
        spans = [{"start": len(before), "end": len(before) + len(value), "type": typ}] if typ else []
        rows.append({"text": before + value + after, "spans": spans, "form": form})

    # Bank notification texts (SMS) where the account number ends the message, in every grouping, and as one run.
    for _ in range(30):
        bank, shape = r.choice(SMS_BANKS)
        sep = r.choice(["-", "-", ""])
        x = sep.join(d(r, n) for n in shape)
        fmt = {"bank": bank, "amt": _money(r), "bal": _money(r), "mm": f"{r.randint(1, 12):02d}"}
        fmt |= {"dd": f"{r.randint(1, 28):02d}", "hh": f"{r.randint(0, 23):02d}", "mi": f"{r.randint(0, 59):02d}"}
        add(r.choice(SMS_TEMPLATES), x, "acc", "acc:bank_sms" + ("_nosep" if not sep else ""), **fmt)
    # "계좌 NNN-NNN-NNNNNN": the short label before a bank grouping
    for _ in range(10):
        _bank, shape = r.choice(BANKS[:12])
        add("계좌 {x}", "-".join(d(r, n) for n in shape), "acc", "acc:short_label")
    # Check-digit accounts with spaces (수협, 대구은행 3-2-6-1; 3-3-6-1)
    for _ in range(12):
        shape = r.choice([(3, 2, 6, 1), (3, 3, 6, 1)])
        bank = r.choice(["수협", "대구은행", "광주은행"])
        x = " ".join(d(r, n) for n in shape)
        add(
            r.choice(["{bank} {x} 예금주 김민지", "입금 계좌 {bank} {x}", "{bank} {x}로 보내 주세요"]),
            x,
            "acc",
            "acc:check_space",
            bank=bank,
        )
    # Card numbers next to 카드 (신용카드(...), 체크카드): any 16 digits, Luhn-valid or not
    for _ in range(16):
        x = r.choice("3456789") + d(r, 15)
        sep = r.choice(["-", " ", ""])
        x = sep.join([x[0:4], x[4:8], x[8:12], x[12:16]])
        add(r.choice(CARD_WORD_TEMPLATES), x, "acc", "card:card_word")
    # Service numbers as one run, local numbers without an area code, and an area code apart from the number
    for _ in range(12):
        x = r.choice(["1588", "1577", "1544", "1600", "1661", "1688", "1800", "1899"]) + d(r, 4)
        add(r.choice(SERVICE_TEMPLATES), x, "tel", "tel:service_nosep")
    for _ in range(20):
        if r.random() < 0.6:
            x = f"{r.randint(100, 999)}-{d(r, 4)}"
        else:
            a = r.randint(2101, 9999)  # a 4-digit exchange; above 2100 no year range can be read
            x = f"{a}-{d(r, 4)}"
        add(r.choice(LOCAL_TEMPLATES), x, "tel", "tel:local")
    for _ in range(10):
        x = r.choice(["02", *AREAS, "010"]) + " " + d(r, r.choice([3, 4])) + "-" + d(r, 4)
        add(r.choice(["연락처 {x}", "{x}로 연락 주세요", "담당자 {x}"]), x, "tel", "tel:area_apart")
    # Precision guards of the new forms
    for _ in range(40):
        text = r.choice(
            [
                f"주문번호 0{r.choice(['2', '31', '51'])}{d(r, 7)} 조회",
                f"운송장 번호 {r.choice('56')}{d(r, 11)}",
                f"주문번호 20{r.randint(10, 29)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{d(r, 5)}",
                f"[{r.choice(SMS_BANKS)[0]}] {r.randint(2015, 2029)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
                f" 입금 {_money(r)}원 잔액 {_money(r)}원",
                f"잔액 {_money(r)}원 ({r.randint(2015, 2029)}.{r.randint(1, 12):02d}.{r.randint(1, 28):02d} 기준)",
                f"문의 {(y := r.randint(1990, 2030))}-{y + 1} 시즌",
                f"상담 가능 인원 {r.randint(100, 999)}-{r.randint(1000, 9999)}명",
                f"연락 주시면 {r.randint(100, 999)}-{r.randint(1000, 9999)}원에 드려요",
                f"{r.choice(['1577', '1600', '1800'])}{d(r, 4)}명이 방문",
                f"카드 결제 주문번호 {d(r, 4)}-{d(r, 4)}-{d(r, 4)}-{d(r, 4)}",
                f"사업자등록번호 {d(r, 3)}-{d(r, 2)}-{d(r, 5)}",
                f"카드 포인트 {_money(r)}점",
            ]
        )
        rows.append({"text": text, "spans": [], "form": "negative:hardening"})
    return rows


if __name__ == "__main__":
    rows = build()
    with open(OUT, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    n = sum(len(r["spans"]) for r in rows)
    print(f"wrote {len(rows)} sentences, {n} spans to {OUT}")
