"""pushcli doctor: check a profile end to end and say how to fix what fails."""

from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, state


def doctor(
    ctx: typer.Context,
    timeout: Annotated[
        float,
        typer.Option("--timeout", metavar="SECONDS", help="Seconds to wait for each step."),
    ] = 5.0,
    json_out: JsonOpt = False,
) -> None:
    """Check config, credentials, network, TLS, REST signing, clock and a WebSocket round trip.

    Examples:
      pushcli doctor
      pushcli --profile prod doctor --json
    """
    from pushcli.app.doctor import doctor as run
    from pushcli.ui import show

    st = state(ctx)
    result = run(lambda: st.settings(hint=False), timeout=timeout)
    show.doctor(result, as_json=json_out)
    if not result.ok:
        raise typer.Exit(result.exit_code or 1)
