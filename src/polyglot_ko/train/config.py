"""The pretraining config: one dataclass tree, YAML recipes that are dumps of it, dotted command-line overrides.

A recipe is `TrainConfig` written as YAML (`dump_recipe`), section by section. Any value can be changed from the
command line as `section.key=value` (e.g. `optim.lr=3e-4 train.max_steps=100 model.hidden_size=128`); values
are converted to the field's declared type, and unknown keys are refused with the list of valid ones.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Union

from ..config import PRESETS, ModelConfig, get_config
from ..errors import UserError

# Fields of ModelConfig that are not architecture: the name is derived (preset or "<preset>-custom"), the token
# ids are the tokenizer's. Every other ModelConfig field is a recipe key under `model:`.
_NOT_ARCHITECTURE = ("name", "bos_token_id", "eos_token_id", "pad_token_id")
_AUTO_SIZED = ("vocab_size", "tokenizer_vocab_size")  # may also be "auto": sized from the data's tokenizer


def _model_section() -> type:
    """`ModelSection`: a preset, then every architecture field of `ModelConfig` as an optional override (None keeps
    the preset's value; see ModelConfig for what each means), then `init_from`. Derived, so a field added to
    ModelConfig is a recipe key at once."""
    hints = typing.get_type_hints(ModelConfig)
    fields: list[tuple[str, Any, Any]] = [("preset", str, field(default="tiny"))]
    for f in dataclasses.fields(ModelConfig):
        if f.name not in _NOT_ARCHITECTURE:
            tp = hints[f.name] | str | None if f.name in _AUTO_SIZED else hints[f.name] | None
            fields.append((f.name, tp, field(default=None)))
    # Start from the weights of this HF model folder / hub id instead of a random init (continued pretraining).
    fields.append(("init_from", str | None, field(default=None)))
    cls = dataclasses.make_dataclass("ModelSection", fields)
    cls.__module__, cls.__doc__ = __name__, _model_section.__doc__  # pickles and documents like a written one
    return cls


ModelSection = _model_section()


@dataclass
class DataSection:
    """Where the tokens come from and how they are cut into training sequences."""

    paths: list[str] = field(default_factory=list)
    """Prepared-data folders (with manifest.json) or bare .bin/.idx path prefixes; each is one mixture source."""
    weights: list[float] | None = None
    """Mixture weight per path (normalised); None = proportional to each source's token count."""
    valid_paths: list[str] = field(default_factory=list)
    """Held-out data; empty = the valid_shards of the manifests in `paths` (no validation if there are none)."""
    seq_len: int = 2048
    """Tokens per training sequence; each sample holds seq_len + 1 tokens (inputs and shifted targets)."""
    seed: int = 1234
    """Seed of the sample order (per-source shuffles, mixture interleaving)."""
    num_workers: int = 0
    """DataLoader worker processes per rank (0 = load in the training process); does not change the order."""


@dataclass
class OptimSection:
    """AdamW with linear warmup and cosine decay to a floor."""

    lr: float = 2.0e-4
    """Peak learning rate (after warmup). Unpublished for Polyglot-Ko; 2e-4 is GPT-NeoX's 1.3B choice."""
    min_lr: float = 2.0e-5
    """Floor the cosine decays to (GPT-NeoX convention: 10% of lr)."""
    warmup_steps: int = 100
    """Linear warmup from lr/warmup_steps to lr."""
    decay_steps: int | None = None
    """Step at which the cosine reaches min_lr (None = train.max_steps); constant min_lr afterwards."""
    weight_decay: float = 0.1
    """Decoupled weight decay on weight matrices and embeddings; never on biases and LayerNorm parameters."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.95
    """AdamW beta2."""
    eps: float = 1.0e-8
    """AdamW epsilon."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 = no clipping; the norm is still computed and logged)."""
    implementation: str = "auto"
    """torch AdamW kernel: "fused", "foreach", "for", or "auto" (fused on GPU and single-process CPU)."""


@dataclass
class TrainSection:
    """How long and how big."""

    max_steps: int = 100
    """Optimizer steps to train for (counting steps skipped for non-finite values)."""
    global_batch_size: int = 8
    """Sequences per optimizer step over all processes; must be micro_batch_size x processes x an integer."""
    micro_batch_size: int = 8
    """Sequences per forward/backward per process; the rest of the global batch is gradient accumulation."""
    seed: int = 0
    """Seed of the model's random init and the torch RNGs."""
    valid_every: int = 0
    """Evaluate on the held-out data every N steps and at the end (0 = only at the end)."""
    valid_batches: int = 8
    """Micro-batches of held-out sequences per evaluation (the same ones every time)."""
    max_bad_steps: int = 5
    """Stop after this many consecutive steps with a non-finite loss or gradient (each is skipped)."""


@dataclass
class ParallelSection:
    """Device, precision and the parallelism applied from outside the model."""

    device: str = "auto"
    """"auto" (cuda if available), "cpu" or "cuda"."""
    precision: str = "auto"
    """"auto" (bfloat16 compute with float32 master weights on GPU, float32 on CPU), "float32" or "bfloat16"."""
    fsdp: str = "auto"
    """Shard parameters, gradients and optimizer state with FSDP2 per transformer block: "auto" (when more than
    one process), "on" or "off" (plain data parallel via DDP when several processes)."""
    activation_checkpointing: bool = False
    """Recompute each block's activations in the backward pass (less memory, ~30% more compute)."""
    compile: bool = False
    """torch.compile each transformer block (needs a C++ compiler on CPU; first steps are slow)."""
    num_threads: int = 0
    """torch intra-op threads per process (0 = torch's default)."""


@dataclass
class CheckpointSection:
    """Sharded training checkpoints (torch.distributed.checkpoint) and Hugging Face exports."""

    save_every: int = 0
    """Save the full training state every N steps (0 = only at the end and on SIGTERM/SIGINT)."""
    keep_last: int = 2
    """Keep the newest K step checkpoints (and HF exports); older ones are deleted after a save succeeds."""
    resume: str = "auto"
    """"auto" (newest complete checkpoint in OUT, else start fresh), "never", or a step-checkpoint folder."""
    export_hf: str = "checkpoint"
    """When to write a Hugging Face model folder: "checkpoint" (with every checkpoint and at the end),
    "end" (only the final model), or "never"."""


@dataclass
class LoggingSection:
    """Where metrics go."""

    log_every: int = 1
    """Print/log a metrics line every N steps (metrics.jsonl always gets every step)."""
    tensorboard: bool = True
    """Also write TensorBoard event files to OUT/tensorboard when tensorboard is installed."""
    plot: bool = True
    """Write OUT/loss.png (train and validation loss) at the end."""
    progress: bool = True
    """Show a tqdm progress bar on rank 0."""


@dataclass
class TrainConfig:
    """Everything a pretraining run needs; `recipes/*.yaml` are dumps of this."""

    out: str | None = None
    """Run folder: checkpoints/, hf/, model/, metrics.jsonl, config.yaml, loss.png."""
    tokenizer: str | None = None
    """Tokenizer folder or hub id: checked against the data's fingerprint and saved with every HF export."""
    model: ModelSection = field(default_factory=ModelSection)
    """Architecture."""
    data: DataSection = field(default_factory=DataSection)
    """Training and validation data."""
    optim: OptimSection = field(default_factory=OptimSection)
    """Optimizer and learning-rate schedule."""
    train: TrainSection = field(default_factory=TrainSection)
    """Steps, batch sizes, validation cadence."""
    parallel: ParallelSection = field(default_factory=ParallelSection)
    """Device, precision, FSDP, activation checkpointing, compile."""
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    """Checkpoints, resume and HF exports."""
    logging: LoggingSection = field(default_factory=LoggingSection)
    """Metrics outputs."""

    # --- derived -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> TrainConfig:
        """A copy with dotted overrides applied (`cfg.replace(**{"train.max_steps": 10})`)."""
        return apply_overrides(self, overrides)

    def validate(self) -> TrainConfig:
        """Checks that need no data and no devices; everything fails here, before training starts."""
        if self.model.preset not in PRESETS and not Path(self.model.preset).exists():
            raise UserError(
                f"model.preset: unknown preset {self.model.preset!r}; choose one of "
                f"{', '.join(PRESETS)} or a config.json path"
            )
        t, d, o = self.train, self.data, self.optim
        lower_bounds = (
            ("train.max_steps", t.max_steps, 1),
            ("train.global_batch_size", t.global_batch_size, 1),
            ("train.micro_batch_size", t.micro_batch_size, 1),
            ("data.seq_len", d.seq_len, 8),
            ("train.max_bad_steps", t.max_bad_steps, 1),
            ("train.valid_batches", t.valid_batches, 1),
            ("optim.warmup_steps", o.warmup_steps, 0),
            ("train.valid_every", t.valid_every, 0),
            ("checkpoint.save_every", self.checkpoint.save_every, 0),
            ("checkpoint.keep_last", self.checkpoint.keep_last, 1),
            ("data.num_workers", d.num_workers, 0),
            ("logging.log_every", self.logging.log_every, 1),
        )
        for name, value, low in lower_bounds:
            if value < low:
                raise UserError(f"{name}={value}: must be at least {low}")
        if t.global_batch_size % t.micro_batch_size:
            raise UserError(
                f"train.global_batch_size={t.global_batch_size} is not divisible by "
                f"train.micro_batch_size={t.micro_batch_size}; make it a multiple"
            )
        if not (0 <= o.min_lr <= o.lr) or not math.isfinite(o.lr) or o.lr <= 0:
            raise UserError(f"optim.lr={o.lr}, optim.min_lr={o.min_lr}: need 0 <= min_lr <= lr and lr > 0")
        for name, value, ok, rule in (
            ("optim.beta1", o.beta1, 0 <= o.beta1 < 1, "in [0, 1)"),
            ("optim.beta2", o.beta2, 0 <= o.beta2 < 1, "in [0, 1)"),
            ("optim.eps", o.eps, o.eps > 0, "> 0"),
            ("optim.weight_decay", o.weight_decay, o.weight_decay >= 0, ">= 0"),
            ("optim.grad_clip", o.grad_clip, o.grad_clip >= 0, ">= 0 (0 = off)"),
        ):
            if not (math.isfinite(value) and ok):
                raise UserError(f"{name}={value}: must be {rule}")
        if not d.paths:
            raise UserError("data.paths is empty; give one or more folders made by `polyglot-ko prepare`")
        if d.weights is not None:
            if len(d.weights) != len(d.paths):
                raise UserError(
                    f"data.weights has {len(d.weights)} values for {len(d.paths)} data.paths; give one weight per path"
                )
            if any(w < 0 or not math.isfinite(w) for w in d.weights) or sum(d.weights) <= 0:
                raise UserError(f"data.weights={d.weights}: weights must be non-negative with a positive sum")
        choices = {
            "parallel.device": (self.parallel.device, ("auto", "cpu", "cuda")),
            "parallel.precision": (self.parallel.precision, ("auto", "float32", "bfloat16")),
            "parallel.fsdp": (self.parallel.fsdp, ("auto", "on", "off")),
            "optim.implementation": (o.implementation, ("auto", "fused", "foreach", "for")),
            "checkpoint.export_hf": (self.checkpoint.export_hf, ("checkpoint", "end", "never")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise UserError(f"{name}={value!r}: choose one of {', '.join(allowed)}")
        for name in ("vocab_size", "tokenizer_vocab_size"):
            v = getattr(self.model, name)
            if isinstance(v, str) and v != "auto":
                raise UserError(f"model.{name}={v!r}: give a number or 'auto'")
        return self


def model_config_from(section: ModelSection, seq_len: int, manifest_vocab: int | None = None) -> ModelConfig:
    """The `ModelConfig` a recipe describes; `manifest_vocab` resolves "auto" vocabulary sizes."""
    cfg = get_config(section.preset)
    changes = {}
    for f in dataclasses.fields(ModelSection):
        if f.name in ("preset", "vocab_size", "tokenizer_vocab_size", "init_from"):
            continue
        value = getattr(section, f.name)
        if value is not None:
            changes[f.name] = value
    tvs, vs = section.tokenizer_vocab_size, section.vocab_size
    if "auto" in (tvs, vs):
        if manifest_vocab is None:
            raise UserError(
                "model.vocab_size: 'auto' needs data with a manifest.json naming its tokenizer's "
                "vocab_size; pass a `polyglot-ko prepare` folder or set model.vocab_size"
            )
        if tvs in (None, "auto"):
            tvs = manifest_vocab
    if tvs is not None:
        changes["tokenizer_vocab_size"] = int(tvs)
    if vs == "auto" or (vs is None and tvs is not None and int(tvs) > cfg.vocab_size):
        vs = int(math.ceil(int(changes.get("tokenizer_vocab_size", cfg.tokenizer_vocab_size)) / 128) * 128)
    if vs is not None:
        changes["vocab_size"] = int(vs)
    if seq_len > changes.get("max_position_embeddings", cfg.max_position_embeddings):
        changes["max_position_embeddings"] = seq_len
    if any(getattr(cfg, k) != v for k, v in changes.items()):
        # A changed architecture is no longer the preset (its parameter count differs): say so in config.json.
        changes["name"] = f"{cfg.name}-custom"
    return cfg.replace(**changes)


# --- YAML and overrides ------------------------------------------------------------------------------------


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.lru_cache(maxsize=4)
def _parser(cls: type = None):
    """jsonargparse's parser of a config class (TrainConfig or a subclass): every field typed as declared,
    sections as dotted keys."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls or TrainConfig)
    return parser


def _check_keys(cls, data: Any, prefix: str) -> dict:
    """Unknown keys, with the valid ones listed (the types are jsonargparse's to check). Returns a plain copy."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{prefix or 'recipe'}: expected a mapping of keys, got {data!r}")
    hints = _hints(cls)
    out = {}
    for key, value in data.items():
        if key not in hints:
            raise UserError(
                f"{prefix}{key}: unknown setting; valid keys under {prefix.rstrip('.') or 'the top level'} "
                f"are {', '.join(f.name for f in dataclasses.fields(cls))}"
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            out[key] = _check_keys(tp, value, f"{prefix}{key}.")
        elif isinstance(value, str) and _list_item(tp) is not None and not value.lstrip().startswith("["):
            # `data.weights=3,1`, `data.paths=a,b`: the README's comma lists (jsonargparse wants [3,1]).
            out[key] = [v for v in (s.strip() for s in value.split(",")) if v]
        elif isinstance(value, str) and value in ("none", "None") and type(None) in typing.get_args(tp):
            out[key] = None  # YAML says null or ~; "None" is what Python users type
        else:
            out[key] = value
    return out


def _list_item(tp: Any) -> Any:
    is_union = typing.get_origin(tp) in (Union, types.UnionType)
    args = [a for a in typing.get_args(tp) if a is not type(None)] if is_union else [tp]
    return typing.get_args(args[0])[0] if len(args) == 1 and typing.get_origin(args[0]) is list else None


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) in (Union, types.UnionType):
        parts = [_describe(a) for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in typing.get_args(tp) else "")
    if typing.get_origin(tp) is list:
        return f"a list of {_describe(typing.get_args(tp)[0]).split(' ', 1)[-1]}s (a,b or [a, b])"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _type_error(error: Exception, data: dict, root: type = None) -> UserError:
    """jsonargparse's multi-line type error as our one line: `train.max_steps='many': expected an integer`."""
    m = re.search(r'Parser key "([^"]+)"', str(error))
    if not m:
        return UserError(f"recipe: {' '.join(str(error).split())}")
    key = m.group(1)
    *sections, name = key.split(".")
    cls, value = root or TrainConfig, data
    for section in sections:
        cls, value = _hints(cls)[section], value.get(section, {})
    return UserError(f"{key}={value.get(name)!r}: expected {_describe(_hints(cls)[name])}")


def config_from_dict(data: dict, cls: type = None) -> TrainConfig:
    """A TrainConfig (or `cls`, a subclass with more sections) from a recipe-shaped dict (YAML values or strings);
    types are checked and converted by jsonargparse, mistakes are one-line UserErrors naming the key."""
    from jsonargparse import ArgumentError

    cls = cls or TrainConfig
    data = _check_keys(cls, data, "")
    parser = _parser(cls)
    try:
        parsed = parser.instantiate(parser.parse_object(data))
    except ArgumentError as e:
        raise _type_error(e, data, cls) from None
    return cls(**{f.name: parsed[f.name] for f in dataclasses.fields(cls)})


def apply_overrides(config: TrainConfig, overrides: dict[str, Any] | list[str] | None) -> TrainConfig:
    """Apply `{"section.key": value}` or ["section.key=value", ...]; returns a new config."""
    if not overrides:
        return config
    if isinstance(overrides, (list, tuple)):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise UserError(f"override {item!r}: write it as section.key=value (e.g. train.max_steps=100)")
            k, v = item.split("=", 1)
            pairs[k.strip()] = v.strip()
        overrides = pairs
    data = config.to_dict()
    for dotted, value in overrides.items():
        dotted = dotted.replace("__", ".")  # pretrain(config, train__max_steps=10) from Python keyword arguments
        parts = dotted.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                sections = [k for k, t in _hints(type(config)).items() if dataclasses.is_dataclass(t)]
                raise UserError(
                    f"override {dotted}: {'.'.join(parts[: i + 1])} is not a section; sections are "
                    f"{', '.join(sections)}"
                )
            node = node[part]
        if parts[-1] not in node:
            raise UserError(f"override {dotted}: unknown setting; valid keys here are {', '.join(node)}")
        if isinstance(node[parts[-1]], dict) and not isinstance(value, dict):
            raise UserError(f"override {dotted}: is a section; set one of its keys ({', '.join(node[parts[-1]])})")
        node[parts[-1]] = value
    return config_from_dict(data, type(config))


def builtin_recipe(name: str) -> Path | None:
    """The recipe shipped in the package (`polyglot_ko/recipes/NAME.yaml`), or None."""
    path = Path(str(resources.files("polyglot_ko") / "recipes" / f"{name.removesuffix('.yaml')}.yaml"))
    return path if path.is_file() else None


def builtin_recipes() -> list[str]:
    """Names of the shipped recipes (`--config NAME`)."""
    return sorted(p.stem for p in Path(str(resources.files("polyglot_ko") / "recipes")).glob("*.yaml"))


def load_recipe(
    path: str | Path | None = None, overrides: dict[str, Any] | list[str] | None = None, cls: type = None
) -> TrainConfig:
    """Read a YAML recipe (a file, or a built-in name such as "cpu-tiny"; defaults when None) as a TrainConfig (or
    `cls`, e.g. FinetuneConfig), then apply dotted overrides."""
    import yaml

    cls = cls or TrainConfig
    if path is None:
        config = cls()
    else:
        path = Path(path)
        if not path.is_file():
            builtin = builtin_recipe(path.name)
            if builtin is not None and not path.parent.name:
                path = builtin
            else:
                raise UserError(
                    f"recipe {path} does not exist; pass a YAML file or a built-in recipe name "
                    f"({', '.join(builtin_recipes())})"
                )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError:
            raise UserError(f"recipe {path} is not UTF-8 text (a binary file?); pass a YAML recipe") from None
        except yaml.YAMLError as e:
            raise UserError(f"recipe {path} is not valid YAML ({str(e).splitlines()[0]}); fix the file") from None
        if cls is TrainConfig and isinstance(data, dict) and "finetune" in data:
            raise UserError(
                f"recipe {path} is a fine-tuning recipe (it has a finetune section); run it with "
                f"`polyglot-ko finetune --config {path}`"
            )
        config = config_from_dict(data, cls)
    return apply_overrides(config, overrides)


def dump_recipe(config: TrainConfig, header: str = "") -> str:
    """The config as YAML, sections in declaration order (what `recipes/*.yaml` hold)."""
    import yaml

    text = yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.strip("\n").split("\n")) + text
    return text


def resolve_config(config: TrainConfig | str | os.PathLike | dict | None = None, **overrides: Any) -> TrainConfig:
    """A `TrainConfig` from a recipe (object, path, dict or None) and overrides; see `pretrain`."""
    if isinstance(config, TrainConfig):
        cfg = config
    elif isinstance(config, dict):
        from .config import config_from_dict

        cfg = config_from_dict(config)
    else:
        cfg = load_recipe(config)
    shortcuts = {
        "max_steps": "train.max_steps",
        "save_every": "checkpoint.save_every",
        "resume": "checkpoint.resume",
        "data": "data.paths",
        "valid_data": "data.valid_paths",
    }
    dotted = shortcut_overrides(overrides, shortcuts)
    return apply_overrides(cfg, dotted)


def shortcut_overrides(overrides: dict[str, Any], shortcuts: dict[str, str]) -> dict[str, Any]:
    """Keyword overrides as dotted recipe keys: shortcuts expanded (`max_steps` -> `train.max_steps`), None dropped,
    paths as strings, a single data path as a list."""
    dotted = {}
    for k, v in overrides.items():
        if v is None:
            continue
        key = shortcuts.get(k, k)
        if key in ("data.paths", "data.valid_paths") and isinstance(v, (str, os.PathLike)):
            v = [str(v)]
        if isinstance(v, (list, tuple)):
            v = [str(x) if isinstance(x, os.PathLike) else x for x in v]
        elif isinstance(v, os.PathLike):
            v = str(v)
        dotted[key] = v
    return dotted
