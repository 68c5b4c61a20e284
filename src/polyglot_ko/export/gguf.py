"""Export a Polyglot-Ko (GPT-NeoX) model folder to one GGUF file that llama.cpp runs as its `gptneox` architecture.

    export_gguf("quickstart-out/model", "model.gguf", type="q8_0")

What goes into the file (written with the `gguf` package's `GGUFWriter`, tensor by tensor, so peak memory is about
one tensor whatever the model's size):

- hyper-parameters under `gptneox.*`: context length, width, layers, MLP width, rotary dims per head (partial
  rotary: 64 of 128), rotary base, heads, parallel residual, LayerNorm epsilon.
- tensors renamed to llama.cpp's names. The fused `query_key_value` is stored by transformers per head
  interleaved (rows `[h*3*hs : h*3*hs+hs]` are head h's query); llama.cpp's graph splits the fused output into
  three contiguous blocks (all queries, all keys, all values), so rows are regrouped from (head, q|k|v) to
  (q|k|v, head). All 30080 embedding rows are kept; rows past the tokenizer's ids are `UNUSED` tokens.
- the tokenizer: the byte-level BPE vocabulary and merges (`tokenizer.ggml.model = gpt2`), pre-tokenizer `gpt-2`
  (the GPT-2 regex, which is what the released tokenizer's ByteLevel step uses), special tokens as `CONTROL`
  tokens (so `<|tel|>` written in a prompt stays one token when the caller parses specials), eos =
  `<|endoftext|>` (2), pad = `<pad>` (0), no BOS/EOS added, and `tokenizer.chat_template` when the folder has one.

Known differences from polyglot-ko / transformers, both small: llama.cpp's GELU is the tanh approximation (ours
is the exact erf GELU), and llama.cpp has no way to express the tokenizer's first pre-tokenizer step, which
deletes U+0CF1 (the morpheme-boundary marker of the training text; it does not occur in ordinary text), so a
prompt containing U+0CF1 tokenizes differently.

Types: f32, f16, bf16, q8_0 and q4_0 are written directly (quantized with `gguf.quants`; 1-D tensors, i.e. norms
and biases, stay f32 as llama.cpp expects; with q4_0 the output layer is q8_0, as llama.cpp's own quantizer keeps
it at higher precision). q4_k_m is made by llama.cpp's quantizer (`llama_cpp.llama_model_quantize`) from an f32
export, so it needs llama-cpp-python.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..constants import ENDOFTEXT_ID, PAD_ID, SEP_ID
from ..errors import UserError
from ..io_utils import atomic_path, read_json

GGUF_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m")
# llama.cpp's `llama_ftype` of each type (gguf.LlamaFileType), written as general.file_type.
_FILE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q4_k_m": 15, "bf16": 32}
ARCH = "gptneox"
TOKENIZER_PRE = "gpt-2"

_LAYER = re.compile(r"gpt_neox\.layers\.(\d+)\.(.+)\.(weight|bias)")


def _gguf():
    try:
        import gguf
    except ImportError:
        raise UserError(
            "GGUF export needs the gguf package; install it with `pip install 'polyglot-ko[export]'` "
            "(or `pip install gguf`)"
        ) from None
    return gguf


def gguf_tensor_name(hf_name: str) -> str:
    """llama.cpp's name for a transformers GPT-NeoX tensor name (gguf.TENSOR_NAMES), e.g. blk.0.attn_qkv.weight."""
    gguf = _gguf()
    T, names = gguf.MODEL_TENSOR, gguf.TENSOR_NAMES
    top = {"gpt_neox.embed_in": T.TOKEN_EMBD, "gpt_neox.final_layer_norm": T.OUTPUT_NORM, "embed_out": T.OUTPUT}
    base, _, suffix = hf_name.rpartition(".")
    if base in top:
        return f"{names[top[base]]}.{suffix}"
    m = _LAYER.fullmatch(hf_name)
    per_layer = {
        "input_layernorm": T.ATTN_NORM,
        "post_attention_layernorm": T.FFN_NORM,
        "attention.query_key_value": T.ATTN_QKV,
        "attention.dense": T.ATTN_OUT,
        "mlp.dense_h_to_4h": T.FFN_UP,
        "mlp.dense_4h_to_h": T.FFN_DOWN,
    }
    if m is None or m.group(2) not in per_layer:
        raise KeyError(hf_name)
    return f"{names[per_layer[m.group(2)]].format(bid=int(m.group(1)))}.{m.group(3)}"


