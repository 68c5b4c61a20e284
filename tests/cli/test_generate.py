"""`polyglot-ko generate` through the real CLI entry point: streaming, files, stdin, JSONL, interactive, errors."""

from __future__ import annotations

import io
import json
import sys

import pytest

from polyglot_ko.cli import main
from polyglot_ko.generate import load_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def gen(tiny_model_dir):
    return load_generator(tiny_model_dir)


def test_single_prompt_streams_prompt_and_continuation(tiny_model_dir, gen, capsys):
    code = main(
        [
            "generate",
            "--model",
            str(tiny_model_dir),
            "안녕하세요",
            "--max-new-tokens",
            "12",
            "--repetition-penalty",
            "1.2",
        ]
    )
    out, err = capsys.readouterr()
    expected = gen.generate("안녕하세요", max_new_tokens=12, repetition_penalty=1.2)
    assert code == 0 and out == "안녕하세요" + expected.text + "\n"
    assert "12 tokens" in err and "finish: length" in err


def test_file_to_jsonl_output(tiny_model_dir, gen, tmp_path, capsys):
    prompts = ["첫 번째 프롬프트", "두 번째", "세 번째 문장입니다"]
    src = tmp_path / "prompts.jsonl"
    src.write_text("".join(json.dumps({"prompt": p}, ensure_ascii=False) + "\n" for p in prompts), encoding="utf-8")
    out_file = tmp_path / "out" / "results.jsonl"
    code = main(
        [
            "generate",
            "--model",
            str(tiny_model_dir),
            "--file",
            str(src),
            "--output",
            str(out_file),
            "--max-new-tokens",
            "8",
            "--temperature",
            "0.7",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    expected = gen.generate(prompts, max_new_tokens=8, temperature=0.7, seed=3)
    assert [r["prompt"] for r in rows] == prompts
    assert [r["text"] for r in rows] == [e.text for e in expected]
    assert [r["token_ids"] for r in rows] == [e.token_ids for e in expected]
    assert "3 prompts" in capsys.readouterr().err


def test_stdin_prompts_to_jsonl_stdout(tiny_model_dir, gen, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("하나\n\n둘\n"))
    code = main(
        [
            "generate",
            "--model",
            str(tiny_model_dir),
            "--jsonl",
            "--max-new-tokens",
            "5",
            "--stop",
            "다",
            "--stop-token-id",
            "2",
        ]
    )
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["prompt"] for r in rows] == ["하나", "둘"]
    for r in rows:
        assert r["text"] == gen.generate(r["prompt"], max_new_tokens=5, stop=["다"]).text


def test_interactive_mode(tiny_model_dir, gen, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("서울\n부산\n/quit\n"))
    code = main(["generate", "--model", str(tiny_model_dir), "-i", "--max-new-tokens", "6"])
    out = capsys.readouterr().out
    expected = [gen.generate(p, max_new_tokens=6).text for p in ("서울", "부산")]
    assert code == 0 and out.count("> ") == 3
    assert expected[0] + "\n" in out and expected[1] + "\n" in out


def test_user_errors_are_one_line(tiny_model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["generate", "--model", str(tmp_path / "missing"), "가"]) == 2
    assert capsys.readouterr().err.startswith("error: model folder")
    assert main(["generate", "--model", str(tiny_model_dir), "가", "--top-p", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: top_p=0.0") and err.count("\n") == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n')
    assert main(["generate", "--model", str(tiny_model_dir), "--file", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err
