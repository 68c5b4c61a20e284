"""`polyglot-ko convert SRC DST`: rewrite a model folder in another dtype or shard size (with its tokenizer)."""

from __future__ import annotations

from pathlib import Path

from ._args import Flag, add_parameters


def add_arguments(parser) -> None:
    from ..checkpoint import DTYPES, convert_model

    add_parameters(
        parser,
        convert_model,
        flags={
            "source": Flag(positional=True),
            "dest": Flag(positional=True),
            "dtype": Flag(choices=tuple(sorted(DTYPES))),
            "max_shard_size": Flag(type=str),
            "overwrite": Flag(help="replace DEST if it exists (never the source)"),
        },
    )


def run(args: dict) -> int:
    from ..checkpoint import convert_model

    model = convert_model(**args)
    n = sum(1 for _ in Path(args["dest"]).glob("*.safetensors"))
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    print(f"wrote {args['dest']}: {model.num_parameters():,} parameters, {dtype}, {n} shard(s)")
    return 0
