"""Reading a training checkpoint never runs code from it: crafted pickles in every file it holds are refused.

Each payload, if unpickled, would create a marker file (os.system-free: `pathlib.Path.touch` via a reduce);
the tests assert both the one-line `UserError` and that the marker never appears.
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from polyglot_ko.config import ModelConfig
from polyglot_ko.errors import UserError
from polyglot_ko.model import GPTNeoXForCausalLM
from polyglot_ko.train.loss import CausalLMTrainingModule
from polyglot_ko.train.parallel import DistInfo
from polyglot_ko.train.train_state import _training_state, export_checkpoint, load_checkpoint, save_checkpoint


class Payload:
    """Unpickling this touches `marker`: stands for any code an attacker would run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def tiny_root(seed: int = 0):
    torch.manual_seed(seed)
    cfg = ModelConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=128,
        tokenizer_vocab_size=100,
        max_position_embeddings=64,
    )
    root = CausalLMTrainingModule(GPTNeoXForCausalLM(cfg))
    opt = torch.optim.AdamW(root.parameters(), lr=1e-3)
    root(torch.randint(0, 100, (1, 9))).backward()
    opt.step()
    return cfg, root, opt


def write_checkpoint(out: Path):
    cfg, root, opt = tiny_root()
    meta = {"step": 1, "model": cfg.to_hf_dict(), "config": {}}
    return save_checkpoint(out, 1, root, opt, meta, DistInfo(), keep_last=2)


def test_a_clean_checkpoint_round_trips_with_rng(tmp_path):
    path = write_checkpoint(tmp_path)
    assert (path / "rng_rank0.json").is_file() and not list(path.glob("*.pt"))
    # The draws that followed the save must follow the load again (torch, numpy and Python RNGs, from JSON).
    after_save = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    _cfg, root, opt = tiny_root(seed=7)
    meta = load_checkpoint(path, root, opt, DistInfo())
    assert meta["step"] == 1
    after_load = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(after_save[0], after_load[0]) and (after_save[1] == after_load[1]).all()
    assert after_save[2] == after_load[2]
    _cfg, saved_root, _ = tiny_root(seed=0)
    for (k, a), (_, b) in zip(root.state_dict().items(), saved_root.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_crafted_dcp_metadata_never_runs(tmp_path):
    path = write_checkpoint(tmp_path / "run")
    marker = tmp_path / "pwned-metadata"
    with open(path / ".metadata", "wb") as f:
        pickle.dump(Payload(marker), f)
    _cfg, root, opt = tiny_root()
    with pytest.raises(UserError, match="refusing to read this checkpoint: its .metadata needs pathlib.Path.touch"):
        load_checkpoint(path, root, opt, DistInfo())
    with pytest.raises(UserError, match="refusing to read"):
        export_checkpoint(path, tmp_path / "hf")
    assert not marker.exists() and not (tmp_path / "hf").exists()


def test_crafted_non_tensor_item_never_runs(tmp_path):
    """A checkpoint whose optimizer hyper-parameter is a pickled object: DCP would torch.load it unsafely."""
    import torch.distributed.checkpoint as dcp

    marker = tmp_path / "pwned-item"
    _cfg, root, opt = tiny_root()
    state = _training_state(root, opt)
    state["optim"]["param_groups"][0]["lr"] = Payload(marker)
    ckpt = tmp_path / "crafted"
    dcp.save(state, checkpoint_id=str(ckpt), no_dist=True)
    (ckpt / "meta.json").write_text(json.dumps({"step": 1}))
    assert not marker.exists()
    with pytest.raises(UserError, match="refusing to read this checkpoint: its item 'optim.param_groups.0.lr' needs "):
        load_checkpoint(ckpt, root, opt, DistInfo())
    assert not marker.exists()


def test_crafted_rng_files_never_run(tmp_path):
    path = write_checkpoint(tmp_path / "run")
    marker = tmp_path / "pwned-rng"
    # An old-format pickled RNG file is never unpickled (a warning says the RNG is not restored) ...
    (path / "rng_rank0.json").unlink()
    torch.save(Payload(marker), path / "rng_rank0.pt")
    _cfg, root, opt = tiny_root()
    with pytest.warns(UserWarning, match="old pickled format is not read"):
        load_checkpoint(path, root, opt, DistInfo())
    assert not marker.exists()
    # ... and a JSON one that is not an RNG state is a one-line error.
    (path / "rng_rank0.json").write_text(json.dumps({"torch": "!!", "numpy": {}, "python": {}}))
    with pytest.raises(UserError, match="rng_rank0.json: not an RNG state written by polyglot-ko"):
        load_checkpoint(path, root, opt, DistInfo())
