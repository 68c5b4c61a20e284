"""The quickstart end to end at toy size: every artifact exists and agrees with the others and the report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("qs") / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "quickstart",
            "--fast",
            "--out",
            str(out),
            "--max-steps",
            "12",
            "--finetune",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


# Before test_rerun_reuses_finished_stages: its rerun (without --finetune) rewrites summary.json and report.md.
def test_finetune_stage_tunes_the_model_and_reports_answers_before_and_after(run):
    out, _stdout = run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    tuned = summary["finetune"]
    assert [a["instruction"] for a in tuned["answers"]] == [
        "한국의 수도는 어디인가요?",
        "다음 문장을 존댓말로 바꿔 주세요: 밥 먹었어?",
        "제 전화번호 010-2345-6789를 다른 사람에게 알려 주세요.",
    ]
    assert tuned["steps"] == 20 and tuned["records"]["kept"] == tuned["records"]["records"] > 200
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## 6. Instruction tuning (--finetune)" in report and f"{tuned['steps']} steps" in report
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tuned["hf_model"])
    assert model.num_parameters() == summary["model"]["parameters"]


def test_prepared_data_accounts_for_every_document(run):
    out, _ = run
    stats = json.loads((out / "data" / "stats.json").read_text())
    docs = stats["documents"]
    assert docs["input"] == docs["kept"] + sum(docs["dropped"].values())
    assert docs["kept"] > 0 and stats["tokens"] > 0
    from polyglot_ko.data.indexed import IndexedDataset, read_manifest

    manifest = read_manifest(out / "data")
    shards = manifest["shards"] + manifest.get("valid_shards", [])
    assert sum(s["documents"] for s in shards) == docs["kept"]
    assert sum(len(IndexedDataset(out / "data" / s["prefix"])) for s in shards) == docs["kept"]
    assert sum(s["tokens"] for s in shards) == stats["tokens"]


def test_tokenizer_has_the_released_special_ids(run):
    out, _ = run
    from polyglot_ko import load_tokenizer

    tok = load_tokenizer(out / "model")
    n = tok.vocab_size - 3
    assert (tok.pad_id, tok.eos_id, tok.endoftext_id, tok.sep_id) == (0, 1, 2, 3)
    assert (tok.acc_id, tok.tel_id, tok.rrn_id) == (n, n + 1, n + 2)
    assert tok.encode("번호는<|tel|>입니다").count(tok.tel_id) == 1


def test_model_folder_loads_in_transformers(run):
    out, _ = run
    from transformers import AutoModelForCausalLM

    from polyglot_ko import load_model

    hf = AutoModelForCausalLM.from_pretrained(out / "model", dtype=torch.float32).eval()
    ours = load_model(out / "model")
    ids = torch.tensor([[2, 100, 200, 300]])
    with torch.no_grad():
        assert (hf(ids).logits - ours(ids).logits).abs().max().item() <= 1e-4


def test_report_numbers_match_the_artifacts(run):
    out, stdout = run
    report = (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    stats = json.loads((out / "data" / "stats.json").read_text())
    params = sum(p.numel() for p in __import__("polyglot_ko").load_model(out / "model").parameters())
    assert f"{params:,} parameters" in report
    assert f"| {stats['documents']['input']:,} | {stats['documents']['kept']:,} |" in report
    lines = [json.loads(x) for x in (out / "train" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    steps = [x for x in lines if "loss" in x and x.get("split", "train") == "train"]
    assert summary["train"]["steps"] == 12 == max(x["step"] for x in steps)
    assert summary["evaluate"]["perplexity"]["tokens"] > 0
    assert len(summary["samples"]) == 5 and all(s["prompt"] for s in summary["samples"])
    assert (out / "train" / "loss.png").is_file()
    assert "report.md" in stdout


def test_rerun_reuses_finished_stages(run):
    out, _ = run
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "quickstart",
            "--fast",
            "--out",
            str(out),
            "--max-steps",
            "12",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("reusing the finished stage") == 7


def test_quickstart_model_runs_in_llama_cpp_with_the_same_greedy_tokens(run, tmp_path):
    """The deploy promise: export-gguf the quickstart's model, and llama.cpp gives our token ids and greedy text."""
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/setup-llama.sh)")
    from polyglot_ko.cli import main
    from polyglot_ko.generate import load_generator

    out, _stdout = run
    model_dir = out / "model"
    gguf = tmp_path / "quickstart-f32.gguf"
    assert main(["export-gguf", str(model_dir), str(gguf), "--type", "f32"]) == 0
    gen = load_generator(model_dir)
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=256, verbose=False, n_threads=2)
    for prompt in ["오늘 날씨가", "서울시는 다음 달부터", "고객님, 문의하신 <|tel|> 번호로"]:
        ours = gen.generate(prompt, max_new_tokens=12)
        ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        assert ids == ours.prompt_token_ids
        theirs = []
        for token in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
            if token == 2 or len(theirs) == 12:
                break
            theirs.append(token)
        assert theirs == ours.token_ids, prompt
