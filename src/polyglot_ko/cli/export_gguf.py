"""`polyglot-ko export-gguf MODEL OUT.gguf --type TYPE`: one GGUF file for llama.cpp (weights, tokenizer, template).

polyglot-ko export-gguf quickstart-out/model model.gguf --type q8_0
llama-cli -m model.gguf -p "한국어 문장" -n 32        # or llama_cpp.Llama(model_path="model.gguf")
"""

from __future__ import annotations

from ._args import Flag, add_parameters


def add_arguments(parser) -> None:
    from ..export.gguf import GGUF_TYPES, export_gguf

    add_parameters(
        parser,
        export_gguf,
        skip=("progress",),
        flags={
            "model_dir": Flag(positional=True, type=str, metavar="MODEL", help="model folder or hub id"),
            "out": Flag(positional=True, type=str, metavar="OUT.gguf", help="GGUF file to write (atomically)"),
            "type": Flag(choices=GGUF_TYPES, help="weight type (q4_k_m needs llama-cpp-python)"),
            "tokenizer": Flag(type=str | None, help="tokenizer folder, if the model folder has none"),
        },
    )


def run(args: dict) -> int:
    from ..export.gguf import export_gguf

    path = export_gguf(**args)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, {args['type']})")
    return 0
