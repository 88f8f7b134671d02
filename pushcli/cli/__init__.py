"""The Typer application: global options, command registration, the one error handler.

Importing this module must stay cheap: commands import the core (httpx, websockets, nacl,
rich) inside their bodies.
"""

import sys
import traceback
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from pushcli import __version__
from pushcli.cli.help import HelpCommand, HelpGroup, adopt
from pushcli.errors import ExitCode, PushcliError


@dataclass
class State:
    """Global options, shared by every command through ``ctx.obj``."""

    profile: str | None = None
    config: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    debug: bool = False
    _settings: Any = None

    def settings(self, *, hint: bool = True) -> Any:
        from pushcli.client.profiles import resolve

        if self._settings is None:
            self._settings = resolve(
                flags=self.flags, profile=self.profile, config_file=self.config, hint=hint
            )
        return self._settings


#: name -> "module:attribute": a command function, or a Typer app for a command group.
#: Commands are built only when used: Typer's conversion of a signature costs about a
#: millisecond each, and ``pushcli --help`` needs only names and one-line helps.
COMMANDS: dict[str, str] = {}


def lazy(name: str, target: str) -> None:
    COMMANDS[name] = target


def _target(name: str) -> Any:
    import importlib

    module, _, attr = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _build(name: str, target: Any) -> Any:
    import typer.main

    if isinstance(target, typer.Typer):
        cmd = typer.main.get_command(target)
    else:
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name, cls=HelpCommand)(target)
        cmd = typer.main.get_command(single)
    cmd.name = name
    return adopt(cmd)


def _stub(name: str, target: Any) -> Any:
    """A command with only a name and help, for listing in the root --help."""
    from typer.core import TyperCommand

    if isinstance(target, typer.Typer):
        text = target.info.help if isinstance(target.info.help, str) else ""
    else:
        text = target.__doc__ or ""
    first = text.strip().split("\n\n")[0].replace("\n", " ")
    return TyperCommand(name=name, help=text, short_help=first, callback=None)


class PushcliGroup(HelpGroup):
    """Loads commands lazily, and maps every error to one line on stderr and its exit code."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in COMMANDS:
            return cmd
        target = _target(cmd_name)
        if self._listing:
            return _stub(cmd_name, target)
        cmd = _build(cmd_name, target)
        self.commands[cmd_name] = cmd
        return cmd

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(self, *args: Any, **kwargs: Any) -> Any:
        argv = args[0] if args else kwargs.get("args")
        bad = _first_not_utf8(sys.argv[1:] if argv is None else argv)
        if bad is not None:
            from pushcli.ui.render import error_line

            n, text = bad
            error_line(
                f"argument {n} ({text[:40]!r}) is not valid UTF-8 "
                "(for a file of such a name, give '-' and < FILE)"
            )
            sys.exit(int(ExitCode.USAGE))
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except (typer.TyperException, typer.Abort) as e:
            sys.exit(_usage_error(e))
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PushcliError as e:
            _report(ctx, e.message, e.hint, e)
            raise typer.Exit(int(e.exit_code)) from None
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as e:  # noqa: BLE001 - the last resort, one line unless --debug
            _report(ctx, f"unexpected error: {e.__class__.__name__}: {e}", None, e)
            raise typer.Exit(int(ExitCode.UNEXPECTED)) from None


def _first_not_utf8(argv: Any) -> tuple[int, str] | None:
    """(position, text) of the first argument with bytes that are not UTF-8.

    Python decodes such bytes to lone surrogates (surrogateescape); they would reach the wire
    or a message only to fail there with an encoding traceback.
    """
    for n, arg in enumerate(argv, 1):
        if isinstance(arg, str) and not arg.isascii():
            try:
                arg.encode()
            except UnicodeEncodeError:
                return n, arg
    return None


def _report(ctx: typer.Context, message: str, hint: str | None, exc: BaseException) -> None:
    """The error's line (a batch's list of bad events: its lines), then its hint's line."""
    from pushcli.ui.render import error_line, hint_line

    state = ctx.find_object(State)
    if state is not None and state.debug:
        traceback.print_exception(exc, file=sys.stderr)
    error_line(message)
    if hint:
        hint_line(hint)


