"""Single-process pretraining end to end on real Korean data: learning, exact resume, exports, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from polyglot_ko.errors import UserError
from polyglot_ko.train import pretrain
from polyglot_ko.train.metrics import read_metrics
from polyglot_ko.train.train_state import KILL_ENV, list_checkpoints

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "cpu-tiny.yaml"


def tiny(out, data, tokenizer=None, **more):
    """cpu-tiny shrunk further: 2 blocks, 4 sequences of 32 tokens per step in 2 micro-batches (accumulation)."""
    kw = {
        "out": str(out),
        "data": [str(data)],
        "model.num_hidden_layers": 2,
        "data.seq_len": 32,
        "train.global_batch_size": 4,
        "train.micro_batch_size": 2,
        "optim.lr": 3e-3,
        "optim.warmup_steps": 2,
        "logging.progress": False,
        "logging.tensorboard": False,
        "train.valid_batches": 2,
        # one thread: on a shared 2-core box two spinning OpenMP threads per test are several times slower
        "parallel.num_threads": 1,
    }
    if tokenizer is not None:
        kw["tokenizer"] = str(tokenizer)
    kw.update(more)
    return kw


def cli(args, env=None, **popen):
    return subprocess.Popen(
        [sys.executable, "-m", "polyglot_ko.cli", "pretrain", *map(str, args)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def cli_args(kw: dict) -> list[str]:
    args = ["--config", RECIPE, "--out", kw.pop("out"), "--data", *kw.pop("data")]
    if "tokenizer" in kw:
        args += ["--tokenizer", kw.pop("tokenizer")]
    for short in ("max_steps", "save_every"):
        if short in kw:
            args += [f"--{short.replace('_', '-')}", kw.pop(short)]
    return args + [f"{k}={v}" for k, v in kw.items()]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
def test_loss_decreases_and_mid_training_export_loads_in_transformers(
    tmp_path, train_data_dir, reference_tokenizer_dir
):
    transformers = pytest.importorskip("transformers")
    out = tmp_path / "run"
    summary = pretrain(
        RECIPE,
        **tiny(
            out,
            train_data_dir,
            reference_tokenizer_dir,
            max_steps=40,
            save_every=20,
            **{"train.valid_every": 20, "logging.tensorboard": True},
        ),
    )
    recs = read_metrics(out / "metrics.jsonl")
    train = [r for r in recs if r.get("split") != "valid"]
    valid = [r for r in recs if r.get("split") == "valid"]
    assert [r["step"] for r in train] == list(range(1, 41))
    assert all({"loss", "lr", "grad_norm", "tokens_per_s", "mfu"} <= r.keys() for r in train)
    first, last = sum(r["loss"] for r in train[:5]) / 5, sum(r["loss"] for r in train[-5:]) / 5
    assert last < first - 1.0, (first, last)  # 10.3 nats (uniform over 30k ids) -> well below
    assert [r["step"] for r in valid] == [20, 40] and valid[1]["loss"] < valid[0]["loss"]
    assert summary["steps"] == 40 and summary["final_valid_loss"] == valid[1]["loss"]
    assert summary["tokens_per_s"] > 0 and summary["mfu"] > 0
    assert (out / "loss.png").stat().st_size > 1000 and list((out / "tensorboard").iterdir())
    assert summary["hf_model"] == str(out / "model")

    # The export written with the step-20 checkpoint: transformers loads it (with our tokenizer) and its logits
    # equal our model's with the weights restored from the sharded DCP checkpoint of the same step.
    import torch.distributed.checkpoint as dcp

    from polyglot_ko.model import build_model
    from polyglot_ko.train.loss import CausalLMTrainingModule

    hf_dir = out / "hf" / "step_000020"
    assert (hf_dir / "tokenizer.json").is_file()
    ours = CausalLMTrainingModule(build_model(json.loads((out / "model_config.json").read_text()), seed=1))
    state = {"model": ours.state_dict()}
    dcp.load(state, checkpoint_id=str(out / "checkpoints" / "step_000020"), no_dist=True)
    ours.load_state_dict(state["model"])
    hf = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    ids = torch.tensor([tok("대한민국의 수도는 서울이다. 영화가 정말 재미있었어요")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, ours.model.eval()(ids).logits, rtol=1e-5, atol=1e-5)
    # On request, from the checkpoint alone (CLI): the same weights.
    p = cli(["--export-hf", out / "checkpoints" / "step_000020", "--out", tmp_path / "exported"])
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    again = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "exported", dtype=torch.float32)
    assert (tmp_path / "exported" / "tokenizer.json").is_file()  # the recipe's tokenizer, from meta.json
    with torch.no_grad():
        assert torch.equal(again(ids).logits, hf(ids).logits)
    # and it is not the final model: training went on after step 20
    final = transformers.AutoModelForCausalLM.from_pretrained(out / "model", dtype=torch.float32)
    with torch.no_grad():
        assert not torch.allclose(final(ids).logits, hf(ids).logits, atol=1e-3)


@pytest.mark.slow
def test_kill9_mid_checkpoint_and_sigterm_then_resume_is_bitwise_identical(tmp_path, train_data_dir):
    steps = {"max_steps": 12, "optim.decay_steps": 12, "checkpoint.export_hf": "never"}
    ref = pretrain(RECIPE, **tiny(tmp_path / "ref", train_data_dir, **steps))
    ref_recs = read_metrics(tmp_path / "ref" / "metrics.jsonl")

    out = tmp_path / "run"
    # 1) kill -9 in the middle of writing the step-8 checkpoint (shards written, not yet renamed into place).
    p = cli(cli_args(tiny(out, train_data_dir, **steps, save_every=4)), env={KILL_ENV: "8"})
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [4]
    assert (out / "checkpoints" / ".step_000008.tmp").is_dir()  # the cut save, ignored by resume

    # 2) resume (auto), then SIGTERM: it saves a checkpoint at the step it is in and exits cleanly.
    p = cli(cli_args(tiny(out, train_data_dir, **steps, save_every=100)))
    # metrics.jsonl still lists the killed run's steps 5-8 until the resumed run drops them: wait for that,
    # then for the resumed run's step 6.
    deadline, truncated = time.time() + 240, False
    while time.time() < deadline and p.poll() is None:
        top = max((r["step"] for r in read_metrics(out / "metrics.jsonl")), default=0)
        truncated = truncated or top <= 5
        if truncated and top >= 6:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert "resuming from" in err and "step_000004" in err
    saved = [s for s, _ in list_checkpoints(out / "checkpoints")]
    assert 6 <= saved[-1] < 12, (saved, err)
    assert not (out / "checkpoints" / ".step_000008.tmp").exists()

    # 3) resume in this process to the end: every step's loss and gradient norm equal the uninterrupted run's.
    summary = pretrain(RECIPE, **tiny(out, train_data_dir, **steps))
    assert summary["steps"] == 12 and summary["final_train_loss"] == ref["final_train_loss"]
    recs = read_metrics(out / "metrics.jsonl")

    def key(rs):
        return [(r["step"], r.get("split"), r["loss"], r.get("grad_norm")) for r in rs]

    assert key(recs) == key(ref_recs)
    # keep_last=2: only the two newest checkpoints remain
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [saved[-1], 12]


def test_bad_configs_fail_before_training(tmp_path, train_data_dir, other_tokenizer_data, reference_tokenizer_dir):
    out = tmp_path / "run"
    cases = [
        ({"model.preset": "polyglot-ko-2b"}, "unknown preset 'polyglot-ko-2b'"),
        ({"train.global_batch_size": 6, "train.micro_batch_size": 4}, "not divisible by train.micro_batch_size=4"),
        ({"data": [str(tmp_path / "missing")]}, "missing.*does not exist"),
        ({"data": [str(other_tokenizer_data)]}, "made with another tokenizer"),
        ({"data": [str(train_data_dir), str(other_tokenizer_data)], "tokenizer": None}, "different tokenizer than"),
        ({"model.vocab_size": 1000, "model.tokenizer_vocab_size": 1000}, "smaller than the data's tokenizer"),
    ]
    for change, message in cases:
        kw = tiny(out, train_data_dir, reference_tokenizer_dir, max_steps=5)
        kw.update(change)
        if kw.get("tokenizer", "") is None:
            del kw["tokenizer"]
        with pytest.raises(UserError, match=message):
            pretrain(RECIPE, **kw)
        assert not (out / "metrics.jsonl").exists() and not (out / "checkpoints").exists()
    # Through the CLI: exit status 2 and one `error:` line naming the input and the fix, no traceback.
    p = cli(cli_args(tiny(out, other_tokenizer_data, reference_tokenizer_dir, max_steps=5)))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2
    assert err.strip().count("\n") == 0 and err.startswith("error: data path") and "re-run `polyglot-ko prepare`" in err


def test_non_finite_steps_are_skipped_counted_and_stop_the_run(tmp_path, train_data_dir):
    from polyglot_ko.train.loop import Trainer, TrainingStopped, resolve_config

    cfg = resolve_config(
        RECIPE,
        **tiny(
            tmp_path / "run",
            train_data_dir,
            **{"train.max_steps": 6, "train.max_bad_steps": 3, "checkpoint.export_hf": "never"},
        ),
    )
    trainer = Trainer(cfg)
    weight = trainer.model.gpt_neox.layers[0].mlp.dense_h_to_4h.weight
    with torch.no_grad():
        weight[0, 0] = float("inf")  # every forward now produces a non-finite loss
    with pytest.raises(TrainingStopped, match="3 consecutive steps had a non-finite loss"):
        trainer.train()
    recs = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r.get("skipped") for r in recs] == [True, True, True]
    assert trainer.skipped_steps == 3 and trainer.step == 3
    assert torch.isinf(weight[0, 0]) and torch.isfinite(weight[0, 1:]).all()  # skipped: no update applied


def test_bf16_mixed_precision_keeps_fp32_master_weights(tmp_path, train_data_dir):
    """The GPU precision policy, exercised on CPU: FSDP2 MixedPrecisionPolicy (bf16 compute, fp32 master/reduce)."""
    from polyglot_ko.train.loop import Trainer, resolve_config

    # bf16 matmuls are slow on CPUs without bf16 units: two steps of 2 x 32 tokens.
    common = {
        "train.max_steps": 2,
        "checkpoint.export_hf": "never",
        "logging.plot": False,
        "train.global_batch_size": 2,
        "train.micro_batch_size": 2,
        "train.valid_batches": 1,
    }
    ref = pretrain(RECIPE, **tiny(tmp_path / "fp32", train_data_dir, **common))
    trainer = Trainer(
        resolve_config(
            RECIPE, **tiny(tmp_path / "bf16", train_data_dir, **common, **{"parallel.precision": "bfloat16"})
        )
    )
    try:
        assert trainer.fsdp and trainer.dtype == torch.bfloat16
        summary = trainer.train()
        # The optimizer updates the sharded fp32 master weights (bf16 copies exist only while gathered).
        params = [p for g in trainer.optimizer.param_groups for p in g["params"]]
        assert params and all(p.dtype == torch.float32 and hasattr(p, "to_local") for p in params)
        assert all(trainer.optimizer.state[p]["exp_avg"].dtype == torch.float32 for p in params)
    finally:
        trainer.close()
    bf16 = read_metrics(tmp_path / "bf16" / "metrics.jsonl")
    fp32 = read_metrics(tmp_path / "fp32" / "metrics.jsonl")
    for a, b in zip(bf16, fp32, strict=False):
        assert a["step"] == b["step"] and abs(a["loss"] - b["loss"]) < 0.05, (a, b)
    assert len(bf16) == len(fp32) == 3 and summary["steps"] == ref["steps"] == 2
