"""The engines by name, as a command line gives them (``--engine local|dask --address ...``)."""

from __future__ import annotations

from nudge.loop.compute.engine import Engine, LocalEngine

ENGINES = ("local", "dask")


def make_engine(name: str = "local", address: str | None = None) -> Engine:
    """The engine called ``name`` (one of :data:`ENGINES`); ``dask`` needs the scheduler's ``address``."""
    if name == "local":
        if address:
            raise ValueError("--address is for a cluster engine (--engine dask)")
        return LocalEngine()
    if name == "dask":
        if not address:
            raise ValueError("--engine dask needs the scheduler's --address, e.g. tcp://10.0.0.5:8786")
        try:
            from nudge.loop.compute.dask_engine import DaskEngine
        except ImportError:
            raise ValueError("the dask engine needs the cluster extra: pip install 'nudge-directions[cluster]'") from None
        return DaskEngine(address)
    raise ValueError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
