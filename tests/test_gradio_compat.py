"""The Gradio shim (ui/gradio_compat.py): fails when Gradio stops needing it or it stops working."""

import json

import gradio as gr
import httpx
import pytest
from conftest import free_port

from nudge.ui.app import launch_app
from nudge.ui.gradio_compat import UNKNOWN_COMPONENT, Blocks


def echo(data=None):
    return {"echo": data}


def add(a: int, b: int = 0) -> int:
    return a + b


@pytest.fixture
def served():
    """``served(launch)`` launches a page with one server function; closed on exit."""
    demos = []

    def serve(launch, blocks=gr.Blocks) -> tuple[str, int]:
        with blocks() as demo:
            html = gr.HTML("x", server_functions=[echo])
            gr.api(add, api_name="add")
        demos.append(demo)
        demo.queue()
        launch(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
        return demo.local_url, html._id

    yield serve
    for demo in demos:
        demo.close()


def call(url: str, component_id: int) -> httpx.Response:
    body = {"session_hash": "probe", "component_id": component_id, "fn_name": "echo", "data": 7}
    return httpx.post(f"{url}gradio_api/component_server/", json=body, timeout=10)


def test_shim_is_still_needed(served):
    """If this fails, Gradio answers an unknown component itself: delete ui/gradio_compat.py."""
    url, _ = served(lambda demo, **options: demo.launch(**options))
    assert call(url, 10_000).status_code == 500


def test_an_unknown_component_is_a_plain_404_and_a_known_one_still_answers(served):
    url, component_id = served(launch_app)
    refused = call(url, 10_000)
    assert refused.status_code == 404 and refused.json() == {"detail": UNKNOWN_COMPONENT}
    answered = call(url, component_id)
    assert answered.status_code == 200 and answered.json() == {"echo": 7}


def call_add(url: str, data: list) -> tuple[str, dict | None]:
    """/add through plain HTTP (Gradio's /call route): its event and data."""
    started = httpx.post(f"{url}gradio_api/call/add", json={"data": data}, timeout=10)
    started.raise_for_status()
    with httpx.stream("GET", f"{url}gradio_api/call/add/{started.json()['event_id']}", timeout=10) as stream:
        text = "".join(stream.iter_text())
    event = text.split("event: ", 1)[1].split("\n", 1)[0].strip()
    return event, json.loads(text.split("data: ", 1)[1].strip())


def test_too_few_arguments_shim_is_still_needed(served, capfd):
    """If this fails, Gradio answers a call with too few arguments plainly: delete gradio_compat.Blocks."""
    url, _ = served(lambda demo, **options: demo.launch(**options))
    assert call_add(url, [1]) == ("error", {"error": None})
    assert "Traceback" in capfd.readouterr().err


def test_a_call_with_too_few_arguments_is_refused_plainly(served, capfd):
    url, _ = served(launch_app, Blocks)
    event, data = call_add(url, [1])
    assert (event, data["error"]) == ("error", "/add takes 2 arguments (a, b), in order; got 1: give null for those "
                                               "not used")
    assert "Traceback" not in capfd.readouterr().err
    assert call_add(url, [1, 2]) == ("complete", [3])
