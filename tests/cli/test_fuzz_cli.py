"""Hostile command lines for every subcommand: each ends with a one-line `error:` and a non-zero status, never a
traceback or a hang, and leaves nothing half-written (hardening). Cases: tests/cli/cli_cases.py."""

from __future__ import annotations

import contextlib
import io
import signal

import pytest

from polyglot_ko.cli import main

from .cli_cases import fixed_cases, generated_cases, prepare_files

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Hang(Exception):
    pass


def run_cli(argv: list[str], seconds: int = 60) -> tuple[object, str]:
    """(exit status or 'hang' / the exception, stderr) of `polyglot-ko ARGV` run in this process."""

    def on_alarm(*_):
        raise Hang()

    err = io.StringIO()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    except Hang:
        code = "hang"
    except BaseException as e:  # noqa: BLE001 - any other exception is the failure this test looks for
        code = e
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_model_dir):
    return prepare_files(tmp_path_factory.mktemp("hostile"), tiny_model_dir)


def test_hostile_command_lines_fail_cleanly(files):
    failures = []
    for argv in fixed_cases(files):
        code, err = run_cli(argv)
        last = err.strip().splitlines()[-1] if err.strip() else ""
        if not (
            isinstance(code, int) and code != 0 and "Traceback" not in err and last.startswith(("error:", "usage:"))
        ):
            failures.append((argv[0], argv[-3:], code, err.strip()[-200:]))
    assert not failures, failures
    # Nothing half-written, and no user data replaced.
    assert (files["existing_out"] / "keep.txt").read_text() == "user data"
    assert not list(files["folder"].glob(".*.tmp"))
    assert (files["model"] / "config.json").is_file()


def test_generated_numeric_flags_never_traceback_or_hang(files):
    for argv in generated_cases(files, seed=20261201, count=30):
        code, err = run_cli(argv)
        assert isinstance(code, int) and "Traceback" not in err, (argv, code, err[-300:])
