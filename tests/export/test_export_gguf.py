"""GGUF export, checked by reading the files back with the gguf package's own GGUFReader.

No llama.cpp here (tests/export/test_export_llama_cpp.py runs the files in llama.cpp): these tests check that
every key, tensor, shape, type and tokenizer array is what llama.cpp's gptneox loader reads, and that the
weights in the file are the checkpoint's weights.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf", reason="the gguf package is not installed (pip install 'polyglot-ko[export]')")

from polyglot_ko import UserError  # noqa: E402
from polyglot_ko.constants import PADDED_VOCAB_SIZE, PII_TOKENS, TOKENIZER_VOCAB_SIZE  # noqa: E402
from polyglot_ko.export.gguf import GGUF_TYPES, export_gguf, qkv_to_llama  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHAT_TEMPLATE = "{% for m in messages %}{{ m['content'] }}<|endoftext|>{% endfor %}"


def field(reader, key):
    f = reader.fields[key]
    return f.contents()


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model folder with a chat template in its tokenizer_config.json."""
    out = tmp_path_factory.mktemp("gguf-src") / "tiny"
    shutil.copytree(tiny_model_dir, out)
    cfg = json.loads((out / "tokenizer_config.json").read_text())
    cfg["chat_template"] = CHAT_TEMPLATE
    (out / "tokenizer_config.json").write_text(json.dumps(cfg))
    return out


@pytest.fixture(scope="module")
def state(model_dir):
    from safetensors.numpy import load_file

    return load_file(str(model_dir / "model.safetensors"))


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gguf-out")
    return {
        t: export_gguf(model_dir, out / f"tiny-{t}.gguf", type=t, progress=False) for t in GGUF_TYPES if t != "q4_k_m"
    }


@pytest.fixture(scope="module")
def f32(exported):
    return gguf.GGUFReader(str(exported["f32"]))


def tensors(reader) -> dict:
    return {t.name: t for t in reader.tensors}


def test_hyperparameters_are_what_llama_cpp_gptneox_reads(f32, model_dir):
    cfg = json.loads((model_dir / "config.json").read_text())
    head = cfg["hidden_size"] // cfg["num_attention_heads"]
    assert field(f32, "general.architecture") == "gptneox"
    assert field(f32, "gptneox.context_length") == cfg["max_position_embeddings"]
    assert field(f32, "gptneox.embedding_length") == cfg["hidden_size"]
    assert field(f32, "gptneox.block_count") == cfg["num_hidden_layers"]
    assert field(f32, "gptneox.feed_forward_length") == cfg["intermediate_size"]
    assert field(f32, "gptneox.rope.dimension_count") == int(cfg["rotary_pct"] * head) == head // 2
    assert field(f32, "gptneox.rope.freq_base") == pytest.approx(cfg["rotary_emb_base"])
    assert field(f32, "gptneox.attention.head_count") == cfg["num_attention_heads"]
    assert field(f32, "gptneox.use_parallel_residual") is True
    assert field(f32, "gptneox.attention.layer_norm_epsilon") == pytest.approx(cfg["layer_norm_eps"])
    assert field(f32, "general.file_type") == gguf.LlamaFileType.ALL_F32


def test_tensor_names_and_shapes_match_llama_cpp(f32, state):
    got = tensors(f32)
    layers = 2
    per_layer = [
        "attn_norm.weight",
        "attn_norm.bias",
        "attn_qkv.weight",
        "attn_qkv.bias",
        "attn_output.weight",
        "attn_output.bias",
        "ffn_norm.weight",
        "ffn_norm.bias",
        "ffn_up.weight",
        "ffn_up.bias",
        "ffn_down.weight",
        "ffn_down.bias",
    ]
    want = {"token_embd.weight", "output_norm.weight", "output_norm.bias", "output.weight"}
    want |= {f"blk.{i}.{n}" for i in range(layers) for n in per_layer}
    assert set(got) == want
    # ggml order is the reverse of numpy's: {n_embd, n_vocab} as llama.cpp's create_tensor asks.
    assert list(got["token_embd.weight"].shape) == [64, PADDED_VOCAB_SIZE]
    assert list(got["output.weight"].shape) == [64, PADDED_VOCAB_SIZE]
    assert list(got["blk.0.attn_qkv.weight"].shape) == [64, 3 * 64]
    assert list(got["blk.1.ffn_up.weight"].shape) == [64, 256]
    assert list(got["blk.1.ffn_down.weight"].shape) == [256, 64]
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in got.values())


