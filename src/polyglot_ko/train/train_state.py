"""Training checkpoints: sharded state with torch.distributed.checkpoint, atomic step folders, HF exports.

Layout under the run folder:

    checkpoints/step_000200/      one complete checkpoint: DCP shards (model + optimizer, resharded on load to
                                  any number of processes), meta.json (step, loader position, schedule, config),
                                  rng_rank{R}.json (each rank's RNG states)
    checkpoints/.step_000300.tmp  a save in progress (or cut by a crash): never read, removed by the next save
    hf/step_000200/               Hugging Face model folder + tokenizer exported with that checkpoint
    model/                        the final Hugging Face model

A step folder appears only by renaming the finished temporary folder after every rank wrote its part, so it is
complete or absent; a kill -9 at any moment leaves every earlier checkpoint intact. Old checkpoints are deleted
only after a newer one is in place. With several nodes, the run folder must be on a shared filesystem.

Reading a checkpoint never runs code from it (users share and download checkpoints): our own files are JSON, and
the two places DCP unpickles are checked first with loaders that accept data only: `.metadata` with an
unpickler that knows just the classes DCP writes there, and each non-tensor item with torch's `weights_only`
loader (tensors DCP already reads that way). A file that needs anything else is refused with a `UserError`.
"""

from __future__ import annotations

import base64
import io
import os
import pickle
import random
import re
import shutil
import signal
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..errors import UserError
from ..io_utils import _fsync_dir, atomic_write_json, read_json
from .parallel import DistInfo, barrier, broadcast_object

STEP_RE = re.compile(r"^step_(\d{6,})$")
META = "meta.json"
# Test hook: kill -9 this process in the middle of writing the checkpoint of this step (after the shards,
# before the rename), to prove that a crash mid-save never damages earlier checkpoints.
KILL_ENV = "POLYGLOT_KO_KILL_DURING_CHECKPOINT"


def step_name(step: int) -> str:
    return f"step_{step:06d}"


def list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first."""
    out = []
    if ckpt_dir.is_dir():
        for p in ckpt_dir.iterdir():
            m = STEP_RE.match(p.name)
            if m and p.is_dir() and (p / META).is_file() and (p / ".metadata").is_file():
                out.append((int(m.group(1)), p))
    return sorted(out)


def find_resume(out: Path, resume: str) -> Path | None:
    """The checkpoint folder to resume from, per `checkpoint.resume` ("auto", "never", or a folder)."""
    if resume == "never":
        return None
    if resume == "auto":
        found = list_checkpoints(out / "checkpoints")
        return found[-1][1] if found else None
    p = Path(resume)
    if not (p / META).is_file() or not (p / ".metadata").is_file():
        raise UserError(
            f"checkpoint.resume={resume}: not a complete checkpoint folder (no meta.json/.metadata); "
            f"pass checkpoints/step_NNNNNN of a run or use 'auto'"
        )
    return p


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.numpy().tobytes()).decode("ascii")


def _from_b64(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text, validate=True)), dtype=torch.uint8)


def rng_state() -> dict:
    """This process's RNG states as plain JSON data (byte states base64-encoded)."""
    kind, key, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": _b64(torch.get_rng_state()),
        "numpy": {
            "kind": kind,
            "key": key.tolist(),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = _b64(torch.cuda.get_rng_state())
    return state


def set_rng_state(state: dict, source: str = "rng state") -> None:
    """Restore what `rng_state` returned; a malformed state is a `UserError` naming `source`."""
    try:
        n, p = state["numpy"], state["python"]
        torch_state = _from_b64(state["torch"])
        numpy_state = (
            str(n["kind"]),
            np.asarray(n["key"], dtype=np.uint32),
            int(n["pos"]),
            int(n["has_gauss"]),
            float(n["cached_gaussian"]),
        )
        python_state = (
            int(p["version"]),
            tuple(int(x) for x in p["internal"]),
            None if p["gauss_next"] is None else float(p["gauss_next"]),
        )
        torch.set_rng_state(torch_state)
        np.random.set_state(numpy_state)
        random.setstate(python_state)
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(_from_b64(state["cuda"]))
    except (KeyError, TypeError, ValueError, RuntimeError, base64.binascii.Error) as e:
        raise UserError(
            f"{source}: not an RNG state written by polyglot-ko ({type(e).__name__}: "
            f"{str(e)[:120]}); resume from an untouched checkpoint"
        ) from None


# --- reading DCP files without running code from them ---------------------------------------------------
def _dcp_metadata_classes() -> set[tuple[str, str]]:
    import torch.distributed.checkpoint.metadata as md

    # Every class of DCP's metadata module is a plain dataclass or enum: data, never a callable that runs code.
    allowed = {(md.__name__, n) for n, v in vars(md).items() if isinstance(v, type) and v.__module__ == md.__name__}
    allowed |= {
        ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
        ("torch", "Size"),
        ("torch.serialization", "_get_layout"),
        ("collections", "OrderedDict"),
        ("pathlib", "PosixPath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "WindowsPath"),
        ("pathlib", "PureWindowsPath"),
    }
    allowed |= {("torch", n) for n, v in vars(torch).items() if isinstance(v, torch.dtype)}
    return allowed


class _DataOnlyUnpickler(pickle.Unpickler):
    allowed: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"{module}.{name}")
        return super().find_class(module, name)


def _refuse(path: Path, what: str, detail: str) -> UserError:
    return UserError(
        f"{path}: refusing to read this checkpoint: its {what} needs {detail}, which no checkpoint "
        f"polyglot-ko writes contains (a crafted or foreign file); resume only from checkpoints you "
        f"wrote or trust"
    )


def check_dcp_metadata(path: Path) -> None:
    """Unpickle `path/.metadata` with DCP's own data classes only, before DCP unpickles it for real."""
    if not _DataOnlyUnpickler.allowed:
        _DataOnlyUnpickler.allowed = _dcp_metadata_classes()
    try:
        with open(path / ".metadata", "rb") as f:
            _DataOnlyUnpickler(f).load()
    except pickle.UnpicklingError as e:
        raise _refuse(path, ".metadata", str(e) or "an unknown object") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, ImportError) as e:
        raise UserError(
            f"{path}/.metadata: unreadable ({type(e).__name__}); the checkpoint is damaged, resume from another one"
        ) from None


