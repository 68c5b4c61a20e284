"""Hugging Face model folders: export -> transformers, transformers -> import, legacy files, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM, GPTNeoXConfig
from transformers import GPTNeoXForCausalLM as HFGPTNeoX

from polyglot_ko import build_model, load_model, save_model
from polyglot_ko.config import ModelConfig
from polyglot_ko.errors import UserError

IDS = torch.randint(0, 30003, (2, 11), generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def model():
    return build_model("tiny-h128", seed=2).eval()


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    return save_model(model, tmp_path_factory.mktemp("export") / "m")


@torch.no_grad()
def test_export_loads_in_transformers_with_same_logits(model, saved):
    hf = AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32).eval()
    assert type(hf).__name__ == "GPTNeoXForCausalLM"
    assert (hf(IDS).logits - model(IDS).logits).abs().max().item() <= 1e-4
    gen = json.loads((saved / "generation_config.json").read_text())
    assert gen["eos_token_id"] == 2 and gen["pad_token_id"] == 0
    cfg = json.loads((saved / "config.json").read_text())
    assert cfg["rotary_pct"] == 0.5 and cfg["rope_parameters"]["partial_rotary_factor"] == 0.5
    assert cfg["eos_token_id"] == 2 and cfg["vocab_size"] == 30080


@torch.no_grad()
def test_transformers_save_loads_in_ours(tmp_path):
    config = GPTNeoXConfig(
        vocab_size=30080,
        hidden_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=1024,
        rotary_pct=0.25,
        max_position_embeddings=128,
        use_parallel_residual=True,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    hf = HFGPTNeoX(config).eval()
    hf.save_pretrained(tmp_path)
    ours = load_model(tmp_path)
    assert ours.config.rotary_ndims == 32
    assert (ours(IDS).logits - hf(IDS).logits).abs().max().item() <= 1e-4


@torch.no_grad()
def test_released_style_config_and_legacy_bin(model, tmp_path):
    """A folder like the released ones: old config fields, eos 0, a pickled .bin with old buffers."""
    cfg = {
        "architectures": ["GPTNeoXForCausalLM"],
        "model_type": "gpt_neox",
        "bos_token_id": 0,
        "eos_token_id": 0,
        "hidden_act": "gelu",
        "hidden_size": 256,
        "initializer_range": 0.02,
        "intermediate_size": 1024,
        "layer_norm_eps": 1e-5,
        "max_position_embeddings": 2048,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "rotary_emb_base": 10000,
        "rotary_pct": 0.5,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
        "transformers_version": "4.21.0.dev0",
        "use_cache": True,
        "vocab_size": 30080,
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    state = dict(model.state_dict())
    state["gpt_neox.layers.0.attention.bias"] = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    state["gpt_neox.layers.0.attention.masked_bias"] = torch.tensor(-1e9)
    state["gpt_neox.layers.0.attention.rotary_emb.inv_freq"] = torch.ones(32)
    torch.save(state, tmp_path / "pytorch_model.bin")
    loaded = load_model(tmp_path)
    assert loaded.config.eos_token_id == 2, "the released eos=0 quirk must be corrected to <|endoftext|>"
    assert torch.equal(loaded(IDS).logits, model(IDS).logits)


def test_pickle_with_code_is_refused(tmp_path, model):
    (tmp_path / "config.json").write_text(json.dumps(model.config.to_hf_dict()))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(UserError, match="weights-only"):
        load_model(tmp_path)


@torch.no_grad()
def test_sharded_and_low_precision_exports(model, tmp_path):
    for dtype in (torch.bfloat16, torch.float16):
        folder = save_model(model, tmp_path / str(dtype), dtype=dtype, max_shard_size="5MB")
        assert (folder / "model.safetensors.index.json").is_file()
        assert len(list(folder.glob("model-*-of-*.safetensors"))) > 1
        hf = AutoModelForCausalLM.from_pretrained(folder).eval()
        assert hf.dtype == dtype
        ours = load_model(folder, dtype=dtype)
        assert ours.embed_out.weight.dtype == dtype
        # Two implementations rounding to 8 mantissa bits (bf16) differ by a few ulps of logits ~0.5.
        assert (ours(IDS).logits.float() - hf(IDS).logits.float()).abs().max().item() <= 3e-2
        ours32 = load_model(folder, dtype="float32")
        assert (ours32(IDS).logits - model(IDS).logits).abs().max().item() < 0.05


def test_convert_command(saved, tmp_path):
    out = tmp_path / "bf16"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "convert",
            str(saved),
            str(out),
            "--dtype",
            "bfloat16",
            "--max-shard-size",
            "4MB",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"
    assert load_model(out, dtype="bfloat16").embed_out.weight.dtype == torch.bfloat16


def test_save_is_atomic_over_an_existing_folder(model, tmp_path):
    folder = save_model(model, tmp_path / "m")
    before = (folder / "model.safetensors").read_bytes()
    other = build_model("tiny-h128", seed=99)
    save_model(other, folder)
    assert (folder / "model.safetensors").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"], "no temporary folders may be left behind"


# --- bad input -----------------------------------------------------------------------------------------
def test_truncated_safetensors(saved, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved, bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_model(bad)


def test_missing_tensor(model, tmp_path):
    from safetensors.torch import save_file

    state = {k: v for k, v in model.state_dict().items() if k != "embed_out.weight"}
    save_file(state, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(model.config.to_hf_dict()))
    with pytest.raises(UserError, match="missing tensor.*embed_out.weight"):
        load_model(tmp_path)


def test_config_that_does_not_match_the_weights(saved, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["intermediate_size"] = 512
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="config does not match"):
        load_model(bad)


def test_missing_files_and_bad_config(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_model(tmp_path / "nope")
    with pytest.raises(UserError, match="no config.json"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    with pytest.raises(UserError, match="not gpt_neox"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(ModelConfig().to_hf_dict()))
    with pytest.raises(UserError, match="holds no weights"):
        load_model(tmp_path)


def test_unreachable_hub_gives_an_actionable_error(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(UserError, match="cannot reach the Hugging Face hub"):
        load_model("EleutherAI/polyglot-ko-1.3b")


def test_cli_prints_one_line_errors(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "polyglot_ko.cli", "convert", str(tmp_path / "missing"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _rewrite_safetensors(src, dst, edit):
    """Copy a single-file safetensors folder, passing its header (a dict) through `edit`."""
    import shutil
    import struct

    shutil.copytree(src, dst)
    raw = (src / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = edit(json.loads(raw[8 : 8 + n]))
    new = json.dumps(header).encode()
    new += b" " * (n - len(new)) if len(new) <= n else b""
    (dst / "model.safetensors").write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])


@pytest.mark.parametrize("case", ["negative offsets", "list header", "int32 weight", "bool offsets"])
def test_crafted_safetensors_headers_are_refused(saved, tmp_path, case):
    """Found by hostile testing: negative data_offsets loaded header bytes as weights, an I32 weight was
    accepted, and a header that is a JSON list gave a traceback."""

    def edit(header):
        name = next(k for k in header if k != "__metadata__")
        info = header[name]
        if case == "negative offsets":
            begin, end = info["data_offsets"]
            info["data_offsets"] = [begin - 64, end - 64]
        elif case == "list header":
            return [header]
        elif case == "int32 weight":
            info["dtype"] = "I32"
        else:
            info["data_offsets"] = [False, info["data_offsets"][1]]
        return header

    _rewrite_safetensors(saved, tmp_path / "bad", edit)
    with pytest.raises(UserError, match="is corrupt|must be floating point") as e:
        load_model(tmp_path / "bad")
    assert "\n" not in str(e.value)


def test_saved_model_files_follow_the_umask(model, tmp_path):
    """safetensors writes 0600 files; a saved model must be readable as the umask says (0644 under 022)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        folder = save_model(model, tmp_path / "m")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes and set(modes.values()) == {0o644}, modes
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
