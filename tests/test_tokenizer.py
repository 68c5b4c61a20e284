"""The tokenizer loader against the released 62ce27a file: exact ids, atomic PII tokens, round trips,
HF compatibility, validation of bad folders, and the streaming decoder."""

from __future__ import annotations

import gzip
import json
import random
import re
import shutil
from pathlib import Path

import pytest

from polyglot_ko.errors import UserError
from polyglot_ko.tokenizer import InvalidTokenIdError, PolyglotTokenizer, load_tokenizer

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "polyglot-ko-tokenizer"


@pytest.fixture(scope="module")
def tok(reference_tokenizer_dir) -> PolyglotTokenizer:
    return load_tokenizer(reference_tokenizer_dir)


@pytest.fixture(scope="module")
def samples(reference_tokenizer_dir) -> list[dict]:
    return json.loads((SAMPLES / "sample_encodings.json").read_text(encoding="utf-8"))["samples"]


@pytest.fixture(scope="module")
def corpus_lines(corpus_dir) -> list[str]:
    """A few hundred real documents from three sources (short reviews, comments, long petitions)."""
    out = []
    for name, n in (("nsmc-reviews", 200), ("korean-hate-speech", 100), ("petitions", 20)):
        with gzip.open(corpus_dir / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
            for line, _ in zip(f, range(n), strict=False):
                out.append(json.loads(line)["text"])
    return out


def test_sample_encodings_are_reproduced_exactly(tok, samples):
    assert len(samples) >= 9
    for s in samples:
        assert tok.encode(s["text"]) == s["ids"], s["text"]
        assert tok.tokenize(s["text"]) == s["tokens"], s["text"]
        assert tok.decode(s["ids"]) == s["decoded"]


def test_special_ids_and_sizes(tok):
    assert tok.special_ids == {"pad": 0, "eos": 1, "endoftext": 2, "sep": 3, "acc": 30000, "tel": 30001, "rrn": 30002}
    assert (tok.pad_id, tok.eos_id, tok.endoftext_id, tok.sep_id) == (0, 1, 2, 3)
    assert (tok.acc_id, tok.tel_id, tok.rrn_id) == (30000, 30001, 30002)
    assert tok.vocab_size == len(tok) == 30003
    assert tok.padded_vocab_size == 30080
    for name, token in tok.special_tokens.items():
        assert tok.backend.token_to_id(token) == tok.special_ids[name]


@pytest.mark.parametrize(
    "text",
    [
        "번호는<|tel|>입니다",
        "<|tel|>",
        "x<|rrn|>y",
        "계좌<|acc|><|acc|>로 보내",
        "전화 <|tel|>\n주민 <|rrn|>.",
        "<|endoftext|><|sep|><pad><eos>",
        "abc<|tel|>123<|acc|>def",
        "😀<|rrn|>😀",
    ],
)
def test_special_tokens_are_atomic_in_any_context(tok, text):
    ids = tok.encode(text)
    for name in ("acc", "tel", "rrn", "endoftext", "sep", "pad", "eos"):
        assert ids.count(tok.special_ids[name]) == text.count(tok.special_tokens[name]), name
    assert tok.decode(ids) == text
    # Neighbours are encoded as if the special token were a hard boundary.
    pieces = text.replace("<|tel|>", "\x00").split("\x00")
    if "<|tel|>" in text and all("<|" not in p and "<" not in p for p in pieces):
        expected = []
        for i, p in enumerate(pieces):
            if i:
                expected.append(tok.tel_id)
            expected += tok.encode(p)
        assert ids == expected


@pytest.mark.parametrize(
    "text",
    [
        "대한민국은 민주공화국이다. 대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다.",
        "GPT-NeoX 모델은 2048 토큰까지 처리합니다 (v1.3b, 12.8B params).",
        "오늘 날씨 😀👍🏽👨‍👩‍👧 최고! 🇰🇷",
        "大韓民國 憲法 第1條 ① 대한민국은 民主共和國이다.",
        "ㅋㅋㅋㅋ ㅎㅎ ㅠㅠ ㄱㄴㄷㄹ ᄀᄁᄂ ᅡᅢ ᆨᆩ",
        "   앞 공백   \t\t탭\n\n\n줄바꿈  \r\n끝   ",
        " . , ? ! 'a' \"b\" 하 . 다 .",  # transformers' clean-up would eat the spaces before punctuation
        "한\u0301글 e\u0301 ñ combining; zero\u200bwidth; nbsp\u00a0here; bom\ufeffmark",
        "1234567890 010-1234-5678 3.14159 1e-9 ½ ²",
        "\x00\x01\x7f control",
        "",
    ],
)
def test_round_trip(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)


def test_morpheme_marker_is_dropped_like_the_released_pretokenizer(tok):
    # U+0CF1 (Kannada sign jihvamuliya) is the training-time morpheme mark: the pre-tokenizer removes it.
    assert tok.decode(tok.encode("운동\u0cf1이")) == "운동이"


def test_round_trip_and_batch_on_real_corpus(tok, corpus_lines):
    batch = tok.encode_batch(corpus_lines)
    assert batch == [tok.encode(t) for t in corpus_lines]
    assert tok.decode_batch(batch) == corpus_lines
    for t, ids in zip(corpus_lines, batch, strict=False):
        assert tok.decode(ids) == t


def test_ids_outside_the_vocabulary_are_refused(tok):
    for bad in ([tok.vocab_size], [5, tok.padded_vocab_size - 1], [-1]):
        with pytest.raises(InvalidTokenIdError, match="outside the tokenizer's vocabulary"):
            tok.decode(bad)
        with pytest.raises(UserError):
            tok.incremental_decoder().add(bad)
    assert issubclass(InvalidTokenIdError, ValueError)


def test_mask_invalid_logits_keeps_sampling_inside_the_vocabulary(tok):
    torch = pytest.importorskip("torch")
    logits = torch.zeros(2, 3, tok.padded_vocab_size)
    logits[..., tok.vocab_size :] = 100.0  # padding rows are the most likely: they must still never win
    out = tok.mask_invalid_logits(logits)
    assert out is logits
    assert int(logits.argmax(-1).max()) < tok.vocab_size
    probs = torch.softmax(logits, -1)
    assert float(probs[..., tok.vocab_size :].sum()) == 0.0
    sampled = torch.multinomial(probs.view(-1, tok.padded_vocab_size), 1000, replacement=True)
    assert int(sampled.max()) < tok.vocab_size


def test_fingerprint_is_stable_across_save_and_load(tok, tmp_path, reference_tokenizer_dir):
    ours = tok.save(tmp_path / "ours")
    assert sorted(p.name for p in ours.iterdir()) == [
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert load_tokenizer(ours).fingerprint == tok.fingerprint
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoTokenizer.from_pretrained(str(ours))
    hf.save_pretrained(str(tmp_path / "hf"))
    assert load_tokenizer(tmp_path / "hf").fingerprint == tok.fingerprint
    assert re.fullmatch(r"[0-9a-f]{64}", tok.fingerprint), tok.fingerprint  # a sha256 hex digest
    # The fingerprint depends on what decides ids: one more merge-less vocabulary entry changes it.
    d = json.loads((ours / "tokenizer.json").read_text(encoding="utf-8"))
    d["model"]["merges"] = d["model"]["merges"][:-1]
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "tokenizer.json").write_text(json.dumps(d), encoding="utf-8")
    assert load_tokenizer(changed).fingerprint != tok.fingerprint


def test_transformers_gives_the_same_ids(tok, tmp_path, samples, corpus_lines, reference_tokenizer_dir):
    transformers = pytest.importorskip("transformers")
    texts = [s["text"] for s in samples] + corpus_lines[:100] + ["번호는<|tel|>입니다", " . , 하 ."]
    ours_dir = tok.save(tmp_path / "ours")
    for folder in (reference_tokenizer_dir, ours_dir):
        hf = transformers.AutoTokenizer.from_pretrained(str(folder))
        assert len(hf) == tok.vocab_size
        for t in texts:
            ids = tok.encode(t)
            assert hf(t, add_special_tokens=True)["input_ids"] == ids, t
            assert hf.decode(ids) == tok.decode(ids)
    hf = transformers.AutoTokenizer.from_pretrained(str(ours_dir))
    # Our config: generation stops on <|endoftext|> (2), the document separator; pad stays <pad> (0).
    assert hf.eos_token_id == tok.endoftext_id == 2
    assert hf.pad_token_id == tok.pad_id == 0
    assert (
        hf.decode(tok.encode("a<|tel|>b"), skip_special_tokens=True)
        == tok.decode(tok.encode("a<|tel|>b"), skip_special_tokens=True)
        == "ab"
    )


# --- bad input ----------------------------------------------------------------------------------------
def _copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_folder_or_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_tokenizer(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "empty")


@pytest.mark.parametrize("damage", ["truncated", "empty", "binary", "not-a-tokenizer"])
def test_corrupt_tokenizer_json(tmp_path, reference_tokenizer_dir, damage):
    folder = _copy_folder(reference_tokenizer_dir, tmp_path / "t")
    f = folder / "tokenizer.json"
    data = f.read_bytes()
    f.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "empty": b"",
            "binary": b"\xff\xfe\x00garbage",
            "not-a-tokenizer": b'{"hello": 1}',
        }[damage]
    )
    with pytest.raises(UserError) as e:
        load_tokenizer(folder)
    msg = str(e.value)
    assert "tokenizer.json" in msg and "\n" not in msg


