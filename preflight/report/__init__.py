"""The report of one `preflight check` run, and its renderers (text, json, junit, sarif, github,
html).

The model is plain values (`Report`, `Result`); each renderer is a function ``Report -> str`` in
its own module, imported only when used. ``render(report, "json")`` picks one by name.
"""

from __future__ import annotations

import importlib

from preflight.report.model import Report, Result, Timeline

__all__ = ["FORMATS", "Report", "Result", "Timeline", "render"]

FORMATS: dict[str, str] = {
    "text": "preflight.report.text",
    "json": "preflight.report.json_format",
    "junit": "preflight.report.junit",
    "sarif": "preflight.report.sarif",
    "github": "preflight.report.github",
    "html": "preflight.report.html",  # pictures come from `preflight.report.thumbnails`
}


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """``report`` as text in format ``fmt`` (one of `FORMATS`). ``color`` only affects text."""
    try:
        module_name = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})") from None
    module = importlib.import_module(module_name)
    out = str(module.render(report, color=color) if fmt == "text" else module.render(report))
    # a file name that is not valid UTF-8 arrives with lone surrogates: print them as "?"
    return out.encode("utf-8", "replace").decode("utf-8")
