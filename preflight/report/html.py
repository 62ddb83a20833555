"""One self-contained HTML page for people who review a batch: pictures, face bars, findings.

``render(report, thumbs=...)`` for a check and ``render_fix(results, frames=...)`` for a fix are
functions over values, like the other renderers: the pictures are computed beforehand
(`preflight.report.thumbnails`) and passed in as ``data:`` URIs, so the page needs no network
(its Content-Security-Policy forbids any) and rendering does no I/O. Rows carry their status in
``data-status``; a few lines of inline script filter them by the buttons in the header.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding
from preflight.report.model import Report, Result, Timeline
from preflight.report.text import brief
from preflight.report.thumbnails import Thumb
from preflight.rules.base import fmt_num

__all__ = ["FixLike", "render", "render_fix"]

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_STYLE = """
:root{--pass:#1a7f37;--fail:#cf222e;--warn:#9a6700;--info:#0969da;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);
  padding:12px 24px;z-index:1}
h1{font-size:18px;margin:0 0 6px}
.summary span{margin-right:14px}
.summary b{font-variant-numeric:tabular-nums}
.filters{margin-top:8px}
.filters button{border:1px solid var(--line);background:var(--bg);border-radius:6px;
  padding:3px 10px;margin-right:6px;cursor:pointer;font:inherit}
.filters button[aria-pressed=true]{background:#1f2328;color:#fff;border-color:#1f2328}
main{padding:8px 24px 40px}
.row{border:1px solid var(--line);border-radius:8px;margin:14px 0;padding:12px 16px}
.row[hidden]{display:none}
.row h2{font-size:15px;margin:0 0 8px;word-break:break-all}
.badge{display:inline-block;font-size:12px;font-weight:700;color:#fff;border-radius:4px;
  padding:1px 7px;margin-right:8px;vertical-align:1px}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}
