"""Run the selected checks against one server and return a :class:`Report` (prints nothing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from pushcli.app.conform.checks import ALL
from pushcli.app.conform.context import Context
from pushcli.app.conform.model import GROUPS, Check, CheckResult, Failed, Report, Skipped
from pushcli.app.conform.receiver import Receiver
from pushcli.app.conform.wsclient import Closed
from pushcli.client.profiles import Settings
from pushcli.errors import InputError, UnavailableError

#: the whole of one check may take this much longer than --timeout (several waits in a row)
CHECK_BUDGET_FACTOR = 8
CHECK_BUDGET_EXTRA = 15.0


def is_pusher_com(settings: Settings) -> bool:
    return not settings.host or settings.host.endswith((".pusher.com", ".pusherapp.com"))


def select(groups: Iterable[str] | None = None) -> list[Check]:
    """The checks of ``groups`` (all when None), in order."""
    wanted = list(groups or [])
    unknown = [g for g in wanted if g not in GROUPS]
    if unknown:
        raise InputError(f"unknown group {unknown[0]!r} (groups: {', '.join(GROUPS)})")
    return [c for c in ALL if not wanted or c.group in wanted]


def message_estimate(checks: Iterable[Check], *, destructive: bool) -> int:
    """About how many Pusher messages the checks that will run cost."""
    return sum(c.messages for c in checks if destructive or not c.destructive)


async def preflight(settings: Settings, timeout: float) -> None:
    """Raise UnavailableError when the server's REST or WebSocket port cannot be reached."""
    targets = {
        (settings.rest_host, settings.effective_port),
        (settings.ws_host, settings.effective_port),
    }
    for host, port in sorted(targets):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as e:
            why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
            raise UnavailableError(f"cannot connect to {host}:{port}: {why}") from None
        writer.close()


def _skip(check: Check, reason: str) -> CheckResult:
    return CheckResult(check.name, check.group, "skip", check.expected, reason, check.rule)


async def _run_one(ctx: Context, check: Check, budget: float) -> CheckResult:
    import httpx
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    loop = asyncio.get_running_loop()
    start = loop.time()
    status, observed = "fail", ""
    try:
        observed = await asyncio.wait_for(check.fn(ctx), budget)
        status = "pass"
    except Failed as e:
        observed = e.observed
    except Skipped as e:
        status, observed = "skip", str(e)
    except TimeoutError as e:
        observed = str(e) or f"no answer within {budget:g}s"
    except Closed as e:
        observed = (
            f"the server closed the connection ({e.code}{' ' + e.reason if e.reason else ''})"
        )
    except ConnectionClosed as e:
        code = e.rcvd.code if e.rcvd is not None else "no close frame"
        observed = f"the server closed the connection ({code})"
    except (OSError, InvalidHandshake, InvalidURI, httpx.HTTPError) as e:
        observed = f"{e.__class__.__name__}: {e}" if str(e) else e.__class__.__name__
    finally:
        await ctx.close_all()
    return CheckResult(
        check.name,
        check.group,
        status,  # type: ignore[arg-type]
        check.expected,
        observed,
        check.rule,
        round(loop.time() - start, 3),
    )


async def run_async(
    settings: Settings,
    *,
    groups: Iterable[str] | None = None,
    destructive: bool = False,
    webhook_port: int | None = None,
    timeout: float = 2.0,
    master_key: bytes | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> Report:
    checks = select(groups)
    started = time.perf_counter()
    await preflight(settings, timeout)
    receiver: Receiver | None = None
    if webhook_port is not None and any(c.webhooks for c in checks):
        receiver = Receiver(settings.key or "", settings.secret or "", port=webhook_port)
        try:
            await receiver.start()
        except OSError as e:
            raise UnavailableError(
                f"cannot listen for webhooks on 127.0.0.1:{webhook_port}: {e.strerror or e}"
            ) from None
    ctx = Context(settings, timeout=timeout, master_key=master_key, webhooks=receiver)
    budget = timeout * CHECK_BUDGET_FACTOR + CHECK_BUDGET_EXTRA
    results: dict[str, CheckResult] = {}
    order = [c for c in checks if not c.last] + [c for c in checks if c.last]
    try:
        for check in order:
            if check.destructive and not destructive:
                result = _skip(
                    check, "has side effects on other users or the server: needs --destructive"
                )
            else:
                result = await _run_one(ctx, check, budget)
            results[check.name] = result
            if on_result is not None:
                on_result(result)
    finally:
        await ctx.aclose()
        if receiver is not None:
            await receiver.stop()
    report = Report(settings.server_label, [results[c.name] for c in checks])
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def run(settings: Settings, **options: object) -> Report:
    """:func:`run_async` on a new event loop."""
    return asyncio.run(run_async(settings, **options))  # type: ignore[arg-type]
