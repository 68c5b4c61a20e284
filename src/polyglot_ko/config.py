"""Model architecture config: one dataclass, the released presets by name, and Hugging Face `config.json` I/O.

Every architecture number of a preset is written out explicitly (never left to a default), so that a preset
reads like the model card's table. `ModelConfig.from_hf_dict` reads both the released models' fields
(`rotary_pct`, `rotary_emb_base`) and what current transformers writes (`rope_parameters`
with `partial_rotary_factor` and `rope_theta`); `to_hf_dict` writes both, so old and new transformers read it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .constants import (  # noqa: F401
    ENDOFTEXT_ID,
    EOS_ID,
    PAD_ID,
    PADDED_VOCAB_SIZE,
    SEP_ID,
    TOKENIZER_VOCAB_SIZE,
)
from .errors import UserError
from .io_utils import read_json


@dataclass
class ModelConfig:
    """GPT-NeoX as Polyglot-Ko uses it (parallel residual, partial half-split rotary, untied output layer)."""

    name: str = "custom"
    """Preset name, or "custom"; informational only."""
    vocab_size: int = PADDED_VOCAB_SIZE
    """Rows of the embedding and output matrices: the tokenizer's size padded to a multiple of 128 (30080)."""
    tokenizer_vocab_size: int = TOKENIZER_VOCAB_SIZE
    """Ids the tokenizer can produce (30003); ids in [tokenizer_vocab_size, vocab_size) are padding, never sampled."""
    hidden_size: int = 2048
    """Width d of the residual stream."""
    num_hidden_layers: int = 24
    """Number of transformer blocks."""
    num_attention_heads: int = 16
    """Attention heads; head size = hidden_size / num_attention_heads."""
    intermediate_size: int = 8192
    """Width of the MLP's hidden layer (4d in every preset)."""
    rotary_pct: float = 0.5
    """Fraction of each head's dims that get rotary embeddings (64 dims in every released model)."""
    rotary_emb_base: float = 10000.0
    """Rotary base (theta)."""
    max_position_embeddings: int = 2048
    """Context length the model was trained for."""
    layer_norm_eps: float = 1e-5
    """LayerNorm epsilon."""
    initializer_range: float = 0.02
    """Std of the normal init of every weight matrix (biases start at zero, LayerNorms at 1/0)."""
    use_parallel_residual: bool = True
    """x + Attn(LN1(x)) + MLP(LN2(x)) (True, as Polyglot-Ko) or the sequential residual (False)."""
    hidden_act: str = "gelu"
    """MLP activation; "gelu" is the exact (erf) GELU."""
    bos_token_id: int = ENDOFTEXT_ID
    """Written to config.json. The released configs say 0 (the pad token); we write <|endoftext|> = 2."""
    eos_token_id: int = ENDOFTEXT_ID
    """Document separator the model learned to emit: <|endoftext|> = 2 (the released configs' 0 is a quirk)."""
    pad_token_id: int = PAD_ID
    """<pad> = 0."""

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def rotary_ndims(self) -> int:
        return int(self.head_size * self.rotary_pct)

    def _check_types(self) -> None:
        """Every field has its declared type and a usable value (a config.json can hold anything)."""

        def bad(name, rule):
            raise UserError(
                f"model config {self.name}: {name}={getattr(self, name)!r} {rule}; fix config.json or the recipe"
            )

        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                bad(f.name, "must be an integer")
            if f.type == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    bad(f.name, "must be a finite number")
                setattr(self, f.name, float(value))
            if f.type in ("bool", "str") and type(value).__name__ != f.type:
                bad(f.name, f"must be a {f.type}")
        for name in (
            "vocab_size",
            "tokenizer_vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
        ):
            if getattr(self, name) < 1:
                bad(name, "must be at least 1")
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if not 0 <= getattr(self, name) < self.vocab_size:
                bad(name, f"must be a token id in [0, vocab_size={self.vocab_size})")
        for name in ("rotary_emb_base", "layer_norm_eps"):
            if getattr(self, name) <= 0:
                bad(name, "must be > 0")
        if self.initializer_range < 0:
            bad("initializer_range", "must be >= 0")
        if not 0 < self.rotary_pct <= 1:
            bad("rotary_pct", "must be in (0, 1]")

    def validate(self) -> ModelConfig:
        self._check_types()
        if self.hidden_size % self.num_attention_heads:
            raise UserError(
                f"model config {self.name}: hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}; choose a divisor"
            )
        if self.rotary_ndims % 2 or not 0 < self.rotary_ndims <= self.head_size:
            raise UserError(
                f"model config {self.name}: rotary_pct {self.rotary_pct} gives {self.rotary_ndims} "
                f"rotary dims of head size {self.head_size}; it must be an even number in (0, head size]"
            )
        if self.vocab_size < self.tokenizer_vocab_size:
            raise UserError(
                f"model config {self.name}: vocab_size {self.vocab_size} is smaller than the tokenizer's "
                f"{self.tokenizer_vocab_size}; use at least that many embedding rows"
            )
        if self.hidden_act not in ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "relu"):
            raise UserError(f"model config {self.name}: hidden_act {self.hidden_act!r} is not supported; use 'gelu'")
        return self

    # --- parameter and FLOP counts -------------------------------------------------------------------
    def num_parameters(self) -> int:
        """Closed form `2·V·d + L·(12d² + 13d) + 2d` generalised to any intermediate size."""
        d, V, L, f = self.hidden_size, self.vocab_size, self.num_hidden_layers, self.intermediate_size
        per_layer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d)
        return 2 * V * d + L * per_layer + 2 * d

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token (forward + backward): 6·N_non-embedding-matmul + attention (PaLM appendix B)."""
        d, L = self.hidden_size, self.num_hidden_layers
        n_matmul = L * (4 * d * d + 2 * d * self.intermediate_size) + d * self.vocab_size
        return 6 * n_matmul + 12 * L * d * seq_len

    # --- Hugging Face config.json --------------------------------------------------------------------
    def to_hf_dict(self) -> dict[str, Any]:
        return {
            "architectures": ["GPTNeoXForCausalLM"],
            "model_type": "gpt_neox",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "hidden_act": self.hidden_act,
            # Old and new spellings of the rotary settings, so transformers 4.x and 5.x read the same model.
            "rotary_pct": self.rotary_pct,
            "rotary_emb_base": self.rotary_emb_base,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": self.rotary_emb_base,
                "partial_rotary_factor": self.rotary_pct,
            },
            "max_position_embeddings": self.max_position_embeddings,
            "layer_norm_eps": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
            "use_parallel_residual": self.use_parallel_residual,
            "tie_word_embeddings": False,
            "attention_bias": True,
            "attention_dropout": 0.0,
            "hidden_dropout": 0.0,
            "classifier_dropout": 0.1,
            "use_cache": True,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "polyglot_ko": {"preset": self.name, "tokenizer_vocab_size": self.tokenizer_vocab_size},
        }

    @classmethod
    def from_hf_dict(cls, d: dict[str, Any], source: str = "config.json") -> ModelConfig:
        if not isinstance(d, dict):
            raise UserError(f"{source}: holds a JSON {type(d).__name__}, not an object; is this a config.json?")
        if d.get("model_type", "gpt_neox") != "gpt_neox":
            raise UserError(
                f"{source}: model_type {d.get('model_type')!r} is not gpt_neox; this loader reads "
                f"GPT-NeoX (Polyglot-Ko) checkpoints only"
            )
        missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size") if k not in d]
        if missing:
            raise UserError(f"{source}: missing {', '.join(missing)}; is this a GPT-NeoX config.json?")
        rope = d.get("rope_parameters") or d.get("rope_scaling") or {}
        extra = d.get("polyglot_ko") or {}
        if not isinstance(rope, dict) or not isinstance(extra, dict):
            raise UserError(f"{source}: rope_parameters and polyglot_ko must be JSON objects; re-export the model")
        if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
            raise UserError(f"{source}: rope type {rope.get('rope_type')!r} is not supported; only default rotary")
        rotary_pct = d.get("rotary_pct", rope.get("partial_rotary_factor", 0.25))
        rotary_base = d.get("rotary_emb_base", rope.get("rope_theta", d.get("rope_theta", 10000.0)))
        if d.get("tie_word_embeddings", False):
            raise UserError(f"{source}: tie_word_embeddings is true; Polyglot-Ko has an untied embed_out")
        eos = d.get("eos_token_id", ENDOFTEXT_ID)
        if isinstance(eos, list) and eos:
            eos = eos[0]
        hidden = d["hidden_size"]
        if isinstance(hidden, bool) or not isinstance(hidden, int):
            raise UserError(f"{source}: hidden_size={hidden!r} must be an integer; fix config.json")
        try:
            return cls(
                name=extra.get("preset", "custom"),
                vocab_size=d["vocab_size"],
                tokenizer_vocab_size=extra.get(
                    "tokenizer_vocab_size",
                    min(TOKENIZER_VOCAB_SIZE, d["vocab_size"])
                    if isinstance(d["vocab_size"], int)
                    else TOKENIZER_VOCAB_SIZE,
                ),
                hidden_size=hidden,
                num_hidden_layers=d["num_hidden_layers"],
                num_attention_heads=d["num_attention_heads"],
                intermediate_size=d.get("intermediate_size", 4 * hidden),
                rotary_pct=rotary_pct,
                rotary_emb_base=rotary_base,
                max_position_embeddings=d.get("max_position_embeddings", 2048),
                layer_norm_eps=d.get("layer_norm_eps", 1e-5),
                initializer_range=d.get("initializer_range", 0.02),
                use_parallel_residual=d.get("use_parallel_residual", True),
                hidden_act=d.get("hidden_act", "gelu"),
                # The released configs' eos 0 is the pad token: the model's real document end is <|endoftext|>.
                bos_token_id=ENDOFTEXT_ID if d.get("bos_token_id", 0) == PAD_ID else d["bos_token_id"],
                eos_token_id=ENDOFTEXT_ID if eos == PAD_ID else eos,
                pad_token_id=d.get("pad_token_id") if d.get("pad_token_id") is not None else PAD_ID,
            ).validate()
        except UserError as e:  # name the file, not only the field
            raise UserError(f"{source}: {e}", param=e.param) from None

    @classmethod
    def from_json_file(cls, path: str | Path) -> ModelConfig:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path} does not exist; a model folder needs a config.json")
        return cls.from_hf_dict(read_json(path, "re-export the model folder"), source=str(path))

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes).validate()


def _preset(
    name: str, layers: int, hidden: int, heads: int, inter: int, rotary_pct: float, max_pos: int = 2048
) -> ModelConfig:
    return ModelConfig(
        name=name,
        vocab_size=PADDED_VOCAB_SIZE,
        tokenizer_vocab_size=TOKENIZER_VOCAB_SIZE,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=inter,
        rotary_pct=rotary_pct,
        rotary_emb_base=10000.0,
        max_position_embeddings=max_pos,
        layer_norm_eps=1e-5,
        initializer_range=0.02,
        use_parallel_residual=True,
        hidden_act="gelu",
    )


# The model cards' sizes. Parameter counts on the meta device: 1,331,810,304 / 3,809,974,272 / 5,885,059,072
# exactly as the cards; 12.8b counts 12,893,603,840, which is 5,027,840 fewer than the card's 12,898,631,680
# (the closed form gives the same; the card's extra parameters are unexplained, so we do not invent them).
PRESETS: dict[str, ModelConfig] = {
    "polyglot-ko-1.3b": _preset("polyglot-ko-1.3b", layers=24, hidden=2048, heads=16, inter=8192, rotary_pct=0.5),
    "polyglot-ko-3.8b": _preset("polyglot-ko-3.8b", layers=32, hidden=3072, heads=24, inter=12288, rotary_pct=0.5),
    "polyglot-ko-5.8b": _preset("polyglot-ko-5.8b", layers=28, hidden=4096, heads=16, inter=16384, rotary_pct=0.25),
    "polyglot-ko-12.8b": _preset("polyglot-ko-12.8b", layers=40, hidden=5120, heads=40, inter=20480, rotary_pct=0.5),
    # Small shapes for CPU work and tests. head size 128 / rotary 0.5 like 1.3b, 3.8b, 12.8b ("-h128"),
    # head size 256 / rotary 0.25 like 5.8b ("-h256"): both keep 64 rotary dims per head as the real models.
    "tiny": _preset("tiny", layers=2, hidden=64, heads=2, inter=256, rotary_pct=0.5, max_pos=512),
    "tiny-h128": _preset("tiny-h128", layers=2, hidden=256, heads=2, inter=1024, rotary_pct=0.5),
    "tiny-h256": _preset("tiny-h256", layers=2, hidden=512, heads=2, inter=2048, rotary_pct=0.25),
    "small": _preset("small", layers=6, hidden=384, heads=6, inter=1536, rotary_pct=0.5, max_pos=1024),
    "base-125m": _preset("base-125m", layers=12, hidden=768, heads=12, inter=3072, rotary_pct=0.25),
}

# Published parameter counts, for checks and the `info` command.
CARD_PARAMETERS = {
    "polyglot-ko-1.3b": 1_331_810_304,
    "polyglot-ko-3.8b": 3_809_974_272,
    "polyglot-ko-5.8b": 5_885_059_072,
    "polyglot-ko-12.8b": 12_898_631_680,
}


def get_config(preset_or_config: str | ModelConfig | dict) -> ModelConfig:
    """A preset by name, a `ModelConfig`, a dict of HF config fields, or a path to a config.json / model folder."""
    if isinstance(preset_or_config, ModelConfig):
        return preset_or_config.validate()
    if isinstance(preset_or_config, dict):
        return ModelConfig.from_hf_dict(preset_or_config, source="config dict")
    name = str(preset_or_config)
    key = name.removeprefix("EleutherAI/")
    if key in PRESETS:
        return dataclasses.replace(PRESETS[key])
    path = Path(name)
    if path.is_dir():
        return ModelConfig.from_json_file(path / "config.json")
    if path.is_file():
        return ModelConfig.from_json_file(path)
    raise UserError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)} or pass a config.json")
