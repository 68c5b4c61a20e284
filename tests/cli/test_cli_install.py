"""A non-editable install works on its own: the recipes ship as package data and the CLI finds them by name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_non_editable_install_finds_the_builtin_recipes(tmp_path):
    # Build from a copy, so neither the checkout's src/ nor its ./recipes link can be what is found, and the
    # build leaves nothing behind in the checkout.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    site = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-compile",
            "--quiet",
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    assert sorted(p.name for p in (site / "polyglot_ko" / "recipes").glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "src" / "polyglot_ko" / "recipes").glob("*.yaml")
    )

    env = {**os.environ, "PYTHONPATH": str(site)}  # the venv's dependencies, our package from the install only
    where = subprocess.run(
        [sys.executable, "-c", "import polyglot_ko; print(polyglot_ko.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "pretrain",
            "--config",
            "polyglot-ko-1.3b",
            "--print-config",
            "train.max_steps=7",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "preset: polyglot-ko-1.3b" in proc.stdout and "max_steps: 7" in proc.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "polyglot_ko.cli", "pretrain", "--config", "polyglot-ko-99b", "--print-config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "cpu-tiny" in missing.stderr and missing.stderr.count("\n") == 1
