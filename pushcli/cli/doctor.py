"""pushcli doctor: check a profile end to end and say how to fix what fails."""

from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, state


def doctor(
    ctx: typer.Context,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each step.")
    ] = 5.0,
    json_out: JsonOpt = False,
) -> None:
    """Check config, credentials, network, TLS, REST signing, clock and a WebSocket round trip.

    Example: pushcli --profile prod doctor
    """
    from pushcli.app.doctor import Doctor
    from pushcli.errors import PushcliError
    from pushcli.ui import render

    st = state(ctx)
    try:
        settings = st.settings(hint=False)
    except PushcliError as e:
        from pushcli.app.doctor import Check

        checks, ok, code = (
            [
                Check(
                    "settings",
                    "fail",
                    e.message,
                    "fix the config file or the PUSHER_* variables",
                    code=int(e.exit_code),
                )
            ],
            False,
            int(e.exit_code),
        )
    else:
        doc = Doctor(settings, timeout=timeout)
        checks, ok, code = doc.run(), doc.ok, doc.exit_code
    if render.wants_json(json_out):
        render.print_json({"ok": ok, "checks": [c.as_dict() for c in checks]})
    else:
        marks = {"pass": "✓", "warn": "!", "fail": "✗", "skip": "-"}
        rows = []
        for c in checks:
            detail = c.detail + (f" ({c.ms:.0f} ms)" if c.ms is not None else "")
            rows.append((marks[c.status], c.name, detail, c.fix))
        render.table(["", "check", "result", "fix"], rows)
    if not ok:
        raise typer.Exit(code or 1)
