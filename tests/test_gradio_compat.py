"""The Gradio shim (ui/gradio_compat.py): fails when Gradio stops needing it or it stops working."""

import gradio as gr
import httpx
import pytest
from conftest import free_port

from nudge.ui.app import launch_app
from nudge.ui.gradio_compat import UNKNOWN_COMPONENT


def echo(data=None):
    return {"echo": data}


@pytest.fixture
def served():
    """``served(launch)`` launches a page with one server function; closed on exit."""
    demos = []

    def serve(launch) -> tuple[str, int]:
        with gr.Blocks() as demo:
            html = gr.HTML("x", server_functions=[echo])
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
