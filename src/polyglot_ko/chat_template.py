"""The chat template: one KoAlpaca-style format, written as a Jinja `chat_template`, for serving and fine-tuning.

The format the server documents (serve.py), unchanged for generation prompts:

    {system message}\\n\\n                                          (only if there is one)
    ### 질문: {user message}\\n\\n### 답변: {assistant message}\\n\\n   (for each earlier turn)
    ### 질문: {last user message}\\n\\n### 답변:                      (add_generation_prompt=True)

Every content is `.strip()`ped (Jinja's `trim` is `str.strip`).

How an answer ends (the model must learn to stop): the *final* assistant message of a conversation rendered
without a generation prompt (a training example) ends with `<|endoftext|>` (id 2, the document separator the
models saw after every pretraining document, and the id generation stops on), as KoAlpaca trained it. Earlier
assistant messages end with "\\n\\n" before the next "### 질문:", exactly as the server renders history, so a
generation prompt is always a prefix of the training text of the same conversation (`render_chat(m[:-1], True)`
is a prefix of `render_chat(m, False)` when `m[-1]` is the assistant's answer). At inference both endings stop:
`<|endoftext|>` as a stop id, "\\n\\n### 질문:" as the server's stop string. The marker is written literally
(not the `eos_token` variable): the released tokenizer_config names `<eos>` (id 1) as eos, which the models
never saw.

Which text is the assistant's (trained): each assistant message from the space after "### 답변:" through its
ending ("<|endoftext|>" or "\\n\\n"), marked in the template with `{% generation %}` blocks, so transformers'
`apply_chat_template(..., return_assistant_tokens_mask=True)` finds the same spans as `render_chat_with_spans`.

Rendering uses the Jinja environment transformers builds in `_compile_jinja_template`
(utils/chat_template_utils.py, transformers 4.4x-5.x): `ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True)` with the `loopcontrols` extension and a `{% generation %}` tracker, the globals
`raise_exception`, `strftime_now`, `dict`, `namespace`, and a `tojson` filter that does not escape HTML; messages
with a value of None lose that key first (as transformers does). A template error (unknown role, non-string
content) is a `UserError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from .constants import FIXED_SPECIAL_TOKENS
from .errors import UserError

USER_PREFIX, ASSISTANT_PREFIX = "### 질문:", "### 답변:"
END_OF_ANSWER = FIXED_SPECIAL_TOKENS["endoftext"]  # "<|endoftext|>", id 2
TEMPLATE_FILE = "chat_template.jinja"

CHAT_TEMPLATE = r"""{#- Polyglot-Ko KoAlpaca-style chat (polyglot_ko.chat_template). -#}
{%- for message in messages -%}
    {%- if message['content'] is not string -%}
        {{- raise_exception('chat template: message ' ~ loop.index0 ~ ' has no string content') -}}
    {%- endif -%}
    {%- set content = message['content'] | trim -%}
    {%- if message['role'] == 'system' -%}
        {{- content + '\n\n' -}}
    {%- elif message['role'] == 'user' -%}
        {{- '### 질문: ' + content + '\n\n' -}}
    {%- elif message['role'] == 'assistant' -%}
        {{- '### 답변:' -}}
        {%- generation -%}
            {{- ' ' + content -}}
            {%- if loop.last and not add_generation_prompt -%}
                {{- '<|endoftext|>' -}}
            {%- else -%}
                {{- '\n\n' -}}
            {%- endif -%}
        {%- endgeneration -%}
    {%- else -%}
        {{- raise_exception('chat template: message ' ~ loop.index0 ~ ' has role ' ~ message['role'] ~
                            '; use system, user or assistant') -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '### 답변:' -}}
{%- endif -%}
"""


# --- the Jinja environment, as transformers builds it --------------------------------------------------------
def _generation_extension():
    import jinja2
    from jinja2.ext import Extension

    class GenerationTracker(Extension):
        """`{% generation %}...{% endgeneration %}`: renders its body and, while tracking, records its span."""

        tags = {"generation"}

        def __init__(self, environment):
            super().__init__(environment)
            environment.extend(activate_tracker=self.activate_tracker)
            self._tracking: ContextVar = ContextVar("polyglot_ko_generation_tracker", default=None)

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation_support(self, context, caller) -> str:
            rv = caller()
            tracking = self._tracking.get()
            if tracking is not None:
                blocks, spans = tracking
                start = len("".join(blocks))
                spans.append((start, start + len(rv)))
            return rv

        @contextmanager
        def activate_tracker(self, blocks: list, spans: list):
            token = self._tracking.set((blocks, spans))
            try:
                yield
            finally:
                self._tracking.reset(token)

    return GenerationTracker


@lru_cache(maxsize=16)
def compile_template(template: str):
    """The compiled Jinja template, in transformers' environment; a syntax error is a `UserError`."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    class TemplateNamespace(jinja2.utils.Namespace):
        def __init__(*args, **kwargs):
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name, value):
            TemplateNamespace._check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check(name):
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(f"chat templates cannot store attribute {name!r}")

    class TemplateDict:
        def __call__(self, *args, **kwargs):
            return dict(*args, **kwargs)

        def fromkeys(self, *args, **kwargs):
            return dict.fromkeys(*args, **kwargs)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_generation_extension(), jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals.update(
        raise_exception=raise_exception, strftime_now=strftime_now, dict=TemplateDict(), namespace=TemplateNamespace
    )
    try:
        return env.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as e:
        raise UserError(
            f"chat template: Jinja syntax error on line {e.lineno} ({e.message}); fix the template "
            f"or remove it to use the built-in one"
        ) from None


