"""Sentence banks with slots, combined into further documents for the bundled sample corpus.

Used only by make_corpus.py (run once; its output is committed). Every generator picks several sentences
from large banks and fills slots (names, places, dates, numbers, products), so two generated documents rarely
share most of their text. Personal data is fictional and written with `{{kind:text}}` markup, which
make_corpus.py strips and records: `tel`, `acc`, `rrn` must be masked; `date`, `price`, `zip`, `bizno`,
`order`, `tracking`, `isbn`, `num`, `time` are hard negatives that must not be.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

# ---------------------------------------------------------------------------------------------- helpers


def has_batchim(word: str) -> bool:
    """Whether the last Hangul syllable of `word` ends in a consonant (decides 은/는, 이/가, 을/를...)."""
    for ch in reversed(word):
        if "\uac00" <= ch <= "\ud7a3":
            return (ord(ch) - 0xAC00) % 28 != 0
        if ch.isdigit():
            return ch in "013678"  # 영, 일, 삼, 육, 칠, 팔 end in a consonant
    return False


def josa(word: str, pair: str) -> str:
    """`word` with the particle form that fits it: josa("서울", "은/는") -> "서울은"."""
    with_final, without = pair.split("/")
    if pair == "으로/로":
        last = next((c for c in reversed(word) if "\uac00" <= c <= "\ud7a3" or c.isdigit()), "")
        if last.isdigit() and last in "178" or last and not last.isdigit() and (ord(last) - 0xAC00) % 28 == 8:
            return word + "로"  # a final ㄹ (일, 칠, 팔, or a syllable ending in ㄹ) takes 로
    return word + (with_final if has_batchim(word) else without)


_SLOT = re.compile(r"\{(\w+)(?:\|([^{}]+))?\}")


def fill(template: str, **slots: str) -> str:
    """Fill `{slot}` and particle slots written `{slot|은/는}` (unknown slots are left as they are)."""

    def sub(m: re.Match) -> str:
        key, pair = m.group(1), m.group(2)
        if key not in slots:
            return m.group(0)
        return josa(slots[key], pair) if pair else slots[key]

    return _SLOT.sub(sub, template)


SURNAMES = list(
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나엄채원천방공현함변염여추도소석선설마길연위표명기반라왕금옥육인맹제모탁국어은편용예경봉사부"
)
GIVEN = [
    "민준",
    "서연",
    "도윤",
    "서윤",
    "예준",
    "지우",
    "시우",
    "하은",
    "주원",
    "지민",
    "하준",
    "수아",
    "지호",
    "지유",
    "준서",
    "채원",
    "현우",
    "윤서",
    "건우",
    "다은",
    "우진",
    "예린",
    "선우",
    "소율",
    "연우",
    "하린",
    "유준",
    "지안",
    "정우",
    "서현",
    "승현",
    "민서",
    "승민",
    "예은",
    "지훈",
    "수빈",
    "성민",
    "은지",
    "영수",
    "미경",
    "상철",
    "순자",
    "영희",
    "정훈",
    "혜진",
    "동현",
    "경민",
    "보람",
    "태희",
    "재석",
    "은비",
    "한결",
    "나래",
    "슬기",
    "다인",
    "가람",
    "병철",
    "옥순",
    "춘자",
    "기현",
    "명숙",
    "종민",
    "진영",
    "윤희",
    "재원",
    "소희",
    "혜원",
    "동욱",
    "태윤",
    "가은",
]
NICKNAMES = [
    "하늘바라기",
    "봄날의곰",
    "초록창가",
    "달빛산책",
    "커피한잔",
    "맑음이",
    "여행하는고양이",
    "주말농부",
    "밥심",
    "책벌레",
    "바다소년",
    "느림보",
    "새벽달",
    "구름빵",
    "도토리",
    "솔바람",
    "꼬마농부",
    "별헤는밤",
]

PLACES = [
    ("서울", ["종로구", "마포구", "강남구", "송파구", "노원구", "관악구", "성북구", "은평구", "강서구", "동대문구"]),
    ("부산", ["해운대구", "수영구", "동래구", "부산진구", "사하구", "북구"]),
    ("대구", ["수성구", "달서구", "중구", "동구"]),
    ("인천", ["연수구", "남동구", "부평구", "계양구"]),
    ("광주", ["북구", "서구", "광산구", "남구"]),
    ("대전", ["유성구", "서구", "중구", "대덕구"]),
    ("울산", ["남구", "중구", "울주군"]),
    ("수원", ["영통구", "장안구", "팔달구"]),
    ("전주", ["완산구", "덕진구"]),
    ("청주", ["상당구", "흥덕구", "청원구"]),
    ("춘천", ["후평동", "석사동", "효자동"]),
    ("창원", ["성산구", "의창구", "마산합포구"]),
    ("제주", ["제주시", "서귀포시"]),
    ("포항", ["남구", "북구"]),
    ("강릉", ["교동", "포남동", "주문진읍"]),
    ("여수", ["돌산읍", "여서동", "문수동"]),
]
TOWNS = [
    "행복동",
    "새싹마을",
    "푸른숲마을",
    "느티나무마을",
    "은행나무길",
    "햇살마을",
    "소나무골",
    "별빛마을",
    "강변마을",
    "산들마을",
]
AREA_CODES = {
    "서울": "02",
    "부산": "051",
    "대구": "053",
    "인천": "032",
    "광주": "062",
    "대전": "042",
    "울산": "052",
    "수원": "031",
    "전주": "063",
    "청주": "043",
    "춘천": "033",
    "창원": "055",
    "제주": "064",
    "포항": "054",
    "강릉": "033",
    "여수": "061",
}
KOREAN_NUM = ["", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열"]


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def place(rng: random.Random) -> tuple[str, str]:
    city, districts = rng.choice(PLACES)
    return city, rng.choice(districts)


def date_parts(rng: random.Random, years=(2019, 2025)) -> tuple[int, int, int]:
    return rng.randint(*years), rng.randint(1, 12), rng.randint(1, 28)


def date_text(rng: random.Random, style: str | None = None) -> str:
    y, m, d = date_parts(rng)
    style = style or rng.choice(["ko", "ko", "dot", "dash", "dotsp", "md"])
    return {
        "ko": f"{y}년 {m}월 {d}일",
        "dot": f"{y}.{m:02d}.{d:02d}",
        "dash": f"{y}-{m:02d}-{d:02d}",
        "dotsp": f"{y}. {m}. {d}.",
        "md": f"{m}월 {d}일",
    }[style]


def price_text(rng: random.Random, low: int, high: int, step: int = 100) -> str:
    value = rng.randrange(low, high, step)
    if value >= 10000 and value % 10000 == 0 and rng.random() < 0.4:
        return f"{value // 10000}만 원"
    return f"{value:,}원"


# ------------------------------------------------------------------- fictional personal data (to be masked)


def mobile(rng: random.Random) -> str:
    mid, last = rng.randint(2000, 9999), rng.randint(0, 9999)
    style = rng.choice(["dash"] * 6 + ["space", "dot", "plain", "intl", "intl-dash", "intl-space"])
    return {
        "dash": f"010-{mid}-{last:04d}",
        "space": f"010 {mid} {last:04d}",
        "dot": f"010.{mid}.{last:04d}",
        "plain": f"010{mid}{last:04d}",
        "intl": f"+82 10-{mid}-{last:04d}",
        "intl-dash": f"+82-10-{mid}-{last:04d}",
        "intl-space": f"+82 10 {mid} {last:04d}",
    }[style]


def landline(rng: random.Random, city: str | None = None) -> str:
    code = AREA_CODES.get(city or "", rng.choice(list(AREA_CODES.values())))
    mid = rng.randint(200, 999) if rng.random() < 0.5 else rng.randint(2000, 9999)
    return f"{code}-{mid}-{rng.randint(0, 9999):04d}"


def phone(rng: random.Random, city: str | None = None) -> str:
    return mobile(rng) if rng.random() < 0.75 else landline(rng, city)


BANK_FORMATS = [
    ("국민은행", (6, 2, 6)),
    ("신한은행", (3, 3, 6)),
    ("우리은행", (4, 3, 6)),
    ("하나은행", (3, 6, 5)),
    ("농협", (3, 4, 4, 2)),
    ("기업은행", (3, 6, 2, 3)),
    ("카카오뱅크", (4, 2, 7)),
    ("토스뱅크", (4, 4, 4)),
    ("새마을금고", (4, 4, 4, 1)),
    ("우체국", (6, 2, 6)),
    ("부산은행", (3, 4, 4, 2)),
    ("SC제일은행", (3, 2, 6)),
    ("수협", (3, 2, 6, 1)),
    ("신협", (3, 3, 6)),
    ("케이뱅크", (3, 3, 6)),
]


def account(rng: random.Random) -> tuple[str, str]:
    bank, groups = rng.choice(BANK_FORMATS)
    parts = ["".join(str(rng.randint(0, 9)) for _ in range(n)) for n in groups]
    parts[0] = str(rng.randint(1, 9)) + parts[0][1:]
    number = "-".join(parts) if rng.random() < 0.85 else "".join(parts)
    return bank, number


def rrn(rng: random.Random) -> str:
    """A fictional resident registration number (make_corpus.py makes its check digit valid)."""
    year = rng.randint(1950, 2009)
    gender = rng.choice("12") if year < 2000 else rng.choice("34")
    body = f"{year % 100:02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    tail = gender + "".join(str(rng.randint(0, 9)) for _ in range(6))
    return f"{body}-{tail}" if rng.random() < 0.85 else body + tail


def bizno(rng: random.Random) -> str:
    return f"{rng.randint(101, 899)}-{rng.randint(10, 99)}-{rng.randint(10000, 99999)}"


def order_no(rng: random.Random) -> str:
    y, m, d = date_parts(rng, (2022, 2025))
    return rng.choice(
        [
            f"{y}{m:02d}{d:02d}-{rng.randint(0, 9999999):07d}",
            f"ORD-{y}-{rng.randint(100000, 999999)}",
            f"{y % 100:02d}{m:02d}{d:02d}{rng.randint(100000, 999999)}",
        ]
    )


def M(kind: str, text: str) -> str:
    """Markup for make_corpus.py: the span's kind and its text."""
    return "{{" + kind + ":" + text + "}}"


def pick(rng: random.Random, bank: list[str], k: int) -> list[str]:
    return rng.sample(bank, min(k, len(bank)))


# ------------------------------------------------------------------------------------------------ news

