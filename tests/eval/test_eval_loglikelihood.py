"""The scorer: a hand-computed log-likelihood, transformers as the oracle, context reuse == the plain
computation (padding, truncation, batching), and truncation at 50 shots."""

from __future__ import annotations

import math
import random

import pytest
import torch

from polyglot_ko import build_model
from polyglot_ko.eval.kobest import build_requests, evaluate_kobest, load_split, tokenize_requests
from polyglot_ko.eval.loglikelihood import Question, score, score_plain

TOL = 1e-4


def test_hand_computed_loglikelihood():
    """A model whose output is the same logit vector everywhere: final LayerNorm weight 0 and bias e_0 make the
    last hidden state e_0 at every position, and column 0 of embed_out is the logit vector."""
    model = build_model("tiny", seed=0).eval()
    V = model.config.vocab_size
    with torch.no_grad():
        model.gpt_neox.final_layer_norm.weight.zero_()
        model.gpt_neox.final_layer_norm.bias.zero_()
        model.gpt_neox.final_layer_norm.bias[0] = 1.0
        model.embed_out.weight.zero_()
        model.embed_out.weight[5, 0] = 2.0
    z = math.exp(2.0) + (V - 1)
    q = Question(context=[10, 11, 12], continuations=[[5], [5, 7], [7, 5, 5]])
    (row,) = score(model, [q], progress=False)
    expect = [
        math.log(math.exp(2) / z),
        math.log(math.exp(2) / z) + math.log(1 / z),
        math.log(1 / z) + 2 * math.log(math.exp(2) / z),
    ]
    assert [ll for ll, _ in row] == pytest.approx(expect, abs=1e-5)
    assert [g for _, g in row] == [True, False, False]


def test_matches_transformers(sharp_model, sharp_model_dir):
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(sharp_model_dir, dtype=torch.float32).eval()
    g = random.Random(0)
    questions = [
        Question(
            [g.randrange(30003) for _ in range(g.randint(1, 40))],
            [[g.randrange(30003) for _ in range(g.randint(1, 5))] for _ in range(2)],
        )
        for _ in range(4)
    ]
    ours = score(sharp_model, questions, progress=False)
    with torch.no_grad():
        for q, row in zip(questions, ours, strict=False):
            for cont, (ll, greedy) in zip(q.continuations, row, strict=False):
                ids = torch.tensor([q.context + cont])
                lp = hf(ids).logits[0, len(q.context) - 1 : -1].float().log_softmax(-1)
                tgt = torch.tensor(cont)
                assert ll == pytest.approx(lp.gather(-1, tgt[:, None]).sum().item(), abs=TOL)
                assert greedy == bool((lp.argmax(-1) == tgt).all())


def _random_questions(seed, n, max_ctx, window):
    g = random.Random(seed)
    out = []
    for _ in range(n):
        ctx_len = g.choice([1, 2, g.randint(3, max_ctx), window - 2, window + 37])
        conts = [[g.randrange(30003) for _ in range(g.randint(1, 6))] for _ in range(g.choice([1, 2, 4]))]
        if g.random() < 0.3:  # candidates sharing their first tokens
            conts = [[7, 8] + c for c in conts]
        out.append(Question([g.randrange(30003) for _ in range(ctx_len)], conts))
    return out


@pytest.mark.parametrize("batch_size,max_batch_tokens", [(32, 16384), (3, 64)])
def test_prefix_reuse_equals_plain(sharp_model, batch_size, max_batch_tokens):
    window = 64  # a short window makes some questions truncate, with candidates of different lengths
    questions = _random_questions(1, 12, 50, window)
    assert any(len(q.context) + max(map(len, q.continuations)) > window + 1 for q in questions)
    fast = score(
        sharp_model,
        questions,
        max_length=window,
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        progress=False,
    )
    plain = score_plain(sharp_model, questions, max_length=window)
    for f_row, p_row in zip(fast, plain, strict=False):
        assert [ll for ll, _ in f_row] == pytest.approx([ll for ll, _ in p_row], abs=TOL)
        assert [g for _, g in f_row] == [g for _, g in p_row]


def test_kobest_prefix_reuse_equals_plain(sharp_model, tokenizer, kobest_dir):
    kw = dict(
        tasks="kobest_hellaswag,kobest_boolq",
        shots="0,2",
        data_dir=kobest_dir,
        limit=6,
        progress=False,
        return_samples=True,
    )
    fast = evaluate_kobest(sharp_model, tokenizer, **kw)
    plain = evaluate_kobest(sharp_model, tokenizer, prefix_reuse=False, **kw)
    assert fast["results"] == plain["results"]
    for task, by_shots in fast["samples"].items():
        for k, rows in by_shots.items():
            for a, b in zip(rows, plain["samples"][task][k], strict=False):
                assert a["loglikelihoods"] == pytest.approx(b["loglikelihoods"], abs=TOL)


def test_truncation_at_50_shots(sharp_model, tokenizer, kobest_dir):
    """50 BoolQ examples are far longer than the tiny model's 512 positions: the input is the last 513 tokens of
    context + candidate minus the last, so only those tokens matter."""
    window = sharp_model.config.max_position_embeddings
    test = load_split("boolq", "test", kobest_dir)
    train = load_split("boolq", "train", kobest_dir)
    reqs = build_requests("kobest_boolq", test, train, 50, limit=2)
    questions = tokenize_requests(reqs, tokenizer.encode)
    assert all(len(q.context) > 5 * window for q in questions)
    fast = score(sharp_model, questions, progress=False)
    plain = score_plain(sharp_model, questions)
    # The same questions cut by hand to their last window, and with unrelated tokens in front: same numbers.
    for q, f_row, p_row in zip(questions, fast, plain, strict=False):
        assert [ll for ll, _ in f_row] == pytest.approx([ll for ll, _ in p_row], abs=TOL)
        for cont, (ll, _) in zip(q.continuations, f_row, strict=False):
            keep = window + 1 - len(cont)
            cut = score_plain(sharp_model, [Question(q.context[-keep:], [cont])])[0][0][0]
            junk = score(sharp_model, [Question([9] * 100 + q.context, [cont])], progress=False)[0][0][0]
            assert ll == pytest.approx(cut, abs=TOL) and ll == pytest.approx(junk, abs=TOL)
    r = evaluate_kobest(sharp_model, tokenizer, "kobest_boolq", [50], kobest_dir, limit=3, progress=False)
    assert r["truncated_documents"]["kobest_boolq"]["50"] == 3 and r["results"]["kobest_boolq"]["50"]["n"] == 3


def test_rejects_bad_questions(sharp_model):
    with pytest.raises(ValueError, match="empty context"):
        score(sharp_model, [Question([], [[1]])], progress=False)
    with pytest.raises(ValueError, match="empty continuation"):
        score(sharp_model, [Question([1], [[]])], progress=False)
