"""The pricing arithmetic of profiles (`preflight.model.pricing`): table tests, no media."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from preflight.model.errors import ConfigError
from preflight.model.pricing import Pricing, parse_pricing, total
from preflight.rules.profiles import load_profile

# fal's Kling lip-sync, as the lead will declare it: $0.014 per second of video, rounded up to 5 s
FAL = parse_pricing(
    {"rate": 0.014, "round_up_to": 5, "unit": "video_second", "source": "fal model pages"}, "t"
)
LATENTSYNC = load_profile("fal-latentsync").pricing


@pytest.mark.parametrize(
    ("seconds", "counted", "amount"),
    [
        (0.5, "5", "0.070"),  # anything short of a step counts as a whole step
        (2.0, "5", "0.070"),
        (5.0, "5", "0.070"),  # exactly on a step: not rounded further
        (5.001, "10", "0.140"),
        (7.2, "10", "0.140"),
        (10.0, "10", "0.140"),
        (59.9, "60", "0.840"),
    ],
)
def test_fal_rounds_up_to_five_seconds(seconds: float, counted: str, amount: str) -> None:
    estimate = FAL.estimate(seconds)
    assert estimate.counted == Decimal(counted)
    assert estimate.amount == Decimal(amount)
    assert estimate.published


@pytest.mark.parametrize(
    ("seconds", "amount"),
    [(1.0, "0.20"), (40.0, "0.20"), (41.0, "0.205"), (100.0, "0.50"), (40.5, "0.2025")],
)
def test_a_base_price_covers_the_first_seconds(seconds: float, amount: str) -> None:
    assert LATENTSYNC is not None
    assert LATENTSYNC.estimate(seconds).amount == Decimal(amount)


@pytest.mark.parametrize(
    ("table", "seconds", "amount"),
    [
        ({"rate": 0.01, "min_quantity": 3}, 1.0, "0.03"),  # a minimum charge
        ({"rate": 0.01, "min_quantity": 3}, 4.0, "0.04"),
        ({"rate": 0.01, "min_quantity": 3, "round_up_to": 2}, 1.0, "0.04"),  # min 3, then up to 4
        ({"rate": 0.5, "unit": "job"}, 99.0, "0.5"),  # flat per job, whatever the length
        ({"rate": 0.1, "round_up_to": 0.5}, 1.2, "0.15"),  # fractional steps
    ],
)
def test_minimums_rounding_and_flat_prices(
    table: dict[str, object], seconds: float, amount: str
) -> None:
    pricing = parse_pricing({**table, "source": "test"}, "t")
    assert pricing.estimate(seconds).amount == Decimal(amount)


def test_no_published_price_is_said_not_guessed() -> None:
    kling = load_profile("kling-lipsync").pricing
    assert kling is not None
    assert not kling.published
    estimate = kling.estimate(7.0, profile="kling-lipsync")
    assert estimate.amount is None
    assert estimate.text().startswith("no published price")
    assert "KL-EN" in estimate.source
    # a child profile restates its host's price: WaveSpeed does not inherit Kling's source
    ws = load_profile("wavespeed-kling-lipsync-t2v").pricing
    assert ws is not None
    assert "WS" in ws.source


def test_an_unknown_length_gives_no_amount() -> None:
    estimate = FAL.estimate(None)
    assert estimate.amount is None
    assert "not known" in estimate.basis


def test_totals_per_currency_and_unpriced() -> None:
    eur = Pricing(source="x", currency="EUR", rate=Decimal("1"))
    sums, unpriced = total(
        [FAL.estimate(7.0), FAL.estimate(3.0), eur.estimate(2.0), Pricing("y", False).estimate(1)]
    )
    assert sums == {"USD": Decimal("0.210"), "EUR": Decimal("2")}
    assert unpriced == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rate": 0.1, "source": "s", "per": "second"}, "unknown key 'per'"),
        ({"rate": 0.1}, "key 'source' is required"),
        ({"rate": -1, "source": "s"}, "key 'rate' must be a number >= 0"),
        ({"rate": "0.1", "source": "s"}, "key 'rate' must be a number"),
        ({"rate": 0.1, "round_up_to": 0, "source": "s"}, "key 'round_up_to' must be a number > 0"),
        ({"rate": 0.1, "unit": "frame", "source": "s"}, "key 'unit' must be one of"),
        ({"source": "s"}, "give 'rate'"),
        ({"published": False, "rate": 1, "source": "s"}, "takes no 'rate'"),
    ],
)
def test_bad_pricing_tables_are_refused_by_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pricing(table, "x.toml: [pricing]")


def test_a_profile_file_with_a_bad_pricing_key_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'extends = "kling-lipsync"\nprovider = "kling"\n'
        '[pricing]\nrate = 0.014\nround_up = 5\nsource = "mine"\n'
    )
    with pytest.raises(ConfigError, match=r"mine\.toml: \[pricing\]: unknown key 'round_up'"):
        load_profile(path)
    path.write_text(
        'extends = "kling-lipsync"\n[pricing]\nrate = 0.014\nround_up_to = 5\nsource = "mine"\n'
    )
    mine = load_profile(path).pricing
    assert mine is not None
    assert mine.estimate(6).amount == Decimal("0.140")


def test_rules_lists_a_profiles_price_with_its_source() -> None:
    from click.testing import CliRunner

    from preflight.cli import main

    assert FAL.summary() == "$0.014 per s of video, rounded up to 5 s"
    shown = CliRunner().invoke(main, ["rules", "--profile", "fal-latentsync"])
    assert shown.exit_code == 0
    assert "pricing: $0.200 covering 40 s, then $0.005 per s of audio  [FAL-LS" in shown.output
    as_json = CliRunner().invoke(main, ["rules", "--profile", "kling-lipsync", "-f", "json"])
    assert '"published": false' in as_json.output
