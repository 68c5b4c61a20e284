"""Command-line options from typed signatures: jsonargparse reads a function's or dataclass's parameters (type
hints, defaults, docstrings), and this module adds them to a jsonargparse parser spelled as polyglot-ko's flags
have always been spelled.

Why not `ArgumentParser.add_function_arguments` as it is: jsonargparse names an option after its parameter
(`--max_new_tokens`), takes booleans as `--jsonl true`, lists as `--input [a,b]` or `--input+ a`, and has no
short, repeatable or negated options. Our flags (the README, users' scripts) are `--max-new-tokens`, `--jsonl`,
`--no-cards`, `--input A B`, `--stop S --stop T`, `-i`. So we take the parameters from jsonargparse's own
resolver (the one `add_function_arguments` uses) and add one option per parameter, typed with the parameter's
type hint so that jsonargparse validates the value; only the spelling is ours (`Flag`).
"""

from __future__ import annotations

import argparse
import collections.abc
import functools
import inspect
import operator
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from jsonargparse import ArgumentParser, DefaultHelpFormatter

from ..errors import UserError

_EMPTY = inspect.Parameter.empty
OMIT = argparse.SUPPRESS
"""A default that leaves the option out of the parsed arguments, so the library's own default applies."""


@dataclass(frozen=True)
class Flag:
    """How one parameter is spelled where the generic rule (`--name-with-dashes`) does not fit."""

    names: tuple[str, ...] = ()
    """Option strings (`("--input", "-i")`), or the name of a positional argument; () = the generic rule."""
    positional: bool = False
    """A positional argument (`convert SRC DST`); with `nargs` "*" or "?" it may be left out."""
    nargs: str | None = None
    """"+", "*" or "?"; list-typed parameters take one or more values ("+") unless this says otherwise."""
    append: bool = False
    """Repeatable option collecting a list (`--stop A --stop B`)."""
    type: Any = None
    """The type on the command line, where the library accepts more (objects, `os.PathLike`, ...)."""
    choices: tuple | None = None
    help: str | None = None
    """Help text, where the docstring's is not the one the command line needs."""
    metavar: str | None = None
    required: bool | None = None


class Parser(ArgumentParser):
    """jsonargparse's parser; its type errors name our flags (`--top-p`), not the parameters (`top_p`)."""

    def flag_of(self, dest: str) -> str:
        for action in self._actions:
            if action.dest == dest:
                longs = [s for s in action.option_strings if s.startswith("--")] or action.option_strings
                return longs[0] if longs else dest
        return dest

    def error(self, message: str, ex: Exception | None = None) -> typing.NoReturn:
        m = re.match(r'Parser key "([^"]+)"(?: element (\d+))?:\s*(.*)', message, re.S)
        if m:
            dest, element, detail = m.groups()
            given = re.search(r"(?:Given|Got) value: (.*)$", detail, re.M)
            what = f"invalid value {given.group(1).strip()!r}" if given else detail.splitlines()[0].strip()
            where = f" (value {element})" if element else ""
            message = f"argument {self.flag_of(dest)}{where}: {what}"
        super().error(message, ex)


