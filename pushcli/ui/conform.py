"""Draw a conformance report on a terminal: one table grouped by check group, then a summary.

(The JSON form is ``Report.as_dict()``; this is the only module of the package that prints.)
"""

from __future__ import annotations

from pushcli.app.conform.model import GROUPS, Report

#: what a passing check observed is cut to this many characters on a terminal (--json has all)
PASS_WIDTH = 90
MARKS = {"pass": ("✓", "green"), "fail": ("✗", "red"), "skip": ("-", "dim")}


def summary(report: Report) -> str:
    return (
        f"{report.passed} passed, {report.failed} failed, {report.skipped} skipped "
        f"in {report.seconds:.1f} s against {report.server}"
    )


def show(report: Report) -> None:
    from rich.table import Table
    from rich.text import Text

    from pushcli.ui.render import console

    table = Table(
        title=f"pushcli conform: {report.server}",
        title_justify="left",
        header_style="bold",
        show_lines=False,
    )
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("observed", overflow="fold")
    first = True
    for group in GROUPS:
        rows = [c for c in report.checks if c.group == group]
        if not rows:
            continue
        if not first:
            table.add_section()
        first = False
        table.add_row("", Text(group, style="bold"), "")
        for c in rows:
            mark, style = MARKS[c.status]
            text = c.observed
            if c.status == "pass" and len(text) > PASS_WIDTH:
                text = text[: PASS_WIDTH - 1] + "…"
            cell = Text(text, style="dim" if c.status == "skip" else "")
            if c.status == "fail":
                cell.append(f"\nexpected: {c.expected}", style="yellow")
                cell.append(f"\nrule: {c.rule}", style="dim")
            table.add_row(Text(mark, style=style), Text(c.name, style=style), cell)
    out = console()
    out.print(table)
    verdict = "conforms" if report.ok else "does not conform"
    out.print(
        Text(f"{summary(report)}: {verdict}", style="bold green" if report.ok else "bold red")
    )
