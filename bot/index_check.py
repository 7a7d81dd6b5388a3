"""``python -m bot check``: verify the index and say what would repair each damaged part."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.console_render import Style, use_colour
from qabot_settings import Settings
from retrieval.backends import open_backend
from retrieval.backends.base import Finding


def render_findings(where: str, findings: list[Finding], style: Style) -> str:
    """One line per part (ok/damaged), the repair under each damaged one, then a summary."""
    lines = [style.title(f"index {where}")]
    width = max((len(f.part) for f in findings), default=0)
    for f in findings:
        if f.ok:
            lines.append(f"  ok       {f.part:<{width}}  {f.detail}".rstrip())
        else:
            lines.append(style.warn(f"  DAMAGED  {f.part:<{width}}  {f.problem}"))
            if f.repair:
                lines.append(f"           {'':<{width}}  → {f.repair}")
    bad = [f for f in findings if not f.ok]
    lines.append(
        "sound: every part checked" if not bad else f"{len(bad)} damaged part(s); repair above"
    )
    return "\n".join(lines)


def run_check(settings: Settings, out: TextIO | None = None) -> int:
    """Print the findings; 0 if the index is sound, 1 if any part is damaged."""
    out = out or sys.stdout
    backend = open_backend(settings.index_dir, settings.backend)
    findings = backend.check()
    print(render_findings(backend.where, findings, Style(use_colour(out))), file=out, flush=True)
    return 0 if all(f.ok for f in findings) else 1
