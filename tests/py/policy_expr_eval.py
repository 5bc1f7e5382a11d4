"""Evaluates cache policy expressions with real Prefect and prints what each one builds.

Input on stdin: a JSON list of expressions, or one expression per line (blank lines skipped).
Output on stdout: a JSON list, one entry per expression, in order:
  {"policy": TREE}                          the expression built a CachePolicy
  {"value_type": "str"}                     it evaluated to something else (`NONE + "x"`)
  {"error": "ValueError", "message": "..."} it raised (SyntaxError included)
TREE is {"class", "key_storage", "isolation_level", "lock_manager"} plus "exclude" for Inputs,
"policies" (a list of TREEs) for CompoundCachePolicy and "cache_key_fn" for CacheKeyFnPolicy.

The scope is `from prefect.cache_policies import *` and `from pathlib import Path`, plus what a
user writing the expression in a flow file would also have: `_None` (a star import skips it),
`prefect` and `cache_policies`, and a few stand-ins for objects cachescope keeps by name
(OPAQUE_NAMES: lock managers, storage blocks, cache key functions).

configure() values are written the way cachescope's Configure fields hold them: a plain str
as it is, anything else (and a str starting with "py:") as "py:" + repr(value).
"""

import json
import sys
import warnings

# `INPUTS()` and the like compile with a SyntaxWarning; only the exception matters here.
warnings.simplefilter("ignore")

SCOPE = {}
exec("from prefect.cache_policies import *", SCOPE)
exec("from prefect.cache_policies import _None", SCOPE)
exec("from pathlib import Path", SCOPE)
exec("import prefect", SCOPE)
exec("from prefect import cache_policies", SCOPE)

from prefect.cache_policies import CacheKeyFnPolicy, CachePolicy, CompoundCachePolicy, Inputs  # noqa: E402

REPR_PREFIX = "py:"
OPAQUE_NAMES = ["lock_a", "lock_b", "storage_block", "key_fn"]


class Opaque:
    """An object known only by name: equal only to itself, truthy, and its repr is the name."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


for _name in OPAQUE_NAMES:
    SCOPE[_name] = Opaque(_name)


def field(value):
    if value is None:
        return None
    if type(value) is str and not value.startswith(REPR_PREFIX):
        return value
    return REPR_PREFIX + repr(value)


def describe(policy):
    tree = {
        "class": type(policy).__name__,
        "key_storage": field(policy.key_storage),
        "isolation_level": field(policy.isolation_level),
        "lock_manager": field(policy.lock_manager),
    }
    if isinstance(policy, Inputs):
        tree["exclude"] = list(policy.exclude)
    if isinstance(policy, CompoundCachePolicy):
        tree["policies"] = [describe(p) for p in policy.policies]
    if isinstance(policy, CacheKeyFnPolicy):
        fn = policy.cache_key_fn
        tree["cache_key_fn"] = None if fn is None else getattr(fn, "name", None) or fn.__qualname__
    return tree


def evaluate(expr):
    try:
        value = eval(expr, dict(SCOPE))
    except Exception as exc:  # every error is a result to compare, SyntaxError included
        return {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(value, CachePolicy):
        return {"policy": describe(value)}
    return {"value_type": type(value).__name__}


def main():
    text = sys.stdin.read()
    if text.lstrip().startswith("["):
        exprs = json.loads(text)
    else:
        exprs = [line for line in text.splitlines() if line.strip()]
    json.dump([evaluate(e) for e in exprs], sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
