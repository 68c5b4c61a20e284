"""Fine-tuning end to end on the tiny model and the bundled Korean set: LoRA and full lower the held-out loss, the
exports load and give the trainer's validation loss, micro-batching does not change the loss, kill -9 + resume
is bitwise identical, merge equals base + adapter, bad input fails cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from polyglot_ko import UserError, load_model
from polyglot_ko.finetune.data import load_examples, split_examples
from polyglot_ko.finetune.train import finetune
from polyglot_ko.train.metrics import read_metrics
from polyglot_ko.train.train_state import KILL_ENV, list_checkpoints

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("peft")
QUIET = {"logging.progress": False, "logging.tensorboard": False, "parallel.num_threads": 1}


def run(out, base, method="lora", data="ko-instruct", **more):
    return finetune(model=base, data=data, out=out, config=f"sft-{method}-cpu-tiny", **{**QUIET, **more})


def cli(*args, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "polyglot_ko.cli", *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def valid_losses(out: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_metrics(out / "metrics.jsonl") if r.get("split") == "valid"]


def held_out_loss(model, tokenizer_dir, seed=1234, fraction=0.1) -> float:
    """Mean answer-token loss of the held-out examples, each run alone through the model's forward."""
    examples, _ = load_examples("ko-instruct", tokenizer_dir, max_length=256)
    _, valid = split_examples(examples, fraction, seed)
    total = count = 0.0
    with torch.no_grad():
        for e in valid:
            logits = model(torch.tensor([e.input_ids])).logits[0, :-1]
            labels = torch.tensor(e.labels[1:])
            total += F.cross_entropy(logits, labels, ignore_index=-100, reduction="sum").item()
            count += int((labels != -100).sum())
    return total / count


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "lora"
    return out, run(out, tiny_model_dir, max_steps=30, **{"train.valid_every": 15})


@pytest.mark.slow
def test_lora_lowers_validation_loss_and_the_adapter_reproduces_it(lora_run, tiny_model_dir):
    out, summary = lora_run
    valid = valid_losses(out)
    assert [s for s, _ in valid] == [0, 15, 30]
    assert valid[-1][1] < valid[0][1] - 0.05, valid
    assert summary["method"] == "lora" and summary["adapter"] == str(out / "adapter")
    assert 0 < summary["trainable_parameters"] < 0.01 * summary["parameters"]
    # The adapter folder: peft's files plus the tokenizer with the chat template.
    adapter = out / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["base_model_name_or_path"] == str(tiny_model_dir.resolve())
    assert "### 답변:" in json.loads((adapter / "tokenizer_config.json").read_text())["chat_template"]
    # base + adapter, loaded as users load it, gives the trainer's final validation loss (independently computed)
    # and the untrained base gives its step-0 loss.
    tuned = held_out_loss(load_model(tiny_model_dir, adapter=adapter), tiny_model_dir)
    assert tuned == pytest.approx(summary["final_valid_loss"], rel=1e-5)
    assert held_out_loss(load_model(tiny_model_dir), tiny_model_dir) == pytest.approx(valid[0][1], rel=1e-5)
    stats = json.loads((out / "data_stats.json").read_text())
    assert stats["records"] == 252 == stats["kept"] + sum(stats["dropped"].values())
    assert summary["examples"] == {"train": 227, "valid": 25}
    assert (out / "loss.png").stat().st_size > 1000
    # The LoRA checkpoint holds the LoRA weights and their optimizer state only, not the frozen base.
    from torch.distributed.checkpoint import FileSystemReader

    keys = FileSystemReader(str(out / "checkpoints" / "step_000030")).read_metadata().state_dict_metadata
    model_keys = [k for k in keys if k.startswith("model.")]
    assert model_keys and all(".lora_" in k for k in model_keys)


