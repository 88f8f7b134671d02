"""pushcli config: manage profiles in the TOML config file."""

import sys
from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, complete_profiles, read_stdin, state

app = typer.Typer(
    help="Manage credential profiles (TOML config file, written 0600).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _prompt_secret() -> str:
    import getpass

    return getpass.getpass("App secret (hidden): ")


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name.")],
    app_id: Annotated[str | None, typer.Option("--app-id", help="App id.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="App key.")] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Pusher cluster (mt1, eu, ...).")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Self-hosted server host.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Self-hosted server port.")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="http or https.")] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read the secret from the first line of stdin.")
    ] = False,
    master_key_stdin: Annotated[
        bool,
        typer.Option(
            "--master-key-stdin",
            help="Read the base64 encryption master key from stdin (the line after the secret).",
        ),
    ] = False,
    url_stdin: Annotated[
        bool,
        typer.Option(
            "--url-stdin", help="Read http[s]://KEY:SECRET@HOST[:PORT]/apps/ID from stdin."
        ),
    ] = False,
    default: Annotated[
        bool, typer.Option("--default", help="Make it the default profile.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing profile.")] = False,
) -> None:
    """Add a profile. The secret comes from a hidden prompt, --secret-stdin or PUSHER_APP_SECRET.

    Example: pushcli config add prod --app-id 123 --key abc --cluster eu --default
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

    Example: pushcli config list
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.profiles(config.list_profiles(state(ctx).config), as_json=json_out)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(help="Profile (default: the one in use).", autocompletion=complete_profiles),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show every resolved setting and where it came from (secrets masked).

    Example: pushcli config show prod
    """
    from pushcli.app import config
    from pushcli.ui import show

    st = state(ctx)
    show.config_shown(config.show(st.config, name or st.profile, flags=st.flags), as_json=json_out)


@app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name.", autocompletion=complete_profiles)],
) -> None:
    """Make a profile the default.

    Example: pushcli config use prod
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.config_used(config.use(state(ctx).config, name))


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name.", autocompletion=complete_profiles)],
) -> None:
    """Remove a profile.

    Example: pushcli config remove old
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.config_removed(config.remove(state(ctx).config, name))


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the config file's path.

    Example: pushcli config path
    """
    from pushcli.app import config
    from pushcli.ui import show

    show.config_path(config.path(state(ctx).config))
