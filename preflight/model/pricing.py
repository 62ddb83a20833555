"""What a provider charges for one job, as a profile declares it, and the arithmetic of an estimate.

A profile's ``[pricing]`` table (``rules/README.md``) becomes a `Pricing`; `Pricing.estimate`
turns the seconds a job would send into an `Estimate`. Money is `Decimal` throughout, so
``0.014 x 5`` is ``0.070``, never ``0.07000000000000001``. A host that publishes no price gives
an estimate with ``amount=None`` that says so: preflight never guesses a price.

The charge for a quantity ``q`` (seconds of input video, seconds of input audio, or one job)::

    q  = max(q, min_quantity), then rounded up to a multiple of round_up_to (when set)
    amount = base + rate x max(q - included, 0)

e.g. fal's Kling lip-sync: ``rate = 0.014`` per ``video_second``, ``round_up_to = 5``: a 7.2 s
clip counts as 10 s, $0.140. fal LatentSync: ``base = 0.20`` covering ``included = 40`` s, then
``rate = 0.005`` per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from preflight.model.errors import ConfigError

if TYPE_CHECKING:
    from preflight.model.estimate import Estimate

__all__ = ["PRICING_KEYS", "UNITS", "Estimate", "Pricing", "money", "parse_pricing", "total"]

# what a price counts: seconds of the input video, seconds of the input audio, or a flat job
UNITS = ("video_second", "audio_second", "job")
UNIT_WORDS = {"video_second": "s of video", "audio_second": "s of audio", "job": "job"}


def money(value: Decimal | None, currency: str = "USD") -> str:
    """``$0.070`` (USD, three decimals: fal prices in tenths of a cent), else ``0.070 EUR``."""
    if value is None:
        return "no published price"
    text = f"{value.quantize(Decimal('0.001')):f}"
    return f"${text}" if currency == "USD" else f"{text} {currency}"


@dataclass(frozen=True, slots=True)
class Pricing:
    """A profile's ``[pricing]``: ``published=False`` records that the host publishes no price
    (``source`` says where that was looked up); otherwise the rate and how it is applied."""

    source: str
    published: bool = True
    currency: str = "USD"
    unit: str = "video_second"
    rate: Decimal = Decimal(0)
    round_up_to: Decimal | None = None
    min_quantity: Decimal = Decimal(0)
    base: Decimal = Decimal(0)
    included: Decimal = Decimal(0)
    note: str = ""

    def summary(self) -> str:
        """One line for `preflight rules`: ``$0.014 per s of video, rounded up to 5 s``."""
        if not self.published:
            return "no published price"
        if self.unit == "job":
            return f"{money(self.base + self.rate, self.currency)} a job"
        per = f"{money(self.rate, self.currency)} per {UNIT_WORDS[self.unit]}"
        if self.base:
            per = f"{money(self.base, self.currency)} covering {self.included:f} s, then {per}"
        if self.round_up_to:
            per += f", rounded up to {self.round_up_to:f} s"
        if self.min_quantity:
            per += f", at least {self.min_quantity:f} s"
        return per

    def to_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "summary": self.summary(),
            "currency": self.currency,
            "unit": self.unit,
            "rate": f"{self.rate:f}",
            "round_up_to": None if self.round_up_to is None else f"{self.round_up_to:f}",
            "min_quantity": f"{self.min_quantity:f}",
            "base": f"{self.base:f}",
            "included": f"{self.included:f}",
            "source": self.source,
            "note": self.note,
        }

    def counted(self, quantity: float) -> Decimal:
        """The quantity the price applies to: at least ``min_quantity``, rounded up."""
        if self.unit == "job":
            return Decimal(1)
        q = max(Decimal(str(quantity)), self.min_quantity)
        step = self.round_up_to
        if step:
            q = (q / step).to_integral_value(rounding=ROUND_CEILING) * step
        return q

    def charge(self, quantity: float) -> Decimal:
        """The price of ``quantity`` (seconds, or 1 for a job)."""
        over = max(self.counted(quantity) - self.included, Decimal(0))
        return self.base + self.rate * over

    def estimate(self, quantity: float | None, *, profile: str = "") -> Estimate:
        """The estimate for a job measuring ``quantity`` (None: not known, e.g. no audio)."""
        from preflight.model.estimate import Estimate

        if not self.published:
            return Estimate(
                None, self.currency, quantity, None, self.unit, "", self.source, profile
            )
        if quantity is None and self.unit != "job":
            basis = f"the {UNIT_WORDS[self.unit].split()[-1]} length is not known"
            return Estimate(None, self.currency, None, None, self.unit, basis, self.source, profile)
        q = 1.0 if quantity is None or not math.isfinite(quantity) else quantity
        counted = self.counted(q)
        return Estimate(
            amount=self.charge(q),
            currency=self.currency,
            quantity=quantity,
            counted=counted,
            unit=self.unit,
            basis=self.describe(q, counted),
            source=self.source,
            profile=profile,
        )

    def describe(self, quantity: float, counted: Decimal) -> str:
        """How the amount was reached, in words (``7.2 s of video counted as 10 s at ...``)."""
        if self.unit == "job":
            return f"{money(self.base + self.rate, self.currency)} a job"
        words = UNIT_WORDS[self.unit]
        measured = f"{quantity:g} {words}"
        if counted != Decimal(str(quantity)):
            measured += f" counted as {counted:f} s"
        rate = f"{money(self.rate, self.currency)}/s"
        if self.base:
            covered = f" covering {self.included:f} s" if self.included else ""
            return f"{measured}: {money(self.base, self.currency)}{covered}, then {rate}"
        return f"{measured} at {rate}"


def total(estimates: list[Estimate]) -> tuple[dict[str, Decimal], int]:
    """The sum per currency of the published estimates, and how many had no published price."""
    sums: dict[str, Decimal] = {}
    unpriced = 0
    for e in estimates:
        if e.amount is None:
            unpriced += 1
        else:
            sums[e.currency] = sums.get(e.currency, Decimal(0)) + e.amount
    return sums, unpriced


# the keys of a `[pricing]` table, with what each one takes (for the error messages)
PRICING_KEYS = {
    "source": "a string: where the price (or its absence) comes from",
    "published": "true or false",
    "currency": "a string such as USD",
    "unit": f"one of {', '.join(UNITS)}",
    "rate": "a number >= 0: the price of one unit",
    "round_up_to": "a number > 0: the quantity is rounded up to a multiple of it",
    "min_quantity": "a number >= 0: the least quantity charged",
    "base": "a number >= 0: a flat price per job",
    "included": "a number >= 0: the quantity the base price covers",
    "note": "a string",
}


def parse_pricing(table: Any, where: str) -> Pricing:
    """A profile's ``[pricing]`` table, validated (ConfigError naming ``where`` and the key)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    for key in table:
        if key not in PRICING_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(PRICING_KEYS))})"
            )

    def want(key: str, ok: bool) -> None:
        if not ok:
            raise ConfigError(f"{where}: key {key!r} must be {PRICING_KEYS[key]}")

    def number(key: str, default: Decimal, *, positive: bool = False) -> Decimal:
        value = table.get(key)
        if value is None:
            return default
        want(key, isinstance(value, int | float) and not isinstance(value, bool))
        amount = Decimal(str(value))
        want(key, amount > 0 if positive else amount >= 0)
        return amount

    for key in ("source", "currency", "unit", "note"):
        want(key, isinstance(table.get(key, ""), str))
    want("published", isinstance(table.get("published", True), bool))
    if not table.get("source"):
        raise ConfigError(f"{where}: key 'source' is required (where the price comes from)")
    published = bool(table.get("published", True))
    unit = str(table.get("unit", "video_second"))
    want("unit", unit in UNITS)
    has_price = "rate" in table or "base" in table
    if published and not has_price:
        raise ConfigError(
            f"{where}: give 'rate' (and/or 'base'), or published = false when the host "
            "publishes no price"
        )
    if not published and has_price:
        raise ConfigError(f"{where}: published = false takes no 'rate' or 'base'")
    step = table.get("round_up_to")
    return Pricing(
        source=str(table["source"]),
        published=published,
        currency=str(table.get("currency", "USD")),
        unit=unit,
        rate=number("rate", Decimal(0)),
        round_up_to=None if step is None else number("round_up_to", Decimal(1), positive=True),
        min_quantity=number("min_quantity", Decimal(0)),
        base=number("base", Decimal(0)),
        included=number("included", Decimal(0)),
        note=str(table.get("note", "")),
    )


def __getattr__(name: str) -> Any:
    """`Estimate` lives in `preflight.model.estimate`, loaded on first use: every check reads a
    profile's `Pricing`, but only a cost estimate needs the dataclass (~1 ms to define)."""
    if name == "Estimate":
        from preflight.model.estimate import Estimate

        return Estimate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
