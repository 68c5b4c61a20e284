"""`polyglot-ko quickstart`: the whole system, end to end, on the bundled Korean corpus (or yours), on a CPU.

polyglot-ko quickstart                 # -> quickstart-out/ (report.md, model/, loss curve), a few minutes
polyglot-ko quickstart --fast          # the same stages at toy size, about a minute
polyglot-ko quickstart --corpus DIR --out qs-mine --kobest-dir kobest/
"""

from __future__ import annotations

from ._args import add_parameters


def add_arguments(parser) -> None:
    from ..quickstart import run_quickstart

    add_parameters(parser, run_quickstart)


def run(args: dict) -> int:
    from ..quickstart import run_quickstart

    run_quickstart(**args)
    return 0
