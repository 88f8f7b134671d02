"""``--help`` and usage errors: the terminal's width, option panels, metavars, examples.

Plain text (click's formatter, no rich): ``pushcli --help`` stays as fast as it was. Every
command is adopted (:func:`adopt`) when it is built, so its help is drawn here:

* the width is the terminal's (``COLUMNS`` included), up to :data:`MAX_WIDTH`; lines break at
  spaces only, so an option name (``--auth-endpoint``) or a URL is never split;
* options are grouped by their ``rich_help_panel`` ("When to stop", "Auth", ...), ungrouped
  ones last under "Options";
* a value's placeholder is its metavar (``N``, ``SECONDS``, ``CHANNEL``), never a Python type;
* a docstring's ``Examples:`` block becomes a section of its own, one command a line, wrapped
  (only when it must be) with shell line continuations so it can still be pasted.

The same records feed ``docs/generate.py``, so docs/cli.md shows what ``--help`` shows.
Importing this module must stay cheap (no rich; difflib, json and textwrap only when used):
``pushcli --version`` imports it too.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from typer._click.exceptions import UsageError
from typer._click.formatting import HelpFormatter, join_options
from typer.core import TyperArgument, TyperCommand, TyperGroup

#: help never gets wider than this, however wide the terminal
MAX_WIDTH = 200
OPTIONS = "Options"
ARGUMENTS = "Arguments"
_EXAMPLES = re.compile(r"^\s*Examples?:\s*$")


# --------------------------------------------------------------------------- text


def wrap(text: str, width: int, indent: str = "", subsequent: str | None = None) -> list[str]:
    """Lines of ``text`` at most ``width`` wide, broken at spaces only (never inside a word
    such as ``--auth-endpoint``; a word longer than the width stays whole)."""
    import textwrap

    wrapper = textwrap.TextWrapper(
        max(width, 10),
        initial_indent=indent,
        subsequent_indent=indent if subsequent is None else subsequent,
        break_on_hyphens=False,
        break_long_words=False,
    )
    return wrapper.wrap(" ".join(text.split())) or [indent.rstrip()]


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def split_help(text: str | None) -> tuple[str, list[str]]:
    """A docstring's description and its ``Examples:`` lines (one command a line)."""
    import textwrap

    lines = (text or "").strip("\n").splitlines()
    for i, line in enumerate(lines):
        if _EXAMPLES.match(line):
            examples = [x.strip() for x in lines[i + 1 :] if x.strip()]
            return textwrap.dedent("\n".join(lines[:i])).strip(), examples
    return textwrap.dedent("\n".join(lines)).strip(), []


def shell_words(line: str) -> list[str]:
    """``line`` split at the spaces that are outside quotes (the quotes kept)."""
    words: list[str] = []
    word, quote = "", ""
    for ch in line:
        if quote:
            word += ch
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            word += ch
            quote = ch
        elif ch == " ":
            if word:
                words.append(word)
            word = ""
        else:
            word += ch
    if word:
        words.append(word)
    return words


def example_lines(example: str, width: int, indent: str) -> list[str]:
    """One example; too wide, it goes on over lines ending in `` \\`` (still runnable)."""
    if len(indent) + len(example) <= width:
        return [indent + example]
    out: list[str] = []
    line = indent
    for word in shell_words(example):
        if line.strip() and len(line) + 1 + len(word) + 2 > width:
            out.append(line + " \\")
            line = indent + "    " + word
        else:
            line = f"{line} {word}" if line.strip() else line + word
    out.append(line)
    return out


# --------------------------------------------------------------------------- records


def metavar(param: Any) -> str:
    """The placeholder for an option's value or an argument: its metavar, else its name."""
    if param.metavar:
        return str(param.metavar)
    name = str(param.name or "value").upper()
    return name if isinstance(param, TyperArgument) else name.replace("_", "-")


def _number(value: float) -> str:
    return f"{value:g}"


def _range(param: Any) -> str | None:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)}"
    if low is not None and low != 0:
        return "more than 0" if 0 < low < 0.01 else f"at least {_number(low)}"
    if high is not None:
        return f"at most {_number(high)}"
    return None


def _default(param: Any) -> str | None:
    show = getattr(param, "show_default", False)
    if isinstance(show, str):
        return show
    if not show:
        return None
    value = param.default
    if getattr(param, "is_bool_flag", False):
        if not param.secondary_opts:
            return None
        return str((param.opts if value else param.secondary_opts)[0]).lstrip("-")
    if value is None or value == [] or value == () or value == "" or callable(value):
        return None
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _extras(param: Any) -> str:
    extra = []
    envvar = param.envvar if getattr(param, "show_envvar", False) else None
    if envvar:
        extra.append(f"env {envvar if isinstance(envvar, str) else ', '.join(envvar)}")
    default = _default(param)
    if default is not None:
        extra.append(f"default: {default}")
    limits = _range(param)
    if limits:
        extra.append(limits)
    return f"[{'; '.join(extra)}]" if extra else ""