NEWS_TOPICS = {
    "festival": {
        "head": [
            "{city} {district}, 이번 주말 '{fest}' 개막",
            "{fest} {days}일간 열린다… 체험 행사 풍성",
            "{city}의 대표 축제 {fest}, 올해는 더 커졌다",
            "{district} {fest} 앞두고 교통 통제 안내",
        ],
        "lead": [
            "{city} {district}{district_josa} 이번 주 금요일부터 {days}일 동안 {place_name} 일대에서 {fest}{fest_josa} 연다고 밝혔다.",
            "지역의 대표 축제인 {fest}{fest_josa2} 올해로 {nth}회째를 맞아 {place_name}에서 막을 올린다.",
            "{fest}{fest_josa2} 코로나 이후 처음으로 예전 규모를 되찾아 {days}일간 열린다.",
        ],
        "detail": [
            "축제 기간에는 지역 농산물 장터와 먹거리 부스 {booths}곳이 운영되고, 저녁마다 야외 공연이 이어진다.",
            "올해는 아이들을 위한 만들기 체험과 전통 놀이 마당이 새로 마련됐다.",
            "축제장 곳곳에는 지역 작가들의 사진과 그림을 전시하는 작은 갤러리도 꾸며진다.",
            "마지막 날 밤에는 강변에서 불꽃놀이가 펼쳐질 예정이어서 많은 인파가 몰릴 것으로 보인다.",
            "주최 측은 방문객 편의를 위해 임시 주차장 {parks}곳과 셔틀버스를 운영한다.",
            "축제장 주변 도로는 행사 기간 동안 오후부터 차량 통행이 제한된다.",
            "일회용품을 줄이기 위해 음식은 다회용기에 담아 제공하고, 텀블러를 가져오면 음료를 할인해 준다.",
            "지난해에는 {visitors}만 명이 넘는 관광객이 축제장을 찾은 것으로 집계됐다.",
        ],
        "quote": [
            '축제 추진위원장은 "주민과 관광객이 함께 즐길 수 있는 축제를 만들기 위해 준비했다"며 많은 참여를 당부했다.',
            '{district} 관계자는 "안전요원을 곳곳에 배치해 사고 없는 축제가 되도록 하겠다"고 말했다.',
            '장터에 참여하는 한 농민은 "올해 농사가 잘돼서 좋은 값에 팔 수 있을 것 같다"고 기대했다.',
        ],
        "close": [
            "자세한 행사 일정은 축제 누리집에서 확인할 수 있다.",
            "우천 시 일부 야외 공연은 실내 공연장으로 옮겨 진행된다.",
            "축제 기간 대중교통을 이용해 달라는 당부도 나왔다.",
        ],
    },
    "fire": {
        "head": [
            "{city} {district} {building}서 불… {n}명 연기 흡입",
            "{city} {building} 화재, 이웃 신고로 큰 피해 막아",
            "새벽 {district} {building} 화재… 주민 수십 명 대피",
            "{district} {building} 불, {minutes}분 만에 꺼져",
        ],
        "lead": [
            "{date} 오전 {hour}시쯤 {city} {district}의 한 {building}에서 불이 나 {minutes}분 만에 꺼졌다.",
            "{date} 새벽 {city} {district}의 {building}에서 불이 나 주민들이 한밤중에 대피하는 소동이 벌어졌다.",
            "{date} 오후 {hour}시쯤 {city} {district}의 {building}에서 연기가 난다는 신고가 소방서에 접수됐다.",
        ],
        "match": {0: [0, 1, 3], 1: [1, 2], 2: [0, 1]},  # lead index -> the headlines that fit it
        "detail": [
            "이 불로 {n}명이 연기를 마셔 인근 병원에서 치료를 받았다.",
            "다행히 크게 다친 사람은 없는 것으로 알려졌다.",
            "불은 건물 일부와 집기 등을 태워 소방서 추산 {damage}만 원의 재산 피해를 냈다.",
            "소방 당국은 차량 {trucks}대와 인력 {firefighters}명을 동원해 불을 껐다.",
            "불이 나자 건물 안에 있던 사람들은 스스로 대피했고, 일부는 구조대의 도움을 받아 밖으로 나왔다.",
            "이웃 주민이 타는 냄새를 맡고 곧바로 신고해 불이 번지는 것을 막을 수 있었다.",
            "건물에 설치된 스프링클러가 작동해 불길이 크게 번지지 않았다.",
            "검은 연기가 치솟으면서 인근 주민들의 신고가 잇따랐다.",
        ],
        "quote": [
            "소방 당국은 전기적 요인에 의해 불이 났을 가능성에 무게를 두고 조사 중이다.",
            "소방 당국은 정확한 화재 원인과 피해 규모를 조사하고 있다.",
            '현장에 있던 한 주민은 "경보 소리를 듣고 급히 아이를 안고 계단으로 내려왔다"고 당시 상황을 전했다.',
        ],
        "close": [
            "소방 당국은 건조한 날씨에 화재 예방에 각별히 주의해 달라고 당부했다.",
            "소방서는 겨울철 난방 기구 사용에 주의해 달라고 당부했다.",
        ],
    },
    "traffic": {
        "head": [
            "새벽 {district} 교차로서 차량 추돌, {n}명 부상",
            "{city} 도심 도로서 버스와 승용차 충돌",
            "{district} 터널 안 연쇄 추돌… 출근길 정체",
            "빗길 {city} 외곽 도로서 화물차 미끄러져",
        ],
        "lead": [
            "{date} 새벽 {city} {district}의 교차로에서 승용차와 화물차가 부딪히는 사고가 났다.",
            "{date} 오전 {rush}시쯤 {city} {district}의 도로에서 시내버스와 승용차가 충돌했다.",
            "{date} 출근 시간에 {city} {district}의 터널 안에서 차량 {trucks}대가 잇따라 부딪혔다.",
            "{date} 밤 {city} 외곽 도로에서 빗길에 미끄러진 화물차가 가드레일을 들이받았다.",
        ],
        "match": {0: [0], 1: [1], 2: [2], 3: [3]},
        "detail": [
            "이 사고로 운전자와 승객 등 {n}명이 다쳐 병원으로 옮겨졌다.",
            "다행히 크게 다친 사람은 없는 것으로 알려졌다.",
            "사고 여파로 출근길 차량이 한 시간 넘게 정체를 빚었다.",
            "사고 당시 도로는 밤사이 내린 비로 젖어 있었던 것으로 전해졌다.",
            "경찰은 사고 차량을 견인하고 한 개 차로를 통제한 채 현장을 정리했다.",
            "사고 현장을 지나던 시민들이 부상자를 돕기도 했다.",
        ],
        "quote": [
            "경찰은 운전자들을 상대로 신호 위반 여부를 확인하고 있다.",
            "경찰은 정확한 사고 원인을 조사하고 있다.",
            "경찰은 운전자가 졸음운전을 했을 가능성도 살펴보고 있다.",
        ],
        "close": [
            "경찰은 주변 폐쇄회로 텔레비전 영상과 블랙박스 영상을 확보해 분석할 계획이다.",
            "경찰은 비가 오는 날에는 평소보다 속도를 줄이고 차간 거리를 충분히 둘 것을 당부했다.",
        ],
    },
    "policy": {
        "head": [
            "{city}, 다음 달부터 '{program}' 시행",
            "{district}, 주민 {n}천 명 대상 {program} 추진",
            "'{program}' 신청 첫날부터 문의 빗발쳐",
            "{city}시 {program} 확대… 예산 {budget}억 원 투입",
        ],
        "lead": [
            "{city}{city_josa} 다음 달부터 {target}{target_josa} 대상으로 {program}{program_josa} 시행한다고 밝혔다.",
            "{city} {district}{district_josa} 올해 {budget}억 원을 들여 {program}{program_josa} 추진한다.",
            "{target}의 생활 부담을 덜기 위한 {program}{program_josa2} {city}에서 시작된다.",
        ],
        "match": {0: [0, 2], 1: [1, 3], 2: [0, 2]},
        "detail": [
            "지원 대상은 {city}에 주민등록을 둔 {target}이며, 신청은 주민센터나 온라인으로 할 수 있다.",
            "시는 올해 {n}천 명을 지원하고 반응이 좋으면 내년에 대상을 늘릴 계획이다.",
            "신청자가 많으면 소득 수준과 가구 상황을 고려해 우선순위를 정한다.",
            "지원금은 지역 화폐로 지급되어 동네 가게에서 쓸 수 있다.",
            "시는 이번 사업을 위해 관련 조례를 개정하고 전담 부서를 새로 만들었다.",
            "신청 서류가 복잡하다는 지적에 따라 이번에는 신분증만 있으면 신청할 수 있도록 절차를 줄였다.",
            "지난해 시범 사업에 참여한 주민의 만족도는 {satisfaction}퍼센트로 높게 나타났다.",
        ],
        "quote": [
            '시장은 "시민들이 실제로 체감할 수 있는 정책이 되도록 꼼꼼히 챙기겠다"고 말했다.',
            '사업을 맡은 과장은 "도움이 필요한 분들이 몰라서 신청하지 못하는 일이 없도록 홍보에 힘쓰겠다"고 밝혔다.',
            '한 시민 단체는 "취지는 좋지만 일회성 지원에 그쳐서는 안 된다"는 의견을 냈다.',
        ],
        "close": [
            "자세한 내용은 시청 누리집이나 가까운 주민센터에서 안내받을 수 있다.",
            "신청 기간은 이달 말까지다.",
            "시는 사업 결과를 분석해 하반기에 보완책을 내놓을 예정이다.",
        ],
    },
    "economy": {
        "head": [
            "{item} 값 한 달 새 {percent}% 올라… 장바구니 부담 커져",
            "{item} 값 고공행진… 언제 내려가나",
            "전통시장 vs 대형마트, {item} 값 비교해 보니",
            "명절 앞두고 {item} 값 들썩",
        ],
        "lead": [
            "{item} 가격이 한 달 사이 {percent}퍼센트 넘게 오르면서 소비자들의 부담이 커지고 있다.",
            "산지 출하량이 줄면서 {item} 가격이 좀처럼 내려가지 않고 있다.",
            "명절을 앞두고 {item}{item_josa} 비롯한 제수용품 가격이 오름세를 보이고 있다.",
        ],
        "detail": [
            "농산물 유통 정보에 따르면 이번 주 {item} 평균 소매 가격은 지난해 같은 기간보다 크게 높았다.",
            "업계는 지난여름 잦은 비와 폭염으로 작황이 나빠진 것을 가격 상승의 원인으로 꼽는다.",
            "한 소비자 단체의 조사에서는 전통시장이 대형마트보다 평균 {percent2}퍼센트가량 저렴한 것으로 나타났다.",
            "대형마트들은 할인 행사를 열어 소비자 잡기에 나섰다.",
            "정부는 비축 물량을 풀어 가격을 안정시키겠다고 밝혔다.",
            "식당들도 재료값 부담에 메뉴 가격을 올리거나 양을 줄이고 있다.",
            "전문가들은 다음 달 햇물량이 나오면 가격이 다소 내려갈 것으로 내다봤다.",
        ],
        "quote": [
            '시장에서 만난 한 주부는 "예전에는 한 봉지 사던 걸 이제는 반만 산다"고 말했다.',
            '한 상인은 "손님들이 가격을 묻고는 그냥 지나가는 일이 많아졌다"며 한숨을 쉬었다.',
            '농민들은 "가격이 올라도 생산비가 더 많이 올라 남는 게 없다"고 호소했다.',
        ],
        "close": [
            "정부는 주요 품목의 가격 동향을 매주 점검하기로 했다.",
            "소비자 단체는 구매 전에 가격을 비교해 보라고 조언했다.",
        ],
    },
    "culture": {
        "head": [
            "{city} 미술관, '{exhibit}' 기획전 개막",
            "작은 도서관에서 열리는 '{exhibit}' 전시 눈길",
            "{district} 문화회관, 주민 사진전 '{exhibit}' 열어",
            "지역 작가 {n}명이 함께 꾸민 '{exhibit}'",
        ],
        "lead": [
            "{city} 시립 미술관이 지역 작가 {n}명의 작품을 모은 기획전 '{exhibit}'{exhibit_josa} {date}부터 연다.",
            "{district} 문화회관이 주민들이 직접 찍은 사진을 모은 전시 '{exhibit}'{exhibit_josa} 이번 달 말까지 연다.",
            "동네 작은 도서관에서 '{exhibit}'{exhibit_josa2} 주제로 한 사진 전시가 열리고 있다.",
        ],
        "match": {0: [0, 3], 1: [2], 2: [1]},
        "detail": [
            "전시에는 회화와 사진, 설치 작품 등 {works}여 점이 나온다.",
            "작품들은 작가들이 오랫동안 살아온 동네의 풍경과 사람들을 담고 있다.",
            "관람료는 무료이며, 주말에는 작가와 함께하는 해설 프로그램이 운영된다.",
            "전시 기간 중 토요일에는 어린이를 위한 그림 그리기 교실이 함께 열린다.",
            "전시장 한쪽에는 관람객이 직접 그림을 그려 벽에 붙일 수 있는 참여 공간도 마련됐다.",
            "평일에는 단체 관람을 미리 신청한 학교와 복지관을 위해 오전 시간을 따로 비워 둔다.",
        ],
        "quote": [
            '참여 작가는 "매일 지나치던 골목이 누군가에게는 특별한 장소라는 걸 보여 주고 싶었다"고 말했다.',
            '전시 관계자는 "가족 단위 관람객이 부담 없이 즐길 수 있는 전시"라고 소개했다.',
            '전시를 기획한 큐레이터는 "그림을 통해 이웃과 만나는 시간이 되었으면 한다"고 밝혔다.',
        ],
        "close": ["전시는 다음 달 말까지 이어진다.", "월요일은 휴관한다.", "단체 관람은 전화로 미리 예약해야 한다."],
    },
}
NEWS_SLOTS = {
    "fest": [
        "억새 축제",
        "벚꽃 축제",
        "국화 축제",
        "전통시장 먹거리 축제",
        "빛 축제",
        "해변 음악 축제",
        "딸기 축제",
        "김장 문화제",
        "전어 축제",
        "옛길 걷기 축제",
        "책 읽는 거리 축제",
        "연등 축제",
    ],
    "place_name": [
        "강변 공원",
        "시청 광장",
        "옛 도심 거리",
        "해수욕장",
        "종합운동장",
        "수목원",
        "전통시장 일대",
        "호수 공원",
    ],
    "building": ["상가 건물", "식당", "다세대 주택", "공장", "아파트", "창고"],
    "program": [
        "청년 월세 지원|청년",
        "어르신 병원 동행 서비스|어르신",
        "아동 급식 카드 확대|결식 우려 아동",
        "소상공인 전기요금 지원|소상공인",
        "1인 가구 안부 확인 서비스|1인 가구",
        "반려동물 진료비 지원|반려 가구",
        "출산 가정 산후조리비 지원|출산 가정",
        "어린이 무료 수영 강습|초등학생",
        "경로당 점심 지원|어르신",
        "장애인 이동 지원 확대|장애인",
        "한부모 가정 양육비 지원|한부모 가정",
        "공유 자전거 무료 이용|청소년",
    ],
    "item": ["배추", "사과", "달걀", "대파", "고등어", "쌀", "양파", "무", "감자", "배", "돼지고기", "우유"],
    "exhibit": [
        "골목의 시간",
        "우리 동네 사계절",
        "바다를 그리다",
        "할머니의 손",
        "오래된 가게들",
        "빛과 그림자",
        "여름밤의 정원",
        "아이들의 눈으로 본 세상",
        "기억의 정원",
        "강물이 흐르는 마을",
    ],
}


