"""LoRA adapters (finetune/lora.py) against the reference: peft itself on transformers' GPT-NeoX.

Our model gets peft's LoRA layers, trains a few steps, and its saved adapter must load with
`peft.PeftModel.from_pretrained` on transformers' GPTNeoXForCausalLM (read from the same base folder) and give
our logits; adapters peft saves load in ours; merged folders load in transformers; load_model attaches adapters.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from polyglot_ko import UserError, build_model, load_model
from polyglot_ko.config import get_config
from polyglot_ko.finetune.lora import (
    LORA_TARGETS,
    add_lora,
    check_qlora_supported,
    has_lora,
    load_adapter,
    merge,
    merge_adapter,
    save_adapter,
)

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

IDS = torch.randint(3, 30000, (2, 12), generator=torch.Generator().manual_seed(1))
TOL = 1e-4


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


@torch.no_grad()
def logits(model, ids=IDS) -> torch.Tensor:
    model.eval()
    return model(ids).logits


def hf_base(folder):
    return transformers.GPTNeoXForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    """Our tiny model with LoRA on all four linears, after 8 AdamW steps (dropout on), saved with save_adapter."""
    model = add_lora(load_model(tiny_model_dir), r=4, alpha=8, dropout=0.1, targets=LORA_TARGETS)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2)
    model.train()
    losses = []
    torch.manual_seed(0)
    for _ in range(8):
        loss = model(IDS, labels=IDS).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    folder = save_adapter(model, tmp_path_factory.mktemp("lora") / "adapter", base_model_name_or_path=tiny_model_dir)
    return model, folder, losses


def test_lora_at_init_equals_base_and_only_lora_trains(tiny_model_dir):
    model = load_model(tiny_model_dir)
    base = logits(model)
    add_lora(model, r=8, alpha=16, targets=LORA_TARGETS)
    assert has_lora(model) and type(model).__name__ == "GPTNeoXForCausalLM"
    assert (logits(model) - base).abs().max().item() == 0.0  # B = 0 at initialisation
    model.train()  # dropout on the LoRA path changes nothing either while B = 0
    with torch.no_grad():
        assert (model(IDS).logits - base).abs().max().item() == 0.0
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A.default." in n or ".lora_B.default." in n for n in trainable)
    cfg = model.config
    d, f = cfg.hidden_size, cfg.intermediate_size
    per_layer = 8 * ((d + 3 * d) + (d + d) + (d + f) + (f + d))  # r * (in + out) for the four linears
    assert sum(trainable.values()) == cfg.num_hidden_layers * per_layer
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert "embed_out.weight" in frozen and "gpt_neox.layers.0.attention.query_key_value.base_layer.weight" in frozen


def test_targets_choose_layers(tiny_model_dir):
    model = add_lora(load_model(tiny_model_dir), targets=("dense", "dense_4h_to_h"))
    names = {n.split(".lora_")[0] for n, p in model.named_parameters() if p.requires_grad}
    layers = range(model.config.num_hidden_layers)
    assert names == {f"gpt_neox.layers.{i}.attention.dense" for i in layers} | {
        f"gpt_neox.layers.{i}.mlp.dense_4h_to_h" for i in layers
    }


def test_training_moves_the_model_and_forward_with_cache_works(trained):
    model, _, losses = trained
    assert losses[-1] < losses[0] - 0.1
    ids = IDS[:1]
    with torch.no_grad():
        model.eval()
        full = model(ids).logits[:, -1]
        out = model(ids[:, :-1], use_cache=True)
        step = model(ids[:, -1:], past_key_values=out.past_key_values).logits[:, -1]
    assert (full - step).abs().max().item() <= TOL


def test_saved_adapter_loads_in_peft_on_transformers(trained, tiny_model_dir, tmp_path):
    model, folder, _ = trained
    ours = logits(model)
    hf = hf_base(tiny_model_dir)
    base = logits(hf)
    pm = peft.PeftModel.from_pretrained(hf, folder).eval()
    with torch.no_grad():
        theirs = pm(IDS).logits
    diff = (theirs - ours).abs().max().item()
    print(f"max |peft on transformers - ours| = {diff:.3g}")
    assert diff <= TOL
    assert (ours - base).abs().max().item() > 1e-2  # the adapter does change the model
    # The folder is what peft itself writes for this adapter: same tensor names and values, same config.
    pm.save_pretrained(tmp_path / "by-peft")
    from safetensors.torch import load_file

    mine, theirs_sd = (
        load_file(folder / "adapter_model.safetensors"),
        load_file(tmp_path / "by-peft" / "adapter_model.safetensors"),
    )
    assert sorted(mine) == sorted(theirs_sd)
    assert all(
        k.startswith("base_model.model.gpt_neox.layers.") and k.endswith((".lora_A.weight", ".lora_B.weight"))
        for k in mine
    )
    assert all(torch.equal(mine[k], theirs_sd[k]) for k in mine)
    cfg = json.loads((folder / "adapter_config.json").read_text())
    peft_cfg = json.loads((tmp_path / "by-peft" / "adapter_config.json").read_text())
    assert set(cfg) == set(peft_cfg)
    for key in (
        "task_type",
        "peft_type",
        "r",
        "lora_alpha",
        "lora_dropout",
        "bias",
        "fan_in_fan_out",
        "inference_mode",
        "base_model_name_or_path",
    ):
        assert cfg[key] == peft_cfg[key], key
    assert sorted(cfg["target_modules"]) == sorted(peft_cfg["target_modules"]) == sorted(LORA_TARGETS)
    assert (cfg["task_type"], cfg["peft_type"], cfg["r"], cfg["lora_alpha"], cfg["bias"]) == (
        "CAUSAL_LM",
        "LORA",
        4,
        8,
        "none",
    )


def test_adapter_saved_by_peft_loads_in_ours(trained, tiny_model_dir, tmp_path):
    model, folder, _ = trained
    pm = peft.PeftModel.from_pretrained(hf_base(tiny_model_dir), folder)
    pm.save_pretrained(tmp_path / "by-peft")
    ours = load_adapter(load_model(tiny_model_dir), tmp_path / "by-peft")
    assert not any(p.requires_grad for p in ours.parameters())  # for inference: everything frozen
    assert (logits(ours) - logits(model)).abs().max().item() <= TOL


def test_merge_adapter_in_memory(trained, tiny_model_dir):
    model, folder, _ = trained
    loaded = load_adapter(load_model(tiny_model_dir), folder)
    before = logits(loaded)
    assert (before - logits(model)).abs().max().item() <= TOL
    merged = merge_adapter(loaded)
    assert not has_lora(merged)
    assert set(merged.state_dict()) == set(build_model("tiny", device="meta").state_dict())
    assert all(p.requires_grad for p in merged.parameters())
    assert (logits(merged) - before).abs().max().item() <= TOL


def test_merged_folder_loads_in_transformers(trained, tiny_model_dir, tmp_path):
    model, folder, _ = trained
    out = merge(tiny_model_dir, folder, tmp_path / "merged")
    hf = hf_base(out)
    diff = (logits(hf) - logits(model)).abs().max().item()
    print(f"max |merged folder in transformers - ours with LoRA| = {diff:.3g}")
    assert diff <= TOL
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (tiny_model_dir / name).read_bytes()
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "float32"
    # peft's own merge of the same adapter gives the same weights
    peft_merged = peft.PeftModel.from_pretrained(hf_base(tiny_model_dir), folder).merge_and_unload()
    ref = {k.replace("lm_head.", "embed_out."): v for k, v in peft_merged.state_dict().items()}  # transformers 5
    ours = load_model(out).state_dict()
    assert set(ours) == set(ref)
    assert max((ours[k] - ref[k]).abs().max().item() for k in ours) <= 1e-6
    with pytest.raises(UserError) as e:
        merge(tiny_model_dir, folder, out)
    assert "overwrite" in one_line_error(e)


def test_load_model_with_adapter(trained, tiny_model_dir):
    model, folder, _ = trained
    want = logits(model)
    merged = load_model(tiny_model_dir, adapter=folder)
    assert not has_lora(merged)
    from_folder = load_model(folder)  # the adapter folder alone: its base_model_name_or_path names the base
    unmerged = load_model(tiny_model_dir, adapter=folder, merge_adapter=False)
    assert has_lora(unmerged)
    for m in (merged, from_folder, unmerged):
        diff = (logits(m) - want).abs().max().item()
        print(f"max |load_model(...) - ours with LoRA| = {diff:.3g}")
        assert diff <= TOL


def test_load_generator_with_adapter(trained, tiny_model_dir):
    from polyglot_ko import load_generator

    model, folder, _ = trained
    gen = load_generator(tiny_model_dir, adapter=folder)
    assert (logits(gen.model) - logits(model)).abs().max().item() <= TOL


def test_save_adapter_config_fields_and_relative_base(trained, tiny_model_dir, tmp_path, monkeypatch):
    import os

    model, _, _ = trained
    folder = tmp_path / "adapter"
    base = os.path.relpath(tiny_model_dir, folder)  # relative to the adapter folder, not to the current one
    save_adapter(model, folder, base_model_name_or_path=base, revision="main")
    cfg = json.loads((folder / "adapter_config.json").read_text())
    assert (cfg["base_model_name_or_path"], cfg["revision"]) == (base, "main")
    monkeypatch.chdir("/")
    assert (logits(load_model(folder)) - logits(model)).abs().max().item() <= TOL
    with pytest.raises(UserError) as e:
        save_adapter(model, tmp_path / "other", base_model_name_or_path=base, r=16)
    assert "r=16" in one_line_error(e) and "r=4" in str(e.value)
    with pytest.raises(UserError) as e:
        save_adapter(model, tmp_path / "other", base_model_name_or_path=base, rank=16)
    assert "rank=16" in one_line_error(e)
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize(
    "targets, needle", [(("q_proj",), "'q_proj'"), ((), "targets=[]"), ("embed_out", "'embed_out'")]
)
def test_bad_targets(targets, needle):
    with pytest.raises(UserError) as e:
        add_lora(build_model("tiny", seed=0), targets=targets)
    message = one_line_error(e)
    assert needle in message and "query_key_value" in message


@pytest.mark.parametrize(
    "kwargs, needle", [({"r": 0}, "r=0"), ({"alpha": -1}, "alpha=-1"), ({"dropout": 1.0}, "dropout=1.0")]
)
def test_bad_hyperparameters(kwargs, needle):
    with pytest.raises(UserError) as e:
        add_lora(build_model("tiny", seed=0), **kwargs)
    assert needle in one_line_error(e)


def test_lora_twice_is_an_error():
    model = add_lora(build_model("tiny", seed=0))
    with pytest.raises(UserError) as e:
        add_lora(model)
    assert "already has a LoRA adapter" in one_line_error(e)


def test_missing_files(trained, tiny_model_dir, tmp_path):
    _, folder, _ = trained
    model = load_model(tiny_model_dir)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as e:
        load_adapter(model, tmp_path / "empty")
    assert "adapter_config.json" in one_line_error(e)
    only_config = tmp_path / "only-config"
    only_config.mkdir()
    (only_config / "adapter_config.json").write_bytes((folder / "adapter_config.json").read_bytes())
    with pytest.raises(UserError) as e:
        load_adapter(model, only_config)
    assert "adapter_model.safetensors" in one_line_error(e)
    assert not has_lora(model)
    with pytest.raises(UserError) as e:
        load_adapter(model, tmp_path / "nowhere")
    assert "does not exist" in one_line_error(e)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "adapter_config.json").write_bytes((folder / "adapter_config.json").read_bytes())
    (truncated / "adapter_model.safetensors").write_bytes((folder / "adapter_model.safetensors").read_bytes()[:100])
    with pytest.raises(UserError) as e:
        load_adapter(model, truncated)
    assert "corrupt or truncated" in one_line_error(e)
    # an adapter folder whose config names no base
    no_base = tmp_path / "no-base"
    no_base.mkdir()
    cfg = json.loads((folder / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = None
    (no_base / "adapter_config.json").write_text(json.dumps(cfg))
    (no_base / "adapter_model.safetensors").write_bytes((folder / "adapter_model.safetensors").read_bytes())
    with pytest.raises(UserError) as e:
        load_model(no_base)
    assert "base_model_name_or_path" in one_line_error(e)


@pytest.mark.parametrize("change", [{"hidden_size": 128, "intermediate_size": 512}, {"num_hidden_layers": 1}])
def test_adapter_for_another_base_shape(trained, change):
    _, folder, _ = trained
    other = build_model(dataclasses.replace(get_config("tiny"), **change), seed=0)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(UserError) as e:
        load_adapter(other, folder)
    message = one_line_error(e)
    assert str(folder) in message and "its own base model" in message
    assert not has_lora(other) and other.state_dict().keys() == before.keys()  # left as it was


def test_qlora_needs_bitsandbytes_and_a_gpu():
    # a CPU model or device is refused whether or not bitsandbytes or a GPU is present
    with pytest.raises(UserError) as e:
        check_qlora_supported("cpu")
    message = one_line_error(e)
    assert "bitsandbytes with a CUDA GPU" in message and "device cpu" in message and "method=lora" in message
    model = build_model("tiny", seed=0)
    with pytest.raises(UserError) as e:
        add_lora(model, quantize_base="4bit")
    assert one_line_error(e) == message
    assert not has_lora(model)
    with pytest.raises(UserError) as e:
        add_lora(model, quantize_base="8bit")
    assert "quantize_base='8bit'" in one_line_error(e)
