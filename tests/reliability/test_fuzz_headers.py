"""Property: whatever is done to the headers of a small MP4, MOV or Matroska file, `probe` either
returns facts or raises `InputError`, `check` never raises and gives a verdict made of findings,
and no call hangs.

Hypothesis overwrites, inserts, deletes and truncates bytes in the first kilobytes of real files
made by FFmpeg (where the `ftyp`/`moov` boxes or the EBML header and Tracks live). A modest
number of examples keeps it to seconds; `CI=true` (or HYPOTHESIS_PROFILE=ci) runs a fixed,
derandomised set, so CI is reproducible, while a developer's run explores new inputs.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.checking.check import check
from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.probing import probe
from preflight.toolchain.binaries import ffmpeg_path

settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile(
    "dev",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
# one probe or check of a ~30 kB file takes well under a second; the limit is generous because
# a CI machine can be loaded many times over, and only a hang should reach it
CALL_LIMIT_S = 120.0
HEAD = 4096

SEEDS = {
    "mp4": ["-movflags", "+faststart", "-f", "mp4"],
    "mov": ["-f", "mov"],
    "mkv": ["-f", "matroska"],
}


@pytest.fixture(scope="module")
def seeds() -> Iterator[dict[str, bytes]]:
    made = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, muxer in SEEDS.items():
            out = Path(folder, f"seed.{name}")
            subprocess.run(
                [ffmpeg_path(), "-v", "error", "-nostdin",
                 "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=0.5",
                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=0.5",
                 "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", "-b:a", "24k", *muxer, str(out)],
                check=True,
            )  # fmt: skip
            made[name] = out.read_bytes()
        yield made


@st.composite
def mutations(draw: st.DrawFn, size: int) -> list[tuple[str, int, bytes]]:
    head = min(size, HEAD)
    edit = st.tuples(
        st.sampled_from(["overwrite", "insert", "delete"]),
        st.integers(0, head - 1),
        st.one_of(
            st.binary(min_size=1, max_size=8),
            # the values that break parsers: zero, all ones, huge sizes
            st.sampled_from([b"\0\0\0\0", b"\xff\xff\xff\xff", b"\0\0\0\x01", b"\x7f\xff\xff\xff"]),
        ),
    )
    edits: list[tuple[str, int, bytes]] = draw(st.lists(edit, min_size=1, max_size=6))
    if draw(st.booleans()):
        edits.append(("truncate", draw(st.integers(0, size)), b""))
    return edits


def _apply(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, at, value in edits:
        at = min(at, len(out))
        if kind == "overwrite":
            out[at : at + len(value)] = value
        elif kind == "insert":
            out[at:at] = value
        elif kind == "delete":
            del out[at : at + len(value)]
        else:
            del out[at:]
    return bytes(out)


def _bounded(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``call(...)`` in a thread of its own, failing the test if it does not return in time."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call, *args, **kwargs).result(timeout=CALL_LIMIT_S)
    except concurrent.futures.TimeoutError:
        pytest.fail(f"{call.__name__} did not return within {CALL_LIMIT_S:g} s (a hang)")
    finally:
        pool.shutdown(wait=False)


@pytest.mark.parametrize("kind", list(SEEDS))
def test_mutated_headers_always_give_a_finding(kind: str, seeds: dict[str, bytes]) -> None:
    seed = seeds[kind]
    folder = Path(tempfile.mkdtemp(prefix="preflight-fuzz-"))

    @settings(settings.get_profile(PROFILE))
    @given(edits=mutations(len(seed)))
    def run(edits: list[tuple[str, int, bytes]]) -> None:
        path = folder / f"mutated.{kind}"
        path.write_bytes(_apply(seed, edits))
        for backend in ("mediainfo", "ffprobe"):
            try:
                facts = _bounded(probe, path, backend=backend, cache=False)
            except InputError:
                continue  # the one error a bad input may raise
            assert isinstance(facts, MediaFacts)
        report = _bounded(check, [path], "kling-lipsync", cache=False, face=False)
        (result,) = report.results
        # the verdict is findings: a failure always says why, and an unreadable file says so
        assert result.ok or any(f.severity.value == "error" for f in result.findings)
        assert all(f.rule and f.message for f in result.findings)

    try:
        run()
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