.brief{color:#59636e;font-weight:400;font-size:13px;margin-left:6px}
.strip{display:flex;gap:8px;flex-wrap:wrap;margin:6px 0 10px}
.strip figure{margin:0}
.strip img{display:block;height:120px;border-radius:4px;border:1px solid var(--line)}
.strip figcaption{font-size:12px;color:#59636e}
.pair{display:flex;gap:8px;align-items:flex-start}
.timeline{margin:6px 0 10px;max-width:760px}
.track{display:flex;align-items:center;gap:8px;margin:3px 0}
.track .name{width:120px;font-size:12px;color:#59636e;text-align:right}
.bar{position:relative;flex:1;height:14px;background:var(--bg);border-radius:3px;overflow:hidden}
.bar i{position:absolute;top:0;bottom:0}
.bar i.pass,.legend .pass{background:#4ac26b}.bar i.fail,.legend .fail{background:var(--fail)}
.bar i.none,.legend .none{background:#afb8c1}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 2px 0 8px}
.axis{display:flex;justify-content:space-between;margin-left:128px;font-size:11px;color:#59636e}
table{border-collapse:collapse;margin:4px 0 8px}
td,th{border-bottom:1px solid var(--line);padding:3px 10px 3px 0;text-align:left;
  vertical-align:top}
th{font-weight:600;font-size:12px;color:#59636e}
.sev-error{color:var(--fail);font-weight:600}.sev-warning{color:var(--warn);font-weight:600}
.sev-info{color:var(--info)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
details summary{cursor:pointer;color:#59636e}
.none{color:#59636e;font-style:italic}
"""

_SCRIPT = """
(function () {
  var buttons = document.querySelectorAll('.filters button');
  function show(status) {
    document.querySelectorAll('.row').forEach(function (row) {
      row.hidden = status !== 'all' && row.dataset.status !== status;
    });
    buttons.forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.dataset.filter === status));
    });
  }
  buttons.forEach(function (b) {
    b.addEventListener('click', function () { show(b.dataset.filter); });
  });
})();
"""


_STATES = {"pass": "passes", "fail": "fails", "none": "no face to judge"}


class FixLike(Protocol):
    """What `render_fix` reads of a fix result (`preflight.fixing.FixResult` has it all)."""

    @property
    def source(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def output(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def ssim(self) -> float | None: ...
    @property
    def changes(self) -> Sequence[Any]: ...
    @property
    def findings_before(self) -> Sequence[Finding]: ...
    @property
    def findings_after(self) -> Sequence[Finding]: ...
    @property
    def ok(self) -> bool: ...


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return fmt_num(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _page(title: str, header: str, rows: Iterable[str], filters: Sequence[str]) -> str:
    buttons = "".join(
        f'<button type="button" data-filter="{_e(f)}" aria-pressed="{str(f == "all").lower()}">'
        f"{_e(f)}</button>"
        for f in filters
    )
    body = "\n".join(rows) or '<p class="none">no inputs</p>'
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n"
        f'<body><header><h1>{_e(title)}</h1>{header}<div class="filters">{buttons}</div>'
        f"</header>\n<main>\n{body}\n</main><script>{_SCRIPT}</script></body></html>\n"
    )
    # a file name that is not valid UTF-8 arrives with lone surrogates: show them as "?"
    return page.encode("utf-8", "replace").decode("utf-8")


def _summary(items: Sequence[tuple[str, object]]) -> str:
    return (
        '<div class="summary">'
        + "".join(f"<span>{_e(k)} <b>{_e(v)}</b></span>" for k, v in items)
        + "</div>"
    )


def _strip(thumbs: Sequence[Thumb]) -> str:
    if not thumbs:
        return ""
    figures = "".join(
        f'<figure><img src="{_e(t.uri)}" alt="{_e(t.label)} frame">'
        f"<figcaption>{_e(t.label)}"
        f"{'' if t.time is None else f' · {fmt_num(round(t.time, 2))} s'}</figcaption></figure>"
        for t in thumbs
    )
    return f'<div class="strip">{figures}</div>'


def _timeline(timeline: Timeline | None) -> str:
    if timeline is None or not timeline.tracks or timeline.duration <= 0:
        return ""
    total = timeline.duration
    lines = []
    for rule, spans in timeline.tracks.items():
        bars = "".join(
            f'<i class="{_e(state)}" '
            f'style="left:{100 * start / total:.2f}%;width:{100 * (end - start) / total:.2f}%" '
            f'title="{_e(rule)}: {_STATES.get(state, state)} '
            f'{fmt_num(start)}–{fmt_num(end)} s"></i>'
            for start, end, state in spans
        )
        lines.append(
            f'<div class="track" data-rule="{_e(rule)}"><span class="name">{_e(rule)}</span>'
            f'<div class="bar">{bars}</div></div>'
        )
    axis = (
        '<div class="axis"><span>0 s</span><span class="legend"><i class="pass"></i> passes '
        '<i class="fail"></i> fails <i class="none"></i> no face to judge</span>'
        f"<span>{fmt_num(round(total, 2))} s</span></div>"
    )
    return f'<div class="timeline" aria-label="face checks over time">{"".join(lines)}{axis}</div>'


def _findings(findings: Sequence[Finding], caption: str = "") -> str:
    if not findings:
        return f'<p class="none">{_e(caption or "no findings")}</p>' if caption else ""
    rows = "".join(
        f"<tr><td class='sev-{f.severity.value}'>{_e(f.severity.value)}</td>"
        f"<td><code>{_e(f.rule)}</code></td><td>{_e(f.message)}</td>"
        f"<td>{_e(_value(f.measured))}</td><td>{_e(_value(f.limit))}</td>"
        f"<td>{'yes' if f.fixable else ''}</td></tr>"
        for f in findings
    )
    head = "<tr><th>severity</th><th>rule</th><th>message</th><th>measured</th><th>limit</th>"
    return f"<table class='findings'>{head}<th>fixable</th></tr>{rows}</table>"


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += _flatten(value, f"{name}.")
        elif value is not None:
            out.append((name, value))
    return out


def _facts(facts: Mapping[str, MediaFacts]) -> str:
    if not facts:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(role)}.{_e(key)}</code></td><td>{_e(_value(value))}</td></tr>"
        for role, media in facts.items()
        for key, value in _flatten(media.to_dict())
    )
    return f"<details><summary>facts</summary><table class='facts'>{rows}</table></details>"


def _row(result: Result, thumbs: Sequence[Thumb]) -> str:
    status = "pass" if result.ok else "fail"
    main = result.facts.get("video") or result.facts.get("image")
    shown = f'<span class="brief">{_e(brief(main))}</span>' if main is not None else ""
    return (
        f'<section class="row" data-status="{status}" data-name="{_e(result.name)}">'
        f'<h2><span class="badge {status}">{status.upper()}</span>{_e(result.name)}{shown}</h2>'
        f"{_strip(thumbs)}{_timeline(result.timeline)}"
        f"{_findings(result.findings, 'passes every rule')}{_facts(result.facts)}</section>"
    )


def render(report: Report, *, thumbs: Mapping[str, Sequence[Thumb]] | None = None) -> str:
    """The check ``report`` as one HTML page; ``thumbs`` maps a result's name to its frames."""
    thumbs = thumbs or {}
    s = report.summary()
    items: list[tuple[str, object]] = [
        ("profile", report.profile),
        ("inputs", s["inputs"]),
        ("passed", s["passed"]),
        ("failed", s["failed"]),
        ("errors", s["errors"]),
        ("warnings", s["warnings"]),
        ("fixable", s["fixable"]),
    ]
    if report.strict:
        items.append(("strict", "yes"))
    rows = [_row(r, thumbs.get(r.name, ())) for r in report.results]
    return _page("preflight check", _summary(items), rows, ["all", "pass", "fail"])


def _fix_row(result: FixLike, frames: Sequence[tuple[Thumb, Thumb | None]]) -> str:
    status = result.status
    pairs = "".join(
        f'<div class="strip pair">{_strip([before])}{_strip([after]) if after else ""}</div>'
        for before, after in frames
    )
    if frames:
        pairs = f"<div><small>before · after</small>{pairs}</div>"
    target = f" → {_e(result.output)}" if result.output else ""
    ssim = (
        f"<p>quality: SSIM <b>{result.ssim:.4f}</b> against the source</p>"
        if result.ssim is not None
        else ""
    )
    changes = "".join(
        f"<tr><td><code>{_e(c.key)}</code></td><td>{_e(_value(c.before))}</td>"
        f"<td>{_e(_value(c.after))}</td></tr>"
        for c in result.changes
    )
    if changes:
        head = "<tr><th>fact</th><th>before</th><th>after</th></tr>"
        changes = f"<table class='changes'>{head}{changes}</table>"
    after = _findings(result.findings_after) if result.findings_after else ""
    return (
        f'<section class="row" data-status="{_e(status)}" data-name="{_e(result.source)}">'
        f'<h2><span class="badge {"pass" if result.ok else "fail"}">{_e(status.upper())}</span>'
        f"{_e(result.source)}{target}</h2><p>{_e(result.message)}</p>{pairs}{ssim}{changes}"
        f"{_findings(result.findings_before)}{after}</section>"
    )


def render_fix(
    results: Sequence[FixLike],
    *,
    frames: Mapping[str, Sequence[tuple[Thumb, Thumb | None]]] | None = None,
) -> str:
    """Fix ``results`` as one HTML page; ``frames`` maps a source to (before, after) pictures."""
    frames = frames or {}
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    items: list[tuple[str, object]] = [("inputs", len(results)), *sorted(counts.items())]
    rows = [_fix_row(r, frames.get(r.source, ())) for r in results]
    return _page("preflight fix", _summary(items), rows, ["all", *sorted(counts)])
