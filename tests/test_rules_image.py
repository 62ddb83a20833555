"""image.* rules for image2video, table-driven."""

from __future__ import annotations

import pytest
from _facts import image, only, rules_of

from preflight.model.job import Job

P = "kling-image2video"


def job(**kw: object) -> Job:
    return Job(name="img", image=image(**kw), prompt="a person talking")  # type: ignore[arg-type]


def test_baseline_image_passes() -> None:
    assert rules_of(job(), P) == []


@pytest.mark.parametrize(
    ("name", "container", "fails"),
    [
        ("a.jpg", "jpeg", False),
        ("a.jpeg", "jpeg", False),
        ("a.png", "png", False),
        ("a.webp", "webp", True),
        ("a.png", "mjpeg", True),
        ("a.gif", "png", True),
    ],
)
def test_image_format(name: str, container: str, fails: bool) -> None:
    assert bool(only(job(name=name, container=container), "image.format", P)) is fails


@pytest.mark.parametrize(("size", "fails"), [(10_000_000, False), (10_000_001, True)])
def test_image_size(size: int, fails: bool) -> None:
    assert bool(only(job(size=size), "image.size", P)) is fails


@pytest.mark.parametrize(
    ("w", "h", "fails"), [(300, 300, False), (299, 600, True), (600, 299, True)]
)
def test_image_min_side(w: int, h: int, fails: bool) -> None:
    assert bool(only(job(width=w, height=h), "image.dimensions", P)) is fails


@pytest.mark.parametrize(
    ("w", "h", "fails"),
    [(400, 1000, False), (399, 1000, True), (1000, 400, False), (1001, 400, True)],
)
def test_image_aspect(w: int, h: int, fails: bool) -> None:
    found = only(job(width=w, height=h), "image.aspect", P)
    assert bool(found) is fails
    if fails:
        assert found[0].limit == [0.4, 2.5]
        assert found[0].fixable


def test_image_profile_needs_an_image() -> None:
    (f,) = only(Job(name="x", prompt="hi"), "job.inputs", P)
    assert "no image given" in f.message
