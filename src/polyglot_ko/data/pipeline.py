"""`polyglot-ko prepare`: raw Korean text -> cleaned, filtered, deduplicated, PII-masked text -> GPT-NeoX
indexed datasets, with datatrove.

Stages (stages.py; each a datatrove executor run over N tasks with `workers` processes; a task that finished is
recorded under FOLDER/work/logs/<stage>/completions and skipped when the command is run again, so a killed run
resumes where it stopped). The blocks are in blocks.py (and filters.py, dedup.py):

  1. clean    (N tasks)  read (records shared round-robin across tasks) -> NFC -> HTML removal -> whitespace
                          -> repeat reduction -> quality filters -> exact-dedup hashes
  2. exact    (N tasks)  find exact duplicates, each task one hash partition
  3. dedup    (N tasks)  drop exact duplicates -> MinHash signatures (Korean character 5-grams)
  4. buckets  (B tasks)  datatrove MinHash buckets
  5. cluster  (1 task)   datatrove MinHash clusters
  6. mask     (N tasks)  drop near duplicates -> PII masking -> FOLDER/clean/NNNNN.jsonl.gz
  7. tokenize (with --tokenizer; shards.py) -> FOLDER/tokens/{train,valid}-NNNNN.{bin,idx} + FOLDER/manifest.json

Every dropped document is written to FOLDER/rejects/<reason>.jsonl.gz; FOLDER/stats.json says how many
documents came in, were kept and were dropped per reason (input == kept + sum(dropped)), PII per type,
tokens, and per step the documents and characters in/out and the seconds spent (from datatrove's stats).

This module: `prepare` (options, the settings check, running the stages, the accounting), `summary`, the CLI.
On a cluster, run `stages.build_stages(...)` with datatrove's SlurmPipelineExecutor or RayPipelineExecutor
(see the README, "Preparing a corpus"), then `prepare(..., tokenizer=...)` only tokenizes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io_utils import atomic_write_json, check_output_path
from .filters import QualityConfig
from .readers import TXT_MODES, resolve_inputs
from .shards import tokenize_clean
from .stages import (
    WORK,
    build_stages,
    default_options,
    merge_rejects,
    run_stages,
    step_stats,
)

__all__ = ["prepare", "summary", "build_stages"]


def _check_config(out: Path, config: dict) -> None:
    path = out / WORK / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old != config:

            def flat(d: dict, prefix: str = "") -> dict:
                out = {}
                for k, v in d.items():
                    out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
                return out

            a, b = flat(old), flat(config)
            changed = sorted(k.split("options.", 1)[-1] for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise UserError(
                f"{out}: was prepared with different settings ({', '.join(changed)}); resume with "
                f"the same options (--tasks defaults to --workers), use a new --out folder, or "
                f"--overwrite to start over"
            )
    else:
        atomic_write_json(path, config)


def prepare(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    tokenizer: str | os.PathLike | None = None,
    workers: int = 2,
    valid_fraction: float = 0.0,
    tasks: int | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    **step_options: Any,
) -> dict:
    """Clean, filter, deduplicate, mask and (with `tokenizer`) tokenize `inputs` into the folder `out`.

    step_options (defaults in brackets): text_field ["text"], txt_mode ["line"], max_chars [5,000,000],
    quality [dict of QualityConfig fields, team thresholds], max_repeats [2], near_dedup_threshold [0.8],
    minhash_buckets [14], minhash_ngrams [5], exact_dedup [True], near_dedup [True], mask_pii [True],
    mask_cards [True], seed [1]. tasks: how many shards the work is split into (default: workers); it fixes
    the output layout, so a resumed run must use the same value.

    Returns the stats written to FOLDER/stats.json. Re-running the same call resumes: finished tasks are
    skipped, and a later call with a tokenizer reuses the cleaned text and only tokenizes.
    """
    out = Path(out)
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    if tasks is not None and tasks < 1:
        raise UserError(f"tasks={tasks}: must be at least 1 (or None: one per worker)")
    if not 0.0 <= valid_fraction < 1.0:
        raise UserError(f"--valid-fraction {valid_fraction}: must be in [0, 1), e.g. 0.01")
    options = _options(step_options)
    QualityConfig(**options["quality"]).validate()
    check_output_path(out, "out", folder=True)
    files = [str(p.resolve()) for p in resolve_inputs(inputs)]
    if tokenizer is not None:  # a bad tokenizer must fail now, not after all the cleaning work
        from .. import load_tokenizer

        load_tokenizer(str(tokenizer))
    tasks = tasks or workers
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, {"inputs": files, "tasks": tasks, "options": options})

    t0 = time.perf_counter()
    stages = build_stages(files, out, tasks, options)
    run_stages(stages, out, workers)
    merge_rejects(out)
    steps = step_stats(stages, out)
    stats: dict[str, Any] = {
        **_accounting(steps),
        "input_bytes": sum(Path(f).stat().st_size for f in files),
        "tokens": 0,
        "steps": steps,
        "workers": workers,
        "tasks": tasks,
        "options": options,
        "seconds": {"clean": round(time.perf_counter() - t0, 3)},
    }
    if tokenizer is not None:
        tstats = tokenize_clean(out, str(tokenizer), valid_fraction)
        stats["tokens"] = tstats["tokens"]
        stats["tokenize"] = tstats
        stats["seconds"]["tokenize"] = tstats["seconds"]
    stats["seconds"]["total"] = round(time.perf_counter() - t0, 3)
    atomic_write_json(out / "stats.json", stats)
    if not quiet:
        print(summary(stats), file=sys.stderr)
    return stats


def _options(step_options: dict) -> dict:
    """The defaults updated with `step_options` (quality thresholds one by one), each name checked."""
    options = default_options()
    unknown = set(step_options) - set(options)
    if unknown:
        raise UserError(f"unknown prepare option(s) {sorted(unknown)}; known: {sorted(options)}")
    step_options = dict(step_options)
    if "quality" in step_options:
        q = dict(options["quality"])
        bad = set(step_options["quality"]) - set(q)
        if bad:
            raise UserError(f"unknown quality threshold(s) {sorted(bad)}; known: {sorted(q)}")
        q.update(step_options.pop("quality"))
        options["quality"] = q
    options.update(step_options)
    if options["txt_mode"] not in TXT_MODES:
        raise UserError(f"--txt-mode {options['txt_mode']}: use one of {', '.join(TXT_MODES)}")
    return options


def _accounting(steps: dict) -> dict:
    """Documents (input == kept + sum(dropped), checked), characters and PII, from the per-step counts."""
    read, write, pii = steps.get("read", {}), steps.get("write", {}), steps.get("pii", {})
    dropped: dict[str, int] = {}
    for counts in steps.values():
        for key, n in counts.items():
            if key.startswith("dropped:"):
                reason = key.split(":", 1)[1]
                dropped[reason] = dropped.get(reason, 0) + n
    docs = {"input": read.get("records", 0), "kept": write.get("docs_out", 0), "dropped": dict(sorted(dropped.items()))}
    if docs["input"] != docs["kept"] + sum(dropped.values()):
        raise RuntimeError(f"document accounting broke: {docs}")  # a bug, not a user mistake
    return {
        "documents": docs,
        "characters": {"input": read.get("chars_out", 0), "kept": write.get("chars_out", 0)},
        "pii": {
            "acc": pii.get("pii:acc", 0),
            "rrn": pii.get("pii:rrn", 0),
            "tel": pii.get("pii:tel", 0),
            "cards": pii.get("pii:card", 0),
            "documents": pii.get("docs_with_pii", 0),
        },
    }


def summary(stats: dict) -> str:
    d = stats["documents"]
    lines = [f"documents: {d['input']:,} in, {d['kept']:,} kept, {sum(d['dropped'].values()):,} dropped"]
    for reason, n in sorted(d["dropped"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  dropped {reason}: {n:,}")
    lines.append(f"characters: {stats['characters']['input']:,} in, {stats['characters']['kept']:,} kept")
    p = stats["pii"]
    lines.append(f"PII masked: tel {p['tel']:,}, rrn {p['rrn']:,}, acc {p['acc']:,} (cards {p['cards']:,})")
    if stats.get("tokens"):
        t = stats["tokenize"]
        lines.append(f"tokens: {t['train_tokens']:,} train, {t['valid_tokens']:,} valid")
    lines.append(f"time: {stats['seconds']['total']:.1f} s")
    return "\n".join(lines)
