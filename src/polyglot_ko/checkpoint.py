"""Hugging Face model folders: load (local or hub id), save (sharded safetensors), and `polyglot-ko convert`.

Loading builds the model on the `meta` device and assigns the checkpoint's tensors directly
(`load_state_dict(assign=True)`), converting one tensor at a time, so a model is materialised once:
peak memory stays close to its size in the chosen dtype. Legacy `pytorch_model*.bin` files are read with
`torch.load(weights_only=True)` only. A folder written by `save_model` loads unchanged in
`transformers.AutoModelForCausalLM.from_pretrained`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .config import ModelConfig
from .constants import ENDOFTEXT_ID, PAD_ID, TOKENIZER_FILES
from .errors import UserError
from .hub import resolve_folder
from .io_utils import atomic_dir, atomic_write_json, check_output_path, read_json
from .model import GPTNeoXForCausalLM

if TYPE_CHECKING:
    from .export.model_card import ModelCardInfo

SAFE_SINGLE, SAFE_INDEX = "model.safetensors", "model.safetensors.index.json"
BIN_SINGLE, BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"
# Buffers that old transformers versions saved into GPT-NeoX checkpoints (the released Polyglot-Ko ones
# included); they are recomputed, never loaded.
_IGNORED_KEYS = re.compile(r"(attention\.(bias|masked_bias|rotary_emb\.inv_freq)|rotary_emb\.inv_freq)$")

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def parse_dtype(dtype: str | torch.dtype | None, default: torch.dtype = torch.float32) -> torch.dtype:
    if dtype is None:
        return default
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise UserError(f"dtype {dtype!r} is not supported; use float32, bfloat16 or float16")
    return DTYPES[dtype]


def parse_device(device: str | torch.device) -> torch.device:
    """A torch device that exists here: "cpu", "cuda", "cuda:1", "mps", ...; anything else is a `UserError`."""
    if isinstance(device, torch.device):
        return device
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(
            f"device {device!r} is not a torch device; use cpu, cuda, cuda:1, ...", param="device"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(
            f"device {device!r}: this torch build sees no CUDA GPU; use cpu (or install a CUDA torch)", param="device"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(
            f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible", param="device"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {device!r}: MPS is not available here; use cpu", param="device")
    if dev.type not in ("cpu", "cuda", "mps", "meta"):
        raise UserError(f"device {device!r} is not supported; use cpu, cuda or mps", param="device")
    return dev


def _weight_files(folder: Path) -> tuple[str, list[Path]]:
    """('safetensors' | 'bin', files) for a model folder, preferring safetensors."""
    for kind, single, index in (("safetensors", SAFE_SINGLE, SAFE_INDEX), ("bin", BIN_SINGLE, BIN_INDEX)):
        if (folder / index).is_file():
            index_data = read_json(folder / index, "re-export the model")
            weight_map = index_data.get("weight_map") if isinstance(index_data, dict) else None
            if not isinstance(weight_map, dict):
                raise UserError(f"{folder / index} is not a valid shard index (no weight_map); re-export the model")
            files = [folder / name for name in sorted(set(weight_map.values()))]
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise UserError(
                    f"{folder}: shard(s) {', '.join(missing)} listed in {index} are missing; "
                    f"copy the whole model folder"
                )
            return kind, files
        if (folder / single).is_file():
            return kind, [folder / single]
    raise UserError(
        f"{folder} holds no weights (model.safetensors, a sharded index, or pytorch_model.bin); "
        f"pass a Hugging Face model folder"
    )


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _is_count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _iter_safetensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Zero-copy tensors over a private (copy-on-write) mmap of a safetensors file.

    Reading by hand instead of `safe_open().get_tensor()` skips one full copy per tensor: a dtype conversion
    reads straight from the page cache into the final tensor, which is what keeps peak memory near the model's
    size and loading fast. The header is validated so a corrupt or truncated file is a clear error.
    """
    import mmap
    import struct

    def corrupt(why: str) -> UserError:
        return UserError(f"{path} is corrupt or truncated ({why}); download or export it again")

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise corrupt("shorter than a safetensors header")
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > min(size - 8, 100 * 2**20):
            raise corrupt("header length beyond the end of the file")
        try:
            header = json.loads(f.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise corrupt("header is not JSON") from None
        if not isinstance(header, dict):
            raise corrupt("header is not a JSON object")
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) if size > 8 + header_len else b""
    start = 8 + header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[info["dtype"]]
            begin, end = info["data_offsets"]
            shape = info["shape"]
        except (KeyError, TypeError, ValueError):
            raise corrupt(f"bad entry for {name}") from None
        if not (
            _is_count(begin)
            and _is_count(end)
            and begin <= end
            and isinstance(shape, list)
            and all(_is_count(d) for d in shape)
        ):
            raise corrupt(f"bad offsets or shape for {name}")  # e.g. negative offsets would read the header
        numel = math.prod(shape)
        if start + end > size or end - begin != numel * torch.empty((), dtype=dtype).element_size():
            raise corrupt(f"data of {name} runs past the end of the file")
        if numel == 0:
            yield name, torch.empty(shape, dtype=dtype)
            continue
        yield name, torch.frombuffer(buf, dtype=dtype, count=numel, offset=start + begin).view(shape)


