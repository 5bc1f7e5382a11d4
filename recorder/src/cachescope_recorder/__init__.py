"""Records what Prefect computed each task's cache key from, for cachescope.

Once this package is installed, setting ``CACHESCOPE_RUNS=<dir>`` switches recording on for
every Python process, with no change to user code (a ``.pth`` file imports
``cachescope_recorder._bootstrap`` only when the variable is set). The same can be done
explicitly::

    import cachescope_recorder
    cachescope_recorder.enable(".cachescope/runs")
    ...
    cachescope_recorder.disable()

or for a block of code with ``with cachescope_recorder.recording(): ...``.

This module stays import-light on purpose: it is imported at interpreter start-up when the
environment variable is set, so Prefect (and everything the hooks need) is only imported
once Prefect itself is.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

__all__ = ["Config", "DEFAULT_RUNS_DIR", "current", "disable", "enable", "recording"]

#: Where records go when recording is switched on without a folder.
DEFAULT_RUNS_DIR = ".cachescope/runs"

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Config:
    """Where and how records are written. Paths are absolute."""

    runs_dir: Path
    project_root: Path
    relative_paths: bool


_config: Optional[Config] = None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def enable(
    runs_dir: Optional[PathLike] = None,
    *,
    project_root: Optional[PathLike] = None,
    relative_paths: Optional[bool] = None,
) -> Config:
    """Switches recording on for this process and returns the configuration in force.

    Each argument left out falls back to its environment variable, then to a default:
    ``runs_dir`` to ``CACHESCOPE_RUNS``, then ``./.cachescope/runs``; ``project_root`` to
    ``CACHESCOPE_PROJECT_ROOT``, then the current working directory; ``relative_paths`` to
    ``CACHESCOPE_RELATIVE_PATHS=1``, then off. Relative paths are resolved now, against the
    current working directory.
    """
    global _config
    runs = runs_dir if runs_dir is not None else (os.environ.get("CACHESCOPE_RUNS") or DEFAULT_RUNS_DIR)
    root = project_root if project_root is not None else (os.environ.get("CACHESCOPE_PROJECT_ROOT") or os.getcwd())
    relative = relative_paths if relative_paths is not None else _env_flag("CACHESCOPE_RELATIVE_PATHS")
    config = Config(
        runs_dir=Path(os.path.abspath(os.fspath(runs))),
        project_root=Path(os.path.abspath(os.fspath(root))),
        relative_paths=bool(relative),
    )
    _config = config
    from . import _hooks

    _hooks.install()
    return config


def disable() -> None:
    """Switches recording off. The hooks stay in place but do nothing."""
    global _config
    _config = None


def current() -> Optional[Config]:
    """The configuration in force, or None when recording is off."""
    return _config


@contextmanager
def recording(
    runs_dir: Optional[PathLike] = None,
    *,
    project_root: Optional[PathLike] = None,
    relative_paths: Optional[bool] = None,
) -> Iterator[Config]:
    """Records inside the block (arguments as for :func:`enable`), then restores what was
    in force before it."""
    global _config
    previous = _config
    config = enable(runs_dir, project_root=project_root, relative_paths=relative_paths)
    try:
        yield config
    finally:
        _config = previous
