"""Our model folders load and generate on transformers 4.57 as well as on the installed 5.x.

transformers 4.x's `PreTrainedTokenizerFast` returns `token_type_ids` unless tokenizer_config.json names the model's
inputs, and GPT-NeoX's `generate` rejects them; save() writes `model_input_names` for that. transformers 4.57 is
installed once with `pip install --no-deps --target ~/.cache/polyglot-ko/tf4` (with the tokenizers and
huggingface_hub versions it accepts) and run with the main environment's torch and numpy: ~20 MB, not a venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polyglot_ko import build_model, load_tokenizer, save_model

pytestmark = pytest.mark.slow

TF4_DIR = Path(os.environ.get("POLYGLOT_KO_TF4_DIR", Path.home() / ".cache" / "polyglot-ko" / "tf4"))
TF4_PINS = ["transformers==4.57.*", "tokenizers>=0.22,<=0.23.0", "huggingface_hub>=0.34,<1.0"]
PROMPT = "한국어 모델 <|tel|>로 연락"

SCRIPT = r"""
import json, sys
import torch, transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
folder = sys.argv[1]
major = int(transformers.__version__.split(".")[0])
tok = AutoTokenizer.from_pretrained(folder)
kw = {"dtype": torch.float32} if major >= 5 else {"torch_dtype": torch.float32}
model = AutoModelForCausalLM.from_pretrained(folder, **kw)
enc = tok(sys.argv[2], return_tensors="pt")
# What vLLM's GPT-NeoX loader reads from the transformers config object (getattr with these names).
names = ["architectures", "num_attention_heads", "hidden_size", "num_hidden_layers", "intermediate_size",
         "hidden_act", "rotary_pct", "rope_theta", "rope_parameters", "max_position_embeddings", "layer_norm_eps",
         "use_parallel_residual", "attention_bias", "tie_word_embeddings", "vocab_size", "eos_token_id"]
config = {k: getattr(model.config, k, None) for k in names}
gen = {k: getattr(model.generation_config, k, None) for k in ("eos_token_id", "pad_token_id", "bos_token_id")}
try:
    out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    print(json.dumps({"version": transformers.__version__, "keys": sorted(enc), "ids": out[0].tolist(),
                      "config": config, "generation": gen}))
except ValueError as e:
    print(json.dumps({"version": transformers.__version__, "keys": sorted(enc), "error": str(e)}))
"""


def _tf4() -> Path:
    """The cached transformers 4.57 target folder, installed on first use (skips when pip cannot get it)."""
    marker = TF4_DIR / ".complete"
    if marker.is_file():
        return TF4_DIR
    TF4_DIR.parent.mkdir(parents=True, exist_ok=True)
    tmp = TF4_DIR.with_name(TF4_DIR.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(tmp), *TF4_PINS],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"pip could not install {' '.join(TF4_PINS)} into {TF4_DIR} ({tail[0][:200]})")
    (tmp / ".complete").write_text(" ".join(TF4_PINS) + "\n")
    shutil.rmtree(TF4_DIR, ignore_errors=True)
    os.replace(tmp, TF4_DIR)
    return TF4_DIR


def run_transformers(folder: Path, tf4: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if tf4:
        env["PYTHONPATH"] = str(_tf4())  # shadows the main environment's transformers 5, tokenizers, hub
    env["HF_HUB_OFFLINE"] = "1"
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), PROMPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def our_greedy(model, ids: list[int], n: int) -> list[int]:
    """Greedy continuation by polyglot-ko's model, over all 30080 rows as transformers does (no masking)."""
    import torch

    ids = list(ids)
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(logits.argmax()))
    return ids


@pytest.fixture(scope="module")
def folders(tmp_path_factory, reference_tokenizer_dir):
    root = tmp_path_factory.mktemp("tf4")
    model = build_model("tiny", seed=0)
    # Both ways save_model gets a tokenizer: our tokenizer object, and a folder whose files are copied.
    ours = save_model(model, root / "ours", tokenizer=load_tokenizer(reference_tokenizer_dir))
    copied = save_model(model, root / "copied", tokenizer=reference_tokenizer_dir)
    return model, {"ours": ours, "copied": copied}


@pytest.mark.parametrize("which", ["ours", "copied"])
def test_generate_on_transformers_4_and_5(folders, which):
    model, paths = folders
    folder = paths[which]
    want = our_greedy(model, load_tokenizer(folder).encode(PROMPT), 8)
    for tf4 in (True, False):
        got = run_transformers(folder, tf4)
        assert got["version"].startswith("4.57." if tf4 else "5."), got["version"]
        assert got["keys"] == ["attention_mask", "input_ids"], got
        assert "error" not in got, got
        assert got["ids"] == want, (got["version"], got["ids"], want)


def test_without_model_input_names_transformers_4_fails(folders, tmp_path):
    """The failure the setting fixes, so the test above is not passing by accident."""
    _, paths = folders
    broken = tmp_path / "broken"
    shutil.copytree(paths["ours"], broken)
    cfg = json.loads((broken / "tokenizer_config.json").read_text())
    del cfg["model_input_names"]
    (broken / "tokenizer_config.json").write_text(json.dumps(cfg))
    got = run_transformers(broken, tf4=True)
    assert "token_type_ids" in got["keys"]
    assert "token_type_ids" in got["error"]


def test_config_carries_what_vllm_reads(folders):
    """vLLM builds GPT-NeoX from transformers' config object; on 4.57 and 5.x it has every field vLLM reads."""
    _, paths = folders
    tf4 = run_transformers(paths["ours"], tf4=True)["config"]
    tf5 = run_transformers(paths["ours"], tf4=False)["config"]
    for cfg in (tf4, tf5):
        assert cfg["architectures"] == ["GPTNeoXForCausalLM"]
        assert (cfg["num_attention_heads"], cfg["hidden_size"], cfg["intermediate_size"]) == (2, 64, 256)
        assert cfg["hidden_act"] == "gelu" and cfg["use_parallel_residual"] is True
        assert cfg["attention_bias"] is True and cfg["tie_word_embeddings"] is False
        assert cfg["vocab_size"] == 30080 and cfg["max_position_embeddings"] == 512
        assert cfg["layer_norm_eps"] == pytest.approx(1e-5) and cfg["eos_token_id"] == 2
    # Under transformers 4.x vLLM reads config.rotary_pct and config.rope_theta; 5.x configs carry rope_parameters.
    assert tf4["rotary_pct"] == 0.5 and tf4["rope_theta"] == 10000
    assert tf5["rope_parameters"]["partial_rotary_factor"] == 0.5 and tf5["rope_parameters"]["rope_theta"] == 10000
