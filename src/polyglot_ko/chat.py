"""A multi-turn chat with a model: the history, rendered with the model folder's chat template, and each answer
streamed from the generator (what `polyglot-ko chat` runs).

    from polyglot_ko import load_generator
    from polyglot_ko.chat import ChatSession

    chat = ChatSession(load_generator("my-chat-model"), system="친절한 한국어 도우미입니다.", max_new_tokens=256)
    for chunk in chat.ask("서울의 명소를 알려 주세요"):
        print(chunk, end="", flush=True)
    chat.messages  # [system, user, assistant]; the next ask() sees the whole conversation
    chat.reset()   # forget the conversation, keep the system message

Each prompt is `render_chat(history + [question], add_generation_prompt=True, template=generator.chat_template)`
(the same text the server's /v1/chat/completions builds), so the model sees "... ### 질문: {question}\\n\\n### 답변:".
An answer ends at <|endoftext|> (a stop id) or at the next "### 질문:" (a stop string, not shown); it is
`.strip()`ped, and the streamed chunks join to exactly the answer kept in the history (leading whitespace is
dropped, trailing whitespace is held back until more text follows it). When the conversation no longer fits the
model's context with room for `max_new_tokens`, the oldest turns are dropped (`dropped_turns` counts them).
"""

from __future__ import annotations

from collections.abc import Iterator

from .chat_template import USER_PREFIX, render_chat
from .errors import UserError
from .sampling import SamplingParams

STOP_STRINGS = (USER_PREFIX,)
"""Where an answer ends besides <|endoftext|>: the model starting the next question itself."""


class ChatSession:
    """A conversation with `generator` (a `polyglot_ko.generate.Generator`).

    Args:
        generator: the model and tokenizer (`load_generator(...)`); its `chat_template` renders the prompts
        system: the system message, first in every prompt (None: none)
        params: decoding settings (default: the generator's); "### 질문:" is always one of their stop strings
            and <|endoftext|> one of their stop ids
        **overrides: `SamplingParams` fields to change, e.g. temperature=0.8, max_new_tokens=256
    """

    def __init__(self, generator, system: str | None = None, params: SamplingParams | None = None, **overrides):
        self.generator = generator
        base = generator.params(params, **overrides)
        self.params = base.replace(
            stop=tuple(dict.fromkeys(base.stop + STOP_STRINGS)),
            stop_token_ids=tuple(dict.fromkeys(base.stop_token_ids + (generator.endoftext_id,))),
        )
        self.system: str | None = None
        self.turns: list[dict] = []
        """The conversation without the system message: user and assistant messages, alternating."""
        self.last_prompt: str | None = None
        """The text the model was given for the latest answer."""
        self.last_result = None
        """The latest answer's `GenerationResult` (tokens, finish reason)."""
        self.dropped_turns = 0
        """How many of the oldest question-answer pairs were dropped to fit the model's context."""
        self.set_system(system)

    @property
    def messages(self) -> list[dict]:
        """The whole history as chat messages: the system message (if any), then the turns."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + [dict(m) for m in self.turns]

    def set_system(self, text: str | None) -> None:
        """Set (or with None / blank text, remove) the system message; the turns are kept."""
        if text is not None and not isinstance(text, str):
            raise UserError(f"system={text!r}: the system message must be text (or None for none)")
        self.system = text.strip() if text and text.strip() else None

    def reset(self) -> None:
        """Forget the conversation; the system message stays."""
        self.turns = []
        self.last_prompt = self.last_result = None
        self.dropped_turns = 0

    def prompt_for(self, text: str) -> str:
        """The prompt the model would get for `text` as the next question (the history + it, rendered)."""
        return render_chat(
            self.messages + [{"role": "user", "content": text}],
            add_generation_prompt=True,
            template=self.generator.chat_template,
        )

    def _fit(self, text: str) -> str:
        """The prompt for `text`, after dropping the oldest turns while it leaves too little room for an answer."""
        limit = self.generator.max_context - self.params.max_new_tokens
        while True:
            prompt = self.prompt_for(text)
            if len(self.turns) < 2 or len(self.generator.encode_prompt(prompt)) <= limit:
                return prompt
            del self.turns[:2]
            self.dropped_turns += 1

    def ask(self, text: str) -> Iterator[str]:
        """Send `text` as the next question; iterate over the answer's text as it is generated.

        When the iteration ends the stripped answer and the question are in the history; an answer that is
        not iterated to its end (an exception, Ctrl-C, `close()`) leaves the history as it was.
        """
        if not isinstance(text, str) or not text.strip():
            raise UserError("question: empty; type a question")
        prompt = self._fit(text)
        stream = self.generator.stream(prompt, self.params)
        pending, started, answer = "", False, []
        for chunk in stream:
            if not started:
                chunk = chunk.lstrip()
                if not chunk:
                    continue
                started = True
            text_so_far = pending + chunk
            body = text_so_far.rstrip()
            pending = text_so_far[len(body) :]
            if body:
                answer.append(body)
                yield body
        self.last_prompt = prompt
        self.last_result = stream.result()
        self.turns += [{"role": "user", "content": text}, {"role": "assistant", "content": "".join(answer)}]

    def __repr__(self) -> str:
        return f"ChatSession({len(self.turns) // 2} turns, system={self.system!r}, {self.generator!r})"


__all__ = ["ChatSession", "STOP_STRINGS"]
