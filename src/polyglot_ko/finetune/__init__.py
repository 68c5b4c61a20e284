"""Instruction fine-tuning: instruction data -> masked examples, packing, LoRA, the trainer.

- `data`: Alpaca-style and chat records from JSON / JSONL / a `datasets` folder / a hub id -> `input_ids` and
  `labels` (-100 on every non-assistant token), every record accounted for in `DataStats`; a seeded split. The
  chat template itself is `polyglot_ko.chat_template`.
- `packing`: fixed-length rows with position ids restarting per example and a block-diagonal causal mask, or
  one right-padded example per row.
- `lora`: peft LoRA adapters on our GPT-NeoX (add, save as a peft folder, load, merge), the QLoRA check.
- `config`: `FinetuneConfig` (the pretraining `TrainConfig` + a `finetune` section), the `sft-*` recipes.
- `train`: `finetune(...)` and `FinetuneTrainer`, the pretraining Trainer with these data, the answer-only loss
  and adapter/model exports (`polyglot-ko finetune`).
- `assets/ko-instruct.jsonl`: a small CC0 Korean instruction set written for the project.
"""
