"""`polyglot-ko chat`: talk with a model in the terminal; answers stream, the conversation is kept.

    polyglot-ko chat MODEL                                   # a chat model folder or hub id
    polyglot-ko chat MODEL --adapter my-lora --temperature 0.7 --top-p 0.9 --repetition-penalty 1.1
    polyglot-ko chat MODEL --system "당신은 친절한 한국어 도우미입니다."

At the prompt: a line is a question; /reset forgets the conversation (the system message stays), /system TEXT
sets the system message (/system alone removes it), /exit or Ctrl-D ends; Ctrl-C stops an answer. Prompts use
the model folder's chat template (KoAlpaca style: "### 질문: ...\\n\\n### 답변:"); an answer ends at
<|endoftext|> or at the next "### 질문:". Greedy by default; chat reads better sampled, e.g. --temperature 0.7.
"""

from __future__ import annotations

import sys

from ..errors import UserError
from ._args import Flag, add_parameters, set_threads
from .generate import add_decoding_options, generator_from_args, io_options, model_flags

COMMANDS = "/reset forgets the conversation, /system TEXT sets the system message, /exit or Ctrl-D ends"


def chat_options(system: str | None = None) -> None:
    """The chat's own options.

    Args:
        system: system message at the start of the conversation (also /system TEXT at the prompt)
    """


def add_arguments(parser) -> None:
    from ..generate import load_generator

    add_parameters(
        parser,
        load_generator,
        only=["path_or_hub_id"],
        flags={"path_or_hub_id": Flag(positional=True, names=("MODEL",), type=str, help="model folder or hub id")},
    )
    add_parameters(parser, chat_options)
    add_decoding_options(
        parser,
        "another stop string (repeatable; ### 질문: always stops)",
        "another stop token id (repeatable; 2 = <|endoftext|> always stops)",
    )
    model = parser.add_argument_group("model")
    flags = model_flags()
    add_parameters(model, load_generator, only=["adapter", "tokenizer", "dtype", "device", "quantize"], flags=flags)
    add_parameters(model, io_options, only=["threads"])


def _sampling(args: dict) -> dict:
    from ..sampling import SamplingParams

    fields = set(SamplingParams.__dataclass_fields__)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items() if k in fields}


def _answer(session, question: str) -> None:
    out = sys.stdout
    dropped = session.dropped_turns
    try:
        for chunk in session.ask(question):
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        out.write("\n")
        print("[answer stopped; this question and its answer are not kept]", file=sys.stderr)
        return
    except UserError as e:  # e.g. a question longer than the model's context: say so and keep chatting
        print(f"error: {e}", file=sys.stderr)
        return
    out.write("\n\n")
    out.flush()
    if session.dropped_turns > dropped:
        print(
            f"[the {session.dropped_turns - dropped} oldest turn(s) were dropped to fit the model's context]",
            file=sys.stderr,
        )


def _command(session, line: str) -> bool | None:
    """Run a /command; True: end the chat, False: handled, None: not a command (a question)."""
    word, _, rest = line.partition(" ")
    if word in ("/exit", "/quit"):
        return True
    if word == "/reset":
        session.reset()
        print("[conversation cleared" + ("; system message kept]" if session.system else "]"), file=sys.stderr)
        return False
    if word == "/system":
        session.set_system(rest)
        print(f"[system message: {session.system}]" if session.system else "[no system message]", file=sys.stderr)
        return False
    if word in ("/help", "/?"):
        print(COMMANDS, file=sys.stderr)
        return False
    if word.startswith("/") and len(word) > 1 and word[1:].isascii() and word[1:].isalpha():
        print(f"[unknown command {word}; {COMMANDS}]", file=sys.stderr)
        return False
    return None


def run(args: dict) -> int:
    from ..chat import ChatSession

    set_threads(args["threads"])
    gen = generator_from_args(args, max_batch_size=1)
    session = ChatSession(gen, system=args["system"], **_sampling(args))
    if sys.stdin.isatty():
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
    print(f"{gen!r}; {COMMANDS}", file=sys.stderr)
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            print(file=sys.stderr)
            return 0
        except KeyboardInterrupt:
            print("\n[/exit or Ctrl-D ends the chat]", file=sys.stderr)
            continue
        if not line:
            continue
        done = _command(session, line)
        if done:
            return 0
        if done is None:
            _answer(session, line)
