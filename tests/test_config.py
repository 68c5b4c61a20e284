"""Model configs: a config.json can hold anything, and every bad value is a one-line error naming it."""

from __future__ import annotations

import json
import math

import pytest

from polyglot_ko import build_model, load_model, save_model
from polyglot_ko.config import ModelConfig
from polyglot_ko.errors import UserError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return save_model(build_model("tiny", seed=0), tmp_path_factory.mktemp("cfg") / "m")


BAD = [
    ([1, 2], "holds a JSON list"),
    ({"hidden_size": "abc"}, "hidden_size='abc' must be an integer"),
    ({"num_attention_heads": 0}, "num_attention_heads=0 must be at least 1"),
    ({"num_hidden_layers": -1}, "num_hidden_layers=-1 must be at least 1"),
    ({"layer_norm_eps": math.nan}, "layer_norm_eps=nan must be a finite number"),
    ({"layer_norm_eps": -1e-5}, "layer_norm_eps=-1e-05 must be > 0"),
    ({"rotary_pct": "half"}, "rotary_pct='half' must be a finite number"),
    ({"rotary_pct": 0}, "rotary_pct=0.0 must be in"),
    ({"vocab_size": None}, "vocab_size=None must be an integer"),
    ({"use_parallel_residual": "yes"}, "use_parallel_residual='yes' must be a bool"),
    ({"rope_parameters": [1]}, "must be JSON objects"),
    ({"eos_token_id": 10**9}, "eos_token_id=1000000000 must be a token id"),
    ({"max_position_embeddings": 1.5}, "max_position_embeddings=1.5 must be an integer"),
    ({"num_attention_heads": True}, "num_attention_heads=True must be an integer"),
    ({"num_attention_heads": 3}, "not divisible by num_attention_heads 3"),
]


@pytest.mark.parametrize("change,message", BAD)
def test_bad_config_json_is_a_one_line_error(saved, tmp_path, change, message):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg = change if isinstance(change, list) else {**cfg, **change}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError) as e:
        load_model(folder)
    assert message in str(e.value) and str(folder / "config.json") in str(e.value) and "\n" not in str(e.value)


def test_good_configs_round_trip():
    cfg = ModelConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=128,
        tokenizer_vocab_size=100,
        max_position_embeddings=64,
    ).validate()
    assert ModelConfig.from_hf_dict(cfg.to_hf_dict()) == cfg
