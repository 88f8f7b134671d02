"""The ``--replay`` side of ``pushcli batch``: option checks and the progress display.

The timing itself is :mod:`pushcli.app.replay`. A replay goes over one connection in time order
(``--parallel`` does not apply: spreading events over workers would reorder them).
"""

from typing import Any

from pushcli.errors import InputError


def prepare(events: list[Any], replay: bool, speed: float | None) -> float:
    """Check the options and every event's ``time`` before anything is sent; the speed to use."""
    from pushcli.app import replay as core

    if not replay:
        if speed is not None:
            raise InputError("--speed needs --replay")
        return 0.0
    core.check_times(events)
    speed = 1.0 if speed is None else speed
    if speed < 0:
        raise InputError("--speed must be 0 (as fast as possible) or more")
    return speed


def send(
    settings: Any,
    events: list[Any],
    *,
    speed: float,
    retries: int,
    progress: bool,
    timeout: float = 10.0,
) -> Any:
    from pushcli.app import replay as core
    from pushcli.client.rest import RestClient
    from pushcli.ui import render

    if speed:
        render.message(
            f"replaying {len(events)} events over {core.duration(events, speed):.1f} s "
            f"(speed {speed:g})"
        )
    with RestClient(settings, retries=retries, timeout=timeout) as client:
        if not progress:
            return core.send(client, events, speed=speed)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=render.console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("replaying", total=len(events))
            return core.send(client, events, speed=speed, progress=lambda n: bar.advance(task, n))
