"""Fixtures for the evaluation tests: a `tiny` model with sharper random weights (init std 0.1, so candidates
get clearly different log-likelihoods and predictions vary), saved as a HF folder with the released tokenizer."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sharp_model_dir(tmp_path_factory, reference_tokenizer_dir):
    from polyglot_ko import build_model, save_model
    from polyglot_ko.config import get_config

    out = tmp_path_factory.mktemp("sharp-tiny") / "model"
    save_model(
        build_model(get_config("tiny").replace(initializer_range=0.1), seed=1), out, tokenizer=reference_tokenizer_dir
    )
    return out


@pytest.fixture(scope="session")
def sharp_model(sharp_model_dir):
    from polyglot_ko import load_model

    return load_model(sharp_model_dir).eval()


@pytest.fixture(scope="session")
def tokenizer(reference_tokenizer_dir):
    from polyglot_ko import load_tokenizer

    return load_tokenizer(reference_tokenizer_dir)
