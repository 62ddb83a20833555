"""Fitting a display size into a profile's window: pure arithmetic, no FFmpeg."""

from __future__ import annotations

import pytest

from preflight.fixing.geometry import ceil_even, fit_window, floor_even
from preflight.fixing.planner import scale_flags
from preflight.model.facts import VideoStream

WINDOW = {"min_width": 720, "max_width": 1920, "min_height": 720, "max_height": 1920}


@pytest.mark.parametrize(
    ("size", "aspect", "expected", "fit"),
    [
        ((1280, 720), "pad", (1280, 720, 1280, 720), "none"),
        ((1922, 1080), "pad", (1920, 1078, 1920, 1078), "scale"),
        ((3840, 2160), "pad", (1920, 1080, 1920, 1080), "scale"),
        ((2160, 3840), "pad", (1080, 1920, 1080, 1920), "scale"),  # rotated 4K: stays portrait
        ((2160, 2160), "pad", (1920, 1920, 1920, 1920), "scale"),
        ((640, 360), "pad", (1280, 720, 1280, 720), "scale"),  # upscaled
        ((718, 1280), "pad", (720, 1282, 720, 1282), "scale"),
        ((1281, 721), "pad", (1280, 720, 1280, 720), "scale"),  # odd sides rounded inward
        ((3000, 600), "pad", (1920, 720, 1920, 384), "pad"),  # 5:1 banner: letterboxed
        ((3000, 600), "crop", (1920, 720, 3600, 720), "crop"),  # or cropped, centred
        ((600, 3000), "pad", (720, 1920, 384, 1920), "pad"),
    ],
)
def test_fit_window(
    size: tuple[int, int], aspect: str, expected: tuple[int, int, int, int], fit: str
) -> None:
    geometry = fit_window(*size, aspect=aspect, **WINDOW)  # type: ignore[arg-type]
    got = (geometry.width, geometry.height, geometry.scaled_width, geometry.scaled_height)
    assert got == expected
    assert geometry.fit == fit
    assert 720 <= geometry.width <= 1920
    assert 720 <= geometry.height <= 1920
    assert geometry.width % 2 == 0
    assert geometry.height % 2 == 0


def test_scaling_keeps_the_aspect_ratio_within_a_pixel() -> None:
    for w, h in [(1922, 1080), (3840, 2160), (718, 1280), (2560, 1080), (1080, 2400)]:
        g = fit_window(w, h, **WINDOW)
        assert g.fit == "scale"
        assert abs(g.width / g.height - w / h) < 2 / min(g.width, g.height)


def test_non_square_pixels_are_rescaled_even_when_the_size_fits() -> None:
    g = fit_window(1920, 1080, square_pixels=False, **WINDOW)
    assert g.fit == "scale"
    assert (g.width, g.height) == (1920, 1080)


def test_upscale_is_flagged() -> None:
    assert fit_window(640, 360, **WINDOW).upscaled
    assert not fit_window(3840, 2160, **WINDOW).upscaled


def test_no_window_keeps_the_size() -> None:
    g = fit_window(1280, 720)
    assert (g.width, g.height, g.fit) == (1280, 720, "none")


@pytest.mark.parametrize(("value", "down", "up"), [(721, 720, 722), (720, 720, 720), (1.2, 2, 2)])
def test_even_rounding(value: float, down: int, up: int) -> None:
    assert floor_even(value) == down
    assert ceil_even(value) == up


@pytest.mark.parametrize(
    ("coded", "rotation", "target", "flags"),
    [
        ((3840, 2160), 0, (1920, 1080), "area"),  # shrinking: average the source pixels
        ((640, 360), 0, (1280, 720), "lanczos"),  # growing
        ((3840, 2160), 90, (1080, 1920), "area"),  # upright before the filters: 2160x3840
        ((3840, 2160), 90, (2400, 1350), "lanczos"),  # grows the upright frame's width (2160)
        ((1440, 1080), 0, (1920, 1080), "lanczos"),  # anamorphic: grows horizontally
        ((1280, 720), 0, (1280, 720), "lanczos"),  # same size (only SAR or padding changes)
    ],
)
def test_scale_flags_follow_the_frame_the_filters_see(
    coded: tuple[int, int], rotation: int, target: tuple[int, int], flags: str
) -> None:
    video = VideoStream(
        codec="h264",
        width=None,
        height=None,
        coded_width=coded[0],
        coded_height=coded[1],
        rotation=rotation,
    )
    assert scale_flags(video, *target) == flags
    assert scale_flags(None, *target) == "lanczos"
