"""CPU decoding helpers: the small-batch linear is exact and invisible to training; int8 stays close in perplexity."""

from __future__ import annotations

import gzip
import json

import pytest
import torch
from torch import nn

from polyglot_ko import build_model
from polyglot_ko.checkpoint import load_model
from polyglot_ko.errors import UserError
from polyglot_ko.generate import Generator, load_tokenizer_for
from polyglot_ko.quantize import CPUDecodeLinear, prepare_for_cpu_decoding, quantize_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_fast_linear_equals_default_path_and_undoes():
    model = build_model("tiny-h128", seed=0).eval()
    keys = list(model.state_dict())
    ids = torch.randint(5, 30000, (8, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref_full = model(ids).logits
        cache = model.allocate_cache(8, 16)
        model(ids, past_key_values=cache)
        ref_step = model(ids[:, :1], past_key_values=cache).logits
        prepare_for_cpu_decoding(model)
        assert all(type(m) is CPUDecodeLinear for m in model.modules() if isinstance(m, nn.Linear))
        assert list(model.state_dict()) == keys
        cache = model.allocate_cache(8, 16)
        model(ids, past_key_values=cache)
        fast_step = model(ids[:, :1], past_key_values=cache).logits  # 8 rows: the W @ x^T route
        for rows in (2, 3, 5, 8):
            layer = model.embed_out  # 30080 x 256: large enough for the W @ x^T route
            x = torch.randn(rows, layer.in_features)
            torch.testing.assert_close(layer(x), nn.functional.linear(x, layer.weight, layer.bias))
        big = CPUDecodeLinear(1024, 4096)
        x = torch.randn(6, 1024)
        torch.testing.assert_close(big(x), nn.functional.linear(x, big.weight, big.bias))
    torch.testing.assert_close(fast_step, ref_step, atol=1e-4, rtol=1e-4)
    prepare_for_cpu_decoding(model, undo=True)
    assert not any(type(m) is CPUDecodeLinear for m in model.modules())
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, ref_full)


def test_fast_linear_keeps_training_gradients():
    torch.manual_seed(0)
    a, b = build_model("tiny", seed=1), build_model("tiny", seed=1)
    prepare_for_cpu_decoding(b)
    ids = torch.randint(5, 30000, (4, 9))
    for m in (a, b):
        m(ids, labels=ids).loss.backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=False):
        torch.testing.assert_close(pa.grad, pb.grad, msg=name)


def test_generator_on_fast_model_matches(tiny_model_dir):
    tok = load_tokenizer_for(tiny_model_dir)
    plain = Generator(load_model(tiny_model_dir), tok)
    fast = Generator(prepare_for_cpu_decoding(load_model(tiny_model_dir)), tok)
    prompts = ["안녕하세요", "한국어 모델", "가나다라마바사", "서울"]
    assert [r.token_ids for r in fast.generate(prompts, max_new_tokens=12)] == [
        r.token_ids for r in plain.generate(prompts, max_new_tokens=12)
    ]


def _perplexity(model, ids: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.exp(model(ids, labels=ids).loss))


def test_int8_perplexity_close_on_korean_text(corpus_dir, tiny_model_dir):
    tok = load_tokenizer_for(tiny_model_dir)
    with gzip.open(corpus_dir / "nsmc-reviews.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(400), f, strict=False)]
    ids = [t for text in texts for t in tok.encode(text) + [2]][: 4 * 128]
    batch = torch.tensor(ids).view(4, 128)
    model = build_model("tiny-h128", seed=0).eval()
    # Trained-like weight spread: a random init's tiny weights would make any quantization look free.
    with torch.no_grad():
        for layer in model.gpt_neox.layers:
            for lin in (layer.mlp.dense_h_to_4h, layer.mlp.dense_4h_to_h):
                lin.weight.mul_(10)
    ref = _perplexity(model, batch)
    with torch.no_grad():
        ref_logits = model(batch).logits
    q = quantize_model(model, "int8")
    assert not any(type(m) is nn.Linear for m in q.gpt_neox.layers.modules())
    assert type(q.embed_out) is nn.Linear  # the output layer stays float32
    got = _perplexity(q, batch)
    assert got == pytest.approx(ref, rel=0.01), (ref, got)
    # Random weights give a near-uniform model (perplexity ~ vocabulary size), so also bound the error of the
    # logits themselves against their spread: int8 per-channel weights keep it at a few percent.
    with torch.no_grad():
        q_logits = q(batch).logits
    centred = ref_logits - ref_logits.mean(-1, keepdim=True)
    rel = float((q_logits - ref_logits).norm() / centred.norm())
    assert rel < 0.06, rel  # measured 0.032
    g = Generator(q, tok)
    res = g.generate("안녕하세요", max_new_tokens=8, stop_token_ids=())
    assert len(res.token_ids) == 8


def test_int8_rejects_bad_requests():
    with pytest.raises(UserError, match="int4"):
        quantize_model(build_model("tiny", seed=0), "int4")
    with pytest.raises(UserError, match="float32"):
        quantize_model(build_model("tiny", seed=0, dtype=torch.bfloat16), "int8")
