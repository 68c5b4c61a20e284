"""Facts of Polyglot-Ko that several parts must agree on: special tokens and their ids, vocabulary sizes, file names.

One place for each (see ../shared/docs/ground-truth.md for where they come from). Importing this module costs
nothing: no torch, no tokenizers.
"""

# Tokens with fixed ids at the start of the vocabulary (name -> token), in id order 0..3.
FIXED_SPECIAL_TOKENS = {"pad": "<pad>", "eos": "<eos>", "endoftext": "<|endoftext|>", "sep": "<|sep|>"}
PAD_ID, EOS_ID, ENDOFTEXT_ID, SEP_ID = 0, 1, 2, 3
# PII mask tokens: always the last three ids, in this order (released: 30000, 30001, 30002).
PII_TOKENS = {"acc": "<|acc|>", "tel": "<|tel|>", "rrn": "<|rrn|>"}

# Ids the released tokenizer produces, and the embedding rows GPT-NeoX pads them to (a multiple of PAD_MULTIPLE).
TOKENIZER_VOCAB_SIZE = 30003
PAD_MULTIPLE = 128
PADDED_VOCAB_SIZE = 30080
MODEL_MAX_LENGTH = 2048

# The files a tokenizer folder holds (and a model folder carries beside its weights).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
