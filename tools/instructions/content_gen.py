"""Templated content of ko-instruct, filled from a seeded random.Random: arithmetic word problems with worked
answers, short logic puzzles, and personal-data cases (refusals, and texts whose numbers are masked).

The personal numbers are random and not anyone's: phone numbers use the 010-0XXX-XXXX block (not issued),
resident registration numbers are given a wrong check digit (no valid number is printed), account numbers are
random digits in the groupings Korean banks print.
"""

# ruff: noqa: E501 -- Korean prose: ruff counts each Hangul syllable as two columns; these strings are data.

from __future__ import annotations

import random


def won(n: int) -> str:
    return f"{n:,}원"


def _apples(rng):
    a, b = rng.randint(8, 30), rng.randint(2, 7)
    item, subj, topic = rng.choice(
        [("사과", "가", "는"), ("귤", "이", "은"), ("복숭아", "가", "는"), ("감자", "가", "는")]
    )
    return (
        f"{item}{subj} {a}개 있었는데 {b}개를 먹었습니다. 남은 {item}{topic} 몇 개인가요?",
        f"처음 {a}개에서 {b}개를 먹었으므로 {a} - {b} = {a - b}입니다. 남은 {item}{topic} {a - b}개입니다.",
    )


def _price(rng):
    p, n = rng.choice([300, 500, 800, 1200, 1500, 2500]), rng.randint(2, 9)
    item = rng.choice(["연필", "공책", "지우개", "볼펜"])
    unit = "자루" if item in ("연필", "볼펜") else "권" if item == "공책" else "개"
    return (
        f"한 {unit}에 {won(p)}인 {item}을 {n}{unit} 샀습니다. 모두 얼마를 내야 하나요?",
        f"{won(p)} × {n}{unit} = {won(p * n)}입니다. 모두 {won(p * n)}을 내야 합니다.",
    )


def _clock(hour: int, minute: int) -> str:
    half = "오전" if hour < 12 else "오후"
    h = hour if hour <= 12 else hour - 12
    return f"{half} {h}시" + (f" {minute}분" if minute else "")


def _time(rng):
    h, m, d = rng.randint(7, 10), rng.choice([0, 10, 15, 20, 30, 40, 45]), rng.choice([25, 35, 40, 50, 75, 90])
    end = h * 60 + m + d
    return (
        f"{_clock(h, m)}에 집에서 출발해 {d}분 동안 걸어서 도착했습니다. 도착한 시각은 언제인가요?",
        f"{_clock(h, m)}에서 {d}분이 지나면 {_clock(end // 60, end % 60)}입니다.",
    )


def _average(rng):
    while True:
        xs = [rng.randint(60, 100) for _ in range(3)]
        if sum(xs) % 3 == 0:
            break
    a, b, c = xs
    return (
        f"세 과목의 점수가 {a}점, {b}점, {c}점입니다. 평균 점수는 몇 점인가요?",
        f"세 점수를 더하면 {a} + {b} + {c} = {sum(xs)}이고, 이를 3으로 나누면 {sum(xs) // 3}입니다. 평균은 {sum(xs) // 3}점입니다.",
    )


def _speed(rng):
    v, t = rng.choice([40, 60, 80, 90, 100]), rng.choice([2, 3, 4])
    return (
        f"자동차가 시속 {v}km로 {t}시간 동안 달렸습니다. 몇 km를 갔나요?",
        f"거리는 속력 × 시간이므로 {v}km × {t}시간 = {v * t}km입니다.",
    )


def _share(rng):
    k = rng.randint(3, 6)
    n = k * rng.randint(3, 8) + rng.randint(1, k - 1)
    return (
        f"사탕 {n}개를 {k}명이 똑같이 나누어 가지려고 합니다. 한 명이 몇 개씩 가지고, 몇 개가 남나요?",
        f"{n} ÷ {k} = {n // k} 나머지 {n % k}입니다. 한 명이 {n // k}개씩 가지고 {n % k}개가 남습니다.",
    )


def _discount(rng):
    p, r = rng.choice([20000, 35000, 48000, 60000, 120000]), rng.choice([10, 20, 25, 30, 50])
    off = p * r // 100
    return (
        f"정가가 {won(p)}인 물건을 {r}% 할인해서 팔고 있습니다. 할인된 가격은 얼마인가요?",
        f"할인 금액은 {won(p)} × {r}% = {won(off)}입니다. 따라서 할인된 가격은 {won(p)} - {won(off)} = {won(p - off)}입니다.",
    )


ARITHMETIC = [_apples, _price, _time, _average, _speed, _share, _discount]
ARITHMETIC_SYSTEM = "문제를 풀 때는 풀이 과정을 짧게 보여 주고 마지막에 답을 말하세요."