def qkv_to_llama(array, num_heads: int):
    """Regroup a fused QKV weight [3d, d] or bias [3d]: transformers' (head, q|k|v, dim) rows -> (q|k|v, head, dim)."""
    rows = array.shape[0]
    head_size = rows // (3 * num_heads)
    rest = array.shape[1:]
    return array.reshape(num_heads, 3, head_size, *rest).swapaxes(0, 1).reshape(rows, *rest)


def _ggml_type(gguf, hf_name: str, shape: tuple[int, ...], type: str):
    Q = gguf.GGMLQuantizationType
    if len(shape) == 1 or type in ("f32", "q4_k_m"):  # q4_k_m: llama.cpp quantizes an f32 file
        return Q.F32
    want = {"f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0, "q4_0": Q.Q4_0}[type]
    if type == "q4_0" and hf_name == "embed_out.weight":
        want = Q.Q8_0
    block, _ = gguf.GGML_QUANT_SIZES[want]
    if shape[-1] % block:  # a row that does not split into blocks: f16, as llama.cpp falls back
        return Q.F16
    return want


def _nbytes(gguf, shape: tuple[int, ...], qtype) -> int:
    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    return math.prod(shape[:-1]) * (shape[-1] // block) * type_size


def _encode(gguf, array, qtype):
    Q = gguf.GGMLQuantizationType
    import numpy as np

    if qtype == Q.F32:
        return np.ascontiguousarray(array, dtype=np.float32)
    if qtype == Q.F16:
        return np.ascontiguousarray(array, dtype=np.float16)
    return gguf.quants.quantize(np.ascontiguousarray(array, dtype=np.float32), qtype)


# --- the model folder ------------------------------------------------------------------------------------------
def _check_out(out: Path) -> None:
    if out.is_dir():
        raise UserError(f"output {out} is a folder; pass a file name such as {out / 'model.gguf'}")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"output {out}: cannot create its folder {parent} ({e.strerror}); choose a writable location"
        ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"output {out}: the folder {parent} is not writable; choose a writable location")


def _read_config(folder: Path) -> tuple[dict, Any]:
    from ..config import ModelConfig

    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"{folder} has no config.json; pass a Hugging Face model folder (e.g. quickstart-out/model)")
    raw = read_json(path, "re-export the model folder")
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a JSON object; re-export the model folder")
    archs = raw.get("architectures") or ["GPTNeoXForCausalLM"]
    if raw.get("model_type") != "gpt_neox" or "GPTNeoXForCausalLM" not in archs:
        raise UserError(
            f"{path}: model_type {raw.get('model_type')!r} / architectures {archs} is not a GPT-NeoX "
            f"causal LM; export-gguf converts Polyglot-Ko (GPTNeoXForCausalLM) folders only"
        )
    config = ModelConfig.from_hf_dict(raw, source=str(path))
    if not config.hidden_act.startswith("gelu"):
        raise UserError(
            f"{path}: hidden_act {config.hidden_act!r} is not GELU; llama.cpp's gptneox graph "
            f"computes GELU only, so this model cannot run there"
        )
    return raw, config


def _check_pre_tokenizer(tokenizer) -> None:
    """Only the released tokenizer's structure maps onto llama.cpp's `gpt-2` pre-tokenizer."""
    d = json.loads(tokenizer.backend.to_str())
    pre = d.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    if steps and steps[0].get("type") == "Split" and (steps[0].get("pattern") or {}).get("String") == "\u0cf1":
        steps = steps[1:]
    ok = (
        len(steps) == 1
        and steps[0].get("type") == "ByteLevel"
        and steps[0].get("use_regex", True)
        and not steps[0].get("add_prefix_space", False)
    )
    model = d.get("model") or {}
    if not ok or d.get("normalizer") or model.get("type") != "BPE":
        raise UserError(
            f"{tokenizer.source}: pre-tokenizer {pre.get('type')!r} / normalizer / model is not "
            f"Polyglot-Ko's byte-level BPE (ByteLevel with the GPT-2 regex, no normalizer), which "
            f"is the only kind llama.cpp's gpt-2 pre-tokenizer reproduces; use a tokenizer made by "
            f"`polyglot-ko train-tokenizer` or the released one"
        )


