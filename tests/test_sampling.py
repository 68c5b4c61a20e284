"""Sampling stays numerically safe for every legal setting, and illegal ones are one-line errors."""

from __future__ import annotations

import math

import pytest
import torch

from polyglot_ko.errors import UserError
from polyglot_ko.sampling import SamplingParams, SequenceSampler

VOCAB = 300


def sampler(prompt=(), **kw) -> SequenceSampler:
    return SequenceSampler(SamplingParams(**kw).validate(VOCAB), list(prompt), VOCAB)


@pytest.fixture
def logits():
    return torch.randn(VOCAB, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("temperature", [1e-300, 1e-45, 5e-324, 1e-8])
def test_a_vanishing_temperature_is_greedy_not_nan(logits, temperature):
    s = sampler(temperature=temperature, seed=1)
    assert [s.choose(logits) for _ in range(5)] == [int(logits.argmax())] * 5


def test_extreme_repetition_penalties_sample_among_the_right_tokens(logits):
    seen = list(range(0, VOCAB, 2))
    # A penalty of 1e-300 lifts every seen token with a positive logit to +inf in float32: they share the mass.
    boosted = {t for t in seen if logits[t] > 0}
    s = sampler(seen, temperature=1.0, repetition_penalty=1e-300, seed=2)
    assert {s.choose(logits) for _ in range(40)} <= boosted
    # A penalty of 1e300 sends every seen token with a negative logit to -inf (and a positive one to 0).
    removed = {t for t in seen if logits[t] < 0}
    s = sampler(seen, temperature=0.7, repetition_penalty=1e300, seed=3)
    chosen = {s.choose(logits) for _ in range(60)}
    assert chosen and not chosen & removed


def test_all_tokens_impossible_falls_back_to_the_model_argmax():
    logits = torch.full((VOCAB,), -1.0)
    logits[17] = -0.5
    s = sampler(range(VOCAB), temperature=1.0, repetition_penalty=1e300, seed=0)  # every token seen -> -inf
    assert s.choose(logits) == 17


@pytest.mark.parametrize(
    "option,value",
    [
        ("temperature", math.inf),
        ("temperature", math.nan),
        ("top_p", math.nan),
        ("repetition_penalty", math.inf),
        ("repetition_penalty", math.nan),
        ("seed", 2**64),
        ("seed", -1),
        ("temperature", "0.5"),
    ],
)
def test_non_finite_or_out_of_range_values_are_user_errors(option, value):
    with pytest.raises(UserError, match=f"^{option}="):
        SamplingParams(**{option: value}).validate(VOCAB)