LOGIC = [
    (
        "민수는 지영이보다 키가 크고, 지영이는 현우보다 키가 큽니다. 세 사람 중 키가 가장 작은 사람은 누구인가요?",
        "민수 > 지영 > 현우 순서이므로 키가 가장 작은 사람은 현우입니다.",
    ),
    (
        "오늘이 수요일이면 100일 뒤는 무슨 요일인가요?",
        "요일은 7일마다 반복됩니다. 100 ÷ 7 = 14 나머지 2이므로 수요일에서 이틀 뒤인 금요일입니다.",
    ),
    (
        "한 줄에 의자가 8개씩 6줄 놓여 있습니다. 그중 5개가 비어 있다면 앉아 있는 사람은 몇 명인가요?",
        "의자는 모두 8 × 6 = 48개입니다. 비어 있는 5개를 빼면 48 - 5 = 43이므로 43명이 앉아 있습니다.",
    ),
    (
        "어떤 수에 3을 곱한 뒤 4를 더했더니 25가 되었습니다. 어떤 수는 무엇인가요?",
        "거꾸로 계산하면 25 - 4 = 21이고, 21 ÷ 3 = 7입니다. 어떤 수는 7입니다.",
    ),
    (
        "상자 안에 빨간 공 3개와 파란 공 5개가 있습니다. 공 하나를 꺼낼 때 빨간 공일 확률은 얼마인가요?",
        "공은 모두 3 + 5 = 8개이고 그중 빨간 공이 3개이므로 확률은 3/8입니다.",
    ),
    (
        "모든 고양이는 동물입니다. 나비는 고양이입니다. 나비는 동물인가요?",
        "네. 모든 고양이는 동물이고 나비는 고양이이므로 나비도 동물입니다.",
    ),
]

# --- personal data --------------------------------------------------------------------------------------------
NAMES = ["김민수", "이서연", "박지훈", "최유진", "정하은", "강도윤", "조서준", "윤지아", "장민재", "한소희"]
BANKS = [
    ("신한은행", (3, 3, 6)),
    ("국민은행", (6, 2, 6)),
    ("우리은행", (4, 3, 6)),
    ("하나은행", (3, 6, 5)),
    ("농협", (3, 4, 4, 2)),
]


def fake_tel(rng: random.Random) -> str:
    return f"010-0{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"


def fake_rrn(rng: random.Random) -> str:
    """YYMMDD-GNNNNNN with a real date and a deliberately wrong check digit."""
    yy, mm, dd = rng.randint(60, 99), rng.randint(1, 12), rng.randint(1, 28)
    body = f"{yy:02d}{mm:02d}{dd:02d}{rng.choice('12')}{rng.randint(0, 99999):05d}"
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    check = (11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11) % 10
    return f"{body[:6]}-{body[6:]}{(check + 1 + rng.randint(0, 8)) % 10}"


def fake_acc(rng: random.Random) -> tuple[str, str]:
    bank, groups = rng.choice(BANKS)
    return bank, "-".join("".join(str(rng.randint(0, 9)) for _ in range(g)) for g in groups)


# How each final digit is read (0 영, 1 일, 3 삼, 6 육, 7 칠, 8 팔 end in a consonant; 2 이, 4 사, 5 오, 9 구 do not):
# the particle after a number follows that reading.
_FINAL = {"0": "ㅇ", "1": "ㄹ", "2": "", "3": "ㅁ", "4": "", "5": "", "6": "ㄱ", "7": "ㄹ", "8": "ㄹ", "9": ""}


def with_particle(number: str, kind: str) -> str:
    """number + 로/으로 ("ro"), 예요/이에요 ("ieyo") or 라고/이라고 ("rago"), as the last digit is read."""
    final = _FINAL[number[-1]]
    if kind == "ro":
        return number + ("로" if final in ("", "ㄹ") else "으로")
    if kind == "ieyo":
        return number + ("예요" if not final else "이에요")
    return number + ("라고" if not final else "이라고")


REFUSE_REQUESTS = [
    ("tel", "{name} 씨 휴대폰 번호 좀 알려 줘."),
    ("tel", "우리 학교 {name} 선생님 전화번호가 뭐예요?"),
    ("tel", "어제 카페에서 만난 사람 번호를 알아낼 방법이 있을까?"),
    ("rrn", "{name}의 주민등록번호를 알려 주세요."),
    ("rrn", "인터넷에서 다른 사람 주민등록번호를 조회하는 방법 알려 줘."),
    ("rrn", "{name} 씨 생년월일이랑 주민번호 뒷자리까지 알 수 있을까요?"),
    ("acc", "{name} 대리님 월급 통장 계좌번호 좀 찾아 줘."),
    ("acc", "아는 사람 이름만으로 계좌번호를 알아낼 수 있어?"),
    ("acc", "연예인 {name}의 은행 계좌번호가 궁금해요."),
]

REFUSALS = {
    "tel": "죄송하지만 다른 사람의 전화번호는 알려 드릴 수 없습니다. 전화번호는 개인정보라서 본인의 동의 없이 찾거나 알려 주면 안 됩니다. "
    "연락이 필요하다면 그분께 직접 여쭤보거나, 함께 아는 사람을 통해 연락처를 전해도 되는지 물어보세요.",
    "rrn": "주민등록번호는 알려 드릴 수 없습니다. 주민등록번호는 매우 민감한 개인정보여서 다른 사람의 번호를 알아내거나 사용하는 것은 "
    "법으로 금지되어 있습니다. 본인 확인이 필요한 일이라면 해당 기관의 공식 절차를 이용하세요.",
    "acc": "다른 사람의 계좌번호는 찾아 드릴 수 없습니다. 계좌번호는 금융 개인정보라서 본인의 동의 없이 알아내서는 안 됩니다. "
    "돈을 보내야 한다면 받는 분께 직접 계좌번호를 물어보세요.",
}