def _chat_template(folder: Path) -> Any:
    jinja = folder / "chat_template.jinja"  # where transformers >= 4.43 saves it
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg = folder / "tokenizer_config.json"
    if cfg.is_file():
        d = read_json(cfg, "restore the file or re-save the tokenizer")
        if isinstance(d, dict) and d.get("chat_template"):
            return d["chat_template"]
    return None


def vocabulary(tokenizer, n_rows: int) -> tuple[list[str], list[int], list[str]]:
    """(tokens, token types, merges) for `tokenizer.ggml.*`: one token per embedding row.

    Rows past the tokenizer's ids (30003..30079) become `[PAD<id>]` tokens of type UNUSED, so the token list has
    exactly the embedding's 30080 entries; special added tokens are CONTROL, other added tokens USER_DEFINED.
    """
    gguf = _gguf()
    TT = gguf.TokenType
    backend = tokenizer.backend
    by_id = {i: t for t, i in backend.get_vocab(with_added_tokens=True).items()}
    added = backend.get_added_tokens_decoder()
    tokens, types = [], []
    for i in range(n_rows):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(int(TT.UNUSED))
        elif i in added:
            tokens.append(added[i].content)
            types.append(int(TT.CONTROL if added[i].special else TT.USER_DEFINED))
        else:
            tokens.append(by_id[i])
            types.append(int(TT.NORMAL))
    model = json.loads(backend.to_str()).get("model") or {}
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    return tokens, types, merges


def _tensors(folder: Path) -> tuple[str, list[Path]]:
    from ..checkpoint import _weight_files

    return _weight_files(folder)


def _iter(kind: str, files: list[Path]) -> Iterator[tuple[str, Any]]:
    from ..checkpoint import _IGNORED_KEYS, _iter_tensors

    for name, t in _iter_tensors(kind, files):
        if not _IGNORED_KEYS.search(name):
            yield name, t


