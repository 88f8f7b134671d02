"""pushcli config: manage profiles in the TOML config file."""

import os
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


def _path(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from pushcli.client.profiles import config_path

    return config_path(state(ctx).config)


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
    from pushcli.client import profiles
    from pushcli.errors import ConfigError
    from pushcli.ui import render

    values: dict[str, str] = {}
    lines = (
        iter(read_stdin(ConfigError).splitlines())
        if (secret_stdin or url_stdin or master_key_stdin)
        else iter(())
    )
    if url_stdin:
        values.update(profiles.parse_pusher_url(next(lines, "")))
    given = {"app_id": app_id, "key": key, "cluster": cluster, "host": host, "scheme": scheme}
    values.update({k: v for k, v in given.items() if v})
    if cluster:
        values.pop("host", None)
    if host:
        values.pop("cluster", None)
    if port is not None:
        values["port"] = str(port)
    if not url_stdin:
        if secret_stdin:
            values["secret"] = next(lines, "").strip()
        elif os.environ.get("PUSHER_APP_SECRET"):
            values["secret"] = os.environ["PUSHER_APP_SECRET"]
        elif sys.stdin is not None and sys.stdin.isatty():
            import getpass

            values["secret"] = getpass.getpass("App secret (hidden): ").strip()
        else:
            raise ConfigError(
                "no secret: use --secret-stdin, PUSHER_APP_SECRET, or run on a terminal"
            )
    if master_key_stdin:
        values["encryption_master_key"] = next(lines, "").strip()
    elif os.environ.get("PUSHER_ENCRYPTION_MASTER_KEY_BASE64"):
        values["encryption_master_key"] = os.environ["PUSHER_ENCRYPTION_MASTER_KEY_BASE64"]
    path = _path(ctx)
    became_default = profiles.add_profile(path, name, values, make_default=default, force=force)
    render.message(f"saved profile {name} to {path}" + (" (default)" if became_default else ""))


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List profiles; the default is marked.

    Example: pushcli config list
    """
    from pushcli.client import profiles
    from pushcli.ui import render

    doc = profiles.load_config(_path(ctx))
    default = doc.get("default")
    rows = []
    for name, p in sorted(doc.get("profiles", {}).items()):
        where = p.get(
            "cluster"
        ) or f"{p.get('scheme', 'http')}://{p.get('host')}:{p.get('port', '')}".rstrip(":")
        rows.append(
            {
                "name": name,
                "default": name == default,
                "app_id": str(p.get("app_id", "")),
                "key": p.get("key", ""),
                "server": where,
            }
        )
    if render.wants_json(json_out):
        render.print_json(rows)
        return
    if not rows:
        render.message("no profiles yet: add one with 'pushcli config add NAME ...'")
        return
    render.table(
        ["", "name", "app_id", "key", "server"],
        [
            ("*" if r["default"] else "", r["name"], r["app_id"], r["key"], r["server"])
            for r in rows
        ],
    )


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
    from pushcli.client import profiles
    from pushcli.ui import render

    st = state(ctx)
    settings = profiles.resolve(
        flags=st.flags, profile=name or st.profile, config_file=st.config, hint=False
    )
    rows = settings.rows()
    if render.wants_json(json_out):
        render.print_json(
            {
                "profile": settings.profile,
                "config_file": str(settings.config_file),
                "rest": settings.rest_base if (settings.host or settings.cluster) else None,
                "websocket": settings.ws_base if (settings.host or settings.cluster) else None,
                "settings": {f: {"value": v, "source": s} for f, v, s in rows if v or s},
            }
        )
        return
    title = f"profile {settings.profile}" if settings.profile else "no profile"
    render.table(["setting", "value", "from"], [r for r in rows if r[1] or r[2]], title=title)
    if settings.host or settings.cluster:
        render.message(f"REST {settings.rest_base}  WebSocket {settings.ws_base}")


@app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name.", autocompletion=complete_profiles)],
) -> None:
    """Make a profile the default.

    Example: pushcli config use prod
    """
    from pushcli.client import profiles
    from pushcli.ui import render

    profiles.use_profile(_path(ctx), name)
    render.message(f"default profile: {name}")


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name.", autocompletion=complete_profiles)],
) -> None:
    """Remove a profile.

    Example: pushcli config remove old
    """
    from pushcli.client import profiles
    from pushcli.ui import render

    profiles.remove_profile(_path(ctx), name)
    render.message(f"removed profile {name}")


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the config file's path.

    Example: pushcli config path
    """
    print(_path(ctx))
