"""Nightly sales ETL: read a day's order export, clean it, total it per region, load the totals.

    python etl.py --day 2024-03-01 [--currency USD] [--log-every 10]
                  [--extract-max-age 3] [--refresh-extract] [--notify '#sales']
"""

from __future__ import annotations

import argparse
import csv
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Optional

from prefect import flow, task
from prefect.cache_policies import FLOW_PARAMETERS, INPUTS, TASK_SOURCE

from helpers import Channel, convert, parse_amount

DATA = Path(__file__).parent / "data"


@task(cache_policy=INPUTS + TASK_SOURCE)
def extract(day: str) -> list[dict[str, str]]:
    """Reads the day's order export."""
    with open(DATA / f"orders-{day}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@task(cache_policy=(INPUTS + TASK_SOURCE) - "log_every")
def clean(rows: list[dict[str, str]], regions: set[str], log_every: int = 1000) -> list[dict]:
    """Keeps paid orders in the regions we report on, with parsed amounts."""
    kept = []
    for number, row in enumerate(rows, start=1):
        if number % log_every == 0:
            print(f"cleaned {number} rows")
        if row["status"] in ("refund", "cancelled") or row["region"] not in regions:
            continue
        kept.append({"region": row["region"], "amount": parse_amount(row["amount"]), "currency": row["currency"]})
    return kept


@task(persist_result=True)
def transform(rows: list[dict], currency: str) -> dict[str, Decimal]:
    """Totals per region in the reporting currency."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        amount = convert(row["amount"], row["currency"], currency)
        totals[row["region"]] = totals.get(row["region"], Decimal("0")) + amount
    return dict(sorted(totals.items()))


@task(cache_policy=FLOW_PARAMETERS + TASK_SOURCE)
def load(totals: dict[str, Decimal], table: str) -> str:
    """Writes the totals to the warehouse (here: the statement it would run)."""
    values = ", ".join(f"('{region}', {amount})" for region, amount in totals.items())
    return f"INSERT INTO {table} (region, amount) VALUES {values};"


@task(cache_policy=INPUTS + TASK_SOURCE)
def publish(totals: dict[str, Decimal], channel: Channel) -> str:
    """Announces the day's totals."""
    return channel.post(", ".join(f"{region} {amount}" for region, amount in totals.items()))


@flow(name="nightly-sales")
def nightly_sales(
    day: str = "2024-03-01",
    currency: str = "EUR",
    regions: tuple[str, ...] = ("north", "south", "east", "west"),
    log_every: int = 1000,
    extract_max_age: Optional[int] = None,
    refresh_extract: bool = False,
    notify: Optional[str] = None,
) -> str:
    max_age = timedelta(seconds=extract_max_age) if extract_max_age else None
    fetch = extract.with_options(cache_expiration=max_age, refresh_cache=refresh_extract)
    rows = clean(fetch(day), set(regions), log_every=log_every)
    totals = transform(rows, currency)
    statement = load(totals, table="sales_daily")
    if notify:
        publish(totals, Channel(notify))
    return statement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", default="2024-03-01")
    parser.add_argument("--currency", default="EUR")
    parser.add_argument("--log-every", type=int, default=1000)
    parser.add_argument("--extract-max-age", type=int, help="seconds an extract stays cached (default: no limit)")
    parser.add_argument("--refresh-extract", action="store_true")
    parser.add_argument("--notify", help="channel to announce the totals on")
    args = parser.parse_args()
    print(
        nightly_sales(
            day=args.day,
            currency=args.currency,
            log_every=args.log_every,
            extract_max_age=args.extract_max_age,
            refresh_extract=args.refresh_extract,
            notify=args.notify,
        )
    )


if __name__ == "__main__":
    main()