def test_f32_weights_are_the_checkpoints_with_qkv_regrouped(f32, state):
    got = tensors(f32)
    np.testing.assert_array_equal(got["token_embd.weight"].data, state["gpt_neox.embed_in.weight"])
    np.testing.assert_array_equal(got["output.weight"].data, state["embed_out.weight"])
    np.testing.assert_array_equal(got["blk.1.ffn_down.bias"].data, state["gpt_neox.layers.1.mlp.dense_4h_to_h.bias"])
    w = state["gpt_neox.layers.0.attention.query_key_value.weight"]
    b = state["gpt_neox.layers.0.attention.query_key_value.bias"]
    heads, hs, d = 2, 32, 64
    qkv = got["blk.0.attn_qkv.weight"].data
    # Block 0 holds every head's query, block 1 the keys, block 2 the values, heads in order.
    for h in range(heads):
        for j, part in enumerate("qkv"):
            hf_rows = w[h * 3 * hs + j * hs : h * 3 * hs + (j + 1) * hs]
            np.testing.assert_array_equal(qkv[j * d + h * hs : j * d + (h + 1) * hs], hf_rows, err_msg=part)
    np.testing.assert_array_equal(got["blk.0.attn_qkv.bias"].data, qkv_to_llama(b, heads))
    assert not np.array_equal(qkv, w)  # the regrouping is not the identity for 2 heads


def test_tokenizer_arrays(f32, model_dir):
    from polyglot_ko import load_tokenizer

    tok = load_tokenizer(model_dir)
    tokens = field(f32, "tokenizer.ggml.tokens")
    types = field(f32, "tokenizer.ggml.token_type")
    assert field(f32, "tokenizer.ggml.model") == "gpt2"
    assert field(f32, "tokenizer.ggml.pre") == "gpt-2"
    assert len(tokens) == len(types) == PADDED_VOCAB_SIZE
    backend = tok.backend
    assert tokens[:TOKENIZER_VOCAB_SIZE] == [backend.id_to_token(i) for i in range(TOKENIZER_VOCAB_SIZE)]
    assert tokens[TOKENIZER_VOCAB_SIZE] == f"[PAD{TOKENIZER_VOCAB_SIZE}]"
    TT = gguf.TokenType
    special_ids = [0, 1, 2, 3, *[tok.backend.token_to_id(t) for t in PII_TOKENS.values()]]
    assert special_ids[-3:] == [30000, 30001, 30002]
    assert [types[i] for i in special_ids] == [TT.CONTROL] * 7
    assert set(types[TOKENIZER_VOCAB_SIZE:]) == {TT.UNUSED}
    assert sum(t == TT.NORMAL for t in types) == TOKENIZER_VOCAB_SIZE - 7
    merges = field(f32, "tokenizer.ggml.merges")
    released = json.loads((model_dir / "tokenizer.json").read_text())["model"]["merges"]
    assert merges == [m if isinstance(m, str) else " ".join(m) for m in released]
    assert len(merges) == 29740


def test_special_ids_and_chat_template(f32):
    assert field(f32, "tokenizer.ggml.eos_token_id") == 2  # <|endoftext|>
    assert field(f32, "tokenizer.ggml.bos_token_id") == 2
    assert field(f32, "tokenizer.ggml.padding_token_id") == 0  # <pad>
    assert field(f32, "tokenizer.ggml.add_bos_token") is False
    assert field(f32, "tokenizer.ggml.add_eos_token") is False
    assert field(f32, "tokenizer.chat_template") == CHAT_TEMPLATE


