"""`polyglot-ko push MODEL REPO_ID`: upload a model folder (with its model card) to the Hugging Face hub.

polyglot-ko push quickstart-out/model my-name/polyglot-ko-tiny [--private] [--revision main]
"""

from __future__ import annotations

from ._args import Flag, add_parameters


def add_arguments(parser) -> None:
    from ..export.hub import push

    add_parameters(
        parser,
        push,
        skip=("token",),
        flags={
            "model_dir": Flag(positional=True, type=str, metavar="MODEL", help="model folder to upload"),
            "repo_id": Flag(positional=True, type=str, metavar="REPO_ID", help="hub repository, e.g. user/name"),
            "private": Flag(help="create the repository as private"),
            "revision": Flag(type=str | None, help="branch to upload to (default: main)"),
            "commit_message": Flag(type=str | None, help="commit message"),
        },
    )


def run(args: dict) -> int:
    from ..export.hub import push

    print(f"pushed {args['model_dir']} to {push(**args)}")
    return 0
