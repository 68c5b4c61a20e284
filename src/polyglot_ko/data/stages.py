"""The stages of `polyglot-ko prepare`: which datatrove blocks run in which order over how many tasks, how they
are run on this machine, and the per-step counts and rejects they leave.

`build_stages(inputs, out, tasks, options)` returns (stage name, blocks, tasks) for any datatrove executor
(Local, Slurm, Ray): give each stage `logging_dir=out/work/logs/<stage name>` and `depends=` the previous one.
`run_stages` does that with `LocalPipelineExecutor`s; `step_stats` reads the per-task stats the executors saved;
`merge_rejects` joins the per-task rejects into FOLDER/rejects/<reason>.jsonl.gz.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupCluster
from datatrove.utils.stats import MetricStats, PipelineStats, Stats

from ..errors import UserError
from ..io_utils import atomic_path
from .blocks import (
    ExactDuplicateFilter,
    ExactFindBlock,
    ExactHashBlock,
    HTMLFormatter,
    MinhashBlock,
    NearDuplicateFilter,
    NFCFormatter,
    PIIFormatter,
    ReadBlock,
    ReadRankBlock,
    RepeatFormatter,
    WhitespaceFormatter,
    WriteRankBlock,
    reject_writer,
)
from .dedup import minhash_config
from .filters import KoreanQualityFilter, QualityConfig
from .readers import DEFAULT_MAX_CHARS

WORK = "work"
# The steps FOLDER/stats.json reports, in this order (the other blocks only move documents between stages).
STEP_ORDER = (
    "read",
    "nfc",
    "html",
    "whitespace",
    "repeats",
    "quality",
    "exact_hash",
    "exact_dedup",
    "minhash",
    "near_dedup",
    "pii",
    "write",
    "write_filtered",
    "write_deduped",
    "exact_find",
)


def default_options() -> dict:
    return {
        "text_field": "text",
        "txt_mode": "line",
        "max_chars": DEFAULT_MAX_CHARS,
        "quality": QualityConfig().as_dict(),
        "max_repeats": 2,
        "near_dedup_threshold": 0.8,
        "minhash_buckets": 14,
        "minhash_ngrams": 5,
        "exact_dedup": True,
        "near_dedup": True,
        "mask_pii": True,
        "mask_cards": True,
        "seed": 1,
    }


def build_stages(inputs: list[str], out: Path, tasks: int, options: dict | None = None) -> list[tuple[str, list, int]]:
    """The pipeline as (stage name, datatrove blocks, number of tasks), for any datatrove executor.

    options: step options as for `prepare` (missing ones take the defaults). Give each stage's executor
    `logging_dir=out/work/logs/<stage name>` so that a later `prepare(..., tokenizer=...)` on the same folder
    finds them finished and only tokenizes.
    """
    o = {**default_options(), **(options or {})}
    work = Path(out) / WORK
    stages: list[tuple[str, list, int]] = []
    clean = [
        ReadBlock(inputs, o["text_field"], o["txt_mode"], o["max_chars"], reject_writer(str(work), "read")),
        NFCFormatter(),
        HTMLFormatter(),
        WhitespaceFormatter(),
        RepeatFormatter(o["max_repeats"]),
        KoreanQualityFilter(o["quality"], exclusion_writer=reject_writer(str(work), "quality")),
    ]
    if o["exact_dedup"]:
        clean.append(ExactHashBlock(str(work / "exact")))
    clean.append(WriteRankBlock(str(work / "filtered"), "write_filtered"))
    stages.append(("clean", clean, tasks))
    source = work / "filtered"
    if o["exact_dedup"] or o["near_dedup"]:
        if o["exact_dedup"]:
            stages.append(("exact", [ExactFindBlock(str(work / "exact"), tasks)], tasks))
        dedup: list = [ReadRankBlock(str(source))]
        if o["exact_dedup"]:
            dedup.append(
                ExactDuplicateFilter(
                    str(work / "exact" / "remove"), tasks, exclusion_writer=reject_writer(str(work), "exact_dedup")
                )
            )
        if o["near_dedup"]:
            cfg = minhash_config(o["near_dedup_threshold"], o["minhash_buckets"], o["minhash_ngrams"], o["seed"])
            dedup.append(MinhashBlock(str(work / "minhash" / "signatures"), cfg))
        dedup.append(WriteRankBlock(str(work / "deduped"), "write_deduped"))
        stages.append(("dedup", dedup, tasks))
        source = work / "deduped"
        if o["near_dedup"]:
            mh = work / "minhash"
            stages.append(
                (
                    "buckets",
                    [
                        MinhashDedupBuckets(
                            input_folder=str(mh / "signatures"), output_folder=str(mh / "buckets"), config=cfg
                        )
                    ],
                    cfg.num_buckets,
                )
            )
            stages.append(
                (
                    "cluster",
                    [
                        MinhashDedupCluster(
                            input_folder=str(mh / "buckets"), output_folder=str(mh / "remove"), config=cfg
                        )
                    ],
                    1,
                )
            )
    final: list = [ReadRankBlock(str(source))]
    if o["near_dedup"]:
        final.append(
            NearDuplicateFilter(
                str(work / "minhash" / "remove"), exclusion_writer=reject_writer(str(work), "near_dedup")
            )
        )
    if o["mask_pii"]:
        final.append(PIIFormatter(cards=o["mask_cards"]))
    final.append(WriteRankBlock(str(Path(out) / "clean"), "write", compresslevel=6))
    stages.append(("mask", final, tasks))
    return stages


def run_stages(stages: list[tuple[str, list, int]], out: Path, workers: int) -> None:
    """Run the stages in order on this machine, resuming: each is a datatrove `LocalPipelineExecutor` with
    `depends=` the previous one, launched in a child process by datatrove's `launch_pickled_pipeline` (as its
    Slurm executor launches a job; see the end of this module), so datatrove's console logging goes to
    FOLDER/work/logs/console.log beside the per-task logs (work/logs/<stage>/logs) and the terminal shows one
    progress bar of finished tasks."""
    import dill
    from tqdm.auto import tqdm

    logs = Path(out) / WORK / "logs"
    executors: list[tuple[str, LocalPipelineExecutor]] = []
    for name, blocks, n in stages:
        executors.append(
            (
                name,
                LocalPipelineExecutor(
                    pipeline=blocks,
                    tasks=n,
                    workers=min(workers, n),
                    logging_dir=str(logs / name),
                    skip_completed=True,
                    depends=executors[-1][1] if executors else None,
                ),
            )
        )

    def pending() -> list[tuple[str, list[int]]]:
        incomplete = [(name, ex.get_incomplete_ranks()) for name, ex in executors]
        return [(name, ranks) for name, ranks in incomplete if ranks]

    todo = pending()
    if not todo:
        return
    with atomic_path(logs / "executor.pik") as tmp:
        with open(tmp, "wb") as f:
            dill.dump(executors[-1][1], f)
    env = dict(os.environ)  # the child imports polyglot_ko from where this process did
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    total = sum(len(ranks) for _, ranks in todo)
    bar = tqdm(total=total, desc="prepare", unit="task", file=sys.stderr)
    with open(logs / "console.log", "ab") as console:
        proc = subprocess.Popen(
            [sys.executable, "-m", "polyglot_ko.data.stages", str(logs / "executor.pik")],
            stdout=console,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            while proc.poll() is None:
                time.sleep(0.2)
                todo = pending()
                bar.update(total - sum(len(ranks) for _, ranks in todo) - bar.n)
                bar.set_postfix_str(todo[0][0] if todo else "")
        finally:
            if proc.poll() is None:
                proc.kill()
            bar.close()
    for name, missing in pending():
        raise UserError(
            f"{out}: stage {name!r} did not finish tasks {missing[:10]}; see {logs / name}/logs and "
            f"{logs / 'console.log'}, then run the same command again to resume"
        )


def _step_counts(stats: Stats) -> dict:
    """One block's datatrove stats (all tasks) as FOLDER/stats.json's step entry: docs_in/docs_out, chars_in/
    chars_out, dropped:<reason>, the block's own counters, and seconds."""
    counts: dict[str, int] = {}
    # a Stats read back from JSON holds its metrics as saved (a number or a dict) until it is added to another
    values = {
        label: int((m if isinstance(m, MetricStats) else MetricStats.from_dict(m)).total)
        for label, m in stats.stats.items()
    }
    for label, value in values.items():
        if label == "total":
            counts["docs_in"] = value
            counts["docs_out"] = value - values.get("dropped", 0)
        elif label == "doc_len":
            counts["chars_out"] = value
        elif label.startswith("dropped_"):
            counts["dropped:" + label[len("dropped_") :]] = value
        elif label not in ("dropped", "forwarded"):
            counts[label] = value
    return dict(sorted(counts.items()), seconds=round(stats.time_stats.total, 3))