def test_wrong_special_token_ids_are_refused(tmp_path, reference_tokenizer_dir):
    # The 2022-07-24 revision renamed ids 0-2 (<|endoftext|> became 1): models trained with 62ce27a would
    # read every document separator wrongly.
    folder = _copy_folder(reference_tokenizer_dir, tmp_path / "t")
    shutil.copy(SAMPLES / "MBBPE_95548f6_2022-07-24_tokenizer.json", folder / "tokenizer.json")
    (folder / "special_tokens_map.json").unlink()
    (folder / "tokenizer_config.json").unlink()
    with pytest.raises(UserError, match=r"<pad> is missing, expected id 0"):
        load_tokenizer(folder)

    # A user tokenizer whose <|endoftext|> moved to another id.
    d = json.loads((reference_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    for t in d["added_tokens"]:
        if t["content"] in ("<|endoftext|>", "<|sep|>"):
            t["content"] = {"<|endoftext|>": "<|sep|>", "<|sep|>": "<|endoftext|>"}[t["content"]]
    vocab = d["model"]["vocab"]
    vocab["<|endoftext|>"], vocab["<|sep|>"] = vocab["<|sep|>"], vocab["<|endoftext|>"]
    (folder / "tokenizer.json").write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(UserError, match=r"<\|endoftext\|> has id 3, expected id 2"):
        load_tokenizer(folder)


def test_pii_token_that_is_not_special_is_refused(tmp_path, reference_tokenizer_dir):
    folder = _copy_folder(reference_tokenizer_dir, tmp_path / "t")
    d = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    for t in d["added_tokens"]:
        if t["content"] == "<|tel|>":
            t["special"] = False
    (folder / "tokenizer.json").write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(UserError, match=r"<\|tel\|> \(id 30001\) is not registered as a special"):
        load_tokenizer(folder)


def test_special_tokens_map_from_another_release_is_refused(tmp_path, reference_tokenizer_dir):
    folder = _copy_folder(reference_tokenizer_dir, tmp_path / "t")
    shutil.copy(SAMPLES / "MBBPE_4782380_2022-07-24_special_tokens_map.json", folder / "special_tokens_map.json")
    with pytest.raises(UserError, match=r"special_tokens_map.json: names special token '<\|pad\|>'"):
        load_tokenizer(folder)
    (folder / "special_tokens_map.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="not valid JSON"):
        load_tokenizer(folder)


def test_tokens_added_after_the_pii_tokens_are_allowed(tmp_path, tok):
    backend = type(tok.backend).from_str(tok.backend.to_str())
    from tokenizers import AddedToken

    backend.add_special_tokens([AddedToken("<|im_start|>", special=True, normalized=False)])
    backend.save(str(tmp_path / "tokenizer.json"))
    extended = load_tokenizer(tmp_path)
    assert extended.vocab_size == 30004 and extended.padded_vocab_size == 30080
    assert extended.special_ids == tok.special_ids
    assert extended.encode("a<|im_start|>b")[1] == 30003


def test_load_accepts_a_tokenizer_json_path(reference_tokenizer_dir, tok):
    assert load_tokenizer(reference_tokenizer_dir / "tokenizer.json").fingerprint == tok.fingerprint


# --- streaming decoder --------------------------------------------------------------------------------
def _stream(tok, ids, rng, skip=False):
    dec = tok.incremental_decoder(skip_special_tokens=skip)
    chunks, i = [], 0
    while i < len(ids):
        k = rng.randint(1, 4)
        chunks.append(dec.add(ids[i : i + k]))
        i += k
    chunks.append(dec.flush())
    return chunks


def test_incremental_decoder_never_emits_broken_hangul(tok, corpus_lines):
    rng = random.Random(0)
    korean = [t for t in corpus_lines if any("가" <= c <= "힣" for c in t)]
    split_seen = 0
    for text in korean:
        ids = tok.encode(text)
        # Count syllables split across tokens: the case this decoder exists for.
        split_seen += sum(1 for i in ids if tok.token_bytes(i) and (tok.token_bytes(i)[0] & 0xC0) == 0x80)
        chunks = _stream(tok, ids, rng)
        assert "".join(chunks) == tok.decode(ids) == text
        for c in chunks:
            assert "\ufffd" not in c
    assert split_seen > 0


def test_incremental_decoder_holds_back_a_split_syllable(tok, samples):
    # "ㅋㅋㅋ" encodes as byte tokens that split each 3-byte jamo 2 + 1 (see sample_encodings.json).
    ids = next(s["ids"] for s in samples if s["text"].startswith("ㅋㅋㅋ"))
    dec = tok.incremental_decoder()
    assert dec.add(ids[0]) == ""  # two bytes of ㅋ: nothing safe to show yet
    assert dec.add(ids[1]) == "ㅋ"
    assert "ㅋ" + "".join(dec.add(i) for i in ids[2:]) + dec.flush() == tok.decode(ids)


def test_incremental_decoder_matches_decode_on_arbitrary_ids(tok):
    rng = random.Random(1)
    for _ in range(300):
        ids = [rng.randrange(tok.vocab_size) for _ in range(rng.randrange(0, 30))]
        for skip in (False, True):
            assert "".join(_stream(tok, ids, rng, skip)) == tok.decode(ids, skip_special_tokens=skip)


def test_incremental_decoder_state_stays_bounded(tok, corpus_lines):
    # O(new tokens) per call: the only state carried between calls is an unfinished UTF-8 sequence (< 4 bytes).
    dec = tok.incremental_decoder()
    ids = tok.encode("\n".join(corpus_lines))
    assert len(ids) > 5000
    for i in ids:
        dec.add(i)
        assert len(dec._utf8.getstate()[0]) <= 3


def test_incremental_decoder_on_random_byte_splits(tok, corpus_lines):
    # Spell texts with single-byte tokens (ids 4..259) so that every syllable is split at every byte, then
    # feed them in random groups: no chunk may contain half a character or U+FFFD.
    byte_id = {tok.token_bytes(i)[0]: i for i in range(4, 260)}
    assert len(byte_id) == 256
    rng = random.Random(2)
    for text in corpus_lines[:80] + ["한글 ㅋㅋ 😀 漢字 각"]:
        ids = [byte_id[b] for b in text.encode("utf-8")]
        chunks = _stream(tok, ids, rng)
        assert "".join(chunks) == tok.decode(ids) == text
        assert not any("\ufffd" in c for c in chunks)


def test_hub_id_goes_through_the_hub(tok):
    # Offline (as here): a one-line error saying how to get the files. Online or cached: the released model's
    # tokenizer, which must then be the 62ce27a file we match (same fingerprint).
    try:
        hub = load_tokenizer("EleutherAI/polyglot-ko-1.3b")
    except UserError as e:
        assert "EleutherAI/polyglot-ko-1.3b" in str(e) and "\n" not in str(e)
    else:
        assert hub.special_ids == tok.special_ids and hub.fingerprint == tok.fingerprint


def test_lone_surrogates_get_a_clear_error(tok):
    # JSON escapes such as "\ud800" give Python strings that are not valid Unicode text.
    with pytest.raises(ValueError, match="lone surrogate U\\+D800 at character 1"):
        tok.encode("a\ud800b")
    with pytest.raises(ValueError, match="text 1 contains a lone surrogate"):
        tok.encode_batch(["ok", "a\udfffb"])