@pytest.mark.parametrize(
    "type, qtype, tol", [("f16", "F16", 1e-3), ("bf16", "BF16", 8e-3), ("q8_0", "Q8_0", 1e-2), ("q4_0", "Q4_0", 0.2)]
)
def test_quantized_types_and_values(exported, state, type, qtype, tol):
    reader = gguf.GGUFReader(str(exported[type]))
    got = tensors(reader)
    Q = gguf.GGMLQuantizationType
    for name, t in got.items():
        if len(t.shape) == 1:
            assert t.tensor_type == Q.F32, name
        elif type == "q4_0" and name == "output.weight":
            assert t.tensor_type == Q.Q8_0  # as llama.cpp's quantizer, the output layer keeps more precision
        else:
            assert t.tensor_type == Q[qtype], name
    assert field(reader, "general.file_type") == {"f16": 1, "bf16": 32, "q8_0": 7, "q4_0": 2}[type]
    ref = state["gpt_neox.layers.0.mlp.dense_h_to_4h.weight"]
    t = got["blk.0.ffn_up.weight"]
    back = gguf.quants.dequantize(t.data, t.tensor_type).reshape(ref.shape)
    rel = np.abs(back - ref).max() / np.abs(ref).max()
    assert 0 < rel < tol  # lossy, within the type's precision


def test_sizes_shrink_with_the_type(exported):
    sizes = {t: p.stat().st_size for t, p in exported.items()}
    assert sizes["f32"] > sizes["f16"] == sizes["bf16"] > sizes["q8_0"] > sizes["q4_0"]


# --- bad input: one-line UserErrors, and the output is never half-written ------------------------------------
def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_unknown_type(model_dir, tmp_path):
    with pytest.raises(UserError) as e:
        export_gguf(model_dir, tmp_path / "x.gguf", type="q3_k")
    assert "q3_k" in one_line(e) and "q8_0" in str(e.value)
    assert not (tmp_path / "x.gguf").exists()


def test_not_a_model_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as e:
        export_gguf(tmp_path / "empty", tmp_path / "x.gguf")
    assert "config.json" in one_line(e)
    with pytest.raises(UserError) as e:
        export_gguf(tmp_path / "missing-folder", tmp_path / "x.gguf")
    assert "does not exist" in one_line(e)


def test_not_gpt_neox(model_dir, tmp_path):
    other = tmp_path / "llama"
    shutil.copytree(model_dir, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError) as e:
        export_gguf(other, tmp_path / "x.gguf")
    assert "GPT-NeoX" in one_line(e) and "llama" in str(e.value)


def test_model_without_tokenizer(model_dir, tmp_path, reference_tokenizer_dir):
    bare = tmp_path / "bare"
    shutil.copytree(model_dir, bare)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (bare / name).unlink()
    with pytest.raises(UserError) as e:
        export_gguf(bare, tmp_path / "x.gguf")
    assert "tokenizer" in one_line(e)
    out = export_gguf(bare, tmp_path / "x.gguf", type="q8_0", tokenizer=reference_tokenizer_dir, progress=False)
    assert len(field(gguf.GGUFReader(str(out)), "tokenizer.ggml.tokens")) == PADDED_VOCAB_SIZE


def test_unwritable_output(model_dir, tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UserError) as e:
        export_gguf(model_dir, tmp_path / "a-file" / "x.gguf")
    assert "writable" in one_line(e)
    with pytest.raises(UserError) as e:
        export_gguf(model_dir, tmp_path)
    assert "is a folder" in one_line(e)


def test_failed_export_leaves_existing_output_untouched(model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    from safetensors.numpy import load_file, save_file

    state = load_file(str(broken / "model.safetensors"))
    del state["embed_out.weight"]
    save_file(state, str(broken / "model.safetensors"))
    out = tmp_path / "keep.gguf"
    out.write_bytes(b"previous export")
    with pytest.raises(UserError) as e:
        export_gguf(broken, out)
    assert "embed_out.weight" in one_line(e)
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_q4_k_m_without_llama_cpp_says_what_to_install(model_dir, tmp_path, monkeypatch):
    # A None entry in sys.modules makes `import llama_cpp` raise ImportError, as on a machine without it.
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(UserError) as e:
        export_gguf(model_dir, tmp_path / "x.gguf", type="q4_k_m")
    assert "llama-cpp-python" in one_line(e)
    assert not (tmp_path / "x.gguf").exists()


def test_public_api():
    import polyglot_ko as pk
    import polyglot_ko.export as pe

    assert pk.export_gguf is export_gguf is pe.export_gguf