def step_stats(stages: list[tuple[str, list, int]], out: Path) -> dict:
    """Per step (STEP_ORDER), the counts of every task, from the stats datatrove's executors saved."""
    steps: dict[str, dict] = {}
    for name, blocks, n in stages:
        folder = Path(out) / WORK / "logs" / name / "stats"
        merged = PipelineStats()
        for rank in range(n):
            path = folder / f"{rank:05d}.json"
            if path.exists():
                merged = merged + PipelineStats.from_json(json.loads(path.read_text()))
        for block, stats in zip(blocks, merged.stats, strict=True) if merged.stats else ():
            if block.name in STEP_ORDER:
                steps[block.name] = _step_counts(stats)
    return {step: steps[step] for step in STEP_ORDER if step in steps}


def merge_rejects(out: Path) -> None:
    """Concatenate the per-task reject parts into FOLDER/rejects/<reason>.jsonl.gz (gzip members concatenate)."""
    parts_root = Path(out) / WORK / "rejects"
    dest_root = Path(out) / "rejects"
    if dest_root.exists():
        shutil.rmtree(dest_root)
    dest_root.mkdir(parents=True)
    if not parts_root.exists():
        return
    for reason_dir in sorted(p for p in parts_root.iterdir() if p.is_dir()):
        parts = sorted(reason_dir.glob("*.jsonl.gz"))
        if not parts:
            continue
        with atomic_path(dest_root / f"{reason_dir.name}.jsonl.gz") as tmp:
            with open(tmp, "wb") as f:
                for p in parts:
                    with open(p, "rb") as src:
                        shutil.copyfileobj(src, f)


if __name__ == "__main__":
    # The child process of run_stages. datatrove's workers start from a forkserver that imports __main__ first,
    # so with this module as __main__ they start with the blocks imported instead of importing them per stage.
    from datatrove.tools.launch_pickled_pipeline import main

    main()
