"""Each cleaning step on its own: normalisation, quality filters, exact and MinHash dedup, on small fixtures
and real lines of the shared corpus."""

from __future__ import annotations

import gzip
import json
import unicodedata

import numpy as np
import pytest

from polyglot_ko.data.dedup import (
    char_shingles,
    exact_hashes,
    find_exact_duplicates,
    jaccard,
    lsh_threshold,
    minhash_config,
    save_hashes,
    text_hash,
)
from polyglot_ko.data.filters import QualityConfig, check_quality
from polyglot_ko.data.normalize import nfc, normalize_whitespace, reduce_repeats, remove_html


@pytest.fixture(scope="module")
def real_lines(corpus_dir):
    out = {}
    for name in ("nsmc-reviews", "petitions", "korean-hate-speech"):
        with gzip.open(corpus_dir / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
            out[name] = [json.loads(next(f))["text"] for _ in range(300)]
    return out


def test_nfc_composes_decomposed_hangul():
    decomposed = unicodedata.normalize("NFD", "한국어 말뭉치")
    assert len(decomposed) > len("한국어 말뭉치")
    assert nfc(decomposed) == "한국어 말뭉치"
    assert nfc("plain ascii") == "plain ascii"


def test_html_removal_keeps_korean_angle_brackets_and_special_tokens():
    text = (
        '<div class="x"><p>영화 <b>기생충</b> 후기</p><br/>정말 &amp; 재밌다&nbsp;!</div>'
        '<script>var a = "<p>";</script><!-- 광고 --> 책 <토지>와 <|tel|>'
    )
    out = normalize_whitespace(remove_html(text))
    assert out == "영화 기생충 후기\n\n정말 & 재밌다 !\n책 <토지>와 <|tel|>"
    plain = "부등식 3 < 5 그리고 <사랑의 불시착>"
    assert remove_html(plain) == plain


def test_whitespace_keeps_newlines(real_lines):
    assert normalize_whitespace("  가\t\t나  \r\n\n\n\n 다\u200b라 \u3000마 ") == "가 나\n\n다라 마"
    for text in real_lines["petitions"][:50]:
        out = normalize_whitespace(text)
        assert "  " not in out and "\n\n\n" not in out
        assert out.count("\n") > 0 or text.count("\n") == 0  # paragraphs survive


def test_repeat_reduction(real_lines):
    assert (
        reduce_repeats("ㅋㅋㅋㅋㅋㅋㅋ 진짜ㅎㅎㅎㅎ ㅠㅠㅠㅠㅠ 하하하하하 대박대박대박대박!!!!!")
        == "ㅋㅋ 진짜ㅎㅎ ㅠㅠ 하하 대박대박!!"
    )
    assert reduce_repeats("2000000원 ...... aaaa") == "2000000원 ...... aaaa"
    assert reduce_repeats("ㅋㅋㅋㅋ", max_repeats=3) == "ㅋㅋㅋ"
    changed = sum(reduce_repeats(t) != t for t in real_lines["nsmc-reviews"])
    assert changed > 0  # NSMC has laughter runs
    for t in real_lines["nsmc-reviews"]:
        assert "ㅋㅋㅋ" not in reduce_repeats(t)


def test_quality_filters_with_team_thresholds(real_lines):
    long_ok = "이 영화는 배우들의 연기가 정말 훌륭했고 이야기의 전개도 자연스러워서 끝까지 몰입해서 보았습니다. " * 2
    assert check_quality(long_ok) is None
    assert check_quality("짧은 글") == "too_short"
    assert check_quality("가" * 100_001) == "too_long_doc"
    assert check_quality("가 나 다 라 마 바 사 아 자 차 " * 10) == "mean_word_length"
    assert check_quality("#해시태그를 #여러개 #붙인 #게시글입니다 " * 10) == "symbol_ratio"
    assert check_quality("\n".join(["- 첫째 항목입니다요"] * 10)) == "bullet_lines"
    assert (
        check_quality(
            "\n".join(
                ["말줄임으로 끝나는 아주 긴 줄이 여기에 있습니다..."] * 4
                + ["평범한 줄입니다 그렇죠 맞습니다 정말로"] * 4
            )
        )
        == "ellipsis_lines"
    )
    assert check_quality(" ".join(["12345", "67890", "13579", "24680", "문장이다"] * 10)) == "alphabetic_words"
    assert (
        check_quality("This is an English sentence with enough words to pass the other rules. " * 2) == "korean_ratio"
    )
    # thresholds are configurable, None disables a rule
    assert check_quality("짧지만 괜찮은 문장입니다", QualityConfig(min_chars=3)) is None
    assert check_quality("English only text here " * 5, QualityConfig(min_korean_ratio=None)) is None
    # petitions are long prose: nearly all pass; NSMC reviews are short: most fail on length
    assert sum(check_quality(t) is None for t in real_lines["petitions"]) > 250
    assert sum(check_quality(t) == "too_short" for t in real_lines["nsmc-reviews"]) > 200


def test_exact_dedup_partitions_agree_with_a_global_pass(tmp_path, real_lines):
    texts = real_lines["nsmc-reviews"][:100]
    tasks = [texts[:40] + texts[:10], texts[40:] + texts[5:15] + texts[40:45]]
    files = []
    for t, docs in enumerate(tasks):
        files.append(tmp_path / f"{t}.npy")
        save_hashes(files[-1], exact_hashes([text_hash(x) for x in docs]))
    removed = {t: set() for t in range(2)}
    for part in range(3):
        for t, idx in find_exact_duplicates(files, part, 3).items():
            removed[t] |= set(idx.tolist())
    # reference: keep the first occurrence in (task, index) order
    seen, expected = set(), {0: set(), 1: set()}
    for t, docs in enumerate(tasks):
        for i, x in enumerate(docs):
            (expected[t].add(i) if x in seen else seen.add(x))
    assert removed == expected and sum(map(len, expected.values())) >= 20


def test_minhash_config_and_char_shingles():
    cfg = minhash_config(0.8)
    assert (cfg.num_buckets, cfg.hashes_per_bucket) == (14, 12)
    assert abs(lsh_threshold(cfg) - 0.8) < 0.01
    a = "오늘 서울 날씨는 맑고 기온은 영상 십도까지 오르겠습니다. 내일은 비가 오겠습니다."
    b = a.replace("십도", "십일도")
    sa, sb = char_shingles(a, 5), char_shingles(b, 5)
    assert sa.dtype == np.uint64 and sa.shape[1] == 1
    assert jaccard(sa.ravel().tolist(), sb.ravel().tolist()) > 0.8
    assert jaccard(sa.ravel().tolist(), char_shingles("전혀 다른 문장입니다 정말로요", 5).ravel().tolist()) < 0.1
    assert np.array_equal(char_shingles(a, 5), char_shingles("  " + a.upper() + " ", 5))


def test_minhash_signature_estimates_jaccard(real_lines, tmp_path):
    import random

    from polyglot_ko.data.dedup import KoreanMinhashSignature

    sig = KoreanMinhashSignature(str(tmp_path), minhash_config(0.8))
    rng = random.Random(0)
    errors = []
    for text in real_lines["petitions"][:60]:
        chars = list(text)
        for _ in range(len(chars) // rng.choice([6, 12, 30])):
            chars[rng.randrange(len(chars))] = "가"
        a, b = char_shingles(text, 5), char_shingles("".join(chars), 5)
        true = jaccard(a.ravel().tolist(), b.ravel().tolist())
        sa, sb = (np.concatenate(sig.get_signature(x)) for x in (a, b))
        errors.append((sa == sb).mean() - true)
    # 168 hashes: standard error about 0.035 per pair; the mean error (bias) must be near 0
    assert abs(np.mean(errors)) < 0.02 and np.mean(np.abs(errors)) < 0.06