# --- the export ------------------------------------------------------------------------------------------------
def export_gguf(
    model_dir: str | os.PathLike,
    out: str | os.PathLike,
    type: str = "f16",
    *,
    tokenizer: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Write the GPT-NeoX model folder `model_dir` (local folder or hub id) as one GGUF file `out`; returns its path.

    type: one of f32, f16 (default), bf16, q8_0, q4_0, q4_k_m (q4_k_m needs llama-cpp-python).
    tokenizer: a tokenizer folder when `model_dir` has none of its own.
    The file is written atomically: `out` is complete or untouched. Bad input raises a one-line `UserError`.
    """
    from ..hub import resolve_folder
    from ..tokenizer import load_tokenizer

    if type not in GGUF_TYPES:
        raise UserError(f"GGUF type {type!r} is unknown; choose one of {', '.join(GGUF_TYPES)}", param="type")
    out = Path(os.path.expanduser(str(out)))
    _check_out(out)
    llama_cpp = _llama_cpp() if type == "q4_k_m" else None
    gguf = _gguf()
    folder = resolve_folder(model_dir, what="model", allow_patterns=["*.json", "*.safetensors", "*.jinja"])
    raw, config = _read_config(folder)
    tok_src = tokenizer if tokenizer is not None else folder
    if tokenizer is None and not (folder / "tokenizer.json").is_file():
        raise UserError(
            f"{folder} has no tokenizer.json; a GGUF file carries its tokenizer: save the model with "
            f"its tokenizer, or pass tokenizer=FOLDER"
        )
    tok = load_tokenizer(tok_src)
    _check_pre_tokenizer(tok)
    if tok.vocab_size > config.vocab_size:
        raise UserError(
            f"{folder}: the tokenizer has {tok.vocab_size} ids but the model only {config.vocab_size} "
            f"embedding rows; the tokenizer does not belong to this model"
        )

    # Plan every tensor from the checkpoint's headers (no data read yet) and check it against config.json.
    import torch

    from ..model import GPTNeoXForCausalLM

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in GPTNeoXForCausalLM(config).state_dict().items()}
    kind, files = _tensors(folder)
    plan: list[tuple[str, str, tuple[int, ...]]] = []
    for name, t in _iter(kind, files):
        if name not in expected:
            raise UserError(
                f"{folder}: unexpected tensor {name!r}; this is not a GPT-NeoX causal LM checkpoint "
                f"matching its config.json"
            )
        if tuple(t.shape) != expected[name]:
            raise UserError(
                f"{folder}: tensor {name} has shape {tuple(t.shape)} but config.json implies "
                f"{expected[name]}; the config does not match the weights"
            )
        plan.append((name, gguf_tensor_name(name), tuple(t.shape)))
    missing = sorted(set(expected) - {p[0] for p in plan})
    if missing:
        raise UserError(f"{folder}: missing tensor(s) {', '.join(missing[:3])}; the checkpoint is incomplete")

    direct = "f32" if type == "q4_k_m" else type
    if llama_cpp is None:
        with atomic_path(out) as tmp:
            _write(gguf, tmp, folder, raw, config, tok, kind, files, plan, direct, progress)
        return out
    with tempfile.TemporaryDirectory(prefix=".gguf-", dir=out.parent) as scratch:
        f32 = Path(scratch) / "f32.gguf"
        _write(gguf, f32, folder, raw, config, tok, kind, files, plan, direct, progress)
        with atomic_path(out) as tmp:
            _quantize_llama_cpp(llama_cpp, f32, tmp, _FILE_TYPES[type])
    return out


def _write(
    gguf, path: Path, folder: Path, raw: dict, config, tok, kind, files, plan, type: str, progress: bool
) -> None:
    import numpy as np
    import torch

    writer = gguf.GGUFWriter(str(path), ARCH)
    # general.*
    writer.add_type("model")
    writer.add_name(folder.name)
    writer.add_file_type(_FILE_TYPES[type])
    if type in ("q8_0", "q4_0"):
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_languages(["ko"])
    # gptneox.* (what llama.cpp's gptneox loader reads)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_rope_dimension_count(config.rotary_ndims)
    writer.add_rope_freq_base(config.rotary_emb_base)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_attention_heads)
    writer.add_parallel_residual(config.use_parallel_residual)
    writer.add_layer_norm_eps(config.layer_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    # tokenizer.ggml.*
    tokens, types, merges = vocabulary(tok, config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(TOKENIZER_PRE)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(ENDOFTEXT_ID)  # never added (add_bos_token false); config.json says the same id
    writer.add_eos_token_id(ENDOFTEXT_ID)
    writer.add_pad_token_id(PAD_ID)
    writer.add_sep_token_id(SEP_ID)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    template = _chat_template(folder)
    if template:
        writer.add_chat_template(template)

    types_of = {}
    for hf_name, name, shape in plan:
        qtype = _ggml_type(gguf, hf_name, shape, type)
        types_of[hf_name] = qtype
        # The logical (numpy-order) shape with a non-byte dtype: the writer stores it as is, with ggml type qtype.
        writer.add_tensor_info(name, shape, np.dtype(np.float32), _nbytes(gguf, shape, qtype), raw_dtype=qtype)
    writer.write_header_to_file(path=Path(path))
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(plan), desc=f"export-gguf {type}", unit="tensor")
    try:
        for (hf_name, _name, _shape), (src_name, t) in zip(plan, _iter(kind, files), strict=True):
            assert hf_name == src_name  # the same files read in the same order as when planning
            array = t.to(torch.float32).numpy()
            if hf_name.endswith("attention.query_key_value.weight") or hf_name.endswith(
                "attention.query_key_value.bias"
            ):
                array = qkv_to_llama(array, config.num_attention_heads)
            writer.write_tensor_data(_encode(gguf, array, types_of[hf_name]))
            del array, t
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        writer.close()


# --- q4_k_m via llama.cpp --------------------------------------------------------------------------------------
def _llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise UserError(
            "GGUF type q4_k_m is made by llama.cpp's quantizer; install llama-cpp-python "
            "(`pip install llama-cpp-python`, it compiles llama.cpp) or choose q8_0 or q4_0, which "
            "need only the gguf package"
        ) from None
    return llama_cpp


def _quantize_llama_cpp(llama_cpp, src: Path, dst: Path, ftype: int) -> None:
    import ctypes

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = max(1, min(os.cpu_count() or 1, 16))
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {dst}, ftype {ftype}) failed with status {rc}")
