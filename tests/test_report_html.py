"""The HTML report: the renderer over hand-made values, and real pages in headless Chromium."""

from __future__ import annotations

import html.parser
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browser import chromium_binary, open_page
from click.testing import CliRunner

from preflight.cli import main
from preflight.model.findings import Finding, Severity
from preflight.report import Report, Result, Timeline, render
from preflight.report.html import render as render_html
from preflight.report.html import render_fix
from preflight.report.thumbnails import Thumb, report_thumbnails

PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/"
    "PchI7wAAAABJRU5ErkJggg=="
)


class Tags(html.parser.HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def tags(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    return parser


def _report() -> Report:
    bad = Finding("video.duration", Severity.ERROR, "too short", 1.0, 2.0, fixable=True)
    timeline = Timeline(
        duration=4.0,
        tracks={
            "face.present": ((0.0, 1.0, "pass"), (1.0, 3.0, "fail"), (3.0, 4.0, "pass")),
            "face.size": ((0.0, 1.0, "pass"), (1.0, 3.0, "none"), (3.0, 4.0, "pass")),
        },
    )
    return Report(
        profile="kling-lipsync",
        results=(
            Result(name="a.mp4", ok=True),
            Result(name='<b onclick="x">&.mp4', ok=False, findings=(bad,), timeline=timeline),
        ),
    )


def test_rows_statuses_filters_and_escaping() -> None:
    page = render_html(_report(), thumbs={"a.mp4": (Thumb("start", None, PIXEL),)})
    found = tags(page)
    rows = found.find("section")
    assert [r["data-status"] for r in rows] == ["pass", "fail"]
    assert [r["data-name"] for r in rows] == ["a.mp4", '<b onclick="x">&.mp4']
    assert "<b onclick" not in page  # the name is text, never markup
    assert [b["data-filter"] for b in found.find("button")] == ["all", "pass", "fail"]
    assert [i["src"] for i in found.find("img")] == [PIXEL]
    meta = found.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert meta
    assert "default-src 'none'" in (meta[0]["content"] or "")
    assert "http://" not in page  # nothing to fetch
    assert "https://" not in page


def test_timeline_bars_cover_the_clip_in_proportion() -> None:
    found = tags(render_html(_report()))
    assert [t["data-rule"] for t in found.find("div", **{"class": "track"})] == [
        "face.present",
        "face.size",
    ]
    bars = [(t, a["style"]) for t, a in found.tags if t == "i" and "style" in a]
    assert bars[:3] == [
        ("i", "left:0.00%;width:25.00%"),
        ("i", "left:25.00%;width:50.00%"),
        ("i", "left:75.00%;width:25.00%"),
    ]
    classes = [a["class"] for t, a in found.tags if t == "i" and "style" in a]
    assert classes == ["pass", "fail", "pass", "pass", "none", "pass"]


def test_findings_show_severity_measured_and_limit() -> None:
    page = render_html(_report())
    assert "<td class='sev-error'>error</td><td><code>video.duration</code></td>" in page
    assert "<td>too short</td><td>1</td><td>2</td><td>yes</td>" in page


def test_render_by_name_and_an_empty_report() -> None:
    assert render(_report(), "html") == render_html(_report())
    page = render_html(Report(profile="p", results=()))
    assert "no inputs" in page
    assert tags(page).find("section") == []


def _require_chromium() -> None:
    if chromium_binary() is None:
        pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)")


def _visible_rows(page: Any) -> list[str]:
    return page.evaluate(  # type: ignore[no-any-return]
        "[...document.querySelectorAll('.row')].filter(r => !r.hidden).map(r => r.dataset.name)"
    )


def test_check_report_in_chromium(
    media: Callable[[str], Path], face_media: Callable[[str], Path], tmp_path: Path
) -> None:
    _require_chromium()
    folder = tmp_path / "in"
    folder.mkdir()
    for made in (media("short"), face_media("leaves"), face_media("clear")):
        shutil.copy(made, folder / made.name)
    (folder / "clip.fixed.mp4").write_bytes((folder / "short_1s.mp4").read_bytes())
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["check", str(folder), "--format", "html", "-o", str(out)])
    assert result.exit_code == 1, result.output
    names = sorted(str(folder / n) for n in ("short_1s.mp4", "face_leaves.mp4", "face_clear.mp4"))
    with open_page(out.as_uri()) as page:
        rows = page.evaluate(
            "[...document.querySelectorAll('.row')].map(r => ({name: r.dataset.name,"
            " status: r.dataset.status, images: [...r.querySelectorAll('img')].map(i =>"
            " i.complete && i.naturalWidth > 0), tracks: r.querySelectorAll('.track').length}))"
        )
        assert sorted(r["name"] for r in rows) == names  # the earlier fix output is skipped
        for row in rows:
            assert row["images"] == [True, True, True], row  # start, middle, end all decoded
        by_name = {Path(r["name"]).name: r for r in rows}
        assert by_name["face_clear.mp4"]["status"] == "pass"
        assert by_name["face_leaves.mp4"]["status"] == "fail"
        assert by_name["face_leaves.mp4"]["tracks"] >= 1
        fail_bars = page.evaluate(
            "document.querySelectorAll('.row[data-name$=\"face_leaves.mp4\"] .bar i.fail').length"
        )
        assert fail_bars >= 1
        page.evaluate("document.querySelector('button[data-filter=fail]').click()")
        assert sorted(Path(n).name for n in _visible_rows(page)) == [
            "face_leaves.mp4",
            "short_1s.mp4",
        ]
        page.evaluate("document.querySelector('button[data-filter=all]').click()")
        assert len(_visible_rows(page)) == 3
        page.screenshot(tmp_path / "report.png")
        assert page.problems == []  # no console output, exception or CSP violation
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_fix_report_in_chromium(media: Callable[[str], Path], tmp_path: Path) -> None:
    _require_chromium()
    src = tmp_path / "short.mp4"
    shutil.copy(media("short"), src)
    result = CliRunner().invoke(main, ["fix", str(src), "--format", "html"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "fix.html"
    out.write_text(result.stdout, encoding="utf-8")
    assert "SSIM" in result.stdout
    with open_page(out.as_uri()) as page:
        alts = page.evaluate(
            "[...document.querySelectorAll('.row img')].filter(i => i.naturalWidth > 0)"
            ".map(i => i.alt)"
        )
        assert "before, start frame" in alts
        assert "after, start frame" in alts
        assert page.evaluate("document.querySelector('.row').dataset.status") == "fixed"
        assert page.problems == []
    assert (tmp_path / "short.fixed.mp4").exists()


def test_thumbnails_of_missing_or_url_inputs_are_empty(media: Callable[[str], Path]) -> None:
    from preflight.probing import probe

    facts = probe(media("ok"))
    thumbs = report_thumbnails([("ok", {"video": facts}), ("none", {})])
    assert [t.label for t in thumbs["ok"]] == ["start", "middle", "end"]
    assert all(t.uri.startswith("data:image/jpeg;base64,/9j/") for t in thumbs["ok"])
    assert "none" not in thumbs


def test_render_fix_without_frames_lists_each_result() -> None:
    class Done:
        source, status, output, message = "a.mp4", "fixed", "a.fixed.mp4", "re-encoded"
        ssim, changes, findings_before, findings_after, ok = 0.991, (), (), (), True

    page = render_fix([Done()])
    assert tags(page).find("section", **{"data-status": "fixed"})
    assert "SSIM <b>0.9910</b>" in page