def record(param: Any) -> tuple[str, str] | None:
    """(names with placeholder, help) for one parameter, as ``--help`` shows it."""
    if getattr(param, "hidden", False):
        return None
    if isinstance(param, TyperArgument):
        name = metavar(param)
        if param.nargs != 1 and not name.endswith("..."):
            name += "..."
    else:
        name = join_options(param.opts)[0]
        if not param.is_flag and not param.count:
            name += f" {metavar(param)}" + ("..." if param.nargs != 1 else "")
        if param.secondary_opts:
            name += " / " + join_options(param.secondary_opts)[0]
    text = " ".join((param.help or "").split())
    extras = _extras(param)
    return name, f"{text}  {extras}".strip() if extras else text


def sections(command: Any, ctx: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """The argument list, then one option list per panel in order of first use, then the
    options of no panel."""
    args: list[tuple[str, str]] = []
    panels: dict[str, list[tuple[str, str]]] = {}
    plain: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        rec = record(param)
        if rec is None:
            continue
        if isinstance(param, TyperArgument):
            args.append(rec)
        elif getattr(param, "rich_help_panel", None):
            panels.setdefault(param.rich_help_panel, []).append(rec)
        else:
            plain.append(rec)
    out = [(ARGUMENTS, args)] if any(h for _, h in args) else []
    out += list(panels.items())
    if plain:
        out.append((OPTIONS, plain))
    return out


def usage_pieces(command: Any, ctx: Any) -> list[str]:
    """``[OPTIONS] CHANNEL... [DATA]``: required arguments bare, optional ones in brackets."""
    pieces = ["[OPTIONS]"] if command.options_metavar else []
    for param in command.params:
        if isinstance(param, TyperArgument):
            name = metavar(param)
            if param.nargs != 1 and not name.endswith("..."):
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
    if isinstance(command, TyperGroup):
        pieces.append(command.subcommand_metavar)
    return pieces


def usage(command: Any, ctx: Any) -> str:
    return " ".join([ctx.command_path, *usage_pieces(command, ctx)])


# --------------------------------------------------------------------------- formatting


def terminal_width() -> int:
    return max(min(shutil.get_terminal_size().columns, MAX_WIDTH) - 2, 50)


class Formatter(HelpFormatter):
    """click's formatter at the terminal's width, wrapping at spaces only."""

    def __init__(
        self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None
    ) -> None:
        super().__init__(indent_increment, width or terminal_width(), max_width)
        #: the width of the names' column, when several lists must line up
        self.names_width: int | None = None

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        head = f"{prefix or 'Usage: '}{prog} "
        self.write("\n".join(wrap(args, self.width, head, " " * len(head))) + "\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        blocks = ["\n".join(wrap(p, self.width, indent)) for p in paragraphs(text)]
        self.write("\n\n".join(blocks) + "\n")

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = list(rows)
        if not rows:
            return
        col_max = 40 if self.width >= 120 else col_max
        first = min(self.names_width or max(len(a) for a, _ in rows), col_max) + col_spacing
        pad = " " * (self.current_indent + first)
        for name, text in rows:
            lead = " " * self.current_indent + name
            if not text:
                self.write(lead + "\n")
                continue
            lines = wrap(text, self.width - len(pad), "")
            if len(name) <= first - col_spacing:
                self.write(lead + " " * (first - len(name)) + lines[0] + "\n")
            else:
                self.write(lead + "\n" + pad + lines[0] + "\n")
            for line in lines[1:]:
                self.write(pad + line + "\n")

    def write_examples(self, examples: list[str]) -> None:
        indent = " " * self.current_indent
        for example in examples:
            self.write("\n".join(example_lines(example, self.width, indent)) + "\n")

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        self.write_paragraph()
        self.write_heading(name)
        self.indent()
        try:
            yield
        finally:
            self.dedent()


class HelpContext(typer.Context):
    formatter_class = Formatter


def _collect_usage_pieces(self: Any, ctx: Any) -> list[str]:
    return usage_pieces(self, ctx)


def _format_help_text(self: Any, ctx: Any, formatter: Any) -> None:
    text, _ = split_help(self.help)
    if text:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(text)


def _format_options(self: Any, ctx: Any, formatter: Any) -> None:
    found = sections(self, ctx)
    names = [len(name) for _, rows in found for name, _ in rows]
    formatter.names_width = max(names, default=0)  # every list lines up
    for title, rows in found:
        with formatter.section(title):
            formatter.write_dl(rows)
    formatter.names_width = None
    if isinstance(self, TyperGroup):
        self.format_commands(ctx, formatter)


def _format_epilog(self: Any, ctx: Any, formatter: Any) -> None:
    _, examples = split_help(self.help)
    if examples:
        with formatter.section("Examples"):
            formatter.write_examples(examples)


def _parse_args(parse: Any, ctx: Any, args: list[str]) -> list[str]:
    """``parse(ctx, args)``, with a hint for arguments the shell split apart."""
    given = list(args)
    try:
        return parse(ctx, args)  # type: ignore[no-any-return]
    except UsageError as e:
        if e.message.startswith("Got unexpected extra argument"):
            e.pushcli_hint = split_json_hint(ctx, given)  # type: ignore[attr-defined]
        raise


class HelpCommand(TyperCommand):
    """A command whose help is drawn by this module (Typer's own, but for the methods)."""

    context_class = HelpContext
    collect_usage_pieces = _collect_usage_pieces
    format_help_text = _format_help_text
    format_options = _format_options
    format_epilog = _format_epilog

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return _parse_args(super().parse_args, ctx, args)


class HelpGroup(TyperGroup):
    """A group whose help is drawn by this module; a mistyped command gets a guess."""

    context_class = HelpContext
    collect_usage_pieces = _collect_usage_pieces
    format_help_text = _format_help_text
    format_options = _format_options
    format_epilog = _format_epilog

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return _parse_args(super().parse_args, ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0]
        known = self.list_commands(ctx)
        if name in known or name.startswith("-") or ctx.resilient_parsing:
            return super().resolve_command(ctx, args)
        error = UsageError(f"no such command {name!r}", ctx)
        guesses = did_you_mean(name, known)
        if guesses:
            error.message += f"; did you mean {' or '.join(repr(g) for g in guesses)}?"
            error.pushcli_hint = ""  # type: ignore[attr-defined]
        else:
            error.pushcli_hint = f"{ctx.command_path} -h lists the commands"  # type: ignore[attr-defined]
        raise error


def did_you_mean(name: str, known: Sequence[str]) -> list[str]:
    """Commands close to a mistyped ``name``: by spelling, else the ones it begins."""
    import difflib

    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    if close:
        return close
    return [k for k in known if len(name) >= 2 and k.startswith(name)][:2]


def adopt(command: Any) -> Any:
    """Draw this command's (and its subcommands') help here: the classes differ from Typer's
    only in methods, so the built command changes class in place."""
    if isinstance(command, TyperGroup):
        if not isinstance(command, HelpGroup):
            command.__class__ = HelpGroup
        for sub in command.commands.values():
            adopt(sub)
    elif type(command) is TyperCommand:
        command.__class__ = HelpCommand
    return command


# --------------------------------------------------------------------------- usage errors

_JSONISH = re.compile(r"^[\[{]|[\]}],?$|:$|^:")


def _json_fragment(word: str) -> bool:
    import json

    if not _JSONISH.search(word):
        return False
    try:
        json.loads(word)
    except ValueError:
        return True
    return False  # whole JSON: it was quoted


def split_json_hint(ctx: Any, given: list[str]) -> str | None:
    """When the shell split a JSON argument (unquoted ``{"a": 1}`` arrives as ``{a:`` and
    ``1}``), say so: the extra arguments alone say nothing of quoting."""
    if not any(_json_fragment(word) for word in given):
        return None
    return (
        "the shell split a JSON argument at its spaces (and dropped its double quotes): "
        """put it in single quotes, e.g. '{"text": "hello world"}'"""
    )


_EXTRA = re.compile(r"^Got unexpected extra argument(?:\(s\)|s)? \((.*)\)$", re.S)


def _sentence(message: str) -> str:
    """Click's message in pushcli's style: lower case, no full stop."""
    message = message.strip().rstrip(".")
    extra = _EXTRA.match(message)
    if extra:
        words = extra[1]
        return f"unexpected extra argument{'s' if ' ' in words else ''}: {words}"
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    return message


def usage_error_lines(error: Any) -> list[str]:
    """A click usage error as pushcli reports errors: one line, then one hint line (the
    hint, else the command's usage)."""
    from typer._click.exceptions import NoSuchOption

    message = error.format_message()
    if isinstance(error, NoSuchOption) and error.possibilities:
        guesses = " or ".join(sorted(error.possibilities))
        message = f"{error.message}; did you mean {guesses}?"
    lines = [_sentence(message)]
    hint = getattr(error, "pushcli_hint", None)
    ctx = error.ctx
    if hint:
        lines.append(f"hint: {hint}")
    elif hint is None and ctx is not None:
        lines.append(f"usage: {usage(ctx.command, ctx)}  (-h for help)")
    return lines
