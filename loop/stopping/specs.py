"""Stopping criteria by spec: ``NAME=THRESHOLD[:OPTION=VALUE...]``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nudge.loop.errors import SessionError
from nudge.loop.stopping.criteria import CRITERIA, StoppingCriterion

SPEC_FORM = "NAME=THRESHOLD[:OPTION=VALUE...], e.g. budget=200 or stable=0.99:window=3"


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SessionError(f"stopping criterion {where!r}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise SessionError(f"stopping criterion {where!r}: {text!r} is not a finite number")
    return value


def parse_stop(spec: object, n_classes: int | None = None) -> StoppingCriterion:
    """The criterion a spec ``NAME=THRESHOLD[:OPTION=VALUE...]`` names (SessionError with the way out);
    told ``n_classes`` when given."""
    if not isinstance(spec, str) or "=" not in spec:
        raise SessionError(f"stopping criterion {spec!r} is not {SPEC_FORM}")
    head, *option_texts = spec.strip().split(":")
    name, _, threshold = head.partition("=")
    name = name.strip()
    if name not in CRITERIA:
        raise SessionError(f"unknown stopping criterion {name!r}; choose one of {', '.join(CRITERIA)}")
    options = {}
    for text in option_texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SessionError(f"stopping criterion {spec!r}: option {text!r} is not OPTION=VALUE")
        options[key.strip()] = _number(value.strip(), spec)
    criterion = CRITERIA[name](_number(threshold.strip(), spec), **options)
    if n_classes is not None:
        criterion.use_classes(n_classes)
    return criterion


def as_criterion(item: object, n_classes: int | None = None) -> StoppingCriterion:
    """A fresh criterion from a spec or a criterion object (a copy of it: one session's history is
    its own); told ``n_classes`` when given."""
    if isinstance(item, StoppingCriterion):
        criterion = item.fresh()
        if n_classes is not None:
            criterion.use_classes(n_classes)
        return criterion
    return parse_stop(item, n_classes)


def check_stop_specs(specs: Sequence[object], n_classes: int | None = None) -> list:
    """The criteria (specs or :class:`StoppingCriterion` objects) as a list, each checked
    (SessionError naming the first bad one)."""
    if isinstance(specs, str):
        raise SessionError(f"stop is a list of criteria, e.g. ['budget=200', 'stable=0.99']; got the text {specs!r}")
    specs = list(specs)
    for spec in specs:
        as_criterion(spec, n_classes)
    return specs
