"""One job's estimated charge (`Estimate`), as `preflight.model.pricing.Pricing.estimate` gives it.

Its own module so that reading a profile's ``[pricing]`` (every check does) does not pay for
defining it; ``from preflight.model.pricing import Estimate`` still works.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from preflight.model.pricing import money

__all__ = ["Estimate"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """The estimated charge of one job (``amount`` None: the host publishes no price).

    ``quantity`` is what was measured (seconds), ``counted`` what the price applies to after
    minimums and rounding; ``basis`` says how, in words; ``source`` where the price comes from.
    """

    amount: Decimal | None
    currency: str = "USD"
    quantity: float | None = None
    counted: Decimal | None = None
    unit: str = ""
    basis: str = ""
    source: str = ""
    profile: str = ""

    @property
    def published(self) -> bool:
        return self.amount is not None

    def text(self) -> str:
        """``$0.140 (7.2 s of video counted as 10 s at $0.014/s; fal model pages)``."""
        shown = money(self.amount, self.currency)
        detail = "; ".join(x for x in (self.basis, self.source) if x)
        return f"{shown} ({detail})" if detail else shown

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as strings (exact decimals), None when unpublished."""
        return {
            "amount": None if self.amount is None else f"{self.amount:f}",
            "currency": self.currency,
            "published": self.published,
            "quantity": self.quantity,
            "counted": None if self.counted is None else f"{self.counted:f}",
            "unit": self.unit,
            "basis": self.basis,
            "source": self.source,
            "profile": self.profile,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        amount = data.get("amount")
        counted = data.get("counted")
        return cls(
            amount=None if amount is None else Decimal(str(amount)),
            currency=str(data.get("currency", "USD")),
            quantity=data.get("quantity"),
            counted=None if counted is None else Decimal(str(counted)),
            unit=str(data.get("unit", "")),
            basis=str(data.get("basis", "")),
            source=str(data.get("source", "")),
            profile=str(data.get("profile", "")),
        )
