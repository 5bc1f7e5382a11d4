"""Imported at interpreter start-up by ``cachescope_recorder.pth`` when ``CACHESCOPE_RUNS`` is
set. It only registers an import hook: Prefect is patched when (and if) the process imports it.

Nothing here may raise: a broken recorder must never stop a Python process from starting.
"""


def _start() -> None:
    try:
        from . import enable

        enable()
    except Exception:  # noqa: BLE001 - start-up must go on whatever happens
        import logging

        logging.getLogger("cachescope_recorder").warning(
            "cachescope recorder could not start; runs will not be recorded", exc_info=True
        )


_start()
