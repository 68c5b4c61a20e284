"""`polyglot-ko merge BASE ADAPTER OUT`: fold a LoRA adapter into its base model and write a Hugging Face folder.

    polyglot-ko merge EleutherAI/polyglot-ko-1.3b runs/sft/adapter merged-model
    polyglot-ko merge - runs/sft/adapter merged-model        # "-": the base named in adapter_config.json

The merged folder loads in transformers and polyglot-ko like any model folder; the tokenizer (with the chat
template) comes from the adapter folder when it has one.
"""

from __future__ import annotations

from ._args import Flag, add_parameters


def merge_options(base: str, adapter: str, out: str) -> None:
    """Positional arguments.

    Args:
        base: the base model folder or hub id ("-": the adapter's base_model_name_or_path)
        adapter: the LoRA adapter folder (peft's adapter_config.json + adapter_model.safetensors)
        out: the output model folder
    """


def add_arguments(parser) -> None:
    from ..finetune.lora import merge

    positional = Flag(positional=True)
    add_parameters(parser, merge_options, flags={"base": positional, "adapter": positional, "out": positional})
    add_parameters(parser, merge, only=["dtype", "max_shard_size", "overwrite"])


def run(args: dict) -> int:
    from ..finetune.lora import merge

    base = None if args["base"] == "-" else args["base"]
    print(merge(base, args["adapter"], args["out"], args["dtype"], args["max_shard_size"], args["overwrite"]))
    return 0