def _iter_tensors(kind: str, files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    if kind == "safetensors":
        for f in files:
            yield from _iter_safetensors(f)
    else:
        for f in files:
            try:
                state = torch.load(f, map_location="cpu", weights_only=True, mmap=True)
            except Exception as e:  # unpickling errors have many types; all mean "not a safe weights file"
                raise UserError(
                    f"{f} could not be read as a weights-only checkpoint ({type(e).__name__}: "
                    f"{str(e).splitlines()[0][:200]}); convert it to safetensors from a trusted "
                    f"source"
                ) from None
            yield from state.items()


def load_model(
    path_or_hub_id: str | Path,
    dtype: str | torch.dtype | None = "float32",
    device: str | torch.device = "cpu",
    revision: str | None = None,
    adapter: str | Path | None = None,
    merge_adapter: bool = True,
) -> GPTNeoXForCausalLM:
    """Load a GPT-NeoX (Polyglot-Ko) model folder or hub id; every tensor is checked against config.json.

    `adapter`: a LoRA adapter folder or hub id (peft's adapter_config.json + adapter_model.safetensors) to attach;
    with `merge_adapter` (the default) it is folded into the weights at load, leaving a plain model as fast as the
    base, else its LoRA layers stay (`finetune.lora`). `path_or_hub_id` may itself be an adapter folder: the base
    is then its adapter_config.json's `base_model_name_or_path`.
    """
    folder = resolve_folder(
        path_or_hub_id, revision=revision, what="model", allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]
    )
    if not (folder / "config.json").is_file() and (folder / "adapter_config.json").is_file():
        from .finetune.lora import adapter_base

        if adapter is not None:
            raise UserError(
                f"{folder} is itself a LoRA adapter folder; pass its base model as path_or_hub_id with "
                f"adapter={str(adapter)!r}, or drop adapter"
            )
        base, base_revision = adapter_base(folder)
        return load_model(
            base, dtype=dtype, device=device, revision=base_revision, adapter=folder, merge_adapter=merge_adapter
        )
    if not (folder / "config.json").is_file():
        raise UserError(f"{folder} has no config.json; pass a Hugging Face model folder")
    config = ModelConfig.from_json_file(folder / "config.json")
    dtype = parse_dtype(dtype)
    device = parse_device(device)
    kind, files = _weight_files(folder)
    with torch.device("meta"):
        model = GPTNeoXForCausalLM(config)
    expected = {name: p.shape for name, p in model.state_dict().items()}
    state: dict[str, torch.Tensor] = {}
    for name, tensor in _iter_tensors(kind, files):
        if _IGNORED_KEYS.search(name):
            continue
        if name not in expected:
            raise UserError(
                f"{folder}: unexpected tensor {name!r}; this is not a GPT-NeoX causal LM checkpoint "
                f"matching its config.json"
            )
        if tensor.shape != expected[name]:
            raise UserError(
                f"{folder}: tensor {name} has shape {tuple(tensor.shape)} but config.json implies "
                f"{tuple(expected[name])}; the config does not match the weights"
            )
        if not tensor.is_floating_point():
            raise UserError(
                f"{folder}: tensor {name} is {str(tensor.dtype).removeprefix('torch.')}; model weights "
                f"must be floating point (F32, F16 or BF16): export the model again"
            )
        state[name] = tensor.to(device=device, dtype=dtype)
        del tensor
    missing = sorted(set(expected) - set(state))
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise UserError(f"{folder}: missing tensor(s) {', '.join(missing[:3])}{more}; the checkpoint is incomplete")
    model.load_state_dict(state, assign=True, strict=True)
    if adapter is not None:
        from .finetune import lora

        lora.load_adapter(model, adapter)
        if merge_adapter:
            lora.merge_adapter(model)
    model.eval()
    return model