@pytest.mark.slow
def test_full_finetuning_lowers_validation_loss_and_exports_a_model(tmp_path, tiny_model_dir):
    transformers = pytest.importorskip("transformers")
    out = tmp_path / "full"
    summary = run(out, tiny_model_dir, "full", max_steps=30, **{"train.valid_every": 15})
    valid = valid_losses(out)
    assert [s for s, _ in valid] == [0, 15, 30] and valid[-1][1] < valid[0][1] - 1.0, valid
    assert summary["hf_model"] == str(out / "model") and summary["trainable_parameters"] == summary["parameters"]
    assert held_out_loss(load_model(out / "model"), tiny_model_dir) == pytest.approx(summary["final_valid_loss"], 1e-5)
    hf = transformers.AutoTokenizer.from_pretrained(out / "model")
    text = hf.apply_chat_template([{"role": "user", "content": "안녕"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("### 답변:")


def test_micro_batches_and_padding_do_not_change_the_step_loss(tmp_path, tiny_model_dir):
    """The loss is the mean over a step's trained tokens, whatever the micro-batch split (unpacked rows: the
    micro-batches hold very different numbers of answer tokens, so a mean of means would differ)."""
    common = {"max_steps": 3, "finetune.packing": False, "checkpoint.export_hf": "never", "logging.plot": False}
    run(tmp_path / "one", tiny_model_dir, "full", **common, **{"train.micro_batch_size": 8})
    run(tmp_path / "four", tiny_model_dir, "full", **common, **{"train.micro_batch_size": 2})
    a = [r for r in read_metrics(tmp_path / "one" / "metrics.jsonl") if r.get("split") != "valid"]
    b = [r for r in read_metrics(tmp_path / "four" / "metrics.jsonl") if r.get("split") != "valid"]
    assert len(a) == len(b) == 3
    for x, y in zip(a, b, strict=True):
        assert x["loss"] == pytest.approx(y["loss"], rel=1e-6) and x["grad_norm"] == pytest.approx(y["grad_norm"], 1e-5)


@pytest.mark.slow
def test_kill9_mid_checkpoint_then_resume_is_bitwise_identical(tmp_path, tiny_model_dir):
    # LoRA with dropout: the resumed run must also restore the RNG to draw the same dropout masks.
    steps = {"max_steps": 10, "optim.decay_steps": 10, "finetune.lora_dropout": 0.1, "checkpoint.export_hf": "never"}
    run(tmp_path / "ref", tiny_model_dir, **steps)
    out = tmp_path / "run"
    args = ["finetune", "-c", "sft-lora-cpu-tiny", "--model", tiny_model_dir, "--data", "ko-instruct", "--out", out]
    over = [f"{k}={v}" for k, v in {**QUIET, **steps, "checkpoint.save_every": 4}.items() if k != "max_steps"]
    p = cli(*args, "--max-steps", 10, *over, env={KILL_ENV: "8"})
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [4]
    assert (out / "checkpoints" / ".step_000008.tmp").is_dir()
    summary = run(out, tiny_model_dir, **steps)
    assert summary["steps"] == 10

    def key(path):
        return [(r["step"], r.get("split"), r["loss"], r.get("grad_norm")) for r in read_metrics(path)]

    assert key(out / "metrics.jsonl") == key(tmp_path / "ref" / "metrics.jsonl")


@pytest.mark.slow
def test_two_processes_under_torchrun_equal_one(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    steps = {"train.micro_batch_size": 2, "optim.decay_steps": 6, "logging.plot": False}
    run(tmp_path / "one", tiny_model_dir, max_steps=6, **steps)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "polyglot_ko.cli", "finetune", "-c", "sft-lora-cpu-tiny", "--model", str(tiny_model_dir)]
    cmd += ["--data", "ko-instruct", "--out", str(tmp_path / "two"), "--max-steps", "6"]
    cmd += [f"{k}={v}" for k, v in {**QUIET, **steps}.items() if k != "parallel.num_threads"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=400, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "2 process(es) on cpu, float32, FSDP2, 2 micro-batch(es)/step" in p.stderr

    def losses(out):
        return [(r["step"], r.get("split"), r["loss"]) for r in read_metrics(out / "metrics.jsonl")]

    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [x[:2] for x in one] == [x[:2] for x in two] and len(one) == 6 + 2
    for x, y in zip(one, two, strict=True):
        assert y[2] == pytest.approx(x[2], rel=1e-5), (x, y)
    a = load_file(str(tmp_path / "one" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "two" / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and len(a) == 16
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6)


def test_merge_command_equals_base_plus_adapter(lora_run, tiny_model_dir, tmp_path):
    out, _ = lora_run
    p = cli("merge", "-", out / "adapter", tmp_path / "merged")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    ids = torch.randint(3, 30000, (2, 20), generator=torch.Generator().manual_seed(0))
    unmerged = load_model(tiny_model_dir, adapter=out / "adapter", merge_adapter=False)
    base = load_model(tiny_model_dir)
    with torch.no_grad():
        want = unmerged(ids).logits
        got = load_model(tmp_path / "merged")(ids).logits
        assert (want - base(ids).logits).abs().max() > 1e-3  # the adapter changes the model
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert (tmp_path / "merged" / "tokenizer.json").is_file()


def test_bad_records_are_counted_and_bad_input_fails_before_writing(tmp_path, tiny_model_dir):
    good = {"instruction": "인사해 주세요.", "output": "안녕하세요."}
    lines = [json.dumps(good, ensure_ascii=False)] * 3 + ['{"instruction": "빈 답", "output": " "}', "not json"]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "ok"
    run(out, tiny_model_dir, data=str(data), max_steps=1, **{"checkpoint.export_hf": "never"})
    stats = json.loads((out / "data_stats.json").read_text())
    assert stats["records"] == 5 and stats["kept"] == 3 and stats["dropped"] == {"empty_answer": 1, "malformed": 1}

    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"instruction": "질문", "output": ""}\n', encoding="utf-8")
    cases = [
        ({"method": "bogus"}, "finetune.method='bogus': choose one of full, lora, qlora"),
        ({"model": None}, "no base model given; pass --model BASE"),
        ({"data": str(empty)}, "no record is usable"),
        ({"finetune.lora_targets": "query"}, "'query' is not a GPT-NeoX linear layer"),
        ({"finetune.max_length": 4}, "finetune.max_length=4: must be at least 8"),
        ({"model.hidden_size": 128}, "model.hidden_size: the architecture comes from the base model"),
        ({"model": str(tmp_path / "missing")}, "does not exist"),
    ]
    if not torch.cuda.is_available():
        cases.append(({"method": "qlora"}, "QLoRA.*needs bitsandbytes with a CUDA GPU"))
    bad = tmp_path / "bad"
    for change, message in cases:
        kw = {"out": bad, "model": tiny_model_dir, "data": "ko-instruct", **QUIET, **change}
        with pytest.raises(UserError, match=message) as e:
            finetune(config="sft-lora-cpu-tiny", **kw)
        assert "\n" not in str(e.value)
        assert not bad.exists()
    # The CLI: exit status 2, one `error:` line, nothing written.
    p = cli("finetune", "--model", tiny_model_dir, "--data", data, "--out", bad, "finetune.method=bogus")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and err.startswith("error: finetune.method=") and err.strip().count("\n") == 0
    p = cli("finetune", "-c", "no-such-recipe", "--model", tiny_model_dir, "--data", data, "--out", bad)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "no-such-recipe does not exist" in err and not bad.exists()
