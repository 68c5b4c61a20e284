"""Fixtures shared by every test module: the ../shared folder, the released tokenizer, a tiny model folder.

Tests may read ../shared (beside the project root, present in CI); a test that needs it is skipped with a
clear reason when it is absent. The package itself never reads ../shared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE_TOKENIZER = SHARED / "reference" / "polyglot-ko-tokenizer"
CORPUS = SHARED / "data" / "korean-corpus"
KOBEST = SHARED / "data" / "kobest"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not present (tests read ../shared beside the project root)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return _need(CORPUS)


@pytest.fixture(scope="session")
def kobest_dir() -> Path:
    return _need(KOBEST)


@pytest.fixture(scope="session")
def reference_tokenizer_dir(tmp_path_factory) -> Path:
    """The released 62ce27a tokenizer as a standard Hugging Face tokenizer folder."""
    src = _need(REFERENCE_TOKENIZER)
    out = tmp_path_factory.mktemp("polyglot-ko-tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / f"MBBPE_62ce27a_2022-06-01_{name}", out / name)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, reference_tokenizer_dir) -> Path:
    """A randomly initialised `tiny` model (seed 0) saved as a HF folder with the released tokenizer."""
    from polyglot_ko import build_model, save_model

    out = tmp_path_factory.mktemp("tiny-model") / "model"
    save_model(build_model("tiny", seed=0), out, tokenizer=reference_tokenizer_dir)
    return out


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny-model tests: their ops take microseconds, and on a shared 2-core
    machine the thread pool's wake-ups cost more than the work. Use with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