def gen_news(rng: random.Random) -> str:
    topic = rng.choice(list(NEWS_TOPICS))
    t = NEWS_TOPICS[topic]
    city, district = place(rng)
    slots = {k: rng.choice(v) for k, v in NEWS_SLOTS.items()}
    slots["program"], slots["target"] = slots["program"].split("|")  # each programme with the people it serves
    y, m, d = date_parts(rng)
    slots.update(
        city=city,
        district=district,
        days=str(rng.randint(2, 10)),
        nth=str(rng.randint(3, 30)),
        booths=str(rng.randint(20, 120)),
        parks=str(rng.randint(3, 12)),
        visitors=str(rng.randint(3, 60)),
        n=str(rng.randint(2, 9)),
        date=f"{m}월 {d}일",
        hour=str(rng.randint(1, 11)),
        minutes=str(rng.randint(20, 90)),
        damage=str(rng.randrange(500, 9000, 100)),
        trucks=str(rng.randint(8, 40)),
        firefighters=str(rng.randint(30, 120)),
        budget=str(rng.randint(5, 300)),
        percent=str(rng.randint(8, 60)),
        percent2=str(rng.randint(5, 25)),
        satisfaction=str(rng.randint(72, 96)),
        rush=str(rng.randint(7, 9)),
        works=str(rng.randrange(30, 200, 10)),
    )
    # particles that depend on the slot value
    for key, pair, name in [
        ("district", "은/는", "district_josa"),
        ("fest", "을/를", "fest_josa"),
        ("fest", "이/가", "fest_josa2"),
        ("city", "은/는", "city_josa"),
        ("target", "을/를", "target_josa"),
        ("program", "을/를", "program_josa"),
        ("program", "이/가", "program_josa2"),
        ("item", "을/를", "item_josa"),
        ("exhibit", "을/를", "exhibit_josa"),
        ("exhibit", "을/를", "exhibit_josa2"),
    ]:
        slots[name] = josa(slots[key], pair)[len(slots[key]) :]
    details = [fill(s, **slots) for s in pick(rng, t["detail"], rng.randint(3, 5))]
    split = rng.randint(1, 2)
    lead = rng.randrange(len(t["lead"]))
    heads = [t["head"][i] for i in t.get("match", {}).get(lead, range(len(t["head"])))]
    parts = [fill(rng.choice(heads), **slots), "", fill(t["lead"][lead], **slots) + " " + " ".join(details[:split])]
    parts.append(" ".join(details[split:]))
    parts.append(fill(rng.choice(t["quote"]), **slots) + " " + fill(rng.choice(t["close"]), **slots))
    reporter = person(rng)
    if rng.random() < 0.5:
        parts.append(f"{reporter} 기자")
    text = "\n".join(parts[:2]) + "\n" + "\n\n".join(parts[2:])
    return text


# --------------------------------------------------------------------------------------------- reviews

REVIEW_KINDS = {
    "restaurant": {
        "subject": ["{food} 집", "{food} 전문점", "동네 {food} 가게", "역 앞 {food} 식당"],
        "open": [
            "{who} {when} {subject}에 다녀왔어요.",
            "{when} {who} {subject}에 처음 가 봤습니다.",
            "지나가다 줄이 길어서 궁금했던 {subject}, 드디어 가 봤어요.",
            "{subject} 후기 남깁니다.",
        ],
        "pos": [
            "{food}{food_josa} 정말 맛있어요. 간이 딱 맞고 재료가 신선한 게 느껴졌습니다.",
            "양이 넉넉해서 둘이 가서 하나만 시켜도 될 정도였어요.",
            "사장님이 친절하시고 반찬을 계속 채워 주셨어요.",
            "가게가 깔끔하고 환기가 잘돼서 옷에 냄새가 배지 않았어요.",
            "가격에 비해 구성이 알차서 만족스러웠습니다.",
            "음식이 생각보다 빨리 나와서 점심시간에 가기 좋아요.",
            "국물이 진하고 깊어서 마지막 한 숟가락까지 다 먹었어요.",
            "김치가 직접 담그신 맛이라 따로 사 가고 싶을 정도였습니다.",
            "밑반찬 하나하나에 정성이 느껴졌어요.",
            "고기가 부드럽고 잡내가 하나도 없었어요.",
            "아이들 먹기 좋게 덜 맵게 해 달라고 했더니 따로 만들어 주셨어요.",
            "창가 자리에 앉으니 분위기가 정말 좋았어요.",
            "재료가 떨어지면 일찍 문을 닫을 정도로 인기가 많더라고요.",
        ],
        "neg": [
            "기다리는 시간이 너무 길었어요. 삼십 분 넘게 서 있었네요.",
            "간이 조금 세서 물을 계속 마셨어요.",
            "가격이 예전보다 많이 올라서 자주 가기는 부담스럽습니다.",
            "가게가 좁아서 옆 테이블 이야기가 다 들려요.",
            "직원분들이 바빠서 그런지 주문을 두 번이나 잊으셨어요.",
            "주차할 곳이 없어서 근처 공영 주차장에 세워야 했어요.",
            "예전보다 양이 줄어든 느낌이에요.",
            "에어컨이 약해서 여름에는 좀 더웠어요.",
            "화장실이 건물 밖에 있어서 불편했어요.",
        ],
        "close_pos": [
            "다음에 또 갈게요.",
            "근처 오시면 꼭 들러 보세요.",
            "부모님 모시고 다시 가려고요.",
            "재방문 의사 있습니다.",
        ],
        "close_neg": ["한 번 가 본 걸로 만족합니다.", "기대가 커서 그런지 조금 아쉬웠어요.", "다시 갈지는 모르겠네요."],
    },
    "product": {
        "subject": ["{product}"],
        "open": [
            "{product} 산 지 {period} 됐어요.",
            "{when} 주문한 {product} 후기입니다.",
            "{product} 고민하시는 분들께 참고가 되길 바라며 씁니다.",
            "{forwhom} {product} 샀어요.",
        ],
        "pos": [
            "배송이 빨라서 주문한 다음 날 받았어요.",
            "포장이 꼼꼼해서 파손 없이 잘 왔습니다.",
            "디자인이 깔끔해서 어디에 둬도 잘 어울려요.",
            "생각보다 가볍고 튼튼합니다.",
            "설명서가 자세해서 처음 쓰는데도 어렵지 않았어요.",
            "소음이 적어서 밤에 써도 괜찮아요.",
            "이 가격에 이 정도 성능이면 충분히 만족합니다.",
            "매일 쓰는데 아직 고장 한 번 없었어요.",
            "크기가 아담해서 자리를 많이 차지하지 않아요.",
            "전기를 생각보다 적게 먹는 것 같아요.",
            "청소하기 쉽게 분리가 잘 돼요.",
            "부모님도 쉽게 쓰실 만큼 조작이 간단합니다.",
        ],
        "neg": [
            "색상이 사진과 조금 달라요.",
            "처음에 플라스틱 냄새가 나서 며칠 환기했어요.",
            "전원 선이 짧아서 멀티탭이 필요합니다.",
            "버튼이 조금 뻑뻑해서 힘을 줘야 눌려요.",
            "고객센터 연결이 너무 어려웠어요.",
            "한 달 만에 고장 나서 교환을 받았습니다.",
            "생각보다 무거워서 옮기기가 힘들어요.",
            "작동할 때 소리가 커서 밤에는 못 쓰겠어요.",
            "설명서가 너무 간단해서 처음에 헤맸어요.",
        ],
        "close_pos": ["주변에도 추천하고 있어요.", "재구매 의사 있습니다.", "가성비 좋은 제품이에요."],
        "close_neg": [
            "가격을 생각하면 그럭저럭입니다.",
            "조금 더 보태서 다른 제품을 살 걸 그랬어요.",
            "별 세 개 드립니다.",
        ],
    },
    "movie": {
        "subject": ["'{movie}'"],
        "open": [
            "{when} '{movie}' 보고 왔습니다.",
            "'{movie}' 관람 후기 (스포 없음)",
            "{who} '{movie}' 봤어요.",
            "평점이 좋아서 '{movie}' 예매했습니다.",
        ],
        "pos": [
            "배우들 연기가 정말 좋았어요. 특히 주인공의 눈빛 연기가 기억에 남습니다.",
            "두 시간이 어떻게 지나갔는지 모를 정도로 몰입했어요.",
            "음악이 장면마다 잘 어울려서 여운이 오래 남았어요.",
            "마지막 장면에서 극장 안이 조용해졌어요.",
            "웃음과 감동이 적절하게 섞여 있어서 가족이 보기 좋습니다.",
            "영상미가 뛰어나서 큰 화면으로 보길 잘했다는 생각이 들었어요.",
            "조연들의 이야기도 하나하나 살아 있어서 좋았습니다.",
            "대사가 자연스럽고 유머가 곳곳에 숨어 있어요.",
            "아역 배우의 연기가 특히 인상적이었어요.",
            "보고 나서 한참 동안 이야기를 나눌 거리가 많은 영화예요.",
        ],
        "neg": [
            "중반부가 조금 늘어져서 지루했어요.",
            "결말이 너무 급하게 끝나 버린 느낌이에요.",
            "예고편에 재미있는 장면이 다 나와 있었네요.",
            "반전이 예상 가능해서 크게 놀랍지 않았어요.",
            "대사가 설명하는 느낌이 강해서 아쉬웠습니다.",
            "등장인물이 너무 많아서 이름을 헷갈렸어요.",
            "음악이 너무 커서 대사가 잘 안 들렸어요.",
        ],
        "close_pos": ["올해 본 영화 중 최고예요.", "한 번 더 보고 싶어요.", "꼭 극장에서 보세요."],
        "close_neg": [
            "기대를 낮추고 보시면 괜찮을 거예요.",
            "집에서 편하게 봐도 될 것 같아요.",
            "배우 팬이라면 볼 만합니다.",
        ],
    },
    "stay": {
        "subject": ["{city} {stay}"],
        "open": [
            "{when} {city}에 있는 {stay}에서 이틀 묵었어요.",
            "{who} {city} 여행 가서 묵은 {stay} 후기입니다.",
            "{city} {stay} 솔직 후기 남겨요.",
        ],
        "pos": [
            "방이 깨끗하고 침구가 포근해서 푹 잤어요.",
            "위치가 좋아서 걸어서 관광지를 다닐 수 있었어요.",
            "창문으로 보이는 풍경이 정말 멋졌습니다.",
            "직원분들이 친절하게 맛집도 추천해 주셨어요.",
            "조식이 정갈하고 맛있었어요.",
            "주차가 편하고 체크인이 빨랐습니다.",
            "수건과 어메니티가 넉넉하게 준비되어 있었어요.",
            "근처에 편의점과 식당이 많아서 편했어요.",
            "밤에 조용해서 잠을 푹 잘 수 있었어요.",
        ],
        "neg": [
            "방음이 잘 안 돼서 복도 소리가 다 들렸어요.",
            "사진보다 방이 좁았어요.",
            "욕실 배수가 잘 안 돼서 불편했습니다.",
            "체크인할 때 한참 기다려야 했어요.",
            "에어컨 소리가 커서 밤에 몇 번 깼어요.",
        ],
        "close_pos": ["다음에 또 묵고 싶어요.", "가족 여행으로 추천합니다.", "가격 대비 아주 만족스러웠어요."],
        "close_neg": ["하룻밤 자기에는 괜찮아요.", "위치 말고는 장점이 크지 않았어요."],
    },
}
REVIEW_SLOTS = {
    "food": [
        "칼국수",
        "김치찌개",
        "돼지국밥",
        "냉면",
        "닭갈비",
        "순두부",
        "쌀국수",
        "돈가스",
        "초밥",
        "짬뽕",
        "수제비",
        "떡볶이",
        "삼겹살",
        "갈비탕",
        "비빔밥",
        "파스타",
        "족발",
        "콩국수",
        "해물파전",
        "감자탕",
    ],
    "product": [
        "무선 청소기",
        "전기 주전자",
        "블루투스 스피커",
        "가습기",
        "에어프라이어",
        "무선 키보드",
        "전동 칫솔",
        "휴대용 선풍기",
        "공기청정기",
        "로봇 청소기",
        "전기 담요",
        "믹서기",
        "미니 제습기",
        "커피 머신",
        "헤어드라이어",
        "전자레인지",
        "식기 세척기",
        "안마 의자",
    ],
    "forwhom": [
        "부모님 드리려고",
        "자취방에서 쓰려고",
        "사무실에서 쓰려고",
        "이사하면서",
        "선물로",
        "오래 쓰던 게 고장 나서",
        "할인하길래",
        "아기 방에 두려고",
    ],
    "movie": [
        "여름의 끝",
        "바다로 가는 길",
        "마지막 손님",
        "우리들의 겨울",
        "비밀의 정원",
        "소년과 자전거",
        "푸른 밤",
        "열두 번째 방",
        "달빛 아래서",
        "기차는 떠나고",
        "작은 영웅들",
        "그해 봄",
    ],
    "stay": ["펜션", "게스트하우스", "호텔", "한옥 숙소", "리조트", "모텔"],
    "who": [
        "친구랑",
        "가족들이랑",
        "회사 동료들과",
        "남편이랑",
        "아내와",
        "혼자",
        "아이들과",
        "부모님과",
        "여자친구랑",
        "남자친구랑",
    ],
    "when": [
        "지난 주말에",
        "어제 저녁에",
        "오늘 점심에",
        "얼마 전에",
        "휴가 때",
        "퇴근길에",
        "명절 연휴에",
        "지난달에",
    ],
    "period": ["일주일", "한 달", "석 달", "반년", "일 년"],
}


