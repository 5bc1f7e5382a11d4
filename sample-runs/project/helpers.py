"""Helpers for the sales ETL. Editing these does not change any task's TaskSource key:
Prefect only hashes the source of the task function itself."""

from __future__ import annotations

from decimal import Decimal

# Fixed rates keep the demo reproducible; a real pipeline would look them up per day.
RATES_TO_EUR = {"EUR": Decimal("1"), "USD": Decimal("0.92"), "GBP": Decimal("1.17")}


def parse_amount(text: str) -> Decimal:
    """Amounts arrive as text with two decimals."""
    return Decimal(text).quantize(Decimal("0.01"))


def convert(amount: Decimal, currency: str, to: str) -> Decimal:
    """Converts between the currencies of RATES_TO_EUR, rounded to cents."""
    in_eur = amount * RATES_TO_EUR[currency]
    return (in_eur / RATES_TO_EUR[to]).quantize(Decimal("0.01"))


class Channel:
    """Where the daily totals are announced. A plain object: Prefect can only hash it with
    cloudpickle, so no tool outside the Python process can recompute a key that includes it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Channel({self.name!r})"

    def post(self, text: str) -> str:
        return f"[{self.name}] {text}"