def _parse_size(size: int | str) -> int:
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)B?\s*", size.upper())
    if not m:
        raise UserError(f"shard size {size!r} is not understood; write e.g. 2GB, 500MB or a byte count")
    return int(float(m.group(1)) * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[m.group(2)])


def generation_config_dict() -> dict:
    # eos = <|endoftext|> (2), the token the model ends documents with; not the released configs' 0 (= <pad>).
    return {
        "bos_token_id": ENDOFTEXT_ID,
        "eos_token_id": ENDOFTEXT_ID,
        "pad_token_id": PAD_ID,
        "do_sample": False,
        "max_new_tokens": 128,
    }


def _copy_tokenizer_files(src: Path, dest: Path) -> None:
    """Copy a tokenizer folder's files; tokenizer_config.json gains what it lacks of `model_input_names` and
    `chat_template` (a template of its own, e.g. from a fine-tune, is kept), as `PolyglotTokenizer.save` writes."""
    from .chat_template import CHAT_TEMPLATE
    from .tokenizer import MODEL_INPUT_NAMES

    for name in TOKENIZER_FILES:
        if not (src / name).is_file():
            continue
        if name == "tokenizer_config.json":
            cfg = read_json(src / name, "restore the file from the tokenizer's source, or re-save the tokenizer")
            if isinstance(cfg, dict) and not {"model_input_names", "chat_template"} <= set(cfg):
                # transformers 4.x would otherwise return token_type_ids, which GPT-NeoX's generate rejects.
                atomic_write_json(
                    dest / name, {"model_input_names": list(MODEL_INPUT_NAMES), "chat_template": CHAT_TEMPLATE, **cfg}
                )
                continue
        shutil.copy2(src / name, dest / name)


