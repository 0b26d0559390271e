"""The places that work around Gradio 6.31: its server-function route, and its API calls given too few arguments.

``POST /gradio_api/component_server`` looks the component up with
``blocks[component_id]``: an id the running page lacks (a page still open from
the server that had this port before, the preparing page say, or a hand-made
request) raises KeyError, answered as a 500 with a traceback in the server log.
:func:`with_unknown_components_refused` adds a handler that answers it as a
plain 404 instead; any other KeyError still reaches the log as before.

A call through ``/gradio_api/call/<name>`` whose ``data`` lists fewer arguments
than the endpoint takes fails Gradio's own check with a ValueError: the caller
gets ``{"error": null}`` and the log a traceback. :class:`Blocks` answers it
with a plain message that names the arguments.
``tests/test_gradio_compat.py`` fails when Gradio no longer needs these.
"""

from __future__ import annotations

import inspect
from typing import Any

import gradio as gr
from fastapi import Request
from fastapi.responses import JSONResponse

UNKNOWN_COMPONENT = "no such component on this page (it was replaced): reload the page"


def is_component_server(request: Request) -> bool:
    return request.url.path.rstrip("/").endswith("/component_server")


async def _refuse_unknown_component(request: Request, error: KeyError) -> JSONResponse:
    if not is_component_server(request):
        raise error
    return JSONResponse({"detail": UNKNOWN_COMPONENT}, status_code=404)


def with_unknown_components_refused(app_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """``app_kwargs`` for ``gr.Blocks.launch`` with the KeyError handler added (a new dict)."""
    options = dict(app_kwargs or {})
    options["exception_handlers"] = {**options.get("exception_handlers", {}), KeyError: _refuse_unknown_component}
    return options


class Blocks(gr.Blocks):
    """``gr.Blocks`` whose API endpoints answer a call with too few arguments plainly (see the module docstring)."""

    def validate_inputs(self, block_fn, inputs: list[Any]) -> None:
        wanted = block_fn.inputs
        if len(inputs) < len(wanted):
            names = ", ".join(_argument_names(block_fn.fn, len(wanted)))
            raise gr.Error(f"/{block_fn.api_name} takes {len(wanted)} arguments ({names}), in order; got "
                           f"{len(inputs)}: give null for those not used", print_exception=False)
        super().validate_inputs(block_fn, inputs)


def _argument_names(fn, count: int) -> list[str]:
    """The names of an endpoint's ``count`` arguments: its function's parameters but the request Gradio passes
    itself (``gr.Request``), else "1st, 2nd, ..." as Gradio labels them."""
    parameters = [p for p in inspect.signature(fn).parameters.values()
                  if p.annotation not in (gr.Request, "gr.Request") and p.kind is p.POSITIONAL_OR_KEYWORD]
    return [p.name for p in parameters] if len(parameters) == count else [f"argument {i + 1}" for i in range(count)]
