"""The page ``nudge serve`` shows while a text pool is still being embedded.

The port opens at once: the page says how far the embedding is (texts done,
rate, time left) and turns into the annotation page by itself when the pool is
ready (``nudge serve`` then serves the session on the same address). Nothing is
loaded from the internet; the progress comes through one server function.
"""

from __future__ import annotations

import gradio as gr

from nudge.loop.compute.embedding import EmbeddingJob

TITLE = "nudge: preparing the pool"

HTML = """
<div class="prep">
  <h2>nudge · preparing <span class="prep-name"></span></h2>
  <p id="status-line" class="prep-line">starting…</p>
  <div class="prep-bar"><div class="prep-done"></div></div>
  <p class="prep-note">The texts are embedded once (they are cached for every later run);
  this page opens the annotation page by itself when they are ready.</p>
</div>
"""

CSS = """
.prep { max-width: 42rem; margin: 3rem auto; font-family: system-ui, sans-serif; }
.prep-bar { height: 0.8rem; border-radius: 0.4rem; background: rgba(127, 127, 127, 0.25); overflow: hidden; }
.prep-done { height: 100%; width: 0; background: #2b7bd6; transition: width 0.4s; }
.prep-line { font-variant-numeric: tabular-nums; }
.prep-note { opacity: 0.7; font-size: 0.9rem; }
"""

# Poll the progress; once the pool is ready this server goes away and the annotation page takes
# its place: wait for that page to answer, then load it.
JS = """
const line = element.querySelector('.prep-line');
const bar = element.querySelector('.prep-done');
element.querySelector('.prep-name').textContent = props.config.dataset;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function openWhenServed() {
  line.textContent = 'ready: opening the annotation page…';
  for (;;) {
    try {
      const reply = await fetch(location.href, { cache: 'no-store' });
      const page = reply.ok ? await reply.text() : '';
      if (page.includes(props.config.next_title) && !page.includes('nudge-preparing')) { location.reload(); return; }
    } catch (error) { /* between the two servers: try again */ }
    await pause(500);
  }
}
async function poll() {
  for (;;) {
    let progress;
    try { progress = await server.nudge_progress(); } catch (error) { progress = undefined; }
    if (progress === undefined) { return openWhenServed(); }
    line.textContent = progress.line;
    bar.style.width = `${progress.total ? (100 * progress.done) / progress.total : 0}%`;
    if (progress.stage === 'done') { return openWhenServed(); }
    if (progress.stage === 'failed' || progress.stage === 'cancelled') { return; }
    await pause(500);
  }
}
poll();
"""


def preparing_page(job: EmbeddingJob, dataset_name: str, next_title: str) -> gr.Blocks:
    """The waiting page of ``job``; ``next_title`` is the title of the page that replaces it."""

    def nudge_progress(_data=None) -> dict:
        progress = job.progress()
        return {"stage": progress.stage, "done": progress.done, "total": progress.total,
                "line": f"Embedding the texts — {progress.describe()}"}

    with gr.Blocks(title=TITLE) as demo:
        gr.HTML(None, html_template=HTML, css_template=CSS, js_on_load=JS, server_functions=[nudge_progress],
                elem_id="nudge-preparing", config={"dataset": dataset_name, "next_title": next_title})
    return demo