def save_model(
    model: GPTNeoXForCausalLM,
    folder: str | Path,
    tokenizer=None,
    dtype: str | torch.dtype | None = None,
    max_shard_size: int | str = "2GB",
    extra_files: dict[str, Path] | None = None,
    model_card: ModelCardInfo | dict | bool = True,
) -> Path:
    """Write a Hugging Face model folder atomically (the folder is complete or absent).

    `tokenizer`: an object with `save(folder)` (ours) or a folder whose tokenizer files are copied.
    `dtype`: convert on the way out (default: the model's dtype).
    `extra_files`: {name in the folder: source path}, e.g. {"eval_results.json": path} (read by the model card).
    `model_card`: True (default) writes a hub-ready README.md (polyglot_ko.export.model_card); a
    `ModelCardInfo` or dict adds what the folder cannot tell (base_model, training_data, repo_id, ...); False
    writes none. A README.md the user wrote in an existing `folder` is kept as it is.
    """
    from .export.model_card import (
        CARD_FILE,
        _stored_info,
        is_generated_card,
        write_model_card,
    )

    folder = Path(folder)
    old_card = folder / CARD_FILE
    user_card = old_card.is_file() and not is_generated_card(old_card)
    card_info = None
    if model_card is not False and model_card is not True and model_card is not None:
        card_info = model_card
    elif old_card.is_file() and not user_card:
        card_info = _stored_info(old_card)
    state = model.state_dict()
    out_dtype = parse_dtype(dtype, default=next(iter(state.values())).dtype)
    limit = _parse_size(max_shard_size)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    out_itemsize = torch.empty((), dtype=out_dtype).element_size()
    for name, t in state.items():
        nbytes = t.numel() * out_itemsize
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += nbytes
    from safetensors.torch import save_file

    with atomic_dir(folder) as tmp:
        weight_map, total = {}, 0
        names = (
            [SAFE_SINGLE]
            if len(shards) == 1
            else [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
        )
        for fname, shard in zip(names, shards, strict=True):
            tensors = {k: v.detach().to(device="cpu", dtype=out_dtype).contiguous() for k, v in shard.items()}
            save_file(tensors, str(tmp / fname), metadata={"format": "pt"})
            for k, v in tensors.items():
                weight_map[k] = fname
                total += v.numel() * v.element_size()
            del tensors
        if len(shards) > 1:
            atomic_write_json(tmp / SAFE_INDEX, {"metadata": {"total_size": total}, "weight_map": weight_map})
        hf = model.config.to_hf_dict()
        dtype_name = str(out_dtype).removeprefix("torch.")
        hf["torch_dtype"] = dtype_name
        hf["dtype"] = dtype_name
        atomic_write_json(tmp / "config.json", hf)
        atomic_write_json(tmp / "generation_config.json", generation_config_dict())
        if tokenizer is not None:
            if isinstance(tokenizer, (str, Path)):
                _copy_tokenizer_files(Path(tokenizer), tmp)
            else:
                tokenizer.save(tmp)
        for name, src in (extra_files or {}).items():
            shutil.copy2(src, tmp / name)
        if user_card:
            shutil.copy2(old_card, tmp / CARD_FILE)
        elif model_card is not False and CARD_FILE not in (extra_files or {}):
            write_model_card(tmp, card_info, display_path=folder)
    return folder


def convert_model(
    source: str | Path,
    dest: str | Path,
    dtype: str | None = None,
    max_shard_size: int | str = "2GB",
    overwrite: bool = False,
) -> GPTNeoXForCausalLM:
    """Rewrite the model folder or hub id `source` as the folder `dest` (atomically), with its tokenizer files.

    Args:
        source: model folder or hub id
        dest: output folder (written atomically)
        dtype: output dtype (default: as stored)
        max_shard_size: largest safetensors shard, e.g. 2GB or 500MB
        overwrite: replace `dest` if it already exists (never the source itself)
    """
    src = resolve_folder(source, what="model")
    dest_path = check_output_path(dest, "dest", folder=True)
    if dest_path.exists() and dest_path.resolve() == src.resolve():
        raise UserError(f"dest {dest}: is the source folder itself; write the converted model elsewhere")
    if dest_path.exists() and any(dest_path.iterdir()) and not overwrite:
        raise UserError(f"dest {dest}: exists and is not empty; pass overwrite=True (--overwrite) to replace it")
    kind, files = _weight_files(src)
    if dtype is None:
        # Keep the stored dtype: read it from the first tensor rather than guessing from config.json.
        _, first = next(_iter_tensors(kind, files[:1]))
        torch_dtype = first.dtype
    else:
        torch_dtype = parse_dtype(dtype)
    model = load_model(src, dtype=torch_dtype)
    save_model(model, dest, tokenizer=src, max_shard_size=max_shard_size)
    return model