def _safe_load_planner(path: Path, refused: list[UserError]):
    """DCP's default load planner, but each non-tensor item is first read with torch's weights_only loader.

    A refusal is also appended to `refused`: DCP re-raises it wrapped in its own exception type."""
    from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner

    class DataOnlyLoadPlanner(DefaultLoadPlanner):
        def load_bytes(self, read_item, value: io.BytesIO) -> None:
            raw = value.getvalue()
            try:
                torch.load(io.BytesIO(raw), weights_only=True)
            except pickle.UnpicklingError as e:
                found = re.search(r"GLOBAL ([\w.]+)", str(e))
                refused.append(
                    _refuse(
                        path,
                        f"item {read_item.dest_index.fqn!r}",
                        found.group(1) if found else "an object that is not plain data",
                    )
                )
                raise refused[-1] from None
            super().load_bytes(read_item, io.BytesIO(raw))

    return DataOnlyLoadPlanner()


def dcp_load(state: dict, path: Path) -> None:
    """`dcp.load` into `state` from a checkpoint folder, refusing anything that is not plain data."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException

    check_dcp_metadata(path)
    refused: list[UserError] = []
    planner = _safe_load_planner(path, refused)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*assuming the intent is to")  # single process: intended
            dcp.load(state, checkpoint_id=str(path), planner=planner, no_dist=not dist.is_initialized())
    except (Exception, CheckpointException):  # CheckpointException is a BaseException
        if refused:
            raise refused[0] from None
        raise


def _state_options(trainable_only: bool):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    # trainable_only (LoRA): the frozen base weights are not saved, and loading does not expect them.
    return StateDictOptions(ignore_frozen_params=True, strict=False) if trainable_only else None


def _training_state(root: torch.nn.Module, optimizer: torch.optim.Optimizer, trainable_only: bool = False) -> dict:
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model_sd, optim_sd = get_state_dict(root, optimizer, options=_state_options(trainable_only))
    return {"model": model_sd, "optim": optim_sd}


def save_checkpoint(
    out: Path,
    step: int,
    root: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    meta: dict[str, Any],
    info: DistInfo,
    keep_last: int,
    trainable_only: bool = False,
) -> Path:
    """Write checkpoints/step_NNNNNN atomically (all ranks call this) and prune to the newest `keep_last`;
    `trainable_only` leaves frozen parameters out."""
    import torch.distributed.checkpoint as dcp

    ckpt_dir = out / "checkpoints"
    final = ckpt_dir / step_name(step)
    tmp = ckpt_dir / f".{step_name(step)}.tmp"
    if info.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        for stale in ckpt_dir.glob(".step_*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp.mkdir()
    barrier()
    state = _training_state(root, optimizer, trainable_only)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*assuming the intent is to")  # single process: intended
        dcp.save(state, checkpoint_id=str(tmp), no_dist=not dist.is_initialized())
    atomic_write_json(tmp / f"rng_rank{info.rank}.json", rng_state())
    if info.is_main:
        if os.environ.get(KILL_ENV) == str(step):
            os.kill(os.getpid(), signal.SIGKILL)
        atomic_write_json(tmp / META, meta)
    barrier()
    if info.is_main:
        for root_dir, _dirs, files in os.walk(tmp):
            for name in files:
                with open(os.path.join(root_dir, name), "rb") as f:
                    os.fsync(f.fileno())
        if final.exists():  # re-saving the same step (e.g. resumed at it): replace it as a whole
            old = ckpt_dir / f".{step_name(step)}.old"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(ckpt_dir)
        prune(ckpt_dir, keep_last)
    barrier()
    return final


def prune(folder: Path, keep_last: int) -> None:
    """Delete all but the newest `keep_last` step folders (complete ones only are counted)."""
    steps = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = STEP_RE.match(p.name)
            if m and p.is_dir():
                steps.append((int(m.group(1)), p))
            elif p.name.startswith(".step_") and p.name.endswith(".old"):
                shutil.rmtree(p, ignore_errors=True)  # left by a prune that was killed
    for _, p in sorted(steps)[:-keep_last] if keep_last > 0 else []:
        # Renamed away first: a kill during the deletion leaves a hidden folder, never a half-deleted step folder.
        doomed = p.with_name(f".{p.name}.old")
        os.replace(p, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def load_checkpoint(
    path: Path, root: torch.nn.Module, optimizer: torch.optim.Optimizer, info: DistInfo, trainable_only: bool = False
) -> dict:
    """Load model + optimizer (resharded to this run's processes), this rank's RNG; return meta.json."""
    from torch.distributed.checkpoint.api import CheckpointException
    from torch.distributed.checkpoint.state_dict import set_state_dict

    state = _training_state(root, optimizer, trainable_only)
    try:
        dcp_load(state, path)
    except UserError:
        raise
    except (Exception, CheckpointException) as e:  # DCP raises several types for shape/key mismatches
        raise UserError(
            f"checkpoint {path} does not match this model/optimizer ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:300]}); resume with the recipe that wrote it or use "
            f"checkpoint.resume=never"
        ) from None
    set_state_dict(
        root,
        optimizer,
        model_state_dict=state["model"],
        optim_state_dict=state["optim"],
        options=_state_options(trainable_only),
    )
    rng_file = path / f"rng_rank{info.rank}.json"
    if rng_file.is_file():
        set_rng_state(read_json(rng_file, "resume from an untouched checkpoint"), source=str(rng_file))
    elif (path / f"rng_rank{info.rank}.pt").is_file():
        # Older versions pickled the RNG state; unpickling a file from a checkpoint can run code, so it is ignored.
        warnings.warn(
            f"{path}: RNG state in the old pickled format is not read (unsafe); the resumed run's random "
            f"draws (dropout, sampling) will differ from an uninterrupted one",
            stacklevel=2,
        )
    return read_json(path / META, "resume from an untouched checkpoint")


def full_model_state(root: torch.nn.Module, info: DistInfo) -> dict[str, torch.Tensor] | None:
    """The whole model's state dict on CPU, names as in HF (rank 0 gets it, other ranks None). Collective."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
    )

    if dist.is_initialized():
        sd = get_model_state_dict(root, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        sd = {k: v.detach().cpu() for k, v in root.state_dict().items()}
    if not info.is_main:
        return None
    return {k.removeprefix("model."): v for k, v in sd.items()}


def export_hf(root: torch.nn.Module, model_config, folder: Path, tokenizer: Any, info: DistInfo) -> Path | None:
    """Write a Hugging Face model folder (with the tokenizer) from the training model. Collective."""
    from ..checkpoint import save_model
    from ..model import GPTNeoXForCausalLM

    state = full_model_state(root, info)
    if info.is_main:
        with torch.device("meta"):
            model = GPTNeoXForCausalLM(model_config)
        model.load_state_dict(state, assign=True, strict=True)
        save_model(model, folder, tokenizer=tokenizer)
    barrier()
    return folder if info.is_main else None


def agree(value, info: DistInfo):
    """Rank 0's value on every rank."""
    return broadcast_object(value) if info.distributed else value


def export_checkpoint(checkpoint: str | Path, dest: str | Path, tokenizer: Any = None) -> Path:
    """Write a Hugging Face model folder from a training checkpoint folder, in one process, on request.

    tokenizer: a tokenizer object or folder/hub id; default: the `tokenizer` of the run's recipe, if any.
    """
    from ..checkpoint import save_model
    from ..config import ModelConfig
    from ..model import GPTNeoXForCausalLM
    from .loss import CausalLMTrainingModule

    checkpoint = Path(checkpoint)
    if not (checkpoint / META).is_file() or not (checkpoint / ".metadata").is_file():
        raise UserError(
            f"{checkpoint}: not a complete training checkpoint (no meta.json/.metadata); pass "
            f"RUN/checkpoints/step_NNNNNN"
        )
    meta = read_json(checkpoint / META, "export from an untouched checkpoint")
    config = ModelConfig.from_hf_dict(meta["model"], source=str(checkpoint / META))
    root = CausalLMTrainingModule(GPTNeoXForCausalLM(config))
    state = {"model": root.state_dict()}
    dcp_load(state, checkpoint)
    root.load_state_dict(state["model"])
    if tokenizer is None:
        tokenizer = (meta.get("config") or {}).get("tokenizer")
    if isinstance(tokenizer, (str, Path)):
        from ..tokenizer import load_tokenizer

        tokenizer = load_tokenizer(tokenizer)
    return save_model(root.model, dest, tokenizer=tokenizer)