def gen_review(rng: random.Random) -> str:
    kind = rng.choice(["restaurant", "restaurant", "product", "product", "movie", "stay"])
    t = REVIEW_KINDS[kind]
    slots = {k: rng.choice(v) for k, v in REVIEW_SLOTS.items()}
    slots["city"] = place(rng)[0]
    slots["food_josa"] = josa(slots["food"], "은/는")[len(slots["food"]) :]
    slots["subject"] = fill(rng.choice(t["subject"]), **slots)
    stars = rng.choice([1, 2, 3, 4, 4, 5, 5, 5])
    n_pos, n_neg = {1: (0, 3), 2: (1, 2), 3: (2, 2), 4: (3, 1), 5: (3, 0)}[stars]
    body = [fill(s, **slots) for s in pick(rng, t["pos"], n_pos) + pick(rng, t["neg"], n_neg)]
    if stars >= 3:
        rng.shuffle(body)
    close = fill(rng.choice(t["close_pos"] if stars >= 4 else t["close_neg"]), **slots)
    text = fill(rng.choice(t["open"]), **slots) + " " + " ".join(body) + " " + close
    if rng.random() < 0.4:
        text = f"별점 {stars}점\n" + text
    if rng.random() < 0.3:
        text += f"\n- {rng.choice(NICKNAMES)}"
    return text


# -------------------------------------------------------------------------------------------- dialogue

# Each scenario is a list of turns; each turn lists alternatives (speaker label, line).
DIALOGUES = {
    "restaurant": [
        [("직원", "어서 오세요. 몇 분이세요?"), ("직원", "안녕하세요. 예약하셨어요?")],
        [("손님", "{count} 명이요. 창가 자리 있어요?"), ("손님", "예약은 안 했는데 {count} 명 자리 있을까요?")],
        [
            ("직원", "네, 이쪽으로 앉으세요. 메뉴판 드릴게요."),
            ("직원", "잠시만 기다려 주세요. 금방 자리 정리해 드릴게요."),
        ],
        [("손님", "여기 {food}{food_josa} 제일 잘 나가요?"), ("손님", "{food} {portions}인분이랑 공깃밥 하나 주세요.")],
        [
            ("직원", "네, 저희 집 대표 메뉴예요. 금방 준비해 드릴게요."),
            ("직원", "네, 알겠습니다. 음료는 필요 없으세요?"),
        ],
        [
            ("손님", "천천히 주셔도 괜찮아요."),
            ("손님", "물만 주시면 돼요. 감사합니다."),
            ("손님", "앞접시도 하나 더 주세요. 아이가 같이 먹을 거라서요."),
        ],
    ],
    "directions_walk": [
        [("A", "저기, 실례합니다. {landmark}{landmark_josa} 어떻게 가요?"), ("A", "혹시 이 근처에 {landmark} 있나요?")],
        [
            ("B", "{landmark}요? 이 길로 쭉 가다가 두 번째 사거리에서 오른쪽으로 도세요."),
            ("B", "네, 저기 큰 건물 보이시죠? 그 건물 뒤편이에요."),
        ],
        [("A", "걸어서 얼마나 걸려요?"), ("A", "여기서 멀어요?")],
        [("B", "{minutes} 분이면 가요."), ("B", "아니요, 천천히 걸어도 {minutes} 분이면 충분해요.")],
        [("A", "정말 감사합니다."), ("A", "친절하게 알려 주셔서 고맙습니다.")],
        [("B", "별말씀을요. 조심히 가세요."), ("B", "네, 잘 찾아가세요.")],
    ],
    "directions_bus": [
        [("A", "실례지만 {landmark}에 가려면 어떻게 해야 돼요?"), ("A", "여기서 {landmark}까지 걸어갈 수 있을까요?")],
        [("B", "걸어가기엔 좀 멀어요. 버스 타는 게 나을 거예요."), ("B", "거기는 버스로 가셔야 해요.")],
        [("A", "버스는 몇 번 타야 해요?"), ("A", "어디서 몇 번 버스를 타면 돼요?")],
        [
            ("B", "길 건너 정류장에서 {bus}번 타고 세 정거장 가서 내리시면 돼요."),
            ("B", "저 앞 정류장에서 {bus}번 타세요. 내리면 바로 보여요."),
        ],
        [("A", "감사합니다. 덕분에 살았어요."), ("A", "고맙습니다. 좋은 하루 보내세요.")],
    ],
    "shopping": [
        [("손님", "이 {goods} 다른 색도 있어요?"), ("손님", "이 {goods} 얼마예요?")],
        [
            ("점원", "지금 나와 있는 건 검은색이랑 회색이에요. 창고에 흰색도 있을 거예요."),
            ("점원", "이번 주까지 할인해서 {price}이에요."),
        ],
        [("손님", "조금 더 싸게는 안 될까요?"), ("손님", "입어 봐도 돼요?"), ("손님", "그럼 그걸로 주세요.")],
        [
            ("점원", "이미 할인된 가격이라 더는 어려워요. 대신 양말 하나 챙겨 드릴게요."),
            ("점원", "네, 탈의실은 저쪽이에요."),
            ("점원", "네, 포장해 드릴게요. 카드로 하시겠어요?"),
        ],
        [("손님", "네, 감사합니다."), ("손님", "좋아요. 일시불로 해 주세요.")],
    ],
    "phone_event": [
        [("{n1}", "여보세요? {n2|아/야}, 나야."), ("{n1}", "응, 나야. 지금 통화 괜찮아?")],
        [("{n2}", "어, 웬일이야? 목소리 오랜만이다."), ("{n2}", "괜찮아. 무슨 일 있어?")],
        [
            ("{n1}", "다음 주에 {event} 있잖아. 너도 가지?"),
            ("{n1}", "다름이 아니라 다음 주 {event} 말이야. 같이 갈래?"),
        ],
        [("{n2}", "당연하지. 안 그래도 연락하려고 했어."), ("{n2}", "가야지. 근데 선물은 뭘로 할지 아직 못 정했어.")],
        [("{n1}", "그럼 그날 같이 가자. 내가 데리러 갈게."), ("{n1}", "선물은 같이 보러 가자. 주말에 시간 돼?")],
        [("{n2}", "고마워. 그럼 그때 봐."), ("{n2}", "좋아. 시간 정해서 문자 줘.")],
    ],
    "phone_catchup": [
        [("{n1}", "여보세요? {n2|아/야}, 잘 지냈어?"), ("{n1}", "응, 나야. 갑자기 생각나서 전화했어.")],
        [("{n2}", "어, 웬일이야? 목소리 오랜만이다."), ("{n2}", "반갑다. 별일 없지?")],
        [("{n1}", "별일은 아니고, 요즘 어떻게 지내나 궁금해서."), ("{n1}", "나야 잘 지내지. 너는 요즘 어때?")],
        [("{n2}", "나야 뭐 똑같지. 회사 다니고 주말엔 쉬고."), ("{n2}", "요즘 이사 준비하느라 정신없어.")],
        [("{n1}", "조만간 밥 한번 먹자. 내가 살게."), ("{n1}", "바쁜 거 끝나면 얼굴 한번 보자.")],
        [("{n2}", "좋아. 날짜 정해서 문자 줘."), ("{n2}", "그래, 다음 주쯤 연락할게.")],
    ],
}
DIALOGUE_SLOTS = {
    "food": REVIEW_SLOTS["food"],
    "landmark": [
        "시청",
        "우체국",
        "도서관",
        "보건소",
        "버스 터미널",
        "지하철역",
        "시장",
        "구청",
        "중앙 공원",
        "대학 병원",
    ],
    "day": ["토요일", "일요일", "금요일 저녁", "주말", "휴일"],
    "activity": ["영화 보러", "등산", "전시회 보러", "맛집 탐방", "자전거 타러", "캠핑", "야구 보러", "쇼핑하러"],
    "place_meet": ["역 3번 출구", "광장 시계탑", "서점", "카페", "버스 정류장", "극장"],
    "goods": ["외투", "가방", "운동화", "니트", "모자", "셔츠", "원피스", "청바지"],
    "event": ["민수 결혼식", "할머니 생신", "수진이 집들이", "지은이 아기 돌잔치", "담임 선생님 퇴임식"],
}


