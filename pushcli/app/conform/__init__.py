"""``pushcli conform``: is this server really Pusher-compatible?

Scenarios (``checks/``, one module per group) run by ``runner`` against the configured
server; the result is a :class:`Report` of pass / fail / skip with what was expected, what was
observed and the Pusher rule. ``render`` draws it.
"""

from pushcli.app.conform.model import GROUPS, Check, CheckResult, Report

__all__ = ["GROUPS", "Check", "CheckResult", "Report"]