def _usage_error(e: typer.TyperException | typer.Abort) -> int:
    """Click's errors (usage, abort) the pushcli way: ``error: ...`` and one hint line."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    from pushcli.cli.help import usage_error_lines
    from pushcli.ui.render import error_line

    if isinstance(e, NoArgsIsHelpError):
        e.show()  # the help, as asked for by running a group without a command
        return e.exit_code
    if isinstance(e, UsageError):
        first, *rest = usage_error_lines(e)
        error_line(first)
        for line in rest:
            sys.stderr.write(line + "\n")
        return int(ExitCode.USAGE)
    if isinstance(e, ClickException):
        error_line(e.format_message())
        return e.exit_code
    if isinstance(e, typer.Abort):
        sys.stderr.write("aborted\n")
        return 1
    raise e


app = typer.Typer(
    cls=PushcliGroup,
    name="pushcli",
    help="""A command-line tool for Pusher Channels and Pusher-compatible servers (soketi, Reverb).

    Credentials come from --profile, PUSHER_* variables or PUSHER_URL; with none, the local
    server at 127.0.0.1:6001 (pushcli serve). The secret is never taken from the command line.

    Examples:
      pushcli serve
      pushcli listen demo
      pushcli trigger demo greeting '{"text": "hello"}'
      pushcli batch events.ndjson
      pushcli --profile prod channels --prefix presence-
      pushcli config add prod --app-id 123 --key abc --cluster eu --default
      pushcli COMMAND -h
    """,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

CREDENTIALS = "Credentials (flags win over env and profile)"


def _complete_profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    from pushcli.cli.options import complete_profiles

    return complete_profiles(ctx, incomplete)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"pushcli {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME",
            help="Profile to use (env PUSHCLI_PROFILE).",
            show_default=False,
            autocompletion=_complete_profiles,
            rich_help_panel=CREDENTIALS,
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Config file (env PUSHCLI_CONFIG).",
            metavar="FILE",
            rich_help_panel=CREDENTIALS,
        ),
    ] = None,
    app_id: Annotated[
        str | None,
        typer.Option("--app-id", metavar="ID", help="App id.", rich_help_panel=CREDENTIALS),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="KEY", help="App key.", rich_help_panel=CREDENTIALS),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="CLUSTER",
            help="Pusher cluster, e.g. mt1, eu.",
            rich_help_panel=CREDENTIALS,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", metavar="HOST", help="Self-hosted server host.", rich_help_panel=CREDENTIALS
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", metavar="PORT", help="Self-hosted server port.", rich_help_panel=CREDENTIALS
        ),
    ] = None,
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme", metavar="http|https", help="http or https.", rich_help_panel=CREDENTIALS
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """pushcli: trigger, batch-send, listen, query and debug Pusher Channels."""
    flags = {
        "app_id": app_id,
        "key": key,
        "cluster": cluster,
        "host": host,
        "port": None if port is None else str(port),
        "scheme": scheme,
    }
    ctx.obj = State(profile=profile, config=config, flags=flags, debug=debug)


def _register() -> None:
    lazy("trigger", "pushcli.cli.trigger:trigger")
    lazy("batch", "pushcli.cli.batch:batch")
    lazy("listen", "pushcli.cli.listen:listen")
    lazy("client-event", "pushcli.cli.listen:client_event")
    lazy("channels", "pushcli.cli.channels:channels")
    lazy("channel", "pushcli.cli.channels:channel")
    lazy("members", "pushcli.cli.channels:members")
    lazy("users", "pushcli.cli.users:app")
    lazy("auth", "pushcli.cli.auth:app")
    lazy("webhook", "pushcli.cli.webhook:app")
    lazy("doctor", "pushcli.cli.doctor:doctor")
    lazy("config", "pushcli.cli.config:app")
    lazy("serve", "pushcli.cli.serve:serve")
    lazy("bench", "pushcli.cli.bench:bench")
    lazy("conform", "pushcli.cli.conform:conform")


_register()


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        # The answer needs none of the command tree that Typer would build first.
        sys.stdout.write(f"pushcli {__version__}\n")
        return
    app(prog_name="pushcli")
