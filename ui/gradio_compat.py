"""The one place that works around Gradio 6.31's server-function route.

``POST /gradio_api/component_server`` looks the component up with
``blocks[component_id]``: an id the running page lacks (a page still open from
the server that had this port before, the preparing page say, or a hand-made
request) raises KeyError, answered as a 500 with a traceback in the server log.
:func:`with_unknown_components_refused` adds a handler that answers it as a
plain 404 instead; any other KeyError still reaches the log as before.
``tests/test_gradio_compat.py`` fails when Gradio no longer needs this.
"""

from __future__ import annotations

from typing import Any

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