def gen_dialogue(rng: random.Random) -> str:
    name = rng.choice(list(DIALOGUES))
    slots = {k: rng.choice(v) for k, v in DIALOGUE_SLOTS.items()}
    slots.update(
        count=rng.choice(["두", "세", "네"]),
        portions=str(rng.randint(2, 4)),
        minutes=rng.choice(["오", "십", "십오", "이십"]),
        bus=str(rng.randint(1, 990)),
        hour=rng.choice(["한", "두", "세", "네", "다섯", "여섯", "일곱", "열한", "열두"]),
        price=price_text(rng, 19000, 189000, 1000),
        n1=rng.choice(GIVEN),
        n2=rng.choice(GIVEN),
    )
    for key, pair in (("food", "이/가"), ("landmark", "은/는")):
        slots[key + "_josa"] = josa(slots[key], pair)[len(slots[key]) :]
    lines = []
    for turn in DIALOGUES[name]:
        who, line = rng.choice(turn)
        lines.append(f"{fill(who, **slots)}: {fill(line, **slots)}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- Q&A

LOCAL_FOODS = {
    "부산": ["돼지국밥", "밀면", "어묵", "씨앗호떡"],
    "전주": ["비빔밥", "콩나물국밥", "한옥마을 길거리 음식"],
    "춘천": ["닭갈비", "막국수"],
    "대구": ["막창", "납작만두", "찜갈비"],
    "광주": ["떡갈비", "오리탕", "상추튀김"],
    "수원": ["왕갈비", "통닭"],
    "안동": ["찜닭", "간고등어", "헛제삿밥"],
    "속초": ["오징어순대", "닭강정", "물회"],
    "통영": ["충무김밥", "꿀빵", "굴 요리"],
    "제주": ["고기국수", "흑돼지", "갈치조림", "몸국"],
    "여수": ["갓김치", "서대회", "게장"],
    "강릉": ["초당 순두부", "장칼국수", "커피"],
    "포항": ["과메기", "물회"],
    "인천": ["짜장면", "쫄면", "닭강정"],
    "대전": ["칼국수", "두부 두루치기"],
    "남원": ["추어탕"],
    "천안": ["호두과자"],
    "청주": ["삼겹살", "올갱이국"],
}
QA_TRAVEL_Q = [
    "{city}에 처음 가는데 꼭 먹어 봐야 할 음식이 있을까요?",
    "{city} 여행 가면 뭘 먹어야 하나요?",
    "다음 주에 {city}에 출장을 가요. 저녁에 먹을 만한 지역 음식 추천해 주세요.",
    "부모님 모시고 {city}에 가는데 어르신들이 좋아하실 만한 음식이 뭐가 있을까요?",
]
QA_TRAVEL_A = [
    "{city}에 가시면 {f1}{f1_josa} 꼭 드셔 보세요.",
    "{city} 하면 역시 {f1}{f1_ijo}.",
    "{city}의 대표 음식으로는 {f1}{f1_josa2} 많이 꼽아요.",
]
QA_TRAVEL_MORE = [
    "{f2}도 유명하니 시간이 되면 함께 드셔 보세요.",
    "그 밖에 {f2}도 현지 사람들이 즐겨 먹는 음식이에요.",
    "{f2}도 빼놓을 수 없어요.",
]
QA_TRAVEL_TIP = [
    "유명한 가게는 점심시간에 줄이 길어서 조금 일찍 가시는 게 좋아요.",
    "관광지 바로 앞보다 골목 안쪽 가게가 더 맛있는 경우가 많아요.",
    "시장에 가시면 여러 가지를 조금씩 맛볼 수 있어서 좋습니다.",
    "가게마다 맛이 조금씩 다르니 현지 분들께 물어보시는 것도 방법이에요.",
    "저녁에는 일찍 문을 닫는 가게도 있으니 영업시간을 미리 확인하세요.",
    "맛있게 드시고 즐거운 여행 되세요.",
    "주말에는 관광객이 많으니 평일에 가시면 여유롭게 드실 수 있어요.",
    "포장이 되는 곳도 많으니 숙소에서 드셔도 좋아요.",
    "양이 많은 편이라 여럿이 가서 나눠 드시는 걸 추천해요.",
    "현금만 받는 작은 가게도 있으니 현금을 조금 챙기세요.",
    "역 근처보다 시장 안쪽 가게가 값도 싸고 맛있다는 분들이 많아요.",
]

QA_GENERAL = [
    (
        "{item} 보관은 어떻게 하는 게 좋아요? 자꾸 금방 상해요.",
        [
            "{item}{item_josa} 씻지 않은 상태로 키친타월에 싸서 냉장고 채소 칸에 두면 오래갑니다.",
            "물기가 남아 있으면 쉽게 무르니 잘 말려서 보관하세요.",
            "한 번에 많이 샀다면 먹을 만큼 나누어 두고 나머지는 손질해서 냉동해 두는 것도 방법입니다.",
            "다른 과일이나 채소와 닿지 않게 따로 두는 것이 좋아요.",
        ],
    ),
    (
        "아이가 {age}살인데 혼자 자게 하려면 어떻게 해야 할까요?",
        [
            "처음부터 밤새 혼자 자게 하기보다는 잠들 때까지 옆에 있어 주다가 조금씩 거리를 두는 방법이 좋습니다.",
            "아이가 좋아하는 인형이나 이불을 침대에 두면 안정감을 느낍니다.",
            "잠자기 전 책 읽기처럼 매일 같은 순서를 반복하면 아이도 잘 시간을 자연스럽게 받아들여요.",
            "혼자 잔 날에는 아침에 꼭 칭찬해 주세요.",
        ],
    ),
    (
        "{hobby}{hobby_josa} 새로 배우고 싶은데 나이가 많아도 괜찮을까요? 올해 {age2}살입니다.",
        [
            "배우는 데 늦은 나이는 없습니다. 오히려 꾸준함은 나이가 들수록 더 잘 지키는 분들이 많아요.",
            "처음에는 동네 문화센터나 주민센터 강좌로 가볍게 시작해 보세요.",
            "같이 배우는 사람들이 있으면 포기하지 않고 오래 할 수 있습니다.",
            "욕심내지 말고 일주일에 한두 번이라도 즐겁게 하는 것이 중요해요.",
        ],
    ),
]
QA_SLOTS = {
    "item": ["상추", "딸기", "버섯", "대파", "깻잎", "바나나", "블루베리", "시금치"],
    "hobby": ["피아노", "수영", "그림", "기타", "요가", "서예", "탁구", "사진"],
}


def gen_qa(rng: random.Random) -> str:
    if rng.random() < 0.5:
        city = rng.choice(list(LOCAL_FOODS))
        foods = rng.sample(LOCAL_FOODS[city], min(2, len(LOCAL_FOODS[city])))
        f1, f2 = foods[0], foods[-1]
        slots = dict(
            city=city,
            f1=f1,
            f2=f2,
            f1_josa=josa(f1, "을/를")[len(f1) :],
            f1_josa2=josa(f1, "을/를")[len(f1) :],
            f1_ijo="이죠" if has_batchim(f1) else "죠",
        )
        answer = [fill(rng.choice(QA_TRAVEL_A), **slots)]
        if f2 != f1:
            answer.append(fill(rng.choice(QA_TRAVEL_MORE), **slots))
        answer += pick(rng, QA_TRAVEL_TIP, rng.randint(1, 2))
        question = fill(rng.choice(QA_TRAVEL_Q), **slots)
    else:
        q, bank = rng.choice(QA_GENERAL)
        item, hobby = rng.choice(QA_SLOTS["item"]), rng.choice(QA_SLOTS["hobby"])
        slots = dict(
            item=item,
            hobby=hobby,
            age=str(rng.randint(4, 8)),
            age2=str(rng.randint(45, 75)),
            item_josa=josa(item, "은/는")[len(item) :],
            hobby_josa=josa(hobby, "을/를")[len(hobby) :],
        )
        question = fill(q, **slots)
        answer = [fill(s, **slots) for s in pick(rng, bank, rng.randint(2, 4))]
    style = rng.choice([("질문", "답변"), ("Q", "A"), ("질문", "답변")])
    return f"{style[0]}: {question}\n{style[1]}: {' '.join(answer)}"


# ------------------------------------------------------------- documents carrying fictional personal data

CLASSIFIED_ITEMS = [
    ("아이 자전거", "아이가 커서 더 이상 타지 않아서 내놓아요. 보조 바퀴도 같이 드립니다.", (30000, 90000)),
    ("원목 책상", "이사 가면서 정리합니다. 사용감은 조금 있지만 흔들림 없이 튼튼해요.", (40000, 150000)),
    ("전기밥솥", "선물 받았는데 집에 있는 게 있어서 새 제품 그대로 팝니다. 박스도 뜯지 않았어요.", (60000, 180000)),
    ("캠핑 텐트", "두세 번 쓰고 보관만 했어요. 폴대와 팩 빠짐없이 다 있습니다.", (80000, 250000)),
    ("중고 노트북", "문서 작업용으로 쓰던 거예요. 배터리는 세 시간 정도 갑니다. 충전기 포함.", (150000, 450000)),
    ("유아 카시트", "사고 이력 없고 커버는 세탁해 두었습니다. 직접 보고 가져가세요.", (50000, 140000)),
    ("러닝머신", "접이식이라 공간 차지 적어요. 직접 가져가셔야 합니다. 엘리베이터 있어요.", (100000, 300000)),
    ("김치냉장고", "스탠드형이고 작동 잘 됩니다. 이사 때문에 급하게 팝니다.", (150000, 400000)),
    ("전공 서적 묶음", "경영학과 1, 2학년 교재 일곱 권입니다. 필기는 거의 없어요.", (20000, 60000)),
    ("강아지 이동 가방", "소형견용이고 한 번 썼습니다. 바퀴 달린 제품이에요.", (15000, 50000)),
]
CLASSIFIED_TAIL = [
    "직거래 우선이고 택배는 착불로 보내 드려요.",
    "네고는 조금 가능합니다.",
    "예약 중인 분이 취소하셔서 다시 올려요.",
    "문자로 먼저 연락 주시면 사진 더 보내 드릴게요.",
    "주말에는 답이 늦을 수 있어요.",
    "먼저 입금하시는 분께 드립니다.",
    "반려동물 없는 집에서 썼어요.",
    "비흡연 가정입니다.",
    "상태는 사진으로 확인해 주세요.",
    "가격 내렸어요!",
    "퇴근 후 저녁 시간에 거래 가능합니다.",
    "구매 영수증도 있어요.",
    "교환은 받지 않아요.",
    "급처합니다.",
]


def gen_classified(rng: random.Random) -> str:
    item, desc, (low, high) = rng.choice(CLASSIFIED_ITEMS)
    city, district = place(rng)
    seller = person(rng)
    price = M("price", price_text(rng, low, high, 5000))
    lines = [
        f"[{rng.choice(['판매', '팝니다', '중고'])}] {item} {rng.choice(['팝니다', '판매해요', '내놓습니다'])}",
        "",
        f"{desc} 가격은 {price}입니다. {city} {district}에서 직거래 가능해요.",
    ]
    lines.append(" ".join(pick(rng, CLASSIFIED_TAIL, 2)))
    contact = M("tel", mobile(rng))
    form = rng.randrange(4)
    if form == 0:
        lines.append(f"연락처: {contact} ({seller})")
    elif form == 1:
        lines.append(f"관심 있으신 분은 {contact}으로 문자 주세요.")
    elif form == 2:
        lines.append(f"전화는 받기 어려워서 문자만 받아요. {contact}")
    else:
        lines.append(f"판매자 {seller} / 연락 {contact}")
    if rng.random() < 0.6:
        bank, number = account(rng)
        lines.append(
            rng.choice(
                [
                    f"입금 계좌: {bank} {M('acc', number)} (예금주 {seller})",
                    f"택배 거래 시 {bank} {M('acc', number)} {seller}으로 입금 부탁드려요.",
                    f"계좌는 {bank} {M('acc', number)}, 예금주는 {seller}입니다.",
                ]
            )
        )
    if rng.random() < 0.3:
        lines.append(f"올린 날짜: {M('date', date_text(rng, rng.choice(['dot', 'dash'])))}")
    return "\n".join(lines)


NOTICE_KINDS = [
    (
        "관리사무소",
        "[관리사무소 알림] {topic} 안내",
        ["승강기 점검", "물탱크 청소", "외벽 도색 공사", "주차장 바닥 공사", "정전 작업", "소독"],
        "입주민 여러분께 알려 드립니다. {date}에 {topic}{topic_josa} 실시합니다. 작업 시간은 오전 {h1}시부터 오후 {h2}시까지이며, 이 시간에는 생활에 다소 불편이 있을 수 있습니다.",
        [
            "작업 중에는 소음이 발생할 수 있으니 양해 부탁드립니다.",
            "작업 구역 주변에 주차된 차량은 전날 밤까지 옮겨 주시기 바랍니다.",
            "노약자가 계신 세대는 미리 관리사무소로 알려 주시면 도움을 드리겠습니다.",
            "일정은 날씨에 따라 바뀔 수 있으며, 바뀌면 다시 안내해 드리겠습니다.",
        ],
    ),
    (
        "학교",
        "{school} {topic} 안내",
        ["학부모 상담 주간", "현장 체험 학습", "방과 후 학교 수강 신청", "운동회", "급식 모니터링 참여"],
        "학부모님 안녕하십니까? 본교에서는 {date}부터 {topic}{topic_josa} 운영합니다. 자세한 일정은 가정통신문과 학교 누리집을 참고해 주시기 바랍니다.",
        [
            "참여를 원하시는 학부모님께서는 담임 선생님께 신청서를 제출해 주십시오.",
            "학생들이 안전하게 참여할 수 있도록 가정에서도 지도 부탁드립니다.",
            "신청 인원이 많을 경우 선착순으로 마감될 수 있습니다.",
            "궁금하신 점은 교무실로 문의해 주시기 바랍니다.",
        ],
    ),
    (
        "모임",
        "[{club}] {topic} 안내",
        ["정기 모임", "송년회", "봄 야유회", "회원 총회", "봉사 활동"],
        "회원 여러분 안녕하세요. 이번 {topic|은/는} {date}에 {venue}에서 엽니다.",
        [
            "회비는 모임 전날까지 아래 계좌로 보내 주시면 됩니다.",
            "참석 여부는 총무에게 문자로 알려 주세요.",
            "처음 오시는 분도 환영합니다. 부담 없이 오세요.",
            "식사 인원 확인을 위해 꼭 미리 알려 주세요.",
            "바쁘시더라도 많이 참석해 주세요.",
            "가족과 함께 오셔도 좋습니다.",
            "날씨가 궂으면 장소가 바뀔 수 있으니 단체 문자를 확인해 주세요.",
            "지난번에 못 오신 분들도 이번에는 꼭 얼굴 보여 주세요.",
            "편한 복장으로 오시면 됩니다.",
        ],
    ),
]
CLUBS = [
    "등산 동호회",
    "독서 모임",
    "동네 축구회",
    "사진 동아리",
    "합창단",
    "자전거 동호회",
    "텃밭 모임",
    "배드민턴 클럽",
]
SCHOOLS = ["햇빛초등학교", "푸른중학교", "새봄초등학교", "한빛고등학교", "늘푸른초등학교", "소망중학교"]
VENUES = ["구민회관 소강당", "역 앞 한식당 2층", "주민센터 다목적실", "시민공원 잔디 광장", "학교 체육관"]


def gen_notice(rng: random.Random) -> str:
    kind, head, topics, lead, bank = rng.choice(NOTICE_KINDS)
    city, district = place(rng)
    topic = rng.choice(topics)
    slots = dict(
        topic=topic,
        topic_josa=josa(topic, "을/를")[len(topic) :],
        school=rng.choice(SCHOOLS),
        club=rng.choice(CLUBS),
        venue=rng.choice(VENUES),
        date=M("date", date_text(rng)),
        h1=str(rng.randint(8, 10)),
        h2=str(rng.randint(2, 6)),
    )
    lines = [
        fill(head, **slots),
        "",
        fill(lead, **slots) + " " + " ".join(fill(s, **slots) for s in pick(rng, bank, 2)),
    ]
    extra = []
    if kind == "모임":
        bank_name, number = account(rng)
        treasurer = person(rng)
        extra.append(f"회비: {M('price', price_text(rng, 10000, 60000, 5000))}")
        extra.append(f"입금 계좌: {bank_name} {M('acc', number)} 예금주 {treasurer}(총무)")
        extra.append(f"총무 연락처: {M('tel', mobile(rng))}")
    elif kind == "학교":
        extra.append(f"문의: 교무실 {M('tel', landline(rng, city))}")
        if rng.random() < 0.5:
            extra.append(
                f"주소: {city} {district} 학교로 {M('num', str(rng.randint(1, 300)))} (우편번호 {M('zip', str(rng.randint(10000, 63999)))})"
            )
    else:
        extra.append(
            f"관리사무소 {M('tel', landline(rng, city))}"
            + (f" / 관리소장 {M('tel', mobile(rng))}" if rng.random() < 0.5 else "")
        )
        if rng.random() < 0.5:
            extra.append(
                f"관리 업체: {rng.choice(['한결', '든든', '새롬', '미래'])}주택관리 (사업자등록번호 {M('bizno', bizno(rng))})"
            )
    lines.append("\n".join(extra))
    return "\n".join(lines[:2]) + "\n" + "\n\n".join(lines[2:])


SMS_BANK = [
    "[{shop}] 주문하신 상품이 발송되었습니다. 주문번호 {order} / 운송장 {tracking}. 배송 문의는 판매자 {tel}로 연락 주세요.",
    "{name}님, 예약하신 {date} {hour}시 진료 안내드립니다. 변경이 필요하시면 {tel}로 전화 주세요. - {clinic}",
    "[입금 요청] {name}님, 이번 달 {fee} {price}을 {bank} {acc}로 {date}까지 보내 주세요. 문의 {tel}",
    "엄마 나 폰 고장 나서 친구 폰으로 연락해. 이 번호로 문자 줘 {tel}",
    "{name} 씨, 지난번 회식비 정산이에요. 1인당 {small}이고 {bank} {acc}({payee})로 보내 주시면 됩니다.",
    "[{shop}] 환불 접수 완료. 주문번호 {order}, 환불 금액 {price}. 등록하신 {bank} {acc} 계좌로 영업일 기준 3일 안에 입금됩니다.",
    "택배 기사입니다. 운송장 {tracking} 물건 문 앞에 두었습니다. 문제 있으면 {tel}로 연락 주세요.",
    "{name}님의 본인 확인 정보: 주민등록번호 {rrn}, 연락처 {tel}. 이 문자는 발신 전용입니다.",
]
SHOPS = ["소담생활", "바른마켓", "하루꽃집", "온누리상사", "푸른농장", "새벽빵집", "다온문구"]
CLINICS = ["밝은눈안과", "튼튼정형외과", "연세미소치과", "우리소아과", "맑은숨이비인후과"]
FEES = {
    "관리비": (80000, 400000),
    "회비": (10000, 60000),
    "수강료": (100000, 300000),
    "곗돈": (50000, 500000),
    "월세": (300000, 900000),
}


def gen_sms(rng: random.Random) -> str:
    msgs = pick(rng, SMS_BANK, rng.randint(1, 3))
    out = []
    for tmpl in msgs:
        bank_name, number = account(rng)
        fee = rng.choice(list(FEES))
        slots = dict(
            shop=rng.choice(SHOPS),
            order=M("order", order_no(rng)),
            tracking=M("tracking", " ".join(str(rng.randint(1000, 9999)) for _ in range(3))),
            tel=M("tel", phone(rng)),
            name=person(rng),
            date=M("date", date_text(rng, "md")),
            hour=str(rng.randint(9, 17)),
            clinic=rng.choice(CLINICS),
            fee=fee,
            price=M("price", price_text(rng, *FEES[fee], 1000)),
            bank=bank_name,
            acc=M("acc", number),
            payee=person(rng),
            rrn=M("rrn", rrn(rng)),
            small=M("price", price_text(rng, 15000, 60000, 500)),
        )
        out.append(fill(tmpl, **slots))
    header = rng.choice(["[문자 메시지]", "[받은 메시지]", "[Web발신]", ""])
    return (header + "\n" if header else "") + "\n\n".join(out)


FORM_BANK = [
    (
        "입사 지원서",
        [
            "성명: {name}",
            "생년월일: {birth}",
            "주민등록번호: {rrn}",
            "휴대전화: {mobile}",
            "비상 연락처: {tel2} (가족), 자택 {home}",
            "주소: {city} {district} {street} {num} (우편번호 {zip})",
            "희망 연봉: {salary}",
            "작성일: {date}",
        ],
    ),
    (
        "회원 가입 신청서",
        [
            "이름: {name}",
            "연락처: {mobile}",
            "주소: {city} {district} {street} {num}",
            "회비 자동 이체 계좌: {bank} {acc}",
            "예금주: {name}",
            "가입일: {date}",
            "추천인: {name2}",
        ],
    ),
    (
        "계약자 정보",
        [
            "계약자: {name} (주민등록번호 {rrn})",
            "연락처: {mobile} / 자택 {home}",
            "환급 계좌: {bank} {acc}",
            "계약 금액: {price}",
            "계약일: {date}",
            "담당자: {name2} (사업자등록번호 {bizno})",
        ],
    ),
    (
        "택배 접수증",
        [
            "보내는 분: {name} {mobile}",
            "받는 분: {name2} {tel2}",
            "받는 주소: {city} {district} {street} {num} (우편번호 {zip})",
            "운송장 번호: {tracking}",
            "물품 가액: {price}",
            "접수일: {date}",
        ],
    ),
]
STREETS = ["중앙로", "문화로", "시장길", "대학로", "강변로", "평화로", "은행나무길", "새싹로"]


def gen_form(rng: random.Random) -> str:
    title, rows = rng.choice(FORM_BANK)
    city, district = place(rng)
    bank_name, number = account(rng)
    r = rrn(rng)
    birth = f"{'19' if r[6 if '-' in r else 6] in '12' else '20'}{r[:2]}년 {int(r[2:4])}월 {int(r[4:6])}일"
    slots = dict(
        name=person(rng),
        name2=person(rng),
        birth=M("date", birth),
        rrn=M("rrn", r),
        mobile=M("tel", mobile(rng)),
        tel2=M("tel", phone(rng, city)),
        home=M("tel", landline(rng, city)),
        city=city,
        district=district,
        street=rng.choice(STREETS),
        num=M("num", str(rng.randint(1, 400))),
        zip=M("zip", str(rng.randint(10000, 63999))),
        salary=M("price", f"{rng.randint(28, 60) * 100}만 원"),
        date=M("date", date_text(rng, rng.choice(["ko", "dot", "dash"]))),
        bank=bank_name,
        acc=M("acc", number),
        price=M("price", price_text(rng, 50000, 5000000, 10000)),
        bizno=M("bizno", bizno(rng)),
        tracking=M("tracking", str(rng.randint(10**11, 10**12 - 1))),
    )
    intro = rng.choice(
        [
            "",
            "아래 내용을 확인하신 뒤 서명해 주십시오.\n",
            "※ 기재하신 정보는 본인 확인 외의 목적으로 사용하지 않습니다.\n",
            "작성 예시입니다. 실제 정보로 바꿔 적어 주세요.\n",
        ]
    )
    return f"{title}\n\n{intro}" + "\n".join(fill(row, **slots) for row in rows)


# ------------------------------------------------------------------------- hard negatives without any PII

RECEIPT_ITEMS = [
    ("아메리카노", 4500),
    ("카페 라테", 5000),
    ("김밥", 3500),
    ("라면", 4000),
    ("생수 2L", 1200),
    ("우유 1L", 2900),
    ("두부", 1800),
    ("계란 한 판", 7900),
    ("식빵", 3800),
    ("사과 1kg", 9900),
    ("휴지 30롤", 15900),
    ("세제", 8900),
]


def gen_receipt(rng: random.Random) -> str:
    shop = rng.choice(["행복마트", "우리동네 편의점", "새벽시장 식자재", "하나로 슈퍼", "골목 분식", "모퉁이 카페"])
    items = rng.sample(RECEIPT_ITEMS, rng.randint(2, 5))
    lines = [
        f"{shop} 영수증",
        f"사업자등록번호 {M('bizno', bizno(rng))}",
        f"{M('date', date_text(rng, 'dash'))} {M('time', f'{rng.randint(8, 22):02d}:{rng.randint(0, 59):02d}')}",
        f"주문번호 {M('order', order_no(rng))}",
    ]
    total = 0
    for name, unit in items:
        qty = rng.randint(1, 3)
        total += unit * qty
        lines.append(f"{name} x{qty} {M('price', f'{unit * qty:,}원')}")
    lines.append(f"합계 {M('price', f'{total:,}원')} (부가세 포함)")
    lines.append(
        rng.choice(
            [
                "이용해 주셔서 감사합니다.",
                "교환 및 환불은 영수증 지참 시 7일 이내 가능합니다.",
                "적립 포인트는 다음 구매 때 사용하실 수 있습니다.",
            ]
        )
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ diary, weather

DIARY_WEATHER = {
    "spring": [
        "봄바람이 불어서 산책하기 좋은 날이었다.",
        "미세먼지 때문에 하늘이 뿌옇게 흐렸다.",
        "아침부터 비가 부슬부슬 내렸다.",
        "아파트 화단에 벚꽃이 활짝 피었다.",
        "일교차가 커서 아침에는 쌀쌀하고 낮에는 더웠다.",
        "황사 때문에 창문을 열지 못했다.",
    ],
    "summer": [
        "한낮에는 숨이 막힐 정도로 더웠다.",
        "오후에 소나기가 잠깐 쏟아지더니 금방 그쳤다.",
        "장맛비가 하루 종일 내렸다.",
        "밤에도 더워서 에어컨을 켜고 잤다.",
        "매미 소리가 아침부터 요란했다.",
        "습도가 높아서 빨래가 잘 마르지 않았다.",
    ],
    "autumn": [
        "하늘이 유난히 맑고 바람이 시원한 날이었다.",
        "은행잎이 노랗게 물들기 시작했다.",
        "아침저녁으로 제법 쌀쌀해졌다.",
        "가을비가 조용히 내렸다.",
        "햇살이 좋아서 이불을 널어 말렸다.",
    ],
    "winter": [
        "날씨가 갑자기 추워져서 두꺼운 외투를 꺼내 입었다.",
        "밤새 눈이 내려서 아침에 창밖이 하얗게 변해 있었다.",
        "바람이 매서워서 귀가 떨어질 것 같았다.",
        "길이 얼어서 조심조심 걸었다.",
        "해가 짧아져서 퇴근길이 벌써 깜깜했다.",
    ],
}
SEASON_OF_MONTH = {
    12: "winter",
    1: "winter",
    2: "winter",
    3: "spring",
    4: "spring",
    5: "spring",
    6: "summer",
    7: "summer",
    8: "summer",
    9: "autumn",
    10: "autumn",
    11: "autumn",
}

DIARY = {
    "morning": [
        "알람이 울리기 전에 눈이 떠졌다.",
        "늦잠을 자서 아침도 못 먹고 허둥지둥 집을 나섰다.",
        "아침으로 토스트와 우유를 먹었다.",
        "출근길 지하철이 평소보다 붐볐다.",
        "오랜만에 아침 운동을 하러 공원에 나갔다.",
        "동생이 끓여 준 된장국을 먹고 하루를 시작했다.",
        "버스를 놓쳐서 한 정거장을 걸어갔다.",
        "아침부터 회의가 있어서 일찍 출근했다.",
        "아침에 커피를 내리다가 원두가 다 떨어진 걸 알았다.",
        "강아지 산책을 시키느라 평소보다 일찍 일어났다.",
        "출근길에 우산을 두고 와서 편의점에서 하나 샀다.",
        "아침 뉴스를 보며 간단히 시리얼을 먹었다.",
        "엘리베이터에서 이웃집 아이와 인사를 나눴다.",
        "지하철에서 자리에 앉아 책을 읽으며 갔다.",
        "아침 일찍 동생이 전화해서 잠이 깼다.",
        "오랜만에 아침밥을 제대로 차려 먹었다.",
    ],
    "day": [
        "점심에는 동료들과 회사 근처 국숫집에 갔다.",
        "오후 내내 밀린 서류를 정리했다.",
        "도서관에 가서 빌렸던 책을 반납하고 새 책을 두 권 빌렸다.",
        "오랜만에 대학 친구를 만나서 카페에서 두 시간 넘게 수다를 떨었다.",
        "시장에 가서 제철 과일과 채소를 샀다.",
        "오후에 조카가 놀러 와서 같이 블록 놀이를 했다.",
        "발표 준비 때문에 하루 종일 정신이 없었다.",
        "은행에 들러 통장을 정리하고 공과금을 냈다.",
        "병원에 가서 정기 검진을 받았다. 다행히 결과가 괜찮았다.",
        "집 정리를 하다가 옛날 사진첩을 발견했다.",
        "미용실에 가서 머리를 짧게 잘랐다.",
        "자전거를 타고 강변을 한 바퀴 돌았다.",
        "새로 온 팀원에게 업무를 설명해 주느라 오후가 금방 갔다.",
        "우체국에 가서 할머니께 소포를 부쳤다.",
        "점심시간에 회사 근처 공원을 산책했다.",
        "고장 난 세탁기 때문에 수리 기사님을 기다렸다.",
        "친구의 이사를 도와주러 갔다가 짜장면을 얻어먹었다.",
        "온라인 강의를 두 개 들었다.",
        "동네 도서관 열람실에서 자격증 공부를 했다.",
        "마트에서 장을 보고 일주일 치 반찬을 만들었다.",
        "오후에 갑자기 두통이 와서 약을 먹고 잠깐 쉬었다.",
        "조카 생일 선물을 사러 서점에 들렀다.",
        "회사에서 작은 실수를 해서 하루 종일 마음이 쓰였다.",
        "베란다 화분에 물을 주고 시든 잎을 정리했다.",
    ],
    "evening": [
        "저녁에는 김치찌개를 끓여 먹었다.",
        "퇴근하고 집에 오니 너무 피곤해서 씻자마자 누웠다.",
        "저녁을 먹고 가족들과 드라마를 봤다.",
        "엄마와 한참 통화를 했다.",
        "저녁에 동네를 한 바퀴 걸으며 생각을 정리했다.",
        "오랜만에 요리를 해서 친구를 초대했다.",
        "밤에 좋아하는 음악을 들으며 일기를 쓰고 있다.",
        "자기 전에 책을 몇 쪽 읽었다.",
        "저녁으로 남은 밥에 계란을 넣고 볶음밥을 해 먹었다.",
        "퇴근길에 붕어빵을 사 와서 가족들과 나눠 먹었다.",
        "저녁에는 오랜만에 친구와 영상 통화를 했다.",
        "밤늦게까지 밀린 빨래를 개었다.",
        "저녁 먹고 설거지를 하면서 라디오를 들었다.",
        "헬스장에 가서 한 시간 동안 운동을 했다.",
        "동생과 보드게임을 하다가 늦게 잤다.",
    ],
    "feeling": [
        "별일 없는 하루였지만 마음이 편했다.",
        "조금 지친 하루였다.",
        "생각보다 보람 있는 하루였다.",
        "내일은 오늘보다 조금 더 부지런해지고 싶다.",
        "사소한 일에도 감사할 줄 알아야겠다고 생각했다.",
        "요즘 너무 바쁘게만 사는 것 같아 반성했다.",
        "오랜만에 많이 웃은 날이었다.",
        "작은 일로 짜증을 낸 것이 마음에 걸린다.",
        "하루가 어떻게 지나갔는지 모를 만큼 정신없었다.",
        "몸은 피곤했지만 마음은 가벼웠다.",
        "별것 아닌 하루였는데 이상하게 기억에 남을 것 같다.",
        "오늘은 나 자신에게 조금 칭찬해 주고 싶다.",
        "괜히 마음이 싱숭생숭한 하루였다.",
    ],
    "plan": [
        "내일은 일찍 일어나서 운동을 해야겠다.",
        "주말에는 밀린 빨래를 해야 한다.",
        "다음 주에는 부모님 댁에 다녀올 생각이다.",
        "내일은 꼭 치과 예약을 해야겠다.",
        "이번 달에는 책을 세 권 읽는 것이 목표다.",
        "내일 점심은 도시락을 싸 가야겠다.",
        "다음 주에는 오랜만에 대학 친구들을 만나기로 했다.",
        "이번 주말에는 집 대청소를 할 생각이다.",
        "내일은 일찍 퇴근해서 장을 봐야겠다.",
        "다음 달 여행 계획을 슬슬 세워 봐야겠다.",
    ],
}


def gen_diary(rng: random.Random) -> str:
    y, m, d = date_parts(rng)
    weekday = "월화수목금토일"[rng.randrange(7)]
    parts = (
        [rng.choice(DIARY_WEATHER[SEASON_OF_MONTH[m]])]
        + pick(rng, DIARY["morning"], 1)
        + pick(rng, DIARY["day"], rng.randint(1, 3))
    )
    parts += pick(rng, DIARY["evening"], rng.randint(1, 2)) + pick(rng, DIARY["feeling"], 1)
    if rng.random() < 0.6:
        parts += pick(rng, DIARY["plan"], 1)
    head = rng.choice([f"{y}년 {m}월 {d}일 {weekday}요일", f"{m}월 {d}일 일기", f"{m}/{d} ({weekday})"])
    return head + "\n\n" + " ".join(parts)


REGIONS = [
    "서울",
    "인천",
    "경기 북부",
    "경기 남부",
    "강원 영서",
    "강원 영동",
    "대전",
    "세종",
    "충북",
    "충남",
    "광주",
    "전북",
    "전남",
    "대구",
    "경북",
    "부산",
    "울산",
    "경남",
    "제주",
]


def gen_weather(rng: random.Random) -> str:
    season = rng.choice(["spring", "summer", "autumn", "winter"])
    lo, hi = {"spring": (2, 20), "summer": (20, 35), "autumn": (5, 24), "winter": (-12, 8)}[season]
    day = rng.choice(["내일", "모레", "주말", "오늘 밤", "이번 주 후반"])
    sky = {
        "spring": [
            "전국이 대체로 맑겠으나 일교차가 크겠습니다",
            "서쪽 지방을 중심으로 황사가 나타나는 곳이 있겠습니다",
            "남부 지방에 봄비가 내리겠습니다",
        ],
        "summer": [
            "무더위가 이어지겠습니다",
            "장마전선의 영향으로 중부 지방에 많은 비가 내리겠습니다",
            "곳곳에 소나기가 내리는 곳이 있겠습니다",
            "열대야가 나타나는 곳이 많겠습니다",
        ],
        "autumn": [
            "전국이 맑고 건조하겠습니다",
            "아침 기온이 뚝 떨어져 쌀쌀하겠습니다",
            "내륙을 중심으로 짙은 안개가 끼는 곳이 있겠습니다",
        ],
        "winter": [
            "강한 추위가 이어지겠습니다",
            "서해안을 중심으로 눈이 내리겠습니다",
            "바람이 강하게 불어 체감 온도가 더 낮겠습니다",
        ],
    }[season]
    tips = {
        "spring": [
            "외출할 때 겉옷을 챙기시기 바랍니다.",
            "황사가 나타나는 지역에서는 마스크를 쓰시기 바랍니다.",
            "건조한 날씨에 산불 예방에 각별히 유의하시기 바랍니다.",
        ],
        "summer": [
            "낮 동안 야외 활동을 줄이고 물을 자주 드시기 바랍니다.",
            "계곡과 하천의 물이 갑자기 불어날 수 있으니 주의하시기 바랍니다.",
            "온열 질환에 걸리지 않도록 건강 관리에 유의하시기 바랍니다.",
        ],
        "autumn": [
            "안개가 짙은 곳에서는 차간 거리를 충분히 두시기 바랍니다.",
            "환절기 감기에 걸리지 않도록 주의하시기 바랍니다.",
        ],
        "winter": [
            "수도관 동파에 대비하시기 바랍니다.",
            "눈이 쌓이거나 얼어 미끄러운 곳이 많겠으니 보행자와 차량은 주의하시기 바랍니다.",
            "노약자는 외출을 자제하시기 바랍니다.",
        ],
    }[season]
    sentences = [f"{day}은 {rng.choice(sky)}." if day in ("내일", "주말") else f"{day}에는 {rng.choice(sky)}."]
    chosen = rng.sample(REGIONS, rng.randint(3, 6))
    mins = [rng.randint(lo, hi - 8) for _ in chosen]
    temps = ", ".join(f"{r} {a}도" for r, a in zip(chosen, mins, strict=False))
    sentences.append(f"아침 최저 기온은 {temps}로 예상됩니다.")
    maxs = [a + rng.randint(5, 12) for a in mins]
    sentences.append(
        "낮 최고 기온은 "
        + ", ".join(f"{r} {b}도" for r, b in zip(chosen, maxs, strict=False))
        + "로 "
        + rng.choice(["평년보다 조금 높겠습니다.", "평년과 비슷하겠습니다.", "평년보다 낮겠습니다."])
    )
    if "비" in sentences[0] or "소나기" in sentences[0]:
        sentences.append(f"예상 강수량은 {rng.randint(5, 30)}에서 {rng.randint(40, 120)}밀리미터입니다.")
    if "눈" in sentences[0]:
        sentences.append(f"예상 적설량은 {rng.randint(1, 5)}에서 {rng.randint(6, 15)}센티미터입니다.")
    wave = rng.choice(["0.5에서 1.5", "1에서 2", "1.5에서 3", "2에서 4", "0.5에서 1"])
    sentences.append(f"바다의 물결은 {wave}미터로 일겠습니다.")
    sentences += pick(rng, tips, rng.randint(1, 2))
    return "[날씨] " + " ".join(sentences)


# ------------------------------------------------------------------------------------------- recipes

RECIPES = [
    (
        "된장찌개",
        ["애호박 반 개", "두부 반 모", "양파 반 개", "감자 한 개", "된장 두 큰술", "멸치 육수 세 컵", "청양고추 한 개"],
        [
            "냄비에 멸치 육수를 붓고 된장을 풀어 끓입니다.",
            "감자를 먼저 넣고 오 분쯤 끓인 뒤 애호박과 양파를 넣습니다.",
            "채소가 익으면 두부를 넣고 한소끔 더 끓입니다.",
            "마지막에 청양고추를 넣고 불을 끕니다.",
        ],
    ),
    (
        "계란국",
        ["계란 두 개", "대파 반 대", "국간장 한 큰술", "물 네 컵", "소금 약간"],
        [
            "냄비에 물을 붓고 끓으면 국간장으로 간을 합니다.",
            "계란을 잘 풀어 끓는 국물에 천천히 둘러 넣습니다.",
            "계란을 넣은 뒤에는 바로 젓지 말고 잠시 기다려야 국물이 맑습니다.",
            "송송 썬 대파를 넣고 소금으로 간을 맞춥니다.",
        ],
    ),
    (
        "감자볶음",
        ["감자 두 개", "양파 반 개", "당근 약간", "소금 약간", "식용유 두 큰술", "통깨 약간"],
        [
            "감자를 가늘게 채 썰어 찬물에 담가 전분을 뺍니다.",
            "물기를 뺀 감자를 기름 두른 팬에 넣고 중간 불에서 볶습니다.",
            "감자가 반쯤 익으면 양파와 당근을 넣고 소금으로 간합니다.",
            "다 익으면 불을 끄고 통깨를 뿌립니다.",
        ],
    ),
    (
        "김치볶음밥",
        ["잘 익은 김치 한 컵", "밥 한 공기", "햄 약간", "대파 반 대", "계란 한 개", "참기름 약간"],
        [
            "팬에 기름을 두르고 대파를 볶아 파기름을 냅니다.",
            "잘게 썬 김치와 햄을 넣고 김치가 부드러워질 때까지 볶습니다.",
            "밥을 넣고 골고루 섞으며 볶다가 참기름을 두릅니다.",
            "계란 프라이를 올려 마무리합니다.",
        ],
    ),
    (
        "시금치나물",
        ["시금치 한 단", "다진 마늘 반 큰술", "국간장 한 큰술", "참기름 한 큰술", "깨소금 약간"],
        [
            "시금치는 뿌리 쪽 흙을 깨끗이 씻어 냅니다.",
            "끓는 물에 소금을 조금 넣고 시금치를 삼십 초 정도 데칩니다.",
            "찬물에 헹군 뒤 물기를 꼭 짭니다.",
            "다진 마늘, 국간장, 참기름, 깨소금을 넣고 조물조물 무칩니다.",
        ],
    ),
    (
        "떡국",
        ["떡국 떡 두 컵", "사골 육수 네 컵", "계란 한 개", "대파 반 대", "김 가루 약간", "국간장 약간"],
        [
            "떡은 찬물에 잠깐 불려 둡니다.",
            "육수가 끓으면 떡을 넣고 떡이 떠오를 때까지 끓입니다.",
            "국간장으로 간을 하고 풀어 둔 계란을 둘러 넣습니다.",
            "그릇에 담고 대파와 김 가루를 올립니다.",
        ],
    ),
    (
        "오이무침",
        ["오이 두 개", "양파 반 개", "고춧가루 한 큰술", "식초 한 큰술", "설탕 반 큰술", "다진 마늘 약간"],
        [
            "오이는 굵은 소금으로 문질러 씻고 어슷하게 썹니다.",
            "썬 오이에 소금을 조금 뿌려 십 분 정도 절입니다.",
            "절인 오이의 물기를 빼고 양파와 양념을 넣어 가볍게 버무립니다.",
            "먹기 직전에 무쳐야 물이 덜 생깁니다.",
        ],
    ),
]
RECIPE_INTRO = [
    "오늘은 집에서 쉽게 만드는 {dish} 만드는 법을 소개합니다.",
    "{dish}, 생각보다 어렵지 않아요.",
    "바쁜 날 뚝딱 만들 수 있는 {dish}입니다.",
    "제가 자주 해 먹는 {dish} 레시피를 정리해 봤어요.",
    "자취생도 쉽게 따라 할 수 있는 {dish} 만들기!",
]
RECIPE_TIP = [
    "간은 마지막에 한 번 더 보고 맞추세요.",
    "재료는 냉장고에 있는 것으로 바꿔도 괜찮습니다.",
    "불 조절만 잘하면 실패할 일이 없어요.",
    "남은 것은 밀폐 용기에 담아 냉장 보관하고 이틀 안에 드세요.",
    "아이들이 먹을 때는 고춧가루나 고추를 빼 주세요.",
    "맛있게 드세요!",
    "따뜻한 밥과 함께 드시면 더 맛있습니다.",
]


def gen_recipe(rng: random.Random) -> str:
    dish, ingredients, steps = rng.choice(RECIPES)
    serves = rng.choice(["한", "두", "세", "네"])
    text = [rng.choice(RECIPE_INTRO).replace("{dish}", dish), "", f"재료 ({serves} 사람 분량)"]
    text += [f"- {x}" for x in (ingredients if rng.random() < 0.7 else rng.sample(ingredients, len(ingredients)))]
    text += ["", "만드는 법"]
    text += [f"{i}. {s}" for i, s in enumerate(steps, 1)]
    text += ["", " ".join(pick(rng, RECIPE_TIP, rng.randint(1, 2)))]
    return "\n".join(text)


# -------------------------------------------------------------------------------------------- sports

TEAMS = ["푸른바다", "한빛", "청솔", "새벽별", "강변", "은빛늑대", "붉은매", "하늘나래", "산들바람", "파도"]


def gen_sports(rng: random.Random) -> str:
    sport = rng.choice(["축구", "야구", "농구", "배구"])
    home, away = rng.sample(TEAMS, 2)
    player, other = person(rng), person(rng)
    if sport == "축구":
        a, b = rng.randint(1, 4), rng.randint(0, 2)
        body = [
            f"{home} FC가 안방에서 {away} FC를 {a} 대 {b}로 꺾었다."
            if a > b
            else f"{home} FC와 {away} FC가 {a} 대 {b}로 비겼다.",
            f"전반 {rng.randint(5, 44)}분 {player}의 선제골로 앞서 나간 {home}은 후반에도 주도권을 놓치지 않았다.",
            rng.choice(
                [
                    f"{other}{josa(other, '은/는')[len(other) :]} 후반 교체로 들어와 쐐기골을 넣었다.",
                    "골키퍼의 잇따른 선방도 승리에 힘을 보탰다.",
                ]
            ),
            rng.choice(
                [
                    "이날 경기장에는 만 명이 넘는 관중이 찾아 응원했다.",
                    "비가 내리는 가운데서도 양 팀은 치열한 경기를 펼쳤다.",
                ]
            ),
        ]
    elif sport == "야구":
        a, b = rng.randint(3, 11), rng.randint(0, 2)
        body = [
            f"{home} 구단이 {away} 구단을 {a} 대 {josa(str(b), '으로/로')} 이기고 {rng.randint(2, 6)}연승을 달렸다.",
            f"선발 투수 {player}{josa(player, '은/는')[len(player) :]} {rng.randint(5, 8)}이닝 동안 삼진 {rng.randint(4, 11)}개를 잡으며 호투했다.",
            f"타선에서는 {other}{josa(other, '이/가')[len(other) :]} 홈런 한 개를 포함해 {rng.randint(2, 4)}안타를 치며 공격을 이끌었다.",
            rng.choice(['감독은 "선수들이 집중력을 잃지 않았다"고 말했다.', "경기는 세 시간 넘게 이어졌다."]),
        ]
    elif sport == "농구":
        a, b = rng.randint(70, 99), rng.randint(60, 95)
        body = [
            f"{home}{josa(home, '이/가')[len(home) :]} {away}{josa(away, '을/를')[len(away) :]} {a} 대 {josa(str(b), '으로/로')} 물리쳤다."
            if a > b
            else f"{home}{josa(home, '이/가')[len(home) :]} {away}에 {a} 대 {josa(str(b), '으로/로')} 졌다.",
            f"{player}{josa(player, '이/가')[len(player) :]} {rng.randint(18, 35)}점을 넣으며 팀 공격을 이끌었다.",
            rng.choice(["4쿼터 막판까지 접전이 이어졌다.", "3쿼터에 점수 차가 크게 벌어졌다."]),
            rng.choice(["다음 경기는 이번 주 토요일에 열린다.", "두 팀은 플레이오프에서 다시 만날 가능성이 높다."]),
        ]
    else:
        sets = rng.choice(["3 대 0", "3 대 1", "3 대 2"])
        body = [
            f"{home}{josa(home, '이/가')[len(home) :]} {away}{josa(away, '을/를')[len(away) :]} 세트 점수 {sets}로 이겼다.",
            f"{player}{josa(player, '은/는')[len(player) :]} 양 팀 최다인 {rng.randint(15, 32)}점을 올렸다.",
            rng.choice(["서브 에이스가 승부를 갈랐다.", "블로킹에서 크게 앞선 것이 승리의 원동력이었다."]),
            rng.choice(["이날 승리로 순위가 한 계단 올랐다.", "팬들은 경기가 끝난 뒤에도 한참 동안 자리를 지켰다."]),
        ]
    return (
        f"[{sport}] {home}, {away}전 "
        + ("승리" if "졌다" not in body[0] and "비겼다" not in body[0] else "아쉬운 결과")
        + "\n\n"
        + " ".join(body)
    )


# ----------------------------------------------------------------------------------------- orchestration

# generator -> (source label, number of documents)
PLAN: list[tuple[Callable[[random.Random], str], str, int]] = [
    (gen_news, "news", 110),
    (gen_sports, "news", 50),
    (gen_weather, "news", 35),
    (gen_review, "review", 170),
    (gen_dialogue, "dialogue", 60),
    (gen_qa, "qa", 75),
    (gen_diary, "blog", 100),
    (gen_recipe, "howto", 7),
    (gen_classified, "classified", 60),
    (gen_notice, "notice", 40),
    (gen_sms, "dialogue", 45),
    (gen_form, "notice", 40),
    (gen_receipt, "notice", 25),
]
# Character 5-gram Jaccard above which a new document counts as a near copy of an earlier one. The prepare
# pipeline's MinHash LSH (char 5-grams, threshold 0.8) flags a pair at Jaccard 0.45 with probability ~0.01%; the low
# bar also keeps generators with few slots from turning out many near copies that differ only in a name.
MAX_OVERLAP = 0.45


def shingles(text: str, n: int = 5) -> set[str]:
    s = " ".join(text.lower().split())
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


def generate(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Yield (source, text with markup) for every planned document, rejecting near copies of earlier ones."""
    for fn, source, count in PLAN:
        kept: list[set] = []
        attempts = 0
        while len(kept) < count and attempts < count * 50:
            attempts += 1
            text = fn(rng)
            sh = shingles(text)
            if any(len(sh & other) / len(sh | other) > MAX_OVERLAP for other in kept):
                continue
            kept.append(sh)
            yield source, text
        if len(kept) < count:
            raise RuntimeError(
                f"{fn.__name__}: only {len(kept)} of {count} sufficiently different documents; "
                "add sentences to its banks or lower its count"
            )
