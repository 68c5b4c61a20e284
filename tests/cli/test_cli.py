"""The console script: every subcommand is listed, user mistakes are one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys

from polyglot_ko.cli import SUBCOMMANDS


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "polyglot_ko.cli", *args], capture_output=True, text=True)


def test_help_lists_every_subcommand():
    proc = _cli("--help")
    assert proc.returncode == 0
    for name in SUBCOMMANDS:
        assert name in proc.stdout


def test_every_subcommand_module_has_the_cli_contract():
    import importlib

    for name, (module_name, _help) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run), name


def test_unknown_preset_is_a_one_line_error():
    proc = _cli("info", "polyglot-ko-99b")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "unknown model preset 'polyglot-ko-99b'" in proc.stderr and "Traceback" not in proc.stderr


def test_info_prints_card_counts():
    proc = _cli("info", "polyglot-ko-1.3b")
    assert proc.returncode == 0 and "1,331,810,304" in proc.stdout


def test_public_api_names_resolve_lazily():
    import subprocess
    import sys

    code = (
        "import sys, polyglot_ko as pk; assert 'torch' not in sys.modules; pk.mask_pii('x'); "
        "assert 'torch' not in sys.modules, 'mask_pii must not import torch'; "
        "[getattr(pk, n) for n in pk.__all__]"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# The spellings the README and users' scripts rely on, and the parameters they reach.
SPELLINGS = {
    "generate": (
        [
            "--model",
            "M",
            "--file",
            "F",
            "--max-new-tokens",
            "5",
            "--stop",
            "a",
            "--stop",
            "b",
            "--stop-token-id",
            "3",
            "-i",
            "--no-prompt",
            "--batch-size",
            "4",
            "--quantize",
            "int8",
            "p1",
            "p2",
        ],
        {
            "path_or_hub_id": "M",
            "file": "F",
            "max_new_tokens": 5,
            "stop": ["a", "b"],
            "stop_token_ids": [3],
            "interactive": True,
            "no_prompt": True,
            "max_batch_size": 4,
            "quantize": "int8",
            "prompts": ["p1", "p2"],
            "temperature": 0.0,
        },
    ),
    "serve": (
        [
            "--model",
            "M",
            "--max-batch-size",
            "8",
            "--max-tokens-limit",
            "64",
            "--served-model-name",
            "x",
            "--port",
            "9",
            "--api-key",
            "K",
            "--shutdown-timeout",
            "2",
        ],
        {
            "path_or_hub_id": "M",
            "max_batch_size": 8,
            "max_tokens": 64,
            "model_name": "x",
            "port": 9,
            "api_key": "K",
            "shutdown_timeout": 2.0,
            "host": "127.0.0.1",
            "max_prompt_tokens": None,
        },
    ),
    "chat": (
        ["M", "--adapter", "A", "--system", "S", "--temperature", "0.7", "--max-new-tokens", "9", "--stop", "x"],
        {
            "path_or_hub_id": "M",
            "adapter": "A",
            "system": "S",
            "temperature": 0.7,
            "max_new_tokens": 9,
            "stop": ["x"],
            "repetition_penalty": 1.0,
        },
    ),
    "pretrain": (
        [
            "-c",
            "cpu-tiny",
            "--resume",
            "auto",
            "--export-hf",
            "D",
            "-o",
            "O",
            "--max-steps",
            "3",
            "--data",
            "A",
            "B",
            "optim.lr=1",
        ],
        {
            "config": "cpu-tiny",
            "resume": "auto",
            "export_hf": "D",
            "out": "O",
            "max_steps": 3,
            "data": ["A", "B", "optim.lr=1"],
            "overrides": (),
            "print_config": False,
        },
    ),
    "finetune": (
        ["-m", "M", "--data", "a.jsonl", "ko-instruct", "-o", "O", "-c", "sft-lora-cpu-tiny", "--method", "full"]
        + ["--max-steps", "5", "finetune.lora_r=4"],
        {
            "model": "M",
            "data": ["a.jsonl", "ko-instruct"],
            "overrides": ["finetune.lora_r=4"],
            "out": "O",
            "config": "sft-lora-cpu-tiny",
            "method": "full",
            "max_steps": 5,
            "print_config": False,
        },
    ),
    "merge": (
        ["B", "A", "O", "--dtype", "bfloat16", "--overwrite"],
        {"base": "B", "adapter": "A", "out": "O", "dtype": "bfloat16", "overwrite": True},
    ),
    "evaluate": (
        [
            "--model",
            "M",
            "--tasks",
            "kobest_copa",
            "--shots",
            "5",
            "--perplexity",
            "a",
            "b",
            "--no-prefix-reuse",
            "--data-dir",
            "K",
            "--adapter",
            "A",
        ],
        {
            "model": "M",
            "adapter": "A",
            "tasks": "kobest_copa",
            "shots": "5",
            "texts_or_paths": ["a", "b"],
            "prefix_reuse": False,
            "data_dir": "K",
            "batch_size": 32,
        },
    ),
    "prepare": (
        [
            "-i",
            "a",
            "b",
            "-o",
            "O",
            "--no-pii",
            "--no-cards",
            "--min-chars",
            "5",
            "--txt-mode",
            "block",
            "--no-near-dedup",
            "--no-quality-filter",
        ],
        {
            "inputs": ["a", "b"],
            "out": "O",
            "mask_pii": False,
            "mask_cards": False,
            "min_chars": 5,
            "txt_mode": "block",
            "near_dedup": False,
            "exact_dedup": True,
            "no_quality_filter": True,
            "workers": 2,
        },
    ),
    "mask-pii": (
        ["--jsonl", "--no-cards", "--types", "tel", "f1"],
        {"jsonl": True, "cards": False, "types": "tel", "files": ["f1"], "text_field": "text"},
    ),
    "convert": (
        ["S", "D", "--dtype", "bfloat16", "--max-shard-size", "1GB"],
        {"source": "S", "dest": "D", "dtype": "bfloat16", "max_shard_size": "1GB"},
    ),
    "info": (["polyglot-ko-1.3b"], {"model": "polyglot-ko-1.3b"}),
    "export-gguf": (["M", "O.gguf", "--type", "q8_0"], {"model_dir": "M", "out": "O.gguf", "type": "q8_0"}),
    "push": (
        ["M", "user/name", "--private", "--revision", "dev"],
        {"model_dir": "M", "repo_id": "user/name", "private": True, "revision": "dev"},
    ),
    "train-tokenizer": (
        ["--input", "a", "b", "--out", "O", "--no-morpheme", "--quiet", "--analysis", "word", "--vocab-size", "8000"],
        {
            "inputs": ["a", "b"],
            "out": "O",
            "morpheme_aware": False,
            "show_progress": False,
            "analysis": "word",
            "vocab_size": 8000,
            "min_frequency": 2,
        },
    ),
    "quickstart": (
        ["--fast", "--corpus", "a", "b", "--kobest-limit", "3", "--out", "Q"],
        {"fast": True, "corpus": ["a", "b"], "kobest_limit": 3, "out": "Q", "force": False},
    ),
}


def test_every_command_keeps_its_flag_spellings():
    import importlib

    from polyglot_ko.cli._args import new_parser

    assert set(SPELLINGS) == set(SUBCOMMANDS)
    for name, (argv, expected) in SPELLINGS.items():
        parser = new_parser(f"polyglot-ko {name}", "")
        importlib.import_module(SUBCOMMANDS[name][0]).add_arguments(parser)
        args = parser.parse_args(argv).as_dict()
        assert {k: args.get(k) for k in expected} == expected, name


def test_bad_flag_values_are_usage_errors_naming_the_flag():
    proc = _cli("generate", "--model", "M", "--max-new-tokens", "many")
    assert proc.returncode == 2 and "argument --max-new-tokens: invalid value 'many'" in proc.stderr
    proc = _cli("prepare", "--input", "a", "--out", "o", "--txt-mode", "page")
    assert proc.returncode == 2 and "--txt-mode" in proc.stderr and "invalid choice" in proc.stderr
