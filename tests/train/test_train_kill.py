"""kill -9 `polyglot-ko pretrain` at 20 seeded random moments, resume each time: the run ends bitwise identical.

One uninterrupted reference run (that keeps every checkpoint and HF export) is compared with a run that is killed
20 times and resumed with `--resume auto` after each kill. The kill moments come from a seeded `random.Random`:
some at a short delay after start (inside start-up), some at a random wall-clock delay (between or inside steps),
some through the `POLYGLOT_KO_KILL_DURING_CHECKPOINT` hook (after the DCP shards, before the rename), and some a
few milliseconds after a checkpoint's or an HF export's temporary folder appears (inside the DCP or safetensors
writes). After every kill, everything a reader could pick up is complete: each `checkpoints/step_NNNNNN` has its
meta.json, `.metadata` and RNG JSON, loads in full and equals the reference's checkpoint of that step, and each
HF folder (`hf/step_NNNNNN`, `model`) equals the reference's and loads; only hidden temporary folders may be left.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from polyglot_ko.train.metrics import read_metrics
from polyglot_ko.train.train_state import (
    KILL_ENV,
    STEP_RE,
    check_dcp_metadata,
    list_checkpoints,
    set_rng_state,
)
from polyglot_ko.train.train_state import rng_state as get_rng_state

from .test_train_loop import ROOT, cli_args, tiny

STEPS, SAVE_EVERY, KILLS, SEED = 24, 2, 20, 20240607
SAVE_STEPS = [s for s in range(SAVE_EVERY, STEPS, SAVE_EVERY)] + [STEPS]  # the last one: the final save
TMP_RE = re.compile(r"^\.step_\d{6,}\.(tmp|old)$")  # save_checkpoint's folders in progress / being replaced
HF_TMP_RE = re.compile(r"^\.(step_\d{6,}|model)\.(.+\.tmp|old-\d+|old)$")  # atomic_dir's, prune's


def run_kw(out: Path, data: Path, tokenizer: Path, **more) -> dict:
    return tiny(
        out,
        data,
        tokenizer,
        max_steps=STEPS,
        save_every=SAVE_EVERY,
        **{"optim.decay_steps": STEPS, "train.valid_every": 8, "logging.plot": False, **more},
    )


class Run:
    """`polyglot-ko pretrain` as a subprocess; stderr lines are collected with the time they arrived."""

    def __init__(self, kw: dict, env: dict | None = None, resume: bool = False):
        args = cli_args(dict(kw)) + (["--resume", "auto"] if resume else [])
        self.start = time.time()
        self.p = subprocess.Popen(
            [sys.executable, "-m", "polyglot_ko.cli", "pretrain", *map(str, args)],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.p.stderr:
            self.lines.append((time.time() - self.start, line))

    def wait(self, timeout: float = 300) -> int:
        rc = self.p.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return rc

    def kill(self) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)

    @property
    def err(self) -> str:
        return "".join(line for _, line in self.lines)

    def started_training(self) -> float | None:
        """When the loop began (the 'pretrain: starting/resuming ...' line), seconds after start."""
        return next((t for t, line in self.lines if line.startswith("pretrain: ") and "params" in line), None)


def wait_for(run: Run, predicate, timeout: float = 120) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and run.p.poll() is None:
        if predicate():
            return True
        time.sleep(0.003)
    return False


def new_entry(folder: Path, pattern: re.Pattern, since: float):
    """A predicate: `folder` has an entry matching `pattern` created after `since`."""

    def found() -> bool:
        try:
            with os.scandir(folder) as it:
                return any(pattern.match(e.name) and e.stat().st_ctime >= since for e in it)
        except FileNotFoundError:
            return False

    return found


# --- loading and comparing what a kill left ------------------------------------------------------------
def load_dcp_in_full(path: Path) -> dict:
    """Every item of a DCP checkpoint (model, AdamW moments, param groups), after our data-only check of .metadata.

    Read as torch's own `dcp_to_torch_save` does (a planner that rebuilds the state dict from the metadata)."""
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

    check_dcp_metadata(path)
    state: dict = {}
    _load_state_dict(state, storage_reader=FileSystemReader(path), planner=_EmptyStateDictLoadPlanner(), no_dist=True)
    return state


