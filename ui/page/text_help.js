// text_help.js: for text, the help beside the person's work, never holding it up: the word highlights
// of the shown text and of the examples to move towards, and the model's live reading of the rewrite
// being typed. Both are asked for on the side (round.ask) and drawn when they come, if still current.
function nudgeTextHelp({ui, config, classes, C, colour, el, rgb}, state, answer, ask) {
  const PREDICT_MS = 300; // a pause in typing this long asks the model how it reads the rewrite

  // a new query: its text in the box and the view, its highlights asked for (no query: nothing shown)
  function show(q) {
    if (!q) { ui.text.textContent = ''; ui.rewrite.value = ''; return; }
    if (!config.is_text) return;
    ui.text.textContent = q.readable_text; ui.rewrite.value = q.readable_text;
    state.highlights = null; state.examples.clear(); state.openExamples.clear();
    delete ui.text.dataset.highlights;
    ui.highlightNote.hidden = true;
    rewriteEdited(null);
    requestHighlights();
  }

  // the class a word pushes towards most, and how strongly (0..1 of the text's strongest word)
  function wordTint(word, maxWeight) {
    let k = 0;
    for (let j = 1; j < word.weights.length; j++) if (word.weights[j] > word.weights[k]) k = j;
    return [k, maxWeight > 0 ? Math.min(1, word.weights[k] / maxWeight) : 0];
  }

  // a text drawn with its words tinted by the class they push towards; unread words dotted
  function renderHighlighted(container, h) {
    const text = h.readable_text, nodes = [];
    let at = 0;
    for (const word of h.words) {
      const [start, end] = word.readable_span;
      if (start > at) nodes.push(document.createTextNode(text.slice(at, start)));
      const span = el('span', {class: 'word'}, text.slice(start, end));
      const [k, strength] = wordTint(word, h.max_weight);
      if (!word.read) {
        span.classList.add('unread');
        span.title = 'not read: the model reads only the first ~200 words';
      } else if (strength > 0) {
        const [r, g, b] = rgb(colour(k));
        span.style.background = 'rgba(' + r + ', ' + g + ', ' + b + ', ' + (0.6 * strength).toFixed(3) + ')';
        span.dataset.towards = String(k);
        span.title = 'towards ' + classes[k] + ' (' + word.weights[k].toFixed(3) + ')';
      }
      nodes.push(span);
      at = end;
    }
    if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
    container.replaceChildren(...nodes);
  }

  // a model as the page names it: its version, and which it is when it is not the one the header and the picture
  // are by (one screen, one model named, or each said apart)
  function modelNamed(version) {
    const pictured = state.query ? state.query.prediction_model_version : null;
    if (pictured === null || version === pictured) return 'model v' + version;
    const which = version > pictured ? 'newer than' : 'older than';
    return 'model v' + version + ' (' + which + " the picture's v" + pictured + ')';
  }

  function noteHighlights(h) {
    const parts = [document.createTextNode('Highlights by ' + modelNamed(h.model_version)
      + ': words pushing towards ')];
    classes.forEach((name, k) => {
      const swatch = el('span', {class: 'swatch'});
      swatch.style.background = colour(k);
      parts.push(swatch, document.createTextNode(name + (k < C - 1 ? ', ' : '')));
    });
    parts.push(document.createTextNode(' (stronger: more)'));
    if (h.unread_words) {
      parts.push(document.createTextNode(' · the last ' + h.unread_words + ' words (dotted) are past what the model reads'));
    }
    ui.highlightNote.replaceChildren(...parts);
    ui.highlightNote.hidden = false;
  }

  // the shown text's highlights by the newest model; drawn when they come, if the text is still shown
  async function requestHighlights() {
    const q = state.query;
    if (!config.is_text || !q || state.explaining === q.point_id) return;
    state.explaining = q.point_id;
    const reply = await ask('nudge_explain', {token: state.token, point_id: q.point_id});
    if (state.explaining === q.point_id) state.explaining = null;
    if (state.query !== q) return;
    if (!reply || !reply.ok) {
      if (!state.highlights) {
        ui.highlightNote.textContent = 'No highlights: ' + (reply ? reply.message : 'the server did not answer');
        ui.highlightNote.hidden = false;
      }
      return;
    }
    const h = reply.highlights;
    if (!h) { ui.highlightNote.textContent = reply.message; ui.highlightNote.hidden = false; return; }
    if (state.highlights && state.highlights.model_version > h.model_version) return;
    state.highlights = h;
    renderHighlighted(ui.text, h);
    noteHighlights(h);
    ui.text.dataset.highlights = String(h.model_version);
  }

  // an example to move towards: its whole text, with its highlights once opened
  function exampleText(candidate) {
    const details = el('details', {class: 'example', 'data-point-id': String(candidate.point_id)});
    const body = el('div', {class: 'candidate-text'}, candidate.text);
    const excerpt = candidate.text.slice(0, 90).replace(/\s+/g, ' ') + (candidate.text.length > 90 ? '…' : '');
    details.append(el('summary', {}, excerpt), body);
    details.addEventListener('toggle', () => {
      if (!details.open) { state.openExamples.delete(candidate.point_id); return; }
      state.openExamples.add(candidate.point_id);
      exampleHighlights(candidate.point_id, body);
    });
    details.open = state.openExamples.has(candidate.point_id); // kept open when the list is redrawn
    const known = state.examples.get(candidate.point_id);
    if (details.open && known) renderHighlighted(body, known); // at once, not a frame of bare text before 'toggle'
    return details;
  }

  async function exampleHighlights(pointId, body) {
    const known = state.examples.get(pointId);
    if (known) renderHighlighted(body, known);
    if (known && (state.modelVersion === null || known.model_version >= state.modelVersion)) return;
    const reply = await ask('nudge_explain', {token: state.token, point_id: pointId});
    if (!reply || !reply.ok || !reply.highlights) return; // the text stays readable without its highlights
    state.examples.set(pointId, reply.highlights);
    if (body.isConnected) {
      renderHighlighted(body, reply.highlights);
      body.dataset.highlights = String(reply.highlights.model_version);
    }
  }

  // the rewrite box changed (by the person, or by show / undo): its reading is asked for after a pause
  // (delay null: the box holds the text as it is, nothing to ask)
  function rewriteEdited(delay = PREDICT_MS) {
    state.edits += 1;
    clearTimeout(state.predictTimer);
    state.predictTimer = null;
    if (delay === null) { showReading(null, state.edits); return; }
    ui.reading.classList.add('stale');
    state.predictTimer = setTimeout(predictRewrite, delay);
  }

  async function predictRewrite() {
    state.predictTimer = null;
    const q = state.query;
    if (!config.is_text || !q) return;
    if (state.predicting) { state.predictAgain = true; return; }
    const edit = state.edits, text = ui.rewrite.value;
    if (!answer.rewriteGiven()) { showReading(null, edit); return; }
    state.predicting = true;
    const reply = await ask('nudge_predict', {token: state.token, query_id: q.query_id, text});
    state.predicting = false;
    if (state.query === q && state.edits === edit) showReading(reply, edit);
    if (state.predictAgain) { state.predictAgain = false; predictRewrite(); }
  }

  // whether the rewrite reads as another class than the label the person chose for the text (before a label is
  // chosen: than the model's reading of the text), and that in words
  function comparedWithLabel(r) {
    if (state.label === null) {
      return r.flips ? [true, 'it flips from ' + r.original_prediction + ", the model's reading of the text"]
        : [false, 'still ' + r.original_prediction + ", the model's reading of the text (choose your label)"];
    }
    const label = classes[state.label];
    return r.prediction !== label ? [true, 'another class than your label for the text, ' + label]
      : [false, 'still ' + label + ', your label for the text: a rewrite should read as another class'];
  }

  // the label changed: the reading shown is said again against it
  function labelChosen() {
    if (state.reading && state.reading.edit === state.edits) showReading(state.reading.reply, state.reading.edit);
  }

  function showReading(reply, edit) {
    state.reading = {reply, edit};
    ui.reading.className = 'reading';
    ui.warning.hidden = true;
    ui.diff.replaceChildren();
    ui.rewrite.classList.remove('flagged');
    delete ui.feedback.dataset.flips;
    if (reply === null) {
      ui.reading.textContent = 'Edit the text to rewrite it: the model reads your rewrite as you type.';
    } else if (!reply || !reply.ok) {
      ui.reading.textContent = reply ? reply.message : 'the server did not answer: the reading comes with your next edit';
    } else {
      const r = reply.reading, sure = Math.round(100 * Math.max(...r.probabilities));
      const named = modelNamed(r.model_version);
      const parts = [document.createTextNode(named[0].toUpperCase() + named.slice(1) + ' reads the rewrite as '
        + r.prediction + ' (' + sure + '% sure): ')];
      const [flips, said] = comparedWithLabel(r);
      parts.push(flips ? el('span', {class: 'flips'}, said) : el('span', {}, said));
      const target = answer.asksTargets ? answer.rewriteTarget() : null;
      if (target !== null) {
        parts.push(document.createTextNode(classes[target] === r.prediction ? ' (the class you chose)'
          : ' (not yet ' + classes[target] + ')'));
      }
      parts.push(document.createTextNode(' · ' + r.changed_words + (r.changed_words === 1 ? ' word' : ' words') + ' changed'));
      ui.reading.replaceChildren(...parts);
      ui.feedback.dataset.flips = String(flips);
      if (r.warning) {
        ui.warning.textContent = r.warning;
        ui.warning.hidden = false;
        ui.rewrite.classList.add('flagged');
      }
      for (const change of r.changes) {
        const item = el('li');
        if (change.removed) item.append(el('del', {}, change.removed));
        if (change.removed && change.added) item.append(document.createTextNode(' → '));
        if (change.added) item.append(el('ins', {}, change.added));
        ui.diff.append(item);
      }
    }
    ui.feedback.dataset.edit = String(edit);
  }

  // a newer model: the shown text's highlights, and the rewrite's reading, are asked for again
  function modelPublished(version) {
    if (version === state.modelVersion) return;
    state.modelVersion = version;
    if (!config.is_text || !state.query) return;
    if (!state.highlights || state.highlights.model_version < version) requestHighlights();
    if (answer.rewriteGiven()) rewriteEdited(0);
  }

  return {show, exampleText, rewriteEdited, modelPublished, labelChosen};
}
