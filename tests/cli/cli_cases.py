"""Hostile command lines for every subcommand (shared by tests/cli/test_fuzz_cli.py): the cases hostile testing found,
as classes of defect, plus seeded generated ones."""

from __future__ import annotations

import json
import random
from pathlib import Path


def prepare_files(tmp: Path, model_dir: Path) -> dict[str, Path]:
    """Bad inputs on disk: non-UTF-8 text, a binary recipe, bad recipes, a file standing where a folder must be."""
    files = {
        "nonutf8": tmp / "prompts-latin1.txt",
        "regular": tmp / "a-file.txt",
        "folder": tmp / "a-folder",
        "binary_recipe": tmp / "binary.yaml",
        "beta_recipe": tmp / "beta.yaml",
        "huge_batch": tmp / "huge.yaml",
        "list_recipe": tmp / "list.yaml",
        "jsonl": tmp / "prompts.jsonl",
        "existing_out": tmp / "existing-model",
    }
    files["nonutf8"].write_bytes("안녕".encode("euc-kr") + b"\xff\xfe\n")
    files["regular"].write_text("x\n")
    files["folder"].mkdir(exist_ok=True)
    files["binary_recipe"].write_bytes(bytes(range(256)) * 4)
    files["beta_recipe"].write_text("extends: cpu-tiny\noptim:\n  beta1: 1.5\n")
    files["huge_batch"].write_text("extends: cpu-tiny\ndata:\n  global_batch_size: 1.0e+20\n")
    files["list_recipe"].write_text("- 1\n- 2\n")
    files["jsonl"].write_text(json.dumps({"prompt": "가"}) + "\n" + "{not json\n")
    files["existing_out"].mkdir(exist_ok=True)
    (files["existing_out"] / "keep.txt").write_text("user data")
    files["model"] = model_dir
    return files


