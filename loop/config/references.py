"""Custom objects in a stored session: classes and functions kept by their import name.

A session's settings are stored as JSON so a restarted server can rebuild
them. A researcher's own network class, query strategy or estimator factory
is stored as ``{"$ref": "package.module:Name"}`` and imported again on
resume; an estimator object as ``{"$new": "package.module:Class", "params":
{...}}`` (scikit-learn style: rebuilt from its ``get_params``). Anything that
cannot be found again by name (a lambda, a function defined inside another)
is refused when the session is created, not when it is resumed; so is, for a
session stored where another process may open it, anything defined in the
script being run (``__main__``, which only that script can import).
"""

from __future__ import annotations

import importlib
from typing import Any

from nudge.loop.errors import SessionError

REF, NEW = "$ref", "$new"
# Before nudge's packages moved under one namespace they were imported by these top-level names;
# sessions stored then name our own classes so (e.g. "nudge.estimators.modules:MLP").
FORMER_ROOTS = ("estimators", "strategies", "loop", "ui")


def reference(obj: Any, what: str, *, portable: bool = False) -> str:
    """``module:qualname`` of a class or function that can be imported again by that name
    (``portable``: by another process too, so not from ``__main__``)."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise SessionError(
            f"{what} {obj!r} cannot be stored by name (a lambda, or defined inside a function); "
            "define it at the top level of a module so a resumed session can import it"
        )
    name = f"{module}:{qualname}"
    if portable and module == "__main__":
        raise SessionError(
            f"{what} is {qualname}, defined in the script being run ({name}): `nudge serve` or any other "
            f"process could never import it to resume the session. Put {qualname} in a module (a .py file "
            "beside the script, imported from there; PYTHONPATH=FOLDER lets `nudge serve` find it), "
            "or keep the session in memory (Store('sqlite://')) if nothing is to resume it"
        )
    try:
        found = resolve(name, what)
    except SessionError:
        found = None
    if found is not obj:
        raise SessionError(
            f"{what} {name} cannot be imported back by that name; define it at the top level of a "
            "module so a resumed session can import it"
        )
    return name


def resolve(name: str, what: str) -> Any:
    """The object named ``module:qualname``; a SessionError that says what to do when it cannot be imported."""
    module_name, _, qualname = str(name).partition(":")
    try:
        return _imported(module_name, qualname)
    except Exception as error:  # any import failure means the same thing to the person resuming
        if module_name.split(".")[0] in FORMER_ROOTS:
            try:
                return _imported(f"nudge.{module_name}", qualname)
            except Exception:
                pass
        raise SessionError(
            f"this session's {what} is {name}, which cannot be imported here "
            f"({type(error).__name__}: {error}); make it importable (PYTHONPATH) to resume the session"
        ) from None


def _imported(module_name: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def encode(value: Any, what: str, *, portable: bool = False) -> Any:
    """``value`` as JSON: plain data as is, classes and functions by name, estimators by class and params.

    ``portable``: for a session that another process may resume (see :func:`reference`).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [encode(item, what, portable=portable) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise SessionError(f"{what}: setting names must be text, got {list(value)!r}")
        return {key: encode(item, f"{what} {key!r}", portable=portable) for key, item in value.items()}
    if isinstance(value, type) or callable(value) and not hasattr(value, "get_params"):
        return {REF: reference(value, what, portable=portable)}
    if hasattr(value, "get_params"):  # private entries (skorch's "_params_to_validate") are rebuilt on init
        params = {key: item for key, item in value.get_params(deep=False).items() if not key.startswith("_")}
        return {NEW: reference(type(value), what, portable=portable),
                "params": encode(params, what, portable=portable)}
    raise SessionError(
        f"{what} is a {type(value).__name__}, which cannot be stored with the session; "
        "use numbers, text, lists, classes or functions (by name), or estimators with get_params"
    )


def decode(value: Any, what: str) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(item, what) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {REF}:
        return resolve(value[REF], what)
    if set(value) == {NEW, "params"}:
        return resolve(value[NEW], what)(**decode(value["params"], what))
    return {key: decode(item, what) for key, item in value.items()}
