"""pushcli config: manage profiles in the TOML config file."""

import sys
from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, complete_profiles, read_stdin, state

app = typer.Typer(
    help="""Manage credential profiles (TOML config file, written 0600).

    Examples:
      pushcli config add prod --app-id 123 --key abc --cluster eu --default
      pushcli config list
      pushcli config show prod
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


APP = "The app"
SERVER = "Where it runs"
STDIN = "Secrets from stdin"
PROFILE = "The profile"


def _prompt_secret() -> str:
    import getpass

    return getpass.getpass("App secret (hidden): ")


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name.", metavar="NAME")],
    app_id: Annotated[
        str | None, typer.Option("--app-id", metavar="ID", help="App id.", rich_help_panel=APP)
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", metavar="KEY", help="App key.", rich_help_panel=APP)
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="CLUSTER",
            help="Pusher cluster (mt1, eu, ...).",
            rich_help_panel=SERVER,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", metavar="HOST", help="Self-hosted server host.", rich_help_panel=SERVER
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", metavar="PORT", help="Self-hosted server port.", rich_help_panel=SERVER
        ),
    ] = None,
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme", metavar="http|https", help="http or https.", rich_help_panel=SERVER
        ),
    ] = None,
    secret_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-stdin",
            help="Read the secret from the first line of stdin.",
            rich_help_panel=STDIN,
        ),
    ] = False,
    master_key_stdin: Annotated[
        bool,
        typer.Option(
            "--master-key-stdin",
            help="Read the base64 encryption master key from stdin (the line after the secret).",
            rich_help_panel=STDIN,
        ),
    ] = False,
    url_stdin: Annotated[
        bool,
        typer.Option(
            "--url-stdin",
            help="Read http[s]://KEY:SECRET@HOST[:PORT]/apps/ID from stdin.",
            rich_help_panel=STDIN,
        ),
    ] = False,
    default: Annotated[
        bool,
        typer.Option("--default", help="Make it the default profile.", rich_help_panel=PROFILE),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing profile.", rich_help_panel=PROFILE),
    ] = False,
) -> None:
    """Add a profile. The secret comes from a hidden prompt, --secret-stdin or PUSHER_APP_SECRET.

    Everything else is checked before the secret is asked for.

    Examples:
      pushcli config add prod --app-id 123 --key abc --cluster eu --default
      pushcli config add ci --app-id 1 --key k --host 127.0.0.1 --port 6001 --secret-stdin < secret.txt
      echo "$PUSHER_URL" | pushcli config add staging --url-stdin
    """
    from pushcli.app import config
    from pushcli.errors import ConfigError
    from pushcli.ui import show

    reads_stdin = secret_stdin or url_stdin or master_key_stdin
    added = config.add(
        state(ctx).config,
        name,
        app_id=app_id,
        key=key,
        cluster=cluster,
        host=host,
        port=port,
        scheme=scheme,
        stdin_lines=read_stdin(ConfigError).splitlines() if reads_stdin else [],
        secret_stdin=secret_stdin,
        master_key_stdin=master_key_stdin,
        url_stdin=url_stdin,
        prompt=_prompt_secret if sys.stdin is not None and sys.stdin.isatty() else None,
        default=default,
        force=force,
    )
    show.config_added(added)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List profiles; the default is marked.

    Examples:
      pushcli config list
      pushcli config list --json
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.profiles(config.list_profiles(state(ctx).config), as_json=json_out)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Profile (default: the one in use).",
            metavar="NAME",
            autocompletion=complete_profiles,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show every resolved setting and where it came from (secrets masked).

    Examples:
      pushcli config show
      pushcli config show prod
    """
    from pushcli.app import config
    from pushcli.ui import show

    st = state(ctx)
    show.config_shown(config.show(st.config, name or st.profile, flags=st.flags), as_json=json_out)


@app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="Profile name.", metavar="NAME", autocompletion=complete_profiles),
    ],
) -> None:
    """Make a profile the default.

    Examples:
      pushcli config use prod
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.config_used(config.use(state(ctx).config, name))


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="Profile name.", metavar="NAME", autocompletion=complete_profiles),
    ],
) -> None:
    """Remove a profile.

    Examples:
      pushcli config remove old
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.config_removed(config.remove(state(ctx).config, name))


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the config file's path.

    Examples:
      pushcli config path
      PUSHCLI_CONFIG=./ci.toml pushcli config path
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.config_path(config.path(state(ctx).config))
