"""Fixtures of the fine-tuning tests: the released tokenizer as a folder whose tokenizer_config.json holds our
chat template (what transformers and the server read), and the loaded tokenizer."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def template_tokenizer_dir(reference_tokenizer_dir, tmp_path_factory):
    from polyglot_ko.chat_template import save_template

    out = tmp_path_factory.mktemp("tokenizer-with-template")
    for p in reference_tokenizer_dir.iterdir():
        shutil.copy(p, out / p.name)
    save_template(out)
    return out


@pytest.fixture(scope="session")
def tok(template_tokenizer_dir):
    from polyglot_ko.tokenizer import load_tokenizer

    return load_tokenizer(template_tokenizer_dir)