def fixed_cases(f: dict[str, Path]) -> list[list[str]]:
    m, under_file = str(f["model"]), str(f["regular"] / "out")
    g = ["generate", "--model", m, "--max-new-tokens", "2"]
    return [
        # generate: inputs, flags, devices, outputs
        g + ["--file", str(f["nonutf8"])],
        g + ["\ud800 lone surrogate"],
        g + ["가", "--seed", str(2**70)],
        g + ["가", "--seed", "-1"],
        g + ["가", "--threads", "-2"],
        g + ["가", "--device", "cuda"],
        g + ["가", "--device", "tpu:7"],
        g + ["가", "--device", "nonsense"],
        g + ["가", "--batch-size", "0"],
        g + ["가", "--batch-size", "-1"],
        g + ["가", "--temperature", "nan"],
        g + ["가", "--top-p", "inf"],
        g + ["가", "--output", under_file],
        g + ["가", "--output", str(f["folder"])],
        g + ["--file", str(f["folder"])],
        g + ["--file", str(f["jsonl"])],
        g + ["--file", "/nonexistent/prompts.txt"],
        ["generate", "--model", str(f["regular"]), "가"],
        ["generate", "--model", str(f["folder"]), "가"],
        # convert
        ["convert", m, m],
        ["convert", m, str(f["existing_out"])],
        ["convert", m, under_file],
        ["convert", m, str(f["folder"] / "x"), "--max-shard-size", "lots"],
        ["convert", m, str(f["folder"] / "y"), "--dtype", "int3"],
        # evaluate
        ["evaluate", "--model", m, "--perplexity", "/nonexistent.jsonl"],
        ["evaluate", "--model", m, "--perplexity", str(f["jsonl"]), "--stride", "0"],
        ["evaluate", "--model", m, "--perplexity", str(f["jsonl"]), "--max-length", "0"],
        ["evaluate", "--model", m, "--perplexity", str(f["jsonl"]), "--max-batch-tokens", "0"],
        ["evaluate", "--model", m, "--tasks", "0"],
        ["evaluate", "--model", m, "--shots", "-1"],
        ["evaluate", "--model", m, "--limit", "-5", "--data-dir", str(f["folder"])],
        ["evaluate", "--model", m, "--batch-size", "0"],
        ["evaluate", "--model", m, "--output", under_file, "--perplexity", str(f["jsonl"])],
        # prepare
        ["prepare", "--input", str(f["jsonl"]), "--out", str(f["folder"] / "p1"), "--workers", "0"],
        [
            "prepare",
            "--input",
            str(f["jsonl"]),
            "--out",
            str(f["folder"] / "p2"),
            "--min-chars",
            "500",
            "--max-chars",
            "10",
        ],
        ["prepare", "--input", str(f["jsonl"]), "--out", str(f["folder"] / "p3"), "--min-korean-ratio", "-3"],
        ["prepare", "--input", str(f["jsonl"]), "--out", under_file],
        ["prepare", "--input", str(f["jsonl"]), "--out", str(f["folder"] / "p4"), "--tokenizer", str(f["regular"])],
        ["prepare", "--input", "/nonexistent/*.jsonl", "--out", str(f["folder"] / "p5")],
        # pretrain
        ["pretrain", "--config", str(f["binary_recipe"]), "--print-config"],
        ["pretrain", "--config", str(f["beta_recipe"]), "--print-config"],
        ["pretrain", "--config", str(f["huge_batch"]), "--print-config"],
        ["pretrain", "--config", str(f["list_recipe"]), "--print-config"],
        ["pretrain", "--config", "cpu-tiny", "optim.lr=-1", "--out", str(f["folder"] / "run1")],
        ["pretrain", "--config", "cpu-tiny", "data.seq_len=0", "--out", str(f["folder"] / "run2")],
        ["pretrain", "--config", str(f["beta_recipe"]), "--out", str(f["folder"] / "run3")],
        ["pretrain", "--config", "cpu-tiny", "--out", under_file],
        ["pretrain", "--export-hf", str(f["folder"]), "--out", str(f["folder"] / "hf")],
        # the rest
        ["mask-pii", str(f["folder"])],
        ["mask-pii", str(f["nonutf8"])],
        ["train-tokenizer", "--input", str(f["jsonl"]), "--out", under_file, "--vocab-size", "300"],
        ["train-tokenizer", "--input", str(f["jsonl"]), "--out", str(f["folder"] / "t"), "--vocab-size", "-4"],
        ["quickstart", "--out", under_file, "--fast"],
        ["info", str(f["regular"])],
        ["info", "no-such-preset"],
    ]


NUMERIC_FLAGS = {
    "generate": [
        "--max-new-tokens",
        "--temperature",
        "--top-k",
        "--top-p",
        "--repetition-penalty",
        "--no-repeat-ngram-size",
        "--seed",
        "--batch-size",
        "--threads",
    ],
    "evaluate": ["--limit", "--batch-size", "--max-batch-tokens", "--max-length", "--stride", "--max-documents"],
}
HOSTILE_NUMBERS = [
    "0",
    "-1",
    "-0",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "2.5",
    "99999999999999999999999",
    "1e-320",
    "",
    "x",
    "0x10",
    "True",
]


def generated_cases(f: dict[str, Path], seed: int = 7, count: int = 40) -> list[list[str]]:
    rng = random.Random(seed)
    m = str(f["model"])
    base = {
        "generate": ["generate", "--model", m, "가", "--max-new-tokens", "2"],
        "evaluate": ["evaluate", "--model", m, "--perplexity", str(f["jsonl"])],
    }
    cases = []
    for _ in range(count):
        cmd = rng.choice(sorted(NUMERIC_FLAGS))
        argv = list(base[cmd])
        for flag in rng.sample(NUMERIC_FLAGS[cmd], k=rng.randint(1, 2)):
            argv += [flag, rng.choice(HOSTILE_NUMBERS)]
        cases.append(argv)
    return cases
