// state.js: the page's one mutable state. Each part is written by the one module named beside it;
// the others only read it. Tests and bench/bench_page.py read it as window.nudgePage.state.
function nudgeState() {
  return {
    // round.js: who is annotating, the call on its way, and the input made meanwhile (applied in order after it)
    token: null, login: null, name: '', busy: false, pending: [], renameTimer: null,
    // controls.js: the query shown and the answer being composed for it (the rewrite's text is the box's)
    query: null, label: null, arrows: [], towards: null,
    // keys.js: the digits of a class's key typed last, and when (a second digit soon after makes a two-digit key)
    typedKey: '', typedAt: 0,
    // drawing.js: the shown query's probability field, as an image
    field: null,
    // text_help.js: the newest model heard of; the shown text's highlights and the examples' (by point, and
    // which are open); the rewrite box's edits, its reading asked for and the last one shown ({reply, edit})
    modelVersion: null, highlights: null, explaining: null, examples: new Map(), openExamples: new Set(),
    edits: 0, predictTimer: null, predicting: false, predictAgain: false, reading: null,
  };
}