def _normalize(messages: Iterable[Any]) -> list[dict]:
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise UserError(f"chat message {i}: expected an object with role and content, got {type(m).__name__}")
        out.append({k: v for k, v in m.items() if v is not None})
    if not out:
        raise UserError("chat messages: the conversation is empty; pass at least one message")
    return out


def _render(messages, add_generation_prompt: bool, template: str, track: bool, kwargs: dict):
    import jinja2

    compiled = compile_template(template)
    variables = dict(
        messages=_normalize(messages), tools=None, documents=None, add_generation_prompt=add_generation_prompt, **kwargs
    )
    blocks: list[str] = []
    spans: list[tuple[int, int]] = []
    try:
        if track:
            with compiled.environment.activate_tracker(blocks, spans):
                for block in compiled.generate(**variables):
                    blocks.append(block)
            return "".join(blocks), spans
        return compiled.render(**variables), spans
    except jinja2.exceptions.TemplateError as e:
        raise UserError(f"{e.message or type(e).__name__}; fix the messages or the chat template") from None


def render_chat(
    messages: Iterable[dict], add_generation_prompt: bool = True, template: str = CHAT_TEMPLATE, **kwargs
) -> str:
    """The text of `messages` under `template`, byte-identical to transformers'
    `tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)`. Extra keyword
    arguments become template variables, as in transformers."""
    return _render(messages, add_generation_prompt, template, False, kwargs)[0]


def render_chat_with_spans(
    messages: Iterable[dict], add_generation_prompt: bool = False, template: str = CHAT_TEMPLATE, **kwargs
) -> tuple[str, list[tuple[int, int]]]:
    """(text, assistant spans): the rendering and the [start, end) character ranges of its `{% generation %}`
    blocks (assistant text, trained), the same ranges transformers' assistant mask is built from."""
    return _render(messages, add_generation_prompt, template, True, kwargs)


def assistant_spans(messages: Iterable[dict], template: str = CHAT_TEMPLATE) -> list[tuple[int, int]]:
    """The [start, end) character ranges of assistant text in `render_chat(messages, False, template)`."""
    return render_chat_with_spans(messages, False, template)[1]


def template_from_folder(folder: str | os.PathLike) -> str:
    """The chat template of a model or tokenizer folder: chat_template.jinja if present, else tokenizer_config.json's
    `chat_template` (a string, or transformers' list of {name, template} with the "default" one), else
    `CHAT_TEMPLATE`. The template found is compiled once, so a broken one fails here with a `UserError`."""
    from .io_utils import read_json

    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder; pass the model or tokenizer folder that holds tokenizer_config.json")
    template, source = CHAT_TEMPLATE, None
    if (folder / TEMPLATE_FILE).is_file():
        source = folder / TEMPLATE_FILE
        try:
            template = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{source}: not UTF-8 text; re-save the chat template as UTF-8") from None
    elif (folder / "tokenizer_config.json").is_file():
        path = folder / "tokenizer_config.json"
        config = read_json(path, "restore the file or re-save the tokenizer")
        found = config.get("chat_template") if isinstance(config, dict) else None
        if isinstance(found, list):
            named = {t.get("name"): t.get("template") for t in found if isinstance(t, dict)}
            found = named.get("default")
        if found is not None:
            if not isinstance(found, str):
                raise UserError(
                    f"{path}: chat_template must be a string (or a list of {{name, template}} with a "
                    f'"default"); fix it or remove the key to use the built-in template'
                )
            template, source = found, path
    try:
        compile_template(template)
    except UserError as e:
        raise UserError(f"{source}: {e}") from None
    return template


def add_template_to_config(config: dict, template: str = CHAT_TEMPLATE) -> dict:
    """`config` (a tokenizer_config.json dict) with `chat_template` set: what a tokenizer save writes so that
    transformers, the server and fine-tuning all read the same template from the folder."""
    return {**config, "chat_template": template}


def save_template(folder: str | os.PathLike, template: str = CHAT_TEMPLATE) -> Path:
    """Write `template` into `folder`/tokenizer_config.json's `chat_template` (atomically; other keys kept)."""
    from .io_utils import atomic_write_json, read_json

    path = Path(folder) / "tokenizer_config.json"
    config = read_json(path, "restore the file or re-save the tokenizer") if path.is_file() else {}
    if not isinstance(config, dict):
        raise UserError(f"{path}: the top level is not an object; restore the file or re-save the tokenizer")
    compile_template(template)
    atomic_write_json(path, add_template_to_config(config, template))
    return path
