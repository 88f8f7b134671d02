"""The Typer application: global options, command registration, the one error handler.

Importing this module must stay cheap: commands import the core (httpx, websockets, nacl,
rich) inside their bodies.
"""

import sys
import traceback
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from pushcli import __version__
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
        single.command(name)(target)
        cmd = typer.main.get_command(single)
    cmd.name = name
    return cmd


def _stub(name: str, target: Any) -> Any:
    """A command with only a name and help, for listing in the root --help."""
    from typer.core import TyperCommand

    if isinstance(target, typer.Typer):
        text = target.info.help if isinstance(target.info.help, str) else ""
    else:
        text = target.__doc__ or ""
    first = text.strip().split("\n\n")[0].replace("\n", " ")
    return TyperCommand(name=name, help=text, short_help=first, callback=None)


class PushcliGroup(TyperGroup):
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
        return super().main(*args, **kwargs)

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
    from pushcli.ui.render import error_line

    state = ctx.find_object(State)
    if state is not None and state.debug:
        traceback.print_exception(exc, file=sys.stderr)
    error_line(f"{message} ({hint})" if hint else message)


app = typer.Typer(
    cls=PushcliGroup,
    name="pushcli",
    help="A command-line tool for Pusher Channels and Pusher-compatible servers (soketi, Reverb).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
            help="Profile to use (env PUSHCLI_PROFILE).",
            show_default=False,
            autocompletion=_complete_profiles,
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Config file (env PUSHCLI_CONFIG).", metavar="PATH"),
    ] = None,
    app_id: Annotated[
        str | None, typer.Option("--app-id", help="App id (overrides env and profile).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="App key (overrides env and profile).")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Pusher cluster, e.g. mt1, eu.")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Self-hosted server host.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Self-hosted server port.")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="http or https.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """pushcli: trigger, batch-send, listen, query and debug Pusher Channels.

    Credentials come from --profile, PUSHER_* variables or PUSHER_URL; with none, the local
    server at 127.0.0.1:6001 (pushcli serve). The secret is never taken from the command line.
    """
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