class _HelpFormatter(DefaultHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """jsonargparse's help (each option's type and default) with the description's examples kept as written."""

    def _get_help_string(self, action):
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return action.help  # a switch: "(default: True)" beside --no-cards would read backwards
        return super()._get_help_string(action)


def new_parser(prog: str, description: str, epilog: str | None = None) -> Parser:
    return Parser(prog=prog, description=description, epilog=epilog, exit_on_error=True, formatter_class=_HelpFormatter)


def _strip_paths(tp: Any) -> Any:
    """`str | os.PathLike` and `str | Path` are plain strings on the command line."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [
            a for a in typing.get_args(tp) if a not in (os.PathLike, Path) and typing.get_origin(a) is not os.PathLike
        ]
        if len(args) != len(typing.get_args(tp)):
            if not [a for a in args if a is not type(None)]:
                args = [str, *args]
            return functools.reduce(operator.or_, args)
    if tp in (os.PathLike, Path):
        return str
    return tp


def _is_bool(tp: Any) -> bool:
    return tp is bool or (
        typing.get_origin(tp) in (Union, types.UnionType) and set(typing.get_args(tp)) == {bool, type(None)}
    )


def _item_type(tp: Any) -> Any:
    """The element type of `list[T]`, `tuple[T, ...]`, `Sequence[T]` (optionally `| None`), else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = inner[0] if len(inner) == 1 else tp
    origin = typing.get_origin(tp)
    if origin in (list, tuple, collections.abc.Sequence):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return _strip_paths(args[0]) if args else str
    return None


class _Append(argparse.Action):
    """`--stop A --stop B` -> ["A", "B"]; each value converted by `item` (argparse's own append keeps the default
    list, and jsonargparse would check the whole list against the item type)."""

    def __init__(self, option_strings, dest, item: Callable = str, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.item = item

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            value = self.item(values)
        except ValueError:
            raise argparse.ArgumentError(self, f"invalid {self.item.__name__} value: {values!r}") from None
        current = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, [*(current if isinstance(current, list) else []), value])


def _first_paragraph(doc: str | None) -> str | None:
    return " ".join(doc.split("\n\n")[0].split()) if doc else None


def parameters(component: Callable | type) -> list:
    """The parameters jsonargparse resolves for a function or class (name, annotation, default, doc)."""
    # jsonargparse's resolver, as used by add_function_arguments/add_class_arguments (not exported at top level).
    from jsonargparse._parameter_resolvers import get_signature_parameters

    _read_attribute_docstrings()
    return list(get_signature_parameters(component))


@functools.cache
def _read_attribute_docstrings() -> None:
    """Dataclass fields are documented by the string under them (as in config.py); tell jsonargparse to read it."""
    import jsonargparse

    if hasattr(jsonargparse, "set_parsing_settings"):  # jsonargparse >= 4.41
        jsonargparse.set_parsing_settings(docstring_parse_attribute_docstrings=True)
    else:
        jsonargparse.set_docstring_parse_options(attribute_docstrings=True)


def add_parameters(
    container: Any,
    component: Callable | type,
    *,
    only: list[str] | None = None,
    skip: tuple[str, ...] = (),
    flags: dict[str, Flag] | None = None,
    defaults: dict[str, Any] | None = None,
) -> list[str]:
    """Add an option for each parameter of `component` (in `only`'s order when given); returns their names.

    `flags` re-spells single parameters; `defaults` replaces a default (e.g. `OMIT`: the library decides).
    Generic rule: `name_with_underscores` -> `--name-with-dashes`; a bool that defaults to False is a switch
    (`--jsonl`), one that defaults to True is switched off by `--no-NAME`; a list takes one or more values.
    """
    flags, defaults = flags or {}, defaults or {}
    params = {p.name: p for p in parameters(component)}
    names = (
        only
        if only is not None
        else [
            n
            for n, p in params.items()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
    )
    added = []
    for name in names:
        if name in skip:
            continue
        p = params[name]
        _add_one(container, name, p.annotation, defaults.get(name, p.default), p.doc, flags.get(name, Flag()))
        added.append(name)
    return added


def set_threads(threads: int | None) -> None:
    """torch's CPU threads for `--threads` (None: torch's choice)."""
    if threads is None:
        return
    if threads < 1:
        raise UserError(f"--threads {threads}: must be at least 1 (or leave it out for torch's choice)")
    import torch

    torch.set_num_threads(threads)


def add_option(
    container: Any, name: str, annotation: Any, default: Any = _EMPTY, doc: str | None = None, flag: Flag = Flag()
) -> str:
    """One option for a name that is not a parameter of a library function (a command's own switch)."""
    _add_one(container, name, annotation, default, doc, flag)
    return name


def _add_one(container: Any, name: str, annotation: Any, default: Any, doc: str | None, flag: Flag) -> None:
    tp = _strip_paths(flag.type if flag.type is not None else annotation)
    dashed = name.replace("_", "-")
    kw: dict[str, Any] = {"help": flag.help or _first_paragraph(doc) or ""}
    if flag.metavar:
        kw["metavar"] = flag.metavar
    elif flag.names and not flag.positional:  # `--batch-size N`, not `--batch-size MAX_BATCH_SIZE`
        long = max(flag.names, key=len).lstrip("-")
        if long.replace("-", "_") != name and not _is_bool(tp):
            kw["metavar"] = long.replace("-", "_").upper()
    required = default is _EMPTY if flag.required is None else flag.required
    if tp is str and isinstance(default, (list, tuple)):
        default = ",".join(map(str, default))  # a comma-separated flag (`--shots 0,5`) of a library sequence
    if default is not _EMPTY:
        kw["default"] = default
    if flag.positional:
        names = flag.names or (name,)
        if names[0] != name:
            kw["metavar"] = kw.get("metavar", names[0])
            names = (name,)
    else:
        kw["dest"] = name
        if _is_bool(tp) and not flag.append:
            negate = default is True
            names = flag.names or ((f"--no-{dashed}",) if negate else (f"--{dashed}",))
            kw["action"] = "store_false" if negate else "store_true"
            container.add_argument(*names, **kw)
            return
        names = flag.names or (f"--{dashed}",)
        if required:
            kw["required"] = True
    item = _item_type(tp)
    if flag.append:
        kw.update(action=_Append, item=item or tp)
    elif item is not None or flag.nargs:
        kw["nargs"] = flag.nargs or ("*" if flag.positional and not required else "+")
        if item is not None:
            kw["type"] = item
        elif tp is not None:
            kw["type"] = tp
    else:
        kw["type"] = tp
    if flag.choices:
        # argparse checks choices (strings); a type beside them would show as a lambda in jsonargparse's help.
        kw["choices"] = flag.choices
        kw.pop("type", None)
    container.add_argument(*names, **kw)
