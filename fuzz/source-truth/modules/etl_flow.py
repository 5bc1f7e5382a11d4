"""A realistic pipeline module: tasks and flows with a local stand-in for a task decorator."""
import datetime
import hashlib
import json
from functools import wraps


def task(fn=None, *, retries=0, cache_key_fn=None, cache_expiration=None):
    """Stand-in for an orchestrator's @task: returns the function unchanged."""
    def decorate(f):
        @wraps(f)
        def run(*args, **kwargs):
            return f(*args, **kwargs)
        run.retries = retries
        return run
    if fn is None:
        return decorate
    return decorate(fn)


def flow(fn):
    return fn


def task_input_hash(context, arguments):
    return hashlib.md5(json.dumps(arguments, sort_keys=True).encode()).hexdigest()


@task
def extract(source: str) -> list:
    rows = []
    for line in source.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        rows.append(line.split(","))
    return rows


@task(retries=3, cache_key_fn=task_input_hash,
      cache_expiration=datetime.timedelta(days=1))
def clean(rows: list) -> list:
    """Drops refunds and cancelled orders."""
    kept = [r for r in rows if r[2] not in ("refund", "cancelled")]
    # keep the header
    return kept


@task(
    retries=1,
)
def transform(rows, *, currency="EUR"):
    rate = {"EUR": 1.0, "USD": 1.08}[currency]
    return [
        {"id": r[0], "amount": float(r[1]) * rate}
        for r in rows
    ]


@task
def load(records, target="warehouse"):
    summary = {
        "target": target,
        "count": len(records),
        "total": sum(r["amount"] for r in records),
    }
    return summary


@flow
def pipeline(source="1,10,sale\n2,5,refund\n"):
    rows = extract(source)
    rows = clean(rows)
    records = transform(rows)
    return load(records)


if __name__ == "__main__":
    print(pipeline())
