"""The Typer application: global options, command registration, the one error handler.

Importing this module must stay cheap: commands import the core (httpx, websockets, nacl,
rich) inside their bodies.
"""

from __future__ import annotations

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
        from pushcli.profiles import resolve

        if self._settings is None:
            self._settings = resolve(
                flags=self.flags, profile=self.profile, config_file=self.config, hint=hint
            )
        return self._settings


class PushcliGroup(TyperGroup):
    """Maps every error to one line on stderr and its exit code (see errors.ExitCode)."""

    def invoke(self, ctx: typer.Context) -> Any:
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


def _report(ctx: typer.Context, message: str, hint: str | None, exc: BaseException) -> None:
    from pushcli.render import error_line

    state = ctx.find_object(State)
    if state is not None and state.debug:
        traceback.print_exception(exc, file=sys.stderr)
    error_line(message)
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


app = typer.Typer(
    cls=PushcliGroup,
    name="pushcli",
    help="A command-line tool for Pusher Channels and Pusher-compatible servers (soketi, Reverb).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"pushcli {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", help="Profile to use (env PUSHCLI_PROFILE).", show_default=False),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Config file (env PUSHCLI_CONFIG).", metavar="PATH"),
    ] = None,
    app_id: Annotated[str | None, typer.Option("--app-id", help="App id (overrides env and profile).")] = None,
    key: Annotated[str | None, typer.Option("--key", help="App key (overrides env and profile).")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Pusher cluster, e.g. mt1, eu.")] = None,
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
    from pushcli.cli import auth, batch, channels, config, listen, trigger, users

    app.command("trigger")(trigger.trigger)
    app.command("batch")(batch.batch)
    app.command("channels")(channels.channels)
    app.command("channel")(channels.channel)
    app.command("members")(channels.members)
    app.command("listen")(listen.listen)
    app.command("client-event")(listen.client_event)
    app.add_typer(users.app, name="users")
    app.add_typer(auth.app, name="auth")
    app.add_typer(config.app, name="config")


_register()


def main() -> None:
    app(prog_name="pushcli")
