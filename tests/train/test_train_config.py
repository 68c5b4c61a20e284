"""Recipes and overrides: every shipped recipe loads and validates; overrides are typed; mistakes are one-line
errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyglot_ko.config import CARD_PARAMETERS
from polyglot_ko.errors import UserError
from polyglot_ko.train.config import (
    TrainConfig,
    apply_overrides,
    config_from_dict,
    dump_recipe,
    load_recipe,
    model_config_from,
)
from polyglot_ko.train.schedule import lr_at

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.mark.parametrize(
    "path", sorted(p for p in RECIPES.glob("*.yaml") if not p.name.startswith("sft-")), ids=lambda p: p.stem
)
def test_recipes_load_validate_and_round_trip(path):  # the sft-* (fine-tuning) recipes: tests/finetune
    cfg = load_recipe(path, {"data.paths": ["somewhere"]}).validate()
    assert load_recipe(path) == config_from_dict(__import__("yaml").safe_load(dump_recipe(load_recipe(path))))
    mc = model_config_from(cfg.model, cfg.data.seq_len, manifest_vocab=30003)
    if cfg.model.preset in CARD_PARAMETERS and cfg.model.hidden_size is None:
        # The model-card recipes: the released architecture, sequence 2048, and the card's token budget.
        assert mc.num_parameters() in (CARD_PARAMETERS[cfg.model.preset], 12_893_603_840)
        assert cfg.data.seq_len == 2048
        tokens = cfg.train.max_steps * cfg.train.global_batch_size * cfg.data.seq_len
        card = {
            "polyglot-ko-1.3b": 213e9,
            "polyglot-ko-3.8b": 219e9,
            "polyglot-ko-5.8b": 172e9,
            "polyglot-ko-12.8b": 167e9,
        }[cfg.model.preset]
        assert abs(tokens - card) / card < 0.01, (tokens, card)


def test_overrides_are_typed_and_checked():
    cfg = apply_overrides(
        TrainConfig(),
        [
            "optim.lr=1e-3",
            "train.max_steps=1_000",
            "data.paths=a,b",
            "parallel.activation_checkpointing=true",
            "model.vocab_size=auto",
            "model.hidden_size=128",
            "optim.decay_steps=null",
        ],
    )
    assert cfg.optim.lr == 1e-3 and cfg.train.max_steps == 1000 and cfg.data.paths == ["a", "b"]
    assert cfg.parallel.activation_checkpointing is True and cfg.model.vocab_size == "auto"
    assert cfg.model.hidden_size == 128 and cfg.optim.decay_steps is None
    assert TrainConfig().replace(**{"train.seed": 3}).train.seed == 3
    with pytest.raises(UserError, match=r"optim.lrr: unknown setting; valid keys here are lr, min_lr"):
        apply_overrides(TrainConfig(), ["optim.lrr=1"])
    with pytest.raises(UserError, match=r"train.max_steps='many': expected an integer"):
        apply_overrides(TrainConfig(), ["train.max_steps=many"])
    with pytest.raises(UserError, match="section.key=value"):
        apply_overrides(TrainConfig(), ["train.max_steps"])
    with pytest.raises(UserError, match="modle.*unknown setting"):
        config_from_dict({"modle": {}})


def test_validation_messages():
    base = {"data.paths": ["x"]}
    with pytest.raises(UserError, match="unknown preset 'gpt5'"):
        TrainConfig().replace(**base, **{"model.preset": "gpt5"}).validate()
    with pytest.raises(UserError, match="global_batch_size=10 is not divisible by train.micro_batch_size=4"):
        TrainConfig().replace(**base, **{"train.global_batch_size": 10, "train.micro_batch_size": 4}).validate()
    with pytest.raises(UserError, match="data.paths is empty"):
        TrainConfig().validate()
    with pytest.raises(UserError, match="one weight per path"):
        TrainConfig().replace(**base, **{"data.weights": [1, 2]}).validate()


def test_vocab_auto_rounds_up_to_128():
    cfg = TrainConfig().replace(**{"model.vocab_size": "auto"})
    mc = model_config_from(cfg.model, 128, manifest_vocab=8001)
    assert (mc.tokenizer_vocab_size, mc.vocab_size) == (8001, 8064)
    with pytest.raises(UserError, match="needs data with a manifest"):
        model_config_from(cfg.model, 128, manifest_vocab=None)
    assert model_config_from(TrainConfig().model, 4096, None).max_position_embeddings == 4096


def test_schedule_warmup_cosine_floor():
    kw = dict(lr=1.0, min_lr=0.1, warmup_steps=10, decay_steps=110)
    assert lr_at(0, **kw) == pytest.approx(0.1) and lr_at(9, **kw) == pytest.approx(1.0)
    assert lr_at(10, **kw) == pytest.approx(1.0) and lr_at(60, **kw) == pytest.approx(0.55)
    assert lr_at(110, **kw) == pytest.approx(0.1) and lr_at(10_000, **kw) == pytest.approx(0.1)
    lrs = [lr_at(s, **kw) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_a_preset_changed_by_the_recipe_is_named_custom():
    from polyglot_ko.train.config import ModelSection, model_config_from

    unchanged = model_config_from(ModelSection(preset="polyglot-ko-1.3b"), seq_len=2048)
    assert unchanged.name == "polyglot-ko-1.3b"
    changed = model_config_from(ModelSection(preset="tiny", hidden_size=96, num_attention_heads=3), seq_len=128)
    assert changed.name == "tiny-custom" and changed.hidden_size == 96
