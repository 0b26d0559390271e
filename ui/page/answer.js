// answer.js: the answer being composed, read by the server's rules (config.rules, made by
// nudge.loop.session.answers.answer_rules): what counts as a rewrite, how many directions it
// carries, whether each says which class it leads to, which examples are offered and where an arrow
// leads by default. Nothing here writes the state; the server checks every answer again.
function nudgeAnswer({ui, config, rules, classes, stripped}, state) {
  // an edit read as the text is shown to a person (the server's table: HTML line breaks as line breaks)
  function readable(text) {
    for (const [stored, shown] of rules.shown_as) text = text.split(stored).join(shown);
    return text;
  }

  // whether the rewrite box holds a rewrite: not the text itself, read as the person reads both
  function rewriteGiven() {
    return Boolean(config.is_text && state.query)
      && stripped(readable(ui.rewrite.value)) !== stripped(state.query.readable_text || '');
  }

  function directionsUsed() {
    return state.arrows.length + (state.towards ? 1 : 0) + (rewriteGiven() ? 1 : 0);
  }

  function predictedIndex() {
    const q = state.query;
    return q && q.prediction !== null ? classes.indexOf(q.prediction) : null;
  }

  // the classes a direction may lead to: any but the label (or, before one is chosen, the prediction)
  function offeredClasses() {
    const own = state.label ?? predictedIndex();
    return classes.map((_, k) => k).filter((k) => k !== own);
  }

  function shownCandidates() {
    if (!state.query) return [];
    const offered = offeredClasses();
    return state.query.projection.candidates.filter((c) => offered.includes(c.class));
  }

  function gridCell(a, b) {
    const grid = state.query.projection.grid;
    const nearest = (values, v) => {
      let best = 0;
      for (let i = 1; i < values.length; i++) if (Math.abs(values[i] - v) < Math.abs(values[best] - v)) best = i;
      return best;
    };
    return grid.probabilities[nearest(grid.b, b)][nearest(grid.a, a)];
  }

  // the class an arrow leads to by default: the region its tip lands in, else the likeliest other class there
  function defaultTarget(a, b) {
    if (!state.query.projection.grid.probabilities) return null;
    const p = gridCell(a, b);
    let best = null;
    for (let k = 0; k < p.length; k++) if (k !== state.label && (best === null || p[k] > p[best])) best = k;
    return best;
  }

  function rewriteTarget() {
    return ui.rewriteTarget.value === '' ? null : Number(ui.rewriteTarget.value);
  }

  function targetName(k) {
    return k === null ? null : classes[k];
  }

  return {asksTargets: rules.asks_targets, maxDirections: rules.max_directions, rewriteGiven,
    directionsUsed, offeredClasses, predictedIndex, shownCandidates, defaultTarget, rewriteTarget, targetName};
}
