"""Perplexity: windows cover every token once, numbers equal transformers' full-sequence NLL where the document
fits the window, indexed datasets equal their texts, per-character units, and the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch

from polyglot_ko.cli import main
from polyglot_ko.eval.perplexity import per_document_nll, perplexity, windows

TEXTS = [
    "안녕하세요. 오늘은 날씨가 맑고 바람이 조금 붑니다.",
    "폴리글랏 한국어 모델은 GPT-NeoX 구조를 따른다. " * 4,
    "짧다",
]


@pytest.mark.parametrize("context,stride", [(8, 8), (8, 3), (8, 1), (5, 4), (64, 32)])
def test_windows_score_every_token_once(context, stride):
    for n in range(0, 40):
        seen = []
        for begin, end, first in windows(n, context, stride):
            assert 0 < end - begin <= context and begin < first <= end + 1
            assert first - 1 - begin >= 0
            # every scored target after the first window has at least context - stride tokens of history
            if begin > 0:
                assert first - begin >= context - stride
            seen += list(range(first, end + 1))
        assert seen == list(range(1, n + 1))


def test_matches_transformers_when_documents_fit(sharp_model, sharp_model_dir, tokenizer):
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(sharp_model_dir, dtype=torch.float32).eval()
    r = perplexity(sharp_model, tokenizer, TEXTS, progress=False)
    total = 0.0
    with torch.no_grad():
        for t in TEXTS:
            ids = [tokenizer.endoftext_id] + tokenizer.encode(t)
            lp = hf(torch.tensor([ids])).logits[0, :-1].float().log_softmax(-1)
            total -= lp.gather(-1, torch.tensor(ids[1:])[:, None]).sum().item()
    tokens = sum(len(tokenizer.encode(t)) for t in TEXTS)
    chars = sum(len(t) for t in TEXTS)
    assert r["tokens"] == tokens and r["characters"] == chars and r["documents"] == 3
    assert r["nll"] == pytest.approx(total, rel=1e-5)
    assert r["perplexity"] == pytest.approx(math.exp(total / tokens), rel=1e-5)
    assert r["bits_per_character"] == pytest.approx(total / chars / math.log(2), rel=1e-5)
    assert r["perplexity_per_character"] == pytest.approx(math.exp(total / chars), rel=1e-5)


def test_sliding_window_equals_unbatched_windows(sharp_model, tokenizer):
    """Batched, left-padded windows of mixed lengths give the per-document sums of one-window-at-a-time scoring;
    a wider stride (less history) changes the number."""
    docs = [tokenizer.encode(t) for t in TEXTS]
    r = perplexity(sharp_model, tokenizer, TEXTS, context=16, stride=7, max_batch_tokens=40, progress=False)
    ref = per_document_nll(sharp_model, docs, context=16, stride=7, eot=tokenizer.endoftext_id)
    assert r["nll"] == pytest.approx(sum(ref), rel=1e-5)
    disjoint = perplexity(sharp_model, tokenizer, TEXTS, context=16, stride=16, progress=False)
    assert disjoint["nll"] != pytest.approx(r["nll"], rel=1e-6) and disjoint["windows"] < r["windows"]


def test_indexed_dataset_equals_texts(sharp_model, tokenizer, tmp_path):
    from polyglot_ko.data.indexed import IndexedDatasetWriter

    prefix = tmp_path / "docs"
    with IndexedDatasetWriter(prefix) as w:
        for t in TEXTS:
            w.add_document(tokenizer.encode(t) + [tokenizer.endoftext_id])
    a = perplexity(sharp_model, tokenizer, [prefix], context=16, progress=False)
    b = perplexity(sharp_model, tokenizer, TEXTS, context=16, progress=False)
    for key in ("tokens", "characters", "documents"):
        assert a[key] == b[key]
    assert a["nll"] == pytest.approx(b["nll"], rel=1e-6)


def test_cli_perplexity_on_files(sharp_model_dir, tmp_path, capsys):
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in TEXTS), encoding="utf-8")
    out = tmp_path / "ppl.json"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(sharp_model_dir),
                "--perplexity",
                str(path),
                "--max-length",
                "32",
                "--stride",
                "8",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    r = json.loads(out.read_text())
    assert r["documents"] == 3 and r["context"] == 32 and r["stride"] == 8
    assert r["bits_per_character"] == pytest.approx(r["nll"] / r["characters"] / math.log(2))
    assert main(["evaluate", "--model", str(sharp_model_dir), "--perplexity", str(path), "--stride", "9999"]) == 2
    assert "error: --stride 9999" in capsys.readouterr().err


def test_texts_vs_paths(sharp_model, tokenizer, tmp_path):
    """A string naming an existing file is read as a path; any other string is a text."""
    f = tmp_path / "a.txt"
    f.write_text(TEXTS[0] + "\n" + TEXTS[2] + "\n", encoding="utf-8")
    assert perplexity(sharp_model, tokenizer, str(f), progress=False)["documents"] == 2
    assert perplexity(sharp_model, tokenizer, [TEXTS[0]], progress=False)["documents"] == 1
