"""The console script: every subcommand is listed, user mistakes are one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys

from polyglot_ko.cli import SUBCOMMANDS


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "polyglot_ko.cli", *args], capture_output=True, text=True)


def test_help_lists_every_subcommand():
    proc = _cli("--help")
    assert proc.returncode == 0
    for name in SUBCOMMANDS:
        assert name in proc.stdout


def test_every_subcommand_module_has_the_cli_contract():
    import importlib

    for name, (module_name, _help) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run), name


def test_unknown_preset_is_a_one_line_error():
    proc = _cli("info", "polyglot-ko-99b")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "unknown model preset 'polyglot-ko-99b'" in proc.stderr and "Traceback" not in proc.stderr


def test_info_prints_card_counts():
    proc = _cli("info", "polyglot-ko-1.3b")
    assert proc.returncode == 0 and "1,331,810,304" in proc.stdout


def test_public_api_names_resolve_lazily():
    import subprocess
    import sys

    code = ("import sys, polyglot_ko as pk; assert 'torch' not in sys.modules; pk.mask_pii('x'); "
            "assert 'torch' not in sys.modules, 'mask_pii must not import torch'; "
            "[getattr(pk, n) for n in pk.__all__]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