def assert_same_state(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, sorted(a), sorted(b))
        for k in a:
            assert_same_state(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


META_KEYS = ("step", "samples_consumed", "skipped_steps", "bad_in_a_row", "seq_len", "data_seed", "model", "schedule")


class Checker:
    """Checks the run folder after a kill against the reference run; folders already checked are not reread."""

    def __init__(self, ref: Path, out: Path):
        self.ref, self.out = ref, out
        self.seen: set[tuple] = set()
        self.ref_states: dict[int, dict] = {}
        self.checkpoints_checked = self.hf_checked = 0

    def _key(self, path: Path) -> tuple:
        st = path.stat()
        return (str(path), st.st_ino, st.st_mtime_ns)

    def checkpoints(self) -> None:
        folder = self.out / "checkpoints"
        if not folder.exists():
            return
        for p in sorted(folder.iterdir()):
            if TMP_RE.match(p.name):
                continue  # a save in progress or cut by the kill: never read (list_checkpoints skips it)
            m = STEP_RE.match(p.name)
            assert m and p.is_dir(), f"unexpected entry {p} in checkpoints/"
            if self._key(p) in self.seen:
                continue
            step = int(m.group(1))
            names = {q.name for q in p.iterdir()}
            assert {"meta.json", ".metadata", "rng_rank0.json"} <= names, (p, sorted(names))
            ref_dir = self.ref / "checkpoints" / p.name
            assert {q.name for q in ref_dir.iterdir()} == names, (p, sorted(names))
            meta, ref_meta = (json.loads((d / "meta.json").read_text()) for d in (p, ref_dir))
            assert {k: meta[k] for k in META_KEYS} == {k: ref_meta[k] for k in META_KEYS}, p
            assert meta["step"] == step
            # The RNG state file loads. Its states are not compared with the reference's: the trainer seeds
            # neither numpy nor Python's `random`, and on CPU its start-up FLOP/s measurement
            # (metrics.measure_cpu_matmul_flops) draws from torch's global generator after the restore, so every
            # resume moves that one on too. Training itself draws nothing from them: the losses below prove it.
            saved = get_rng_state()
            try:
                set_rng_state(json.loads((p / "rng_rank0.json").read_text()), source=str(p / "rng_rank0.json"))
            finally:
                set_rng_state(saved)
            if step not in self.ref_states:
                self.ref_states[step] = load_dcp_in_full(ref_dir)
            state = load_dcp_in_full(p)
            assert set(state) == {"model", "optim"} and state["optim"]["state"], sorted(state)  # AdamW's moments too
            assert_same_state(state, self.ref_states[step], p.name)
            self.seen.add(self._key(p))
            self.checkpoints_checked += 1

    def hf_folders(self) -> None:
        from polyglot_ko.checkpoint import load_model

        folders = []
        if (self.out / "hf").exists():
            for p in sorted((self.out / "hf").iterdir()):
                if HF_TMP_RE.match(p.name):
                    continue  # atomic_dir's temporary folder: never read
                assert STEP_RE.match(p.name) and p.is_dir(), f"unexpected entry {p} in hf/"
                folders.append((p, self.ref / "hf" / p.name))
        if (self.out / "model").exists():
            folders.append((self.out / "model", self.ref / "model"))
        for p, ref_dir in folders:
            if self._key(p) in self.seen:
                continue
            names = {q.name for q in p.iterdir()}
            assert names == {q.name for q in ref_dir.iterdir()}, (p, sorted(names))
            assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
            for name in names:
                ours, theirs = (p / name).read_bytes(), (ref_dir / name).read_bytes()
                if name == "README.md":  # the model card names its own folder
                    theirs = theirs.replace(str(ref_dir).encode(), str(p).encode())
                assert ours == theirs, p / name
            load_model(p)
            self.seen.add(self._key(p))
            self.hf_checked += 1


def losses(out: Path) -> tuple[dict, dict, list[int]]:
    recs = read_metrics(out / "metrics.jsonl")
    train = [r for r in recs if r.get("split") != "valid"]
    last_train = {r["step"]: (r["loss"], r["grad_norm"], r["lr"], r["tokens"]) for r in train}
    last_valid = {r["step"]: r["loss"] for r in recs if r.get("split") == "valid"}
    return last_train, last_valid, [r["step"] for r in train]


# --- where a kill landed ------------------------------------------------------------------------------
def what_it_hit(run: Run, out: Path) -> str:
    if run.started_training() is None:
        return "start-up"
    for folder, pattern, what in (
        (out / "checkpoints", TMP_RE, "checkpoint write"),
        (out / "hf", HF_TMP_RE, "HF export"),
        (out, HF_TMP_RE, "final HF export"),
    ):
        if new_entry(folder, pattern, run.start)():
            return what
    train = [r for r in read_metrics(out / "metrics.jsonl") if r.get("split") != "valid"]
    top = train[-1]["step"] if train else 0
    return f"between/inside steps (after step {top})" if top < STEPS else "after the last step"


@pytest.mark.slow
def test_twenty_kill9_at_random_moments_then_resume_is_bitwise_identical(
    tmp_path, train_data_dir, reference_tokenizer_dir
):
    rng = random.Random(SEED)
    ref_out, out = tmp_path / "ref", tmp_path / "run"

    # The uninterrupted reference, as a subprocess too: it also measures start-up and step times here, which the
    # wall-clock kill delays are scaled by (a busy machine gets later kills, not kills in other places).
    ref = Run(run_kw(ref_out, train_data_dir, reference_tokenizer_dir, **{"checkpoint.keep_last": 100}))
    assert ref.wait() == 0, ref.err
    t_start = ref.started_training()
    t_end = ref.lines[-1][0]
    t_step = (t_end - t_start) / STEPS
    ref_train, ref_valid, ref_steps = losses(ref_out)
    assert ref_steps == list(range(1, STEPS + 1)) and sorted(ref_valid) == [8, 16, 24]
    assert [s for s, _ in list_checkpoints(ref_out / "checkpoints")] == SAVE_STEPS

    # 20 kills; each aims at a point a little further along the run (the i-th near step 24*(i+1)/20), in one of
    # six ways (seeded and shuffled): early in start-up, around its end, at a random moment of the loop, by the
    # hook inside a checkpoint save, a few ms after a checkpoint's or an HF export's temporary folder appears.
    modes = (
        ["start-up"] * 3 + ["delay"] * 3 + ["steps"] * 5 + ["hook"] * 3 + ["checkpoint tmp"] * 3 + ["export tmp"] * 3
    )
    rng.shuffle(modes)
    check = Checker(ref_out, out)
    log = []
    for i, mode in enumerate(modes):
        resume_step = max((s for s, _ in list_checkpoints(out / "checkpoints")), default=0)
        aim = max(math.ceil(STEPS * (i + 1) / KILLS), resume_step + 1)
        save_step = next((s for s in SAVE_STEPS if s >= aim), None)
        if save_step is None:  # everything was saved already: only start-up, validation and the final export left
            mode = "delay" if mode != "start-up" else mode
        env = {KILL_ENV: str(save_step)} if mode == "hook" else None
        run = Run(run_kw(out, train_data_dir, reference_tokenizer_dir), env=env, resume=True)
        if mode == "start-up":
            time.sleep(rng.uniform(0.05, 0.6) * t_start)
        elif mode == "delay":  # from the late start-up to the aimed step
            time.sleep(rng.uniform(0.7, 1.0) * t_start + rng.uniform(0, (min(aim, STEPS) - resume_step + 1) * t_step))
        elif mode == "steps":  # once the loop runs, up to the aimed step
            wait_for(run, lambda run=run: run.started_training() is not None)
            time.sleep(rng.uniform(0, (min(aim, STEPS) - resume_step + 1) * t_step))
        elif mode == "checkpoint tmp":
            pattern = re.compile(rf"^\.step_{save_step:06d}\.tmp$")
            wait_for(run, new_entry(out / "checkpoints", pattern, run.start))
            time.sleep(rng.uniform(0, 0.05))
        elif mode == "export tmp":
            folder, name = (out / "hf", f"step_{save_step:06d}") if save_step < STEPS else (out, "model")
            wait_for(run, new_entry(folder, re.compile(rf"^\.{name}\..+\.tmp$"), run.start))
            time.sleep(rng.uniform(0, 0.03))
        if mode != "hook":
            run.kill()
        rc = run.wait()
        if rc == 0:
            hit = "nothing: the run had finished"
        else:
            assert rc == -signal.SIGKILL, (mode, rc, run.err)
            hit = what_it_hit(run, out)
        if run.started_training() is not None:  # start-up times of resumed runs: the newest one scales the next
            t_start = run.started_training()
        log.append(f"kill {i + 1:2d} ({mode}, resumed at {resume_step}, aim {aim}): {hit}")
        # (b) and (c) after every kill
        check.checkpoints()
        check.hf_folders()

    # The last resume runs to the end.
    final = Run(run_kw(out, train_data_dir, reference_tokenizer_dir), resume=True)
    assert final.wait() == 0, final.err
    check.checkpoints()
    check.hf_folders()
    print("\n".join(log))
    print(f"{check.checkpoints_checked} checkpoint folders and {check.hf_checked} HF folders checked")

    # (a) every step's loss, gradient norm, learning rate and token count equal the uninterrupted run's, bitwise
    train, valid, steps = losses(out)
    assert steps == list(range(1, STEPS + 1))  # a resume drops the killed run's later lines: each step once
    assert train == ref_train
    # Validation losses: each one logged equals the reference's, the final one is there. (A kill after the
    # checkpoint of a validation step but before its validation ends loses that mid-run validation record: the
    # resumed run starts after that step and does not validate it again.)
    assert valid.items() <= ref_valid.items() and STEPS in valid, (valid, ref_valid)
    assert (out / "model" / "model.safetensors").read_bytes() == (ref_out / "model" / "model.safetensors").read_bytes()
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == SAVE_STEPS[-2:]  # keep_last=2
    # the kills meant for start-up and for the hook landed there (where the others land depends on the machine)
    hits = " ".join(log)
    assert hits.count(": start-up") >= 3 and hits.count(": checkpoint write") >= 3, "\n".join(log)
