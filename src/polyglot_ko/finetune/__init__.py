"""Instruction fine-tuning, data side: the chat template, instruction data -> masked examples, packing.

- `template`: the one KoAlpaca-style chat template (a Jinja `chat_template`, rendered exactly as transformers'
  `apply_chat_template` renders it) and which characters of a rendering are assistant text.
- `data`: Alpaca-style and chat records from JSON / JSONL / a `datasets` folder / a hub id -> `input_ids` and
  `labels` (-100 on every non-assistant token), every record accounted for in `DataStats`; a seeded split.
- `packing`: fixed-length rows with position ids restarting per example and a block-diagonal causal mask, or
  one right-padded example per row.
- `assets/ko-instruct.jsonl`: a small CC0 Korean instruction set written for the project.
"""
