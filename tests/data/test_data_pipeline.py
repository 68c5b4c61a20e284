"""`prepare` end to end on real corpus lines: accounting, rejects, PII, tokens read back through megatron-core,
validation split, resume after a killed run, tokenizing later, and the CLI."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from polyglot_ko.data.pipeline import prepare

ROOT = Path(__file__).resolve().parents[2]
PII_LINES = [
    "문의는 담당자 휴대폰 010-2345-6789로 연락 주시기 바랍니다. 평일 오전 아홉 시부터 오후 여섯 시까지 상담 가능합니다.",  # noqa: E501
    "후원 계좌는 신한은행 110-234-567890 예금주 사단법인 한글사랑입니다. 여러분의 따뜻한 관심과 후원을 기다립니다.",
    "신청서에는 주민등록번호 850315-1234567을 적고 사무실 전화 02-345-6789로 접수 확인을 요청하시면 됩니다.",
]
HTML_LINE = (
    "<div><p>이번 <b>주말</b>에는 전국적으로 대체로 맑겠으며 낮기온은 평년보다 조금씩 높겠습니다.</p>"
    "<br>다만 일부 지역에서는 아침에 안개가 짙게 끼는 곳이 있어 교통안전에 유의하셔야 합니다.</div>"
)


@pytest.fixture(scope="module")
def corpus_inputs(tmp_path_factory, corpus_dir):
    folder = tmp_path_factory.mktemp("inputs")
    with gzip.open(corpus_dir / "petitions.jsonl.gz", "rt", encoding="utf-8") as f:
        petitions = [json.loads(next(f))["text"][:3000] for _ in range(60)]
    with gzip.open(corpus_dir / "nsmc-reviews.jsonl.gz", "rt", encoding="utf-8") as f:
        reviews = [json.loads(next(f))["text"] for _ in range(200)]
    near = petitions[3].replace("합니다", "하였습니다", 1) + " 감사합니다."
    texts = petitions + reviews + petitions[:5] + [near] + PII_LINES + [HTML_LINE]
    lines = [json.dumps({"id": f"doc-{i}", "text": t}, ensure_ascii=False).encode() for i, t in enumerate(texts)]
    lines[10:10] = [b'{"text": "broken json', b'{"text": "\xff\xfe"}', b'{"body": "no text field"}']
    (folder / "part1.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines[:150]) + b"\n"))
    (folder / "part2.jsonl").write_bytes(b"\n".join(lines[150:]) + b"\n")
    return folder, len(lines), near


def _run(inputs, out, **kw):
    return prepare([inputs], out, quiet=True, **kw)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, corpus_inputs, reference_tokenizer_dir):
    folder, n, near = corpus_inputs
    out = tmp_path_factory.mktemp("prepared") / "out"
    stats = _run(folder, out, tokenizer=reference_tokenizer_dir, workers=2, tasks=2, valid_fraction=0.2)
    return out, stats


def _clean_texts(out: Path) -> list[str]:
    texts = []
    for p in sorted((out / "clean").glob("*.jsonl.gz")):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    return texts


def _rejects(out: Path, reason: str) -> list[dict]:
    with gzip.open(out / "rejects" / f"{reason}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_accounting_rejects_and_masking(full_run, corpus_inputs):
    out, stats = full_run
    _, n_lines, near = corpus_inputs
    docs = stats["documents"]
    assert docs["input"] == n_lines
    assert docs["input"] == docs["kept"] + sum(docs["dropped"].values())
    for reason in ("malformed_json", "invalid_utf8", "missing_field", "too_short", "duplicate", "near_duplicate"):
        assert docs["dropped"].get(reason, 0) >= 1, reason
    assert docs["dropped"]["duplicate"] >= 5
    for reason, n in docs["dropped"].items():
        rows = _rejects(out, reason)
        assert len(rows) == n and all(r["reason"] == reason for r in rows)
    assert any(r["line"] == 11 for r in _rejects(out, "malformed_json"))
    assert near in [r["text"] for r in _rejects(out, "near_duplicate")] or _rejects(out, "near_duplicate")[0][
        "text"
    ].startswith(near[:50])
    texts = _clean_texts(out)
    assert len(texts) == docs["kept"]
    joined = "\n".join(texts)
    assert "010-2345-6789" not in joined and "850315-1234567" not in joined and "110-234-567890" not in joined
    assert stats["pii"]["tel"] >= 2 and stats["pii"]["rrn"] >= 1 and stats["pii"]["acc"] >= 1
    assert "<|tel|>로 연락" in joined
    assert "<div>" not in joined and "이번 주말에는 전국적으로" in joined
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk["documents"] == docs and on_disk["tokens"] == stats["tokens"] > 0
    assert on_disk["characters"]["input"] > on_disk["characters"]["kept"] > 0
    for step in ("read", "nfc", "html", "whitespace", "repeats", "quality", "exact_dedup", "near_dedup", "pii"):
        assert "seconds" in stats["steps"][step] and stats["steps"][step]["docs_in"] > 0


@pytest.mark.slow
def test_tokens_read_back_through_megatron_core(full_run, reference_tokenizer_dir):
    from megatron.core.datasets.indexed_dataset import IndexedDataset as MegatronIndexed

    from polyglot_ko import load_tokenizer
    from polyglot_ko.data.indexed import read_manifest, shard_prefixes

    out, stats = full_run
    tok = load_tokenizer(reference_tokenizer_dir)
    manifest = read_manifest(out)
    assert manifest["tokenizer"]["fingerprint"] == tok.fingerprint
    assert manifest["dtype"] == "uint16" and manifest.get("valid_shards")
    got = {}
    for split in ("train", "valid"):
        docs = []
        for prefix in shard_prefixes(manifest, split):
            ds = MegatronIndexed(str(prefix), multimodal=False, mmap=True)
            docs += [np.asarray(ds[i]).tolist() for i in range(len(ds))]
        got[split] = docs
    assert len(got["valid"]) >= 1 and len(got["train"]) > len(got["valid"])
    expected = sorted(tok.encode(t) + [tok.endoftext_id] for t in _clean_texts(out))
    assert sorted(got["train"] + got["valid"]) == expected
    assert all(d[-1] == 2 for d in got["train"] + got["valid"])
    assert stats["tokens"] == sum(map(len, expected)) == manifest["tokens"] + manifest["valid_tokens"]


def _snapshot(out: Path) -> dict:
    snap = {}
    for p in sorted((out / "clean").glob("*.jsonl.gz")):
        snap[p.name] = gzip.decompress(p.read_bytes())
    for p in sorted((out / "tokens").glob("*")):
        snap[p.name] = p.read_bytes()
    return snap


@pytest.mark.slow
def test_resume_after_kill_gives_the_same_output(tmp_path, full_run, corpus_inputs, reference_tokenizer_dir):
    folder, _, _ = corpus_inputs
    out = tmp_path / "resumed"
    code = (
        f"from polyglot_ko.data.pipeline import prepare\n"
        f"prepare([{str(folder)!r}], {str(out)!r}, workers=1, tasks=2, quiet=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = out / "work" / "logs" / "clean" / "completions"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if marker.exists() and any(marker.iterdir()):
            break
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the run finished before it could be killed"
    assert not (out / "stats.json").exists()
    # first resume without a tokenizer, then tokenize only: the cleaned text is reused
    _run(folder, out, workers=1, tasks=2)
    clean_mtimes = {p: p.stat().st_mtime_ns for p in (out / "clean").glob("*.jsonl.gz")}
    stats = _run(folder, out, workers=1, tasks=2, tokenizer=reference_tokenizer_dir, valid_fraction=0.2)
    assert {p: p.stat().st_mtime_ns for p in (out / "clean").glob("*.jsonl.gz")} == clean_mtimes
    full_out, full_stats = full_run
    assert stats["documents"] == full_stats["documents"] and stats["pii"] == full_stats["pii"]
    assert _snapshot(out) == _snapshot(full_out)
    from polyglot_ko.errors import UserError

    with pytest.raises(UserError, match="different settings.*near_dedup_threshold"):
        _run(folder, out, workers=1, tasks=2, near_dedup_threshold=0.7)


def test_cli_errors(tmp_path, corpus_inputs):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "prepare",
            "--input",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "no such file" in r.stderr
    folder, _, _ = corpus_inputs
    with pytest.raises(Exception, match="valid-fraction"):
        prepare([folder], tmp_path / "o", valid_fraction=1.5)
    with pytest.raises(Exception, match="unknown prepare option"):
        prepare([folder], tmp_path / "o", colour="blue")


def test_cli_prepare_runs_and_prints_a_summary(tmp_path, corpus_dir):
    with gzip.open(corpus_dir / "korsts.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = [next(f) for _ in range(40)]
    src = tmp_path / "in.txt"
    src.write_text(
        "".join(json.loads(x)["text"] + "\n" for x in lines) + "문의 010-1234-5678로 연락 바랍니다\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "prepare",
            "--input",
            str(src),
            "--out",
            str(out),
            "--workers",
            "1",
            "--min-chars",
            "5",
            "--min-mean-word-length",
            "2",
            "--no-near-dedup",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["documents"]["input"] == 41 and stats["pii"]["tel"] == 1
    assert stats["options"]["quality"]["min_mean_word_length"] == 2 and not stats["options"]["near_dedup"]
    assert f"documents: 41 in, {stats['documents']['kept']} kept" in r.stderr
    assert "PII masked: tel 1" in r.stderr


def test_stages_run_by_an_outside_executor_then_prepare_only_tokenizes(
    tmp_path, corpus_inputs, reference_tokenizer_dir
):
    """The cluster recipe: build_stages + datatrove executors (local here, Slurm/Ray alike), then prepare."""
    from datatrove.executor import LocalPipelineExecutor

    from polyglot_ko.data.pipeline import build_stages

    folder, n_lines, _ = corpus_inputs
    out = tmp_path / "outside"
    previous = None
    for name, blocks, tasks in build_stages([str(folder)], out, 2):
        previous = LocalPipelineExecutor(
            pipeline=blocks, tasks=tasks, workers=1, depends=previous, logging_dir=str(out / "work" / "logs" / name)
        )
    previous.run()  # runs its dependencies first, as Slurm would in order
    clean_before = {p.name: p.read_bytes() for p in (out / "clean").glob("*.jsonl.gz")}
    assert len(clean_before) == 2
    stats = prepare([folder], out, tokenizer=reference_tokenizer_dir, workers=1, tasks=2, quiet=True)
    assert {p.name: p.read_bytes() for p in (out / "clean").glob("*.jsonl.gz")} == clean_before
    assert stats["documents"]["input"] == n_lines and stats["tokens"] > 0
