// controls.js: the person's controls and the answer they compose, handled at once, locally: the label
// choice, arrows drawn by a click on the picture (and their list), the examples to move towards, the
// rewrite box and the class it leads to, and submit / skip / undo; a query the server sends is shown
// here. Input goes through act (round.js), which applies it now or after the call on its way; apply
// makes an action's change and returns the request it sends, if any.
function nudgeControls({root, ui, config, classes, keys, C, colour, arrowName, el, say}, state, answer, drawing,
  textHelp, act) {
  const NEAR_PX = 11; // a click this close to an example's marker picks the example

  // ---------------------------------------------------------------- static parts
  ui.title.textContent = 'nudge · ' + config.dataset;
  ui.hint.textContent = 'Label the point (★). Optionally show where its class would flip: click on the picture to '
    + 'draw arrows, pick a numbered example of another class to move towards'
    + (config.is_text ? ', or rewrite the text with another label.' : '.');
  ui.maxDirections.textContent = String(answer.maxDirections);
  ui.rewriteBox.hidden = !config.is_text;
  ui.text.hidden = !config.is_text;
  const radios = classes.map((name, index) => {
    const label = el('label');
    const radio = el('input', {type: 'radio', name: 'nudge-label', value: String(index)});
    label.append(radio, document.createTextNode('[' + keys[index] + '] ' + name));
    ui.labels.append(label);
    radio.addEventListener('click', (event) => {
      if (state.busy) event.preventDefault(); // checked when it is applied, after the call on its way
      act({type: 'label', index});
    });
    return radio;
  });
  ui.labelKeys.textContent = keys.some((key) => key.length > 1)
    ? 'Label (the key in [ ]; two digits typed quickly for ' + keys.find((key) => key.length > 1) + ' and up)'
    : 'Label (the key in [ ])';
  ui.rewriteTarget.hidden = !answer.asksTargets;

  // ---------------------------------------------------------------- the answer's parts
  function setLabel(index) {
    if (index === null || index >= C) return;
    state.label = index;
    radios[index].checked = true;
    for (const a of state.arrows) if (!a.chosen || a.target === index) { a.target = answer.defaultTarget(a.a, a.b); a.chosen = false; }
    if (state.towards && state.towards.target === index) state.towards = null;
    textHelp.labelChosen();
    refresh();
  }

  function addArrow(a, b) {
    if (answer.directionsUsed() >= answer.maxDirections) {
      say('an answer carries at most ' + answer.maxDirections + ' directions: remove one first (✕ or Backspace)', 'error');
      return;
    }
    state.arrows.push({a, b, target: answer.asksTargets ? answer.defaultTarget(a, b) : null, chosen: false});
    if (answer.asksTargets && state.arrows[state.arrows.length - 1].target === null) {
      say('with more than two classes, say which class arrow ' + arrowName(state.arrows.length - 1)
        + ' leads to (list on the right)');
    }
    refresh();
  }

  // a click at (fx, fy), fractions of the plot box: an example's marker picks it, anywhere else draws an arrow
  function clickAt(fx, fy) {
    if (!state.query) return;
    const g = drawing.box();
    const x = g.left + fx * (g.right - g.left), y = g.top + fy * (g.bottom - g.top);
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) {
      say('that click was outside the plot: click inside the picture', 'error');
      return;
    }
    const candidate = answer.shownCandidates().find((c) => {
      const [cx, cy] = drawing.toPixel(c.a, c.b);
      return Math.hypot(cx - x, cy - y) <= NEAR_PX;
    });
    if (candidate) { toggleTowards(candidate); return; }
    const [a, b] = drawing.toPlane(x, y);
    addArrow(a, b);
  }

  function toggleTowards(candidate) {
    if (state.towards && state.towards.point_id === candidate.point_id) state.towards = null;
    else state.towards = {point_id: candidate.point_id, target: candidate.class};
    refresh();
  }

  function clearDirections() {
    state.arrows = []; state.towards = null;
    refresh();
  }

  function removeArrow(index) {
    state.arrows.splice(index, 1);
    refresh();
  }

  // ---------------------------------------------------------------- the lists beside the picture
  function targetChooser(selected, onChange, placeholder) {
    const select = el('select');
    select.append(el('option', {value: ''}, placeholder));
    classes.forEach((name, k) => {
      if (k === state.label) return;
      const option = el('option', {value: String(k)}, name);
      if (k === selected) option.selected = true;
      select.append(option);
    });
    select.addEventListener('change', () => onChange(select.value === '' ? null : Number(select.value)));
    return select;
  }

  function refreshArrowList() {
    ui.arrowList.replaceChildren();
    state.arrows.forEach((a, i) => {
      const item = el('li');
      item.append(document.createTextNode('arrow to (' + a.a.toFixed(2) + ', ' + a.b.toFixed(2) + ') '));
      if (answer.asksTargets) {
        const swatch = el('span', {class: 'swatch'});
        swatch.style.background = a.target === null ? 'transparent' : colour(a.target);
        item.append(document.createTextNode('leads to '), swatch,
          targetChooser(a.target, (k) => { a.target = k; a.chosen = k !== null; refresh(); }, 'which class?'));
      }
      const remove = el('button', {type: 'button', class: 'remove', title: 'remove this arrow'}, '✕');
      remove.addEventListener('click', () => act({type: 'remove', index: i}));
      item.append(remove);
      ui.arrowList.append(item);
    });
  }

  function refreshTowardsList() {
    ui.towardsList.replaceChildren();
    answer.shownCandidates().forEach((candidate, i) => {
      const item = el('li');
      if (state.towards && state.towards.point_id === candidate.point_id) item.classList.add('chosen');
      const pick = el('button', {type: 'button', 'data-point-id': String(candidate.point_id)},
        'class ' + classes[candidate.class] + ' · point ' + candidate.point_id + ' (' + (candidate.labelled ? 'labelled' : 'predicted') + ')');
      pick.addEventListener('click', () => act({type: 'towards', point_id: candidate.point_id}));
      item.append(pick);
      if (candidate.text !== undefined) item.append(textHelp.exampleText(candidate));
      item.value = i + 1;
      ui.towardsList.append(item);
    });
    ui.towardsList.dataset.empty = ui.towardsList.children.length ? '' : 'none: label some points of another class first';
  }

  function refreshRewriteTarget() {
    if (!answer.asksTargets) return;
    const chosen = answer.rewriteTarget();
    const fresh = targetChooser(chosen === state.label ? null : chosen, () => {}, 'the rewrite leads to…');
    ui.rewriteTarget.replaceChildren(...fresh.children);
  }

  function refresh() {
    refreshArrowList();
    refreshTowardsList();
    refreshRewriteTarget();
    drawing.draw();
  }

  // ---------------------------------------------------------------- a query from the server
  function predictionLine(q) {
    let line = 'Point ' + q.point_id + ' ';
    if (q.x.length === 2) line += 'at (' + q.x[0].toFixed(2) + ', ' + q.x[1].toFixed(2) + ') ';
    if (q.probabilities === null) return line + '· no model yet';
    const sure = Math.max(...q.probabilities);
    return line + '· model v' + q.prediction_model_version + ' says ' + q.prediction + ' (' + Math.round(100 * sure) + '% sure)';
  }

  function show(q) {
    state.query = q; state.label = null; state.arrows = []; state.towards = null;
    leaveBoxes();
    radios.forEach((r) => { r.checked = false; });
    drawing.prepare(q);
    if (!q) {
      ui.prediction.textContent = 'Nothing left to annotate in this pool. Thank you!';
      textHelp.show(null);
      refresh();
      return;
    }
    ui.prediction.textContent = predictionLine(q);
    textHelp.show(q);
    ui.rewriteTarget.value = '';
    drawing.drawLegend();
    refresh();
  }

  // a new point: the focus leaves the rewrite box (and the class choosers) the last answer was given in, so
  // the keys label the new point instead of typing into its text (the name box keeps it: it is not the answer's)
  function leaveBoxes() {
    const focused = document.activeElement;
    if (focused && focused !== ui.name && root.contains(focused)) focused.blur();
  }

  // an undone answer back in the controls
  function restore(undone) {
    if (undone.label !== null) setLabel(classes.indexOf(undone.label));
    state.arrows = undone.arrows.map((a) => ({a: a.a, b: a.b, target: answer.asksTargets ? classes.indexOf(a.target) : null,
      chosen: true}));
    if (undone.towards && undone.towards.point_id !== null) {
      state.towards = {point_id: undone.towards.point_id, target: classes.indexOf(undone.towards.target)};
    }
    if (undone.rewrite !== null) { ui.rewrite.value = undone.rewrite; textHelp.rewriteEdited(0); }
    refresh();
  }

  function shown(q, undone) {
    show(q);
    if (undone) restore(undone);
  }

  // the query a (re)begin sends: the point already shown keeps the person's work on it; another comes with the
  // undone answer it reopens, if it does (a reload after an undo)
  function resumed(q, undone) {
    if (!state.query || !q || q.point_id !== state.query.point_id) shown(q, undone);
    else state.query = q;
  }

  // ---------------------------------------------------------------- requests
  function answerRequest() {
    if (!state.query) { say('there is no point to answer', 'error'); return null; }
    if (state.label === null) { say('choose a label first (its key is in [ ])', 'error'); return null; }
    const rewrite = answer.rewriteGiven() ? ui.rewrite.value : null;
    if (answer.directionsUsed() > answer.maxDirections) {
      say('an answer carries at most ' + answer.maxDirections + ' directions: remove one first', 'error');
      return null;
    }
    const asks = answer.asksTargets;
    if (asks) {
      const missing = state.arrows.findIndex((a) => a.target === null);
      if (missing >= 0) {
        say('say which class arrow ' + arrowName(missing) + ' leads to (list on the right)', 'error');
        return null;
      }
      if (rewrite !== null && answer.rewriteTarget() === null) { say('say which class the rewrite leads to', 'error'); return null; }
    }
    return {fn: 'nudge_answer', data: {point_id: state.query.point_id, label: classes[state.label],
      arrows: state.arrows.map((a) => ({a: a.a, b: a.b, target: asks ? answer.targetName(a.target) : null})),
      towards: state.towards ? {point_id: state.towards.point_id, target: asks ? classes[state.towards.target] : null} : null,
      rewrite, rewrite_target: asks && rewrite !== null ? answer.targetName(answer.rewriteTarget()) : null}};
  }

  // an action's change, made now; the request it sends (null: none)
  function apply(action) {
    switch (action.type) {
      case 'label': setLabel(action.index); break;
      case 'click': clickAt(action.fx, action.fy); break;
      case 'towards': {
        const candidate = answer.shownCandidates().find((c) => c.point_id === action.point_id);
        if (candidate) toggleTowards(candidate);
        break;
      }
      case 'remove': removeArrow(action.index); break;
      case 'last': if (state.arrows.length) removeArrow(state.arrows.length - 1); break;
      case 'clear': clearDirections(); break;
      case 'submit': return answerRequest();
      case 'skip': return state.query ? {fn: 'nudge_skip', data: {point_id: state.query.point_id}} : null;
      case 'undo': return {fn: 'nudge_undo', data: {}};
    }
    return null;
  }

  ui.canvas.addEventListener('click', (event) => {
    const rect = ui.canvas.getBoundingClientRect(), g = drawing.box();
    const fx = (event.clientX - rect.left - g.left) / (g.right - g.left);
    const fy = (event.clientY - rect.top - g.top) / (g.bottom - g.top);
    act({type: 'click', fx, fy});
  });
  ui.submit.addEventListener('click', () => act({type: 'submit'}));
  ui.skip.addEventListener('click', () => act({type: 'skip'}));
  ui.undo.addEventListener('click', () => act({type: 'undo'}));
  ui.clear.addEventListener('click', () => act({type: 'clear'}));
  ui.rewrite.addEventListener('input', () => textHelp.rewriteEdited());

  return {apply, shown, resumed};
}
