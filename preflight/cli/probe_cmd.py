"""``preflight probe``: print what preflight learns about each input, as JSON or a table.

Exit codes: 0 every input was read; 1 any input could not be read (one line on stderr each, and
the others are still printed); 2 usage errors (click's own, or ``--backend ffprobe`` with no
ffprobe, as for ``preflight check``).
"""

from __future__ import annotations

import json
from typing import Any

import click

from preflight.cli import examples
from preflight.model.errors import ConfigError, InputError, ToolNotFoundError
from preflight.model.facts import MediaFacts

__all__ = ["probe"]


@click.command(
    name="probe",
    epilog=examples(
        "preflight probe clip.mp4",
        "preflight probe clip.mp4 voice.mp3 --format json",
        "preflight probe https://example.com/clip.mp4 --backend ffprobe",
    ),
)
@click.argument("inputs", nargs=-1, required=True, metavar="PATH_OR_URL...")
@click.option(
    "--backend",
    type=click.Choice(["auto", "mediainfo", "ffprobe"]),
    default="auto",
    show_default=True,
    help="auto = MediaInfo in-process; ffprobe needs ffprobe on PATH or $PREFLIGHT_FFPROBE.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["json", "table"]),
    default="table",
    show_default=True,
    help="json: one object per input, in order; table: one row per input.",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the probe cache.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Parallel probes.")
def probe(
    inputs: tuple[str, ...], backend: str, fmt: str, no_cache: bool, workers: int | None
) -> None:
    """Probe media files or http(s) URLs and print their facts."""
    from preflight.probing import probe_many

    try:
        results = probe_many(list(inputs), backend=backend, cache=not no_cache, workers=workers)
    except ToolNotFoundError as exc:  # --backend ffprobe with no ffprobe: as for `check`, exit 2
        raise ConfigError(str(exc)) from exc
    failed = False
    for source, result in zip(inputs, results, strict=True):
        if isinstance(result, InputError):
            failed = True
            click.echo(f"preflight: {source}: {result}", err=True)
    if fmt == "json":
        click.echo(
            json.dumps([_json(s, r) for s, r in zip(inputs, results, strict=True)], indent=2)
        )
    else:
        good = [r for r in results if isinstance(r, MediaFacts)]
        if good:
            click.echo(render_table(good))
    if failed:
        raise SystemExit(1)


def _json(source: str, result: MediaFacts | InputError) -> dict[str, Any]:
    if isinstance(result, InputError):
        return {"source": source, "error": str(result)}
    return result.to_dict()


_COLUMNS = ("input", "container", "size", "duration", "video", "audio")


def render_table(results: list[MediaFacts]) -> str:
    """One row per input, aligned columns, no colour (safe for logs and pipes)."""
    rows = [_COLUMNS, *(_row(f) for f in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _row(f: MediaFacts) -> tuple[str, ...]:
    container = f.container or "?"
    if f.extension and f.extension != container:
        container += f" (.{f.extension})"
    duration = "-" if f.effective_duration is None else f"{f.effective_duration:.3f}s"
    if f.duration_source and f.duration_source != "container":
        duration += f" ({f.duration_source})"
    return (f.source, container, _size(f.size_bytes), duration, _video(f), _audio(f))


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f}MiB" if n >= 1_048_576 else f"{n / 1024:.1f}KiB"


def _video(f: MediaFacts) -> str:
    if f.image is not None:
        return f"image {f.image.codec or '?'} {f.image.width}x{f.image.height}"
    v = f.video
    if v is None:
        return "-"
    text = f"{v.codec or '?'} {v.width}x{v.height}"
    notes = []
    if (v.coded_width, v.coded_height) != (v.width, v.height):
        notes.append(f"coded {v.coded_width}x{v.coded_height}")
    if v.rotation:
        notes.append(f"rot {v.rotation}")
    if v.sample_aspect_ratio != "1:1":
        notes.append(f"SAR {v.sample_aspect_ratio}")
    if v.bit_depth and v.bit_depth != 8:
        notes.append(f"{v.bit_depth}-bit")
    if v.hdr:
        notes.append("HDR")
    if v.frame_rate:
        notes.append(f"{v.frame_rate:g}fps{' VFR' if v.variable_frame_rate else ''}")
    return f"{text} ({', '.join(notes)})" if notes else text


def _audio(f: MediaFacts) -> str:
    a = f.audio
    if a is None:
        return "-"
    parts = [a.codec or "?"]
    if a.sample_rate:
        parts.append(f"{a.sample_rate}Hz")
    if a.channels:
        parts.append(f"{a.channels}ch")
    return " ".join(parts)
