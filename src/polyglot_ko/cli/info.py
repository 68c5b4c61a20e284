"""`polyglot-ko info`: a preset's or model folder's architecture and parameter count (every preset without one)."""

from __future__ import annotations

from ._args import Flag, add_option


def add_arguments(parser) -> None:
    add_option(
        parser,
        "model",
        str | None,
        None,
        "preset name, model folder or config.json (default: list presets)",
        Flag(positional=True, nargs="?"),
    )


def run(args: dict) -> int:
    from ..config import CARD_PARAMETERS, PRESETS, get_config

    for name in [args["model"]] if args["model"] else list(PRESETS):
        cfg = get_config(name)
        card = CARD_PARAMETERS.get(cfg.name)
        note = f" (model card: {card:,})" if card else ""
        print(
            f"{cfg.name:20s} layers={cfg.num_hidden_layers:<3d} d={cfg.hidden_size:<5d} "
            f"heads={cfg.num_attention_heads:<3d} head={cfg.head_size:<4d} ffn={cfg.intermediate_size:<6d} "
            f"rotary={cfg.rotary_ndims:<3d} params={cfg.num_parameters():,}{note}"
        )
    return 0