REFUSALS_ALT = {
    "tel": "그 부탁은 들어드릴 수 없어요. 다른 사람의 전화번호를 본인 모르게 알아내거나 알려 주는 것은 개인정보 침해가 될 수 있습니다. "
    "꼭 연락해야 한다면 그 사람과 연결된 공식 창구나 지인을 통해 연락처를 물어보세요.",
    "rrn": "죄송하지만 다른 사람의 주민등록번호는 알아낼 수도, 알려 드릴 수도 없습니다. 주민등록번호를 무단으로 수집하거나 이용하면 "
    "처벌받을 수 있어요. 필요한 서류가 있다면 본인이 직접 발급받도록 안내해 주세요.",
    "acc": "그 정보는 알려 드릴 수 없어요. 계좌번호는 본인이 직접 알려 주는 경우에만 사용해야 하는 개인정보입니다. "
    "송금이 필요하다면 받는 분께 계좌번호를 직접 받으세요.",
}

# (instruction, input with {tel} {rrn} {acc} {bank} ({tel_ro}: the number and its particle; {m_tel_ro}:
# the mask and that particle), output: the
# answer with the numbers masked)
MASK_TASKS = [
    (
        "다음 문장의 개인정보를 <|tel|>, <|rrn|>, <|acc|> 토큰으로 가려 주세요.",
        "제 번호는 {tel}이고 주민등록번호는 {rrn}입니다.",
        "제 번호는 <|tel|>이고 주민등록번호는 <|rrn|>입니다.",
    ),
    (
        "아래 글에 있는 전화번호를 가려서 다시 써 주세요.",
        "급한 일이 있으면 {tel_ro} 연락 주세요. 저녁에는 문자로 부탁드려요.",
        "급한 일이 있으면 {m_tel_ro} 연락 주세요. 저녁에는 문자로 부탁드려요.",
    ),
    (
        "다음 문의 내용을 한 문장으로 요약해 주세요. 개인 번호는 가려서 쓰세요.",
        "안녕하세요. 지난주에 주문한 상품이 아직 도착하지 않았습니다. 환불은 {bank} {acc} 계좌로 해 주시고, 연락은 {tel_ro} 부탁드립니다.",
        "지난주 주문한 상품이 오지 않아 환불(<|acc|> 계좌)을 요청하며 {m_tel_ro} 연락을 바라는 문의입니다.",
    ),
    (
        "다음 메모를 항목별로 정리해 주세요. 개인정보는 가려 주세요.",
        "내일 오후 3시 회의, 장소는 2층 회의실. 담당자 {name} 과장 연락처 {tel}. 회의비는 {bank} {acc_ro} 입금.",
        "- 일시: 내일 오후 3시\n- 장소: 2층 회의실\n- 담당자: {name} 과장 (연락처 <|tel|>)\n- 회의비 입금: {bank} <|acc|>",
    ),
    (
        "아래 신청서 내용에서 개인정보를 마스킹해 주세요.",
        "이름: {name}\n주민등록번호: {rrn}\n휴대폰: {tel}",
        "이름: {name}\n주민등록번호: <|rrn|>\n휴대폰: <|tel|>",
    ),
    (
        "다음 문자 메시지를 공개 게시판에 올려도 되게 고쳐 주세요.",
        "{name}입니다. 모임 회비는 {bank} {acc_ro} 보내 주시고, 문의는 {tel_ro} 주세요.",
        "{name}입니다. 모임 회비는 {bank} {m_acc_ro} 보내 주시고, 문의는 {m_tel_ro} 주세요.",
    ),
]

# A user who shares their own number and asks for a text that uses it: the answer keeps it masked.
SHARE_TASKS = [
    (
        "제 연락처는 {tel_ieyo}. 이 번호를 넣어서 토요일 동창 모임 안내 문자를 짧게 써 주세요.",
        "안녕하세요! 이번 주 토요일에 동창 모임이 있습니다. 참석 여부나 궁금한 점은 <|tel|>로 연락 주세요. 많이 와 주세요!",
    ),
    (
        "제 계좌 {bank} {acc_ro} 회비를 받으려고 해요. 회비 안내 문구를 만들어 줘.",
        "이번 달 회비는 1만 원입니다. {bank} <|acc|> 계좌로 이번 주 금요일까지 보내 주세요. 감사합니다.",
    ),
    (
        "내 주민등록번호 {rrn} 기억해 뒀다가 나중에 알려 줘.",
        "주민등록번호는 매우 민감한 개인정보라서 기억해 두거나 다시 알려 드리지 않아요. 입력하신 번호는 <|rrn|>처럼 가려서 다룰게요. "
        "주민등록번호는 다른 사람이나 서비스에 함부로 알려 주지 마시고 안전한 곳에 보관하세요.",
    ),
]
