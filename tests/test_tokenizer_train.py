"""Training tokenizers: the released structure, merges that never cross a morpheme boundary, small corpora, the
different input forms, the CLI, and transformers' view of the result."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from polyglot_ko.errors import UserError
from polyglot_ko.tokenizer import MORPHEME_BOUNDARY, load_tokenizer
from polyglot_ko.tokenizer_train import insert_marks, mark_morphemes, morpheme_boundaries, train_tokenizer

N_TRAIN = 400


def _lines(corpus_dir: Path, name: str, n: int, skip: int = 0) -> list[str]:
    out = []
    with gzip.open(corpus_dir / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= skip + n:
                break
            if i >= skip:
                out.append(json.loads(line)["text"])
    return out


@pytest.fixture(scope="module")
def train_texts(corpus_dir) -> list[str]:
    # Sentences with real morphology (news comments, KorSTS, petitions) rather than only short reviews.
    return (
        _lines(corpus_dir, "korsts", N_TRAIN // 2)
        + _lines(corpus_dir, "korean-hate-speech", N_TRAIN // 2)
        + _lines(corpus_dir, "petitions", 3)
    )


@pytest.fixture(scope="module")
def train_file(tmp_path_factory, train_texts) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "train.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i, t in enumerate(train_texts):
            f.write(json.dumps({"id": str(i), "body": t}, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def mbbpe(tmp_path_factory, train_file):
    out = tmp_path_factory.mktemp("mbbpe") / "tok"
    return train_tokenizer([train_file], out, vocab_size=1500, text_field="body", show_progress=False), out


@pytest.fixture(scope="module")
def plain(tmp_path_factory, train_texts):
    out = tmp_path_factory.mktemp("plain") / "tok"
    return train_tokenizer(train_texts, out, vocab_size=1500, morpheme_aware=False, show_progress=False), out


def test_structure_matches_the_released_tokenizer(mbbpe, reference_tokenizer_dir):
    tok, folder = mbbpe
    ref = json.loads((reference_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    ours = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        assert ours[key] == ref[key], key
    assert ours["model"]["type"] == ref["model"]["type"] == "BPE"
    assert ours["model"]["unk_token"] is None
    # ids 0..259: the same four special tokens and the same byte alphabet in the same order as released.
    ref_low = {t: i for t, i in ref["model"]["vocab"].items() if i < 260}
    our_low = {t: i for t, i in ours["model"]["vocab"].items() if i < 260}
    assert our_low == ref_low and len(ref_low) == 260
    assert len(ours["model"]["vocab"]) == 1500 and len(ours["model"]["merges"]) == 1500 - 260
    assert tok.special_ids == {"pad": 0, "eos": 1, "endoftext": 2, "sep": 3, "acc": 1500, "tel": 1501, "rrn": 1502}
    assert (tok.vocab_size, tok.padded_vocab_size) == (1503, 1536)
    assert tok.encode("번호는<|tel|>입니다").count(tok.tel_id) == 1
    assert tok.encode("a<|endoftext|>")[-1] == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "tokenizer_training.json",
    ]
    info = json.loads((folder / "tokenizer_training.json").read_text(encoding="utf-8"))
    assert info["morpheme_aware"] and info["documents"] == 2 * (N_TRAIN // 2) + 3
    assert info["fingerprint"] == tok.fingerprint


def test_trained_tokenizer_round_trips_held_out_text(mbbpe, plain, corpus_dir):
    held_out = _lines(corpus_dir, "korsts", 100, skip=5000) + ["😀 大韓民國 ㅋㅋ  \n\t x<|rrn|>y"]
    for tok, _ in (mbbpe, plain):
        for t in held_out:
            ids = tok.encode(t)
            assert tok.decode(ids) == t
            assert max(ids) < tok.vocab_size


@pytest.mark.parametrize("analysis", ["sentence", "word"])
def test_morpheme_marks_follow_the_analyzer(analysis):
    # Hand-checked segmentations (noun + particle, noun + derivational suffix + ending, a contraction that
    # cannot be cut inside its syllable: 했 = 하 + 었).
    marked = list(mark_morphemes(["학교에서 공부했다", "운동이 필요합니다.", "abc 123"], analysis=analysis))
    assert marked == ["학교ೱ에서 공부ೱ했ೱ다", "운동ೱ이 필요ೱ합니다ೱ.", "abc 123"]
    assert [m.replace(MORPHEME_BOUNDARY, "") for m in marked] == ["학교에서 공부했다", "운동이 필요합니다.", "abc 123"]


def test_boundaries_skip_overlaps_and_whitespace():
    class T:  # the two attributes morpheme_boundaries reads, as kiwipiepy's Token has them
        def __init__(self, start, end):
            self.start, self.end = start, end

    text = "가나 다라마"
    tokens = [T(0, 1), T(1, 2), T(3, 5), T(4, 5), T(5, 5)]  # 4 lies inside the token (3, 5)
    assert morpheme_boundaries(text, tokens) == [1, 5]  # not 2/3 (next to the space), not 4 (inside 다라)
    assert insert_marks("가나다", [1, 2]) == "가ೱ나ೱ다"


def _morpheme_pieces(tok, texts: list[str], analysis: str = "sentence") -> str:
    """Every pre-token of the morpheme-marked texts, byte-level encoded, joined by spaces (never in a token)."""
    pre = tok.backend.pre_tokenizer
    return " ".join(piece for t in mark_morphemes(texts, analysis=analysis) for piece, _ in pre.pre_tokenize_str(t))


def _crossing(tok, pieces: str) -> list[str]:
    vocab = tok.backend.get_vocab(with_added_tokens=False)
    # A learned token must lie inside one morpheme piece of the training text.
    return [t for t, i in vocab.items() if 260 <= i and t not in pieces]


def test_merges_never_cross_a_morpheme_boundary(mbbpe, plain, train_texts):
    pieces = _morpheme_pieces(mbbpe[0], train_texts)

    assert _crossing(mbbpe[0], pieces) == []
    # Without the marks BPE does learn tokens spanning morphemes (e.g. noun + particle): the check can fail.
    crossed = _crossing(plain[0], pieces)
    assert len(crossed) >= 20, crossed


def test_word_analysis_mode_also_keeps_merges_inside_morphemes(tmp_path, train_texts, mbbpe):
    tok = train_tokenizer(train_texts, tmp_path / "w", vocab_size=1500, analysis="word", show_progress=False)
    assert _crossing(tok, _morpheme_pieces(tok, train_texts, analysis="word")) == []
    info = json.loads((tmp_path / "w" / "tokenizer_training.json").read_text(encoding="utf-8"))
    assert info["analysis"] == "word"
    # Nearly the same vocabulary as with whole-text analysis.
    a = set(tok.backend.get_vocab(with_added_tokens=False))
    b = set(mbbpe[0].backend.get_vocab(with_added_tokens=False))
    assert len(a & b) / len(a | b) > 0.8


def test_small_corpus_gives_fewer_merges_and_pii_ids_follow(tmp_path, train_texts):
    tok = train_tokenizer(train_texts[:30], tmp_path / "t", vocab_size=30000, morpheme_aware=False, show_progress=False)
    n = tok.backend.get_vocab_size(with_added_tokens=False)
    assert 260 < n < 30000
    assert (tok.acc_id, tok.tel_id, tok.rrn_id) == (n, n + 1, n + 2) and tok.vocab_size == n + 3
    assert load_tokenizer(tmp_path / "t").fingerprint == tok.fingerprint


def test_input_forms_give_the_same_tokenizer(tmp_path, train_texts, train_file, plain):
    from_list = plain[0]
    from_gen = train_tokenizer(
        (t for t in train_texts), tmp_path / "gen", vocab_size=1500, morpheme_aware=False, show_progress=False
    )
    from_file = train_tokenizer(
        train_file, tmp_path / "file", vocab_size=1500, morpheme_aware=False, text_field="body", show_progress=False
    )
    assert from_list.fingerprint == from_gen.fingerprint == from_file.fingerprint
    # Deterministic: training again on the same text gives the same merges.
    again = train_tokenizer(
        list(train_texts), tmp_path / "again", vocab_size=1500, morpheme_aware=False, show_progress=False
    )
    assert again.fingerprint == from_list.fingerprint


def test_max_chars_stops_reading(tmp_path, train_texts):
    train_tokenizer(
        train_texts, tmp_path / "t", vocab_size=400, morpheme_aware=False, max_chars=5000, show_progress=False
    )
    info = json.loads((tmp_path / "t" / "tokenizer_training.json").read_text(encoding="utf-8"))
    assert info["characters"] == 5000
    assert info["documents"] < len(train_texts)


def test_transformers_gives_the_same_ids_for_a_trained_tokenizer(mbbpe, corpus_dir):
    transformers = pytest.importorskip("transformers")
    tok, folder = mbbpe
    hf = transformers.AutoTokenizer.from_pretrained(str(folder))
    assert len(hf) == tok.vocab_size
    assert hf.eos_token_id == 2 and hf.pad_token_id == 0
    for t in _lines(corpus_dir, "korean-hate-speech", 60, skip=3000) + ["번호는<|tel|>입니다"]:
        assert hf(t)["input_ids"] == tok.encode(t), t
        assert hf.decode(tok.encode(t)) == t


def test_cli_trains_and_reports_bad_input(tmp_path, train_file, capsys):
    from polyglot_ko.cli import main

    out = tmp_path / "cli-tok"
    assert (
        main(
            [
                "train-tokenizer",
                "--input",
                str(train_file),
                "--out",
                str(out),
                "--vocab-size",
                "600",
                "--no-morpheme",
                "--text-field",
                "body",
            ]
        )
        == 0
    )
    summary = capsys.readouterr().out
    assert "603 ids" in summary and str(out) in summary
    assert load_tokenizer(out).vocab_size == 603

    assert main(["train-tokenizer", "--input", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.jsonl" in err and err.count("\n") == 1
    assert (
        main(["train-tokenizer", "--input", str(train_file), "--out", str(tmp_path / "x"), "--vocab-size", "100"]) == 2
    )
    assert "vocab_size 100" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_lone_surrogates_in_training_text_are_replaced(tmp_path):
    tok = train_tokenizer(
        ["가나\ud800다 라마"] * 5 + ["가나다 라마"] * 5,
        tmp_path / "t",
        vocab_size=300,
        morpheme_aware=True,
        show_progress=False,
    )
    assert tok.decode(tok.encode("가나다 라마")) == "가나다 라마"


def test_empty_input_is_a_user_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="no text to train on"):
        train_tokenizer([empty], tmp_path / "t", vocab_size=300, morpheme_aware=False, show_progress=False)
    with pytest.raises(UserError, match="expected file paths or strings"):
        train_tokenizer(iter([1, 2]), tmp_path / "t", vocab_size=300, morpheme_aware=False, show_progress=False)
    assert not (tmp_path / "t").exists()
