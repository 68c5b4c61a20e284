"""LoRA adapters on our GPT-NeoX through peft itself: add, save as a standard peft folder, load, merge; QLoRA check.

`add_lora` injects peft's own `lora.Linear` layers into our `GPTNeoXForCausalLM` with
`peft.inject_adapter_in_model` (no `PeftModel` wrapper): the model keeps its class, forward, KV cache and
state-dict names, with `...query_key_value.lora_A.default.weight` beside the frozen base weights.
`save_adapter` writes what `PeftModel.save_pretrained` writes (`adapter_config.json` from peft's `LoraConfig`,
`adapter_model.safetensors` with `base_model.model.<module>.lora_A.weight` keys), so
`peft.PeftModel.from_pretrained(transformers GPT-NeoX, folder)` loads it unchanged, and `load_adapter` reads
folders peft wrote. `merge_adapter` folds B·A·alpha/r into the base weights with peft's `merge` and puts the
plain `nn.Linear`s back; `merge` writes the merged model as a Hugging Face folder. peft is the `finetune` extra.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.util
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..constants import TOKENIZER_FILES
from ..errors import UserError
from ..hub import looks_like_hub_id, resolve_folder
from ..io_utils import atomic_dir, atomic_write_json, check_output_path, read_json

# The linear layers of a GPT-NeoX block, by the last part of their name (peft matches `name == t` or
# `name.endswith("." + t)`, so "dense" is attention.dense only).
LORA_TARGETS = ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h")
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_WEIGHTS_BIN = "adapter_model.bin"  # what older peft versions wrote
PEFT_PREFIX = "base_model.model."  # PeftModel -> LoraModel -> the model: the prefix of saved adapter keys
ADAPTER_NAME = "default"
# Fields that describe the adapter weights themselves: save_adapter(**config) may not contradict them.
_WEIGHT_FIELDS = (
    "r",
    "lora_alpha",
    "target_modules",
    "use_rslora",
    "use_dora",
    "rank_pattern",
    "alpha_pattern",
    "fan_in_fan_out",
    "bias",
    "lora_bias",
    "layers_to_transform",
    "layers_pattern",
    "modules_to_save",
    "peft_type",
)


def _peft():
    try:
        import peft
    except ModuleNotFoundError as e:
        if e.name != "peft":
            raise
        raise UserError(
            "LoRA adapters need the peft package, which is not installed; pip install 'polyglot-ko[finetune]'"
        ) from None
    return peft


def _check_model(model) -> None:
    from ..model import GPTNeoXForCausalLM

    if not isinstance(model, GPTNeoXForCausalLM):
        raise TypeError(f"expected a polyglot_ko GPTNeoXForCausalLM, got {type(model).__name__}")


def has_lora(model: nn.Module) -> bool:
    """Whether `model` carries peft LoRA layers (from add_lora or load_adapter, not yet merged)."""
    if hasattr(model, "peft_config"):
        return True
    if importlib.util.find_spec("peft") is None:
        return False
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(isinstance(m, BaseTunerLayer) for m in model.modules())


def _check_targets(targets: str | Sequence[str]) -> list[str]:
    items = [targets] if isinstance(targets, str) else list(targets)
    if not items:
        raise UserError(f"targets=[]: name at least one layer to adapt among {', '.join(LORA_TARGETS)}")
    for t in items:
        if t not in LORA_TARGETS:
            raise UserError(
                f"targets={items!r}: {t!r} is not a GPT-NeoX linear layer; choose among {', '.join(LORA_TARGETS)}"
            )
    return list(dict.fromkeys(items))


def check_qlora_supported(device: str | torch.device) -> None:
    """Raise a one-line `UserError` unless 4-bit QLoRA can run on `device`: bitsandbytes installed, a CUDA GPU."""
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    dev = torch.device(device)
    cuda_ok = dev.type == "cuda" and torch.cuda.is_available()
    if has_bnb and cuda_ok:
        return
    if dev.type == "cuda" and not cuda_ok:
        where = f"device {dev} but this torch sees no CUDA GPU"
    else:
        where = f"device {dev}"
    found = f"{'bitsandbytes' if has_bnb else 'no bitsandbytes'}, {where}"
    raise UserError(
        f"quantize_base='4bit' (QLoRA) needs bitsandbytes with a CUDA GPU (found: {found}); use plain "
        f"LoRA (method=lora, quantize_base=None), or run on a CUDA machine with bitsandbytes installed"
    )


def _quantize_base_4bit(model, quantize_base: str) -> None:
    """Swap every block linear for a bitsandbytes NF4 `Linear4bit` (QLoRA); peft then wraps those.

    Runs only where `check_qlora_supported` passes (a CUDA GPU with bitsandbytes); the CPU tests cannot reach it.
    """
    if quantize_base != "4bit":
        raise UserError(f"quantize_base={quantize_base!r} is not supported; use '4bit' (QLoRA, NF4) or None")
    device = model.embed_out.weight.device
    check_qlora_supported(device)
    import bitsandbytes as bnb

    dtype = model.embed_out.weight.dtype
    compute_dtype = dtype if dtype in (torch.bfloat16, torch.float16) else torch.bfloat16
    for parent in list(model.gpt_neox.layers.modules()):
        for name, child in list(parent.named_children()):
            if name not in LORA_TARGETS or type(child) is not nn.Linear:
                continue
            q = bnb.nn.Linear4bit(
                child.in_features,
                child.out_features,
                bias=child.bias is not None,
                compute_dtype=compute_dtype,
                compress_statistics=True,
                quant_type="nf4",
                device="meta",
            )
            q.weight = bnb.nn.Params4bit(
                child.weight.data.to("cpu", torch.float16),
                requires_grad=False,
                compress_statistics=True,
                quant_type="nf4",
            )
            if child.bias is not None:
                q.bias = nn.Parameter(child.bias.data.to(compute_dtype), requires_grad=False)
            setattr(parent, name, q.to(device))  # moving Params4bit to the GPU quantizes it
    model.is_loaded_in_4bit = True  # what peft's LoRA dispatch looks for to wrap Linear4bit layers


def add_lora(
    model,
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.05,
    targets: str | Sequence[str] = ("query_key_value",),
    quantize_base: str | None = None,
):
    """Add LoRA to our `GPTNeoXForCausalLM` in place with peft, freeze everything else, return the model.

    Args:
        model: a polyglot_ko GPTNeoXForCausalLM (e.g. from load_model)
        r: LoRA rank
        alpha: LoRA alpha; the update is B·A·alpha/r
        dropout: dropout on the LoRA path's input while training
        targets: layers to adapt, among query_key_value, dense, dense_h_to_4h, dense_4h_to_h
        quantize_base: '4bit' for QLoRA (NF4 base weights; needs bitsandbytes and a CUDA GPU), None for LoRA

    B starts at zero, so the model's outputs are unchanged until it trains. LoRA weights of a bfloat16/float16
    model are kept in float32 (as peft's get_peft_model does). Only parameters named `*.lora_A.*`/`*.lora_B.*`
    require grad.
    """
    _check_model(model)
    peft = _peft()
    target_list = _check_targets(targets)
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise UserError(f"r={r!r}: the LoRA rank must be a positive integer; use e.g. r=8")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise UserError(f"alpha={alpha!r}: LoRA alpha must be a positive number; use e.g. alpha=16 (2 x r)")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise UserError(f"dropout={dropout!r}: must be in [0, 1); use e.g. dropout=0.05")
    if has_lora(model):
        raise UserError("model: already has a LoRA adapter; add LoRA once, or merge_adapter(model) first")
    if quantize_base is not None:
        _quantize_base_4bit(model, quantize_base)
    config = peft.LoraConfig(
        task_type="CAUSAL_LM",
        r=r,
        lora_alpha=alpha,
        lora_dropout=float(dropout),
        target_modules=target_list,
        bias="none",
    )
    peft.inject_adapter_in_model(config, model, adapter_name=ADAPTER_NAME)
    from peft.tuners.tuners_utils import cast_adapter_dtype

    cast_adapter_dtype(model, ADAPTER_NAME, autocast_adapter_dtype=True)
    return model


def _lora_config(model):
    config = getattr(model, "peft_config", {}).get(ADAPTER_NAME)
    if config is None:
        raise UserError("model: has no LoRA adapter; call add_lora(model) or load_adapter(model, folder) first")
    return config


def _json_value(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value


def adapter_config_dict(model, base_model_name_or_path: str | Path, **config) -> dict:
    """The adapter_config.json that `PeftModel.save_pretrained` would write for `model`'s LoRA (sorted keys)."""
    lora = _lora_config(model)
    fields = {f.name for f in dataclasses.fields(lora)}
    for key, value in config.items():
        if key not in fields:
            raise UserError(f"{key}={value!r}: is not a field of peft's LoraConfig; leave it out")
        if key in _WEIGHT_FIELDS and _json_value(value) != _json_value(getattr(lora, key)):
            have = _json_value(getattr(lora, key))
            raise UserError(
                f"{key}={value!r}: differs from the model's LoRA ({key}={have!r}); adapter_config.json "
                f"must describe the saved weights, so leave it out"
            )
    if not str(base_model_name_or_path):
        raise UserError("base_model_name_or_path='': name the base model folder or hub id the adapter was trained on")
    d = {k: _json_value(v) for k, v in lora.to_dict().items()}
    d.update({k: _json_value(v) for k, v in config.items()})
    d["base_model_name_or_path"] = str(base_model_name_or_path)
    d["inference_mode"] = True  # as save_pretrained writes it
    return dict(sorted(d.items()))


def save_adapter(model, folder: str | Path, base_model_name_or_path: str | Path, tokenizer=None, **config) -> Path:
    """Write `model`'s LoRA as a standard peft adapter folder, atomically; return the folder.

    Args:
        model: a model with LoRA (add_lora or load_adapter)
        folder: output folder (replaced as a whole)
        base_model_name_or_path: the base model's folder or hub id, recorded in adapter_config.json; written as
            given, so a relative path is relative to where it is loaded from (or to the adapter folder)
        tokenizer: optionally, a tokenizer folder whose files are copied in (or an object with `save(folder)`)
        config: further peft LoraConfig fields to record (e.g. revision="main"); fields that describe the weights
            (r, lora_alpha, target_modules, ...) come from the model and may not be changed

    Files: adapter_config.json (peft's LoraConfig fields, task_type CAUSAL_LM, inference_mode true) and
    adapter_model.safetensors (`base_model.model.<module>.lora_{A,B}.weight`, metadata format=pt).
    """
    peft = _peft()
    folder = check_output_path(folder, "folder", folder=True)
    cfg = adapter_config_dict(model, base_model_name_or_path, **config)
    state = peft.get_peft_model_state_dict(model, adapter_name=ADAPTER_NAME, save_embedding_layers=False)
    tensors = {PEFT_PREFIX + k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    from safetensors.torch import save_file

    with atomic_dir(folder) as tmp:
        save_file(tensors, str(tmp / ADAPTER_WEIGHTS), metadata={"format": "pt"})
        atomic_write_json(tmp / ADAPTER_CONFIG, cfg)
        if isinstance(tokenizer, (str, Path)):
            for name in TOKENIZER_FILES:
                if (Path(tokenizer) / name).is_file():
                    shutil.copy2(Path(tokenizer) / name, tmp / name)
        elif tokenizer is not None:
            tokenizer.save(tmp)
    return folder


def is_adapter_folder(folder: str | Path) -> bool:
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def _resolve_adapter(adapter: str | Path, revision: str | None = None) -> Path:
    folder = resolve_folder(
        adapter,
        revision=revision,
        what="adapter",
        allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt", "*.model"],
    )
    if not (folder / ADAPTER_CONFIG).is_file():
        raise UserError(
            f"adapter {folder}: has no {ADAPTER_CONFIG}; pass a folder written by save_adapter or by "
            f"peft's save_pretrained"
        )
    return folder


def _read_adapter_config(folder: Path) -> dict:
    d = read_json(folder / ADAPTER_CONFIG, "save the adapter again")
    if not isinstance(d, dict):
        raise UserError(f"{folder / ADAPTER_CONFIG} is not a JSON object; save the adapter again")
    if d.get("peft_type") != "LORA":
        raise UserError(
            f"{folder / ADAPTER_CONFIG}: peft_type {d.get('peft_type')!r} is not supported; only LoRA "
            f"adapters (peft_type LORA) load here"
        )
    return d


def adapter_base(adapter: str | Path, revision: str | None = None) -> tuple[str, str | None]:
    """(base model folder or hub id, its revision) named by an adapter folder's adapter_config.json.

    A relative base path is taken from the current folder, or else from the adapter folder.
    """
    folder = _resolve_adapter(adapter, revision)
    d = _read_adapter_config(folder)
    base = d.get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise UserError(
            f"{folder / ADAPTER_CONFIG}: has no base_model_name_or_path; pass the base model and the "
            f"adapter separately: load_model(BASE, adapter={str(adapter)!r})"
        )
    path = Path(base).expanduser()
    if not path.exists() and not path.is_absolute() and (folder / path).exists():
        base = str(folder / path)
    elif not path.exists() and not looks_like_hub_id(base):
        raise UserError(
            f"{folder / ADAPTER_CONFIG}: base_model_name_or_path {base!r} does not exist here; pass the "
            f"base model and the adapter separately: load_model(BASE, adapter={str(adapter)!r})"
        )
    rev = d.get("revision")
    return base, rev if isinstance(rev, str) and rev else None


def _load_adapter_tensors(folder: Path) -> dict[str, torch.Tensor]:
    if (folder / ADAPTER_WEIGHTS).is_file():
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(folder / ADAPTER_WEIGHTS))
        except (SafetensorError, OSError) as e:
            raise UserError(
                f"{folder / ADAPTER_WEIGHTS} is corrupt or truncated ({str(e).splitlines()[0][:200]}); "
                f"save the adapter again"
            ) from None
    if (folder / ADAPTER_WEIGHTS_BIN).is_file():
        try:
            return torch.load(folder / ADAPTER_WEIGHTS_BIN, map_location="cpu", weights_only=True)
        except Exception as e:  # unpickling errors have many types
            raise UserError(
                f"{folder / ADAPTER_WEIGHTS_BIN} could not be read as a weights-only checkpoint "
                f"({type(e).__name__}); save the adapter again as safetensors"
            ) from None
    raise UserError(f"adapter {folder}: has no {ADAPTER_WEIGHTS}; copy the whole adapter folder (or save it again)")


def _remove_lora(model, merge: bool) -> None:
    """Put each wrapped layer's base layer back (after merging the LoRA update into it when `merge`)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    tuner_layers = [(name, m) for name, m in model.named_modules() if isinstance(m, BaseTunerLayer)]
    for name, module in tuner_layers:
        if merge:
            try:
                module.merge(safe_merge=True)
            except ValueError as e:  # safe_merge found NaN/inf in the merged weights
                why = str(e).splitlines()[0][:120]
                raise UserError(
                    f"model: merging the LoRA adapter into {name} gives non-finite weights ({why}); "
                    f"the adapter is broken, train or save it again"
                ) from None
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, module.get_base_layer())
    if hasattr(model, "peft_config"):
        del model.peft_config


def load_adapter(model, folder: str | Path, trainable: bool = False, revision: str | None = None):
    """Attach the LoRA adapter in `folder` (ours or any peft LoRA folder for GPT-NeoX) to `model`; return it.

    Args:
        model: our base model, loaded with load_model
        folder: adapter folder or hub id (adapter_config.json + adapter_model.safetensors)
        trainable: keep the LoRA weights trainable (float32), e.g. to resume fine-tuning; by default everything is
            frozen, for inference
        revision: hub revision of the adapter

    Every adapter tensor must exist in the model with the same shape, and every LoRA layer must get its
    weights; otherwise the model is left as it was and a `UserError` says which tensor does not fit.
    """
    _check_model(model)
    peft = _peft()
    folder = _resolve_adapter(folder, revision)
    d = _read_adapter_config(folder)
    if has_lora(model):
        raise UserError(
            f"adapter {folder}: the model already has a LoRA adapter; merge_adapter(model) first, "
            f"or load the base model again"
        )
    try:
        config = peft.LoraConfig.from_pretrained(str(folder))
    except (TypeError, ValueError) as e:
        raise UserError(
            f"{folder / ADAPTER_CONFIG}: not a valid peft LoraConfig ({str(e).splitlines()[0][:200]}); "
            f"save the adapter again"
        ) from None
    state = _load_adapter_tensors(folder)
    config.inference_mode = not trainable
    base = d.get("base_model_name_or_path")
    for_base = f" (it was trained on {base})" if base else ""
    try:
        peft.inject_adapter_in_model(config, model, adapter_name=ADAPTER_NAME)
    except ValueError as e:  # e.g. target modules not found in this model
        _remove_lora(model, merge=False)
        raise UserError(
            f"adapter {folder}: does not fit this model{for_base}: {str(e).splitlines()[0][:200]}; "
            f"load it on its own base model"
        ) from None
    try:
        expected = {
            PEFT_PREFIX + k: v.shape
            for k, v in peft.get_peft_model_state_dict(
                model, adapter_name=ADAPTER_NAME, save_embedding_layers=False
            ).items()
        }
        for key, tensor in state.items():
            if key not in expected:
                raise UserError(
                    f"adapter {folder}: tensor {key} has no place in this model{for_base}; "
                    f"load it on its own base model"
                )
            if tensor.shape != expected[key]:
                raise UserError(
                    f"adapter {folder}: tensor {key} has shape {tuple(tensor.shape)} but this model needs "
                    f"{tuple(expected[key])}{for_base}; load it on its own base model"
                )
        missing = sorted(set(expected) - set(state))
        if missing:
            raise UserError(
                f"adapter {folder}: {ADAPTER_WEIGHTS} lacks {missing[0]}"
                f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''}; the adapter does not "
                f"match its adapter_config.json or this model{for_base}: save it again"
            )
        peft.set_peft_model_state_dict(model, state, adapter_name=ADAPTER_NAME)
    except BaseException:
        _remove_lora(model, merge=False)
        raise
    if trainable:
        from peft.tuners.tuners_utils import cast_adapter_dtype

        cast_adapter_dtype(model, ADAPTER_NAME, autocast_adapter_dtype=True)
    return model


def merge_adapter(model):
    """Fold the LoRA update into the base weights (W += B·A·alpha/r) and remove the LoRA layers, in place.

    What is left is a plain `GPTNeoXForCausalLM` with the original state-dict names, every parameter requiring
    grad again as on a freshly loaded model; `save_model` writes it as an ordinary model folder.
    """
    _check_model(model)
    _lora_config(model)
    _remove_lora(model, merge=True)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def merge(
    base: str | Path | None,
    adapter: str | Path,
    out: str | Path,
    dtype: str | None = None,
    max_shard_size: int | str = "2GB",
    overwrite: bool = False,
) -> Path:
    """Write base + adapter, merged, as a Hugging Face model folder `out` (atomically); return `out`.

    Args:
        base: the base model folder or hub id; None takes the adapter's base_model_name_or_path
        adapter: the LoRA adapter folder
        out: output folder
        dtype: output dtype (default: the base's stored dtype); the merge itself runs in float32
        max_shard_size: largest safetensors shard, e.g. 2GB
        overwrite: replace `out` if it exists and is not empty

    The tokenizer files come from the adapter folder when it has a tokenizer.json (a fine-tune that saved its
    chat template), else from the base folder.
    """
    from ..checkpoint import _iter_tensors, _weight_files, load_model, parse_dtype, save_model

    adapter_folder = _resolve_adapter(adapter)
    base_revision = None
    if base is None:
        base, base_revision = adapter_base(adapter_folder)
    base_folder = resolve_folder(
        base, revision=base_revision, what="model", allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]
    )
    out_path = check_output_path(out, "out", folder=True)
    if out_path.exists():
        if out_path.resolve() in (base_folder.resolve(), adapter_folder.resolve()):
            raise UserError(f"out {out}: is the base or adapter folder itself; write the merged model elsewhere")
        if any(out_path.iterdir()) and not overwrite:
            raise UserError(f"out {out}: exists and is not empty; pass overwrite=True to replace it")
    if dtype is None:
        kind, files = _weight_files(base_folder)
        _, first = next(_iter_tensors(kind, files[:1]))
        out_dtype = first.dtype
    else:
        out_dtype = parse_dtype(dtype)
    model = load_model(base_folder, dtype="float32", adapter=adapter_folder)
    tokenizer = adapter_folder if (adapter_folder / "tokenizer.json").is_file() else base_folder
    return save_model(model, out_path, tokenizer=tokenizer, dtype=out_dtype, max_shard_size=max_shard_size)


__all__ = [
    "LORA_TARGETS",
    "add_lora",
    "save_adapter",
    "load_adapter",
    "merge_adapter",
    "merge",
    "check_qlora_supported",
    "has_lora",
    "adapter_base",
    "adapter_config_dict",
    "is_adapter_folder",
]
