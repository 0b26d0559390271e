// The annotation page: runs as gr.HTML's js_on_load (element, props, server, watch are given).
// Everything the person does is handled here at once: labels, arrows, examples and keys change
// local state and the picture is redrawn from the query's data; only submit, skip, undo, a new
// name and the status poll call the server (server functions, plain JSON over HTTP). Input made
// while a call is on its way is kept and applied, in order, to what the server sends back.
// For text, word highlights and the model's reading of the rewrite being typed are asked for
// beside that, never holding anything up: they are drawn when they come, if still current.
// Every text from the data (class names, texts, names, messages) is set as text, never as HTML.

const root = element.querySelector('.nudge');
const config = props.config;
const classes = config.classes;
const C = classes.length;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const colour = (k) => (k >= 0 ? PALETTE[k % PALETTE.length] : '#888888');
const NAME_KEY = 'nudge.annotator';
const TAB_KEY = 'nudge.tab';
const STATUS_MS = 2000;
const RENAME_MS = 600;
const NEAR_PX = 11; // a click this close to an example's marker picks the example
const PREDICT_MS = 300; // a pause in typing this long asks the model how it reads the rewrite

const $ = (selector) => root.querySelector(selector);
const ui = {
  title: $('.title'), hint: $('.hint'), name: $('#annotator-name input'), nameNote: $('.name-note'),
  status: $('#status-line'), message: $('#message'), prediction: $('#prediction'), text: $('#query-text'),
  picture: $('#projection'), canvas: $('#projection canvas'), legend: $('.legend'), labels: $('#label-choice'),
  arrowList: $('#arrow-list'), towardsList: $('#towards-list'), rewriteBox: $('.rewrite'), rewrite: $('#rewrite'),
  rewriteTarget: $('#rewrite-target'), submit: $('#submit-button'), skip: $('#skip-button'),
  undo: $('#undo-button'), clear: $('#clear-button'), progress: $('#progress-plot'),
  highlightNote: $('#highlight-note'), feedback: $('#rewrite-feedback'), reading: $('#rewrite-feedback .reading'),
  warning: $('#rewrite-feedback .warning'), diff: $('#rewrite-feedback .diff'),
};

const state = {
  token: null, login: null, name: '', query: null, field: null,
  label: null, arrows: [], towards: null, busy: false, pending: [], renameTimer: null,
  // text help: the shown text's highlights, the examples' (by point), the rewrite's edits and its reading
  modelVersion: null, highlights: null, explaining: null, examples: new Map(), openExamples: new Set(),
  edits: 0, predictTimer: null, predicting: false, predictAgain: false,
};

// ------------------------------------------------------------------ small helpers
function el(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function say(text, kind = 'note') {
  ui.message.textContent = text || '';
  ui.message.className = 'message' + (text ? ' ' + kind : '');
}

function cssColour(name, fallback) {
  const value = getComputedStyle(root).getPropertyValue(name).trim();
  return value || fallback;
}

const probe = document.createElement('canvas').getContext('2d');
function rgb(hex) {
  probe.fillStyle = hex;
  const normal = probe.fillStyle; // #rrggbb, or rgba(...) for colours with alpha
  if (normal.startsWith('#')) return [1, 3, 5].map((i) => parseInt(normal.slice(i, i + 2), 16));
  return normal.match(/[\d.]+/g).slice(0, 3).map(Number);
}

function guestName() {
  const bytes = new Uint8Array(3);
  crypto.getRandomValues(bytes);
  return 'guest-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ------------------------------------------------------------------ static parts
ui.title.textContent = 'nudge · ' + config.dataset;
ui.hint.textContent = 'Label the point (★). Optionally show where its class would flip: click on the picture to '
  + 'draw arrows, pick a numbered example of another class to move towards'
  + (config.is_text ? ', or rewrite the text with another label.' : '.');
root.querySelector('.max-directions').textContent = String(config.max_directions);
ui.rewriteBox.hidden = !config.is_text;
ui.text.hidden = !config.is_text;
const radios = classes.map((name, index) => {
  const label = el('label');
  const radio = el('input', {type: 'radio', name: 'nudge-label', value: String(index)});
  label.append(radio, document.createTextNode('[' + (index + 1) + '] ' + name));
  ui.labels.append(label);
  radio.addEventListener('click', (event) => {
    if (state.busy) { event.preventDefault(); state.pending.push({type: 'label', index}); return; }
    setLabel(index);
  });
  return radio;
});
ui.rewriteTarget.hidden = C <= 2;

// ------------------------------------------------------------------ geometry of the picture
function box() {
  const width = ui.canvas.clientWidth, height = ui.canvas.clientHeight;
  return {left: 54, top: 14, right: width - 14, bottom: height - 42, width, height};
}

function toPixel(a, b) {
  const p = state.query.projection, g = box();
  return [g.left + (a - p.a_range[0]) / (p.a_range[1] - p.a_range[0]) * (g.right - g.left),
          g.bottom - (b - p.b_range[0]) / (p.b_range[1] - p.b_range[0]) * (g.bottom - g.top)];
}

function toPlane(x, y) {
  const p = state.query.projection, g = box();
  return [p.a_range[0] + (x - g.left) / (g.right - g.left) * (p.a_range[1] - p.a_range[0]),
          p.b_range[0] + (g.bottom - y) / (g.bottom - g.top) * (p.b_range[1] - p.b_range[0])];
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
  const grid = state.query.projection.grid;
  if (!grid.probabilities) return null;
  const p = gridCell(a, b);
  let best = null;
  for (let k = 0; k < p.length; k++) if (k !== state.label && (best === null || p[k] > p[best])) best = k;
  return best;
}

function offeredClasses() {
  const own = state.label ?? predictedIndex();
  return classes.map((_, k) => k).filter((k) => k !== own);
}

function predictedIndex() {
  const q = state.query;
  return q && q.prediction !== null ? classes.indexOf(q.prediction) : null;
}

function shownCandidates() {
  if (!state.query) return [];
  const offered = offeredClasses();
  return state.query.projection.candidates.filter((c) => offered.includes(c.class));
}

// ------------------------------------------------------------------ drawing
function fieldImage(projection, background) {
  const grid = projection.grid;
  if (!grid.probabilities) return null;
  const rows = grid.b.length, columns = grid.a.length;
  const image = document.createElement('canvas');
  image.width = columns; image.height = rows;
  const context = image.getContext('2d');
  const pixels = context.createImageData(columns, rows);
  const bg = rgb(background), tints = classes.map((_, k) => rgb(colour(k)));
  for (let r = 0; r < rows; r++) {
    const row = grid.probabilities[rows - 1 - r]; // image rows run downwards, b upwards
    for (let c = 0; c < columns; c++) {
      const p = row[c];
      let k = 0;
      for (let j = 1; j < p.length; j++) if (p[j] > p[k]) k = j;
      const strength = 0.42 * (p[k] - 1 / C) / (1 - 1 / C);
      const offset = 4 * (r * columns + c);
      for (let i = 0; i < 3; i++) pixels.data[offset + i] = bg[i] + strength * (tints[k][i] - bg[i]);
      pixels.data[offset + 3] = 255;
    }
  }
  context.putImageData(pixels, 0, 0);
  return image;
}

function polyline(context, line) {
  context.beginPath();
  line.forEach(([a, b], i) => { const [x, y] = toPixel(a, b); if (i) context.lineTo(x, y); else context.moveTo(x, y); });
  context.stroke();
}

function arrow(context, toX, toY, colourName, width, dashed = false) {
  const [x0, y0] = toPixel(0, 0);
  const angle = Math.atan2(toY - y0, toX - x0), head = 12;
  context.strokeStyle = colourName; context.fillStyle = colourName; context.lineWidth = width;
  context.setLineDash(dashed ? [6, 4] : []);
  context.beginPath(); context.moveTo(x0, y0);
  context.lineTo(toX - 0.8 * head * Math.cos(angle), toY - 0.8 * head * Math.sin(angle)); context.stroke();
  context.setLineDash([]);
  context.beginPath(); context.moveTo(toX, toY);
  context.lineTo(toX - head * Math.cos(angle - 0.4), toY - head * Math.sin(angle - 0.4));
  context.lineTo(toX - head * Math.cos(angle + 0.4), toY - head * Math.sin(angle + 0.4));
  context.closePath(); context.fill();
}

function star(context, x, y, radius, ink) {
  context.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 ? radius * 0.45 : radius, angle = -Math.PI / 2 + i * Math.PI / 5;
    context.lineTo(x + r * Math.cos(angle), y + r * Math.sin(angle));
  }
  context.closePath(); context.fillStyle = 'gold'; context.fill();
  context.strokeStyle = ink; context.lineWidth = 1.3; context.stroke();
}

function ticks(low, high, count) {
  const step = Math.pow(10, Math.floor(Math.log10((high - low) / count)));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (high - low) / s <= count) || 10 * step;
  const values = [];
  for (let v = Math.ceil(low / nice) * nice; v <= high + 1e-9; v += nice) values.push(Math.abs(v) < 1e-12 ? 0 : v);
  return values;
}

function tickLabel(value) {
  return Math.abs(value) >= 100 || value === 0 ? String(Math.round(value)) : value.toPrecision(2).replace(/\.?0+$/, '');
}

function draw() {
  const q = state.query;
  const canvas = ui.canvas, context = canvas.getContext('2d');
  const ratio = window.devicePixelRatio || 1, g = box();
  canvas.width = Math.round(g.width * ratio); canvas.height = Math.round(g.height * ratio);
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  const background = cssColour('--background-fill-primary', '#ffffff');
  const ink = cssColour('--body-text-color', '#1f2937');
  const subdued = cssColour('--body-text-color-subdued', '#6b7280');
  context.fillStyle = background; context.fillRect(0, 0, g.width, g.height);
  if (!q) { ui.picture.removeAttribute('data-point-id'); return; }
  const p = q.projection;
  context.save();
  context.beginPath(); context.rect(g.left, g.top, g.right - g.left, g.bottom - g.top); context.clip();
  if (state.field) {
    context.imageSmoothingEnabled = true;
    context.drawImage(state.field, g.left, g.top, g.right - g.left, g.bottom - g.top);
  } else {
    context.fillStyle = subdued; context.font = '13px sans-serif'; context.textAlign = 'center';
    context.fillText('no model yet: label a few points', (g.left + g.right) / 2, g.top + 18);
  }
  context.lineWidth = 1.4; context.strokeStyle = subdued; context.setLineDash([7, 5]);
  (p.truth || []).forEach((line) => polyline(context, line));
  context.setLineDash([]); context.lineWidth = 2.2; context.strokeStyle = ink;
  p.boundary.forEach((line) => polyline(context, line));
  for (const point of p.points) {
    if (point.labelled) continue;
    const [x, y] = toPixel(point.a, point.b);
    context.globalAlpha = 0.55; context.fillStyle = colour(point.class);
    context.beginPath(); context.arc(x, y, 2.4, 0, 2 * Math.PI); context.fill();
  }
  context.globalAlpha = 1;
  for (const point of p.points) {
    if (!point.labelled) continue;
    const [x, y] = toPixel(point.a, point.b);
    context.fillStyle = colour(point.class); context.strokeStyle = ink; context.lineWidth = 1.2;
    context.beginPath(); context.arc(x, y, 5, 0, 2 * Math.PI); context.fill(); context.stroke();
  }
  context.font = 'bold 12px sans-serif'; context.textAlign = 'center'; context.textBaseline = 'middle';
  shownCandidates().forEach((candidate, i) => {
    const [x, y] = toPixel(candidate.a, candidate.b);
    const chosen = state.towards && state.towards.point_id === candidate.point_id;
    context.strokeStyle = chosen ? ink : colour(candidate.class); context.lineWidth = chosen ? 3 : 2;
    context.fillStyle = background;
    context.beginPath(); context.arc(x, y, 9, 0, 2 * Math.PI); context.fill(); context.stroke();
    context.fillStyle = ink; context.fillText(String(i + 1), x, y + 0.5);
    if (chosen) arrow(context, x, y, ink, 1.8, true);
  });
  const [sx, sy] = toPixel(0, 0);
  star(context, sx, sy, 13, ink);
  state.arrows.forEach((a, i) => {
    const [x, y] = toPixel(a.a, a.b);
    const tint = C > 2 ? (a.target === null ? subdued : colour(a.target)) : ink;
    arrow(context, x, y, tint, 2.6);
    const tag = (i + 1) + (C > 2 ? ' → ' + (a.target === null ? '?' : classes[a.target]) : '');
    context.font = 'bold 12px sans-serif'; context.textAlign = 'left'; context.textBaseline = 'bottom';
    const width = context.measureText(tag).width + 8;
    const tx = Math.min(x + 6, g.right - width), ty = Math.max(y - 6, g.top + 16);
    context.fillStyle = background; context.globalAlpha = 0.85; context.fillRect(tx, ty - 15, width, 16);
    context.globalAlpha = 1; context.fillStyle = tint; context.fillText(tag, tx + 4, ty);
  });
  context.restore();
  context.strokeStyle = subdued; context.lineWidth = 1; context.setLineDash([]);
  context.strokeRect(g.left, g.top, g.right - g.left, g.bottom - g.top);
  context.fillStyle = ink; context.font = '11px sans-serif'; context.textBaseline = 'top'; context.textAlign = 'center';
  for (const v of ticks(p.a_range[0], p.a_range[1], 6)) {
    const [x] = toPixel(v, 0);
    context.fillText(tickLabel(v), x, g.bottom + 4);
  }
  context.textAlign = 'right'; context.textBaseline = 'middle';
  for (const v of ticks(p.b_range[0], p.b_range[1], 6)) {
    const [, y] = toPixel(0, v);
    context.fillText(tickLabel(v), g.left - 5, y);
  }
  context.textAlign = 'center'; context.textBaseline = 'bottom'; context.font = '12px sans-serif';
  context.fillText(p.axes[0], (g.left + g.right) / 2, g.height - 4);
  context.save(); context.translate(13, (g.top + g.bottom) / 2); context.rotate(-Math.PI / 2);
  context.textBaseline = 'middle'; context.fillText(p.axes[1], 0, 0); context.restore();
  ui.picture.setAttribute('data-point-id', String(q.point_id));
}

function drawLegend() {
  ui.legend.replaceChildren();
  classes.forEach((name, k) => {
    const item = el('span');
    const swatch = el('span', {class: 'swatch'});
    swatch.style.background = colour(k);
    item.append(swatch, document.createTextNode(name));
    ui.legend.append(item);
  });
  ui.legend.append(el('span', {}, '★ the point to label'), el('span', {}, '— model boundary'));
  if (state.query && state.query.projection.truth) ui.legend.append(el('span', {}, '- - true boundary'));
  ui.legend.append(el('span', {}, '○ large: labelled · small: by prediction · numbered: examples'));
}

// ------------------------------------------------------------------ the controls
function setLabel(index) {
  if (index === null || index >= C) return;
  state.label = index;
  radios[index].checked = true;
  for (const a of state.arrows) if (!a.chosen || a.target === index) { a.target = defaultTarget(a.a, a.b); a.chosen = false; }
  if (state.towards && state.towards.target === index) state.towards = null;
  refresh();
}

function addArrow(a, b) {
  const used = state.arrows.length + (state.towards ? 1 : 0) + (rewriteGiven() ? 1 : 0);
  if (used >= config.max_directions) {
    say('an answer carries at most ' + config.max_directions + ' directions: remove one first (✕ or Backspace)', 'error');
    return;
  }
  state.arrows.push({a, b, target: C > 2 ? defaultTarget(a, b) : null, chosen: false});
  if (C > 2 && state.arrows[state.arrows.length - 1].target === null) {
    say('with more than two classes, say which class arrow ' + state.arrows.length + ' leads to (list on the right)');
  }
  refresh();
}

function clickAt(fx, fy) {
  if (!state.query) return;
  const g = box();
  const x = g.left + fx * (g.right - g.left), y = g.top + fy * (g.bottom - g.top);
  if (fx < 0 || fx > 1 || fy < 0 || fy > 1) {
    say('that click was outside the plot: click inside the picture', 'error');
    return;
  }
  const candidate = shownCandidates().find((c) => {
    const [cx, cy] = toPixel(c.a, c.b);
    return Math.hypot(cx - x, cy - y) <= NEAR_PX;
  });
  if (candidate) { toggleTowards(candidate); return; }
  const [a, b] = toPlane(x, y);
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

function rewriteGiven() {  // as the server reads it: spaces around the text do not make a rewrite
  return config.is_text && state.query && ui.rewrite.value.trim() !== (state.query.readable_text || '').trim();
}

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
    if (C > 2) {
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
  shownCandidates().forEach((candidate, i) => {
    const item = el('li');
    if (state.towards && state.towards.point_id === candidate.point_id) item.classList.add('chosen');
    const pick = el('button', {type: 'button', 'data-point-id': String(candidate.point_id)},
      'class ' + classes[candidate.class] + ' · point ' + candidate.point_id + ' (' + (candidate.labelled ? 'labelled' : 'predicted') + ')');
    pick.addEventListener('click', () => act({type: 'towards', point_id: candidate.point_id}));
    item.append(pick);
    if (candidate.text !== undefined) item.append(exampleText(candidate));
    item.value = i + 1;
    ui.towardsList.append(item);
  });
  ui.towardsList.dataset.empty = ui.towardsList.children.length ? '' : 'none: label some points of another class first';
}

function refreshRewriteTarget() {
  if (C <= 2) return;
  const chosen = ui.rewriteTarget.value === '' ? null : Number(ui.rewriteTarget.value);
  const fresh = targetChooser(chosen === state.label ? null : chosen, () => {}, 'the rewrite leads to…');
  ui.rewriteTarget.replaceChildren(...fresh.children);
}

function refresh() {
  refreshArrowList();
  refreshTowardsList();
  refreshRewriteTarget();
  draw();
}

function predictionLine(q) {
  let line = 'Point ' + q.point_id + ' ';
  if (q.x.length === 2) line += 'at (' + q.x[0].toFixed(2) + ', ' + q.x[1].toFixed(2) + ') ';
  if (q.probabilities === null) return line + '· no model yet';
  const sure = Math.max(...q.probabilities);
  return line + '· model v' + q.prediction_model_version + ' says ' + q.prediction + ' (' + Math.round(100 * sure) + '% sure)';
}

function show(q) {
  state.query = q; state.label = null; state.arrows = []; state.towards = null;
  radios.forEach((r) => { r.checked = false; });
  if (!q) {
    state.field = null;
    ui.prediction.textContent = 'Nothing left to annotate in this pool. Thank you!';
    ui.text.textContent = ''; ui.rewrite.value = '';
    refresh();
    return;
  }
  state.field = fieldImage(q.projection, cssColour('--background-fill-primary', '#ffffff'));
  ui.prediction.textContent = predictionLine(q);
  if (config.is_text) {
    ui.text.textContent = q.readable_text; ui.rewrite.value = q.readable_text;
    state.highlights = null; state.examples.clear(); state.openExamples.clear();
    delete ui.text.dataset.highlights;
    ui.highlightNote.hidden = true;
    rewriteEdited(null);
    requestHighlights();
  }
  ui.rewriteTarget.value = '';
  drawLegend();
  refresh();
}

function restore(answer) {
  if (answer.label !== null) setLabel(classes.indexOf(answer.label));
  state.arrows = answer.arrows.map((a) => ({a: a.a, b: a.b, target: C > 2 ? classes.indexOf(a.target) : null, chosen: true}));
  if (answer.towards && answer.towards.point_id !== null) {
    state.towards = {point_id: answer.towards.point_id, target: classes.indexOf(answer.towards.target)};
  }
  if (answer.rewrite !== null) { ui.rewrite.value = answer.rewrite; rewriteEdited(0); }
  refresh();
}

// ------------------------------------------------------------------ text help: highlights, the rewrite's reading
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

function noteHighlights(h) {
  const parts = [document.createTextNode('Highlights by model v' + h.model_version + ': words pushing towards ')];
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

async function explainPoint(pointId) {
  try { return await server.nudge_explain({point_id: pointId}); } catch (error) { return undefined; }
}

// the shown text's highlights by the newest model; drawn when they come, if the text is still shown
async function requestHighlights() {
  const q = state.query;
  if (!config.is_text || !q || state.explaining === q.point_id) return;
  state.explaining = q.point_id;
  const reply = await explainPoint(q.point_id);
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
  const reply = await explainPoint(pointId);
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
  if (!rewriteGiven()) { showReading(null, edit); return; }
  state.predicting = true;
  let reply;
  try { reply = await server.nudge_predict({query_id: q.query_id, text}); } catch (error) { reply = undefined; }
  state.predicting = false;
  if (state.query === q && state.edits === edit) showReading(reply, edit);
  if (state.predictAgain) { state.predictAgain = false; predictRewrite(); }
}

function showReading(reply, edit) {
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
    const parts = [document.createTextNode('Model v' + r.model_version + ' reads the rewrite as ' + r.prediction
      + ' (' + sure + '% sure): ')];
    parts.push(r.flips ? el('span', {class: 'flips'}, 'it flips from ' + r.original_prediction)
      : el('span', {}, 'still ' + r.original_prediction + ', as the text'));
    const target = C > 2 ? rewriteTarget() : null;
    if (target !== null) {
      parts.push(document.createTextNode(classes[target] === r.prediction ? ' (the class you chose)'
        : ' (not yet ' + classes[target] + ')'));
    }
    parts.push(document.createTextNode(' · ' + r.changed_words + (r.changed_words === 1 ? ' word' : ' words') + ' changed'));
    ui.reading.replaceChildren(...parts);
    ui.feedback.dataset.flips = String(r.flips);
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
  if (rewriteGiven()) rewriteEdited(0);
}

// ------------------------------------------------------------------ talking to the server
function who() {
  return {token: state.token, name: state.login || state.name};
}

async function call(fn, data) {
  state.busy = true;
  let reply;
  try { reply = await server[fn](data); } catch (error) { reply = undefined; }
  state.busy = false;
  if (!reply) reply = {ok: false, message: 'the server did not answer: check the connection, then try again'};
  return reply;
}

function replay() {
  while (state.pending.length && !state.busy) apply(state.pending.shift());
}

async function begin() {
  clearTimeout(state.renameTimer); state.renameTimer = null;
  const reply = await call('nudge_begin', {...who(), previous: sessionStorage.getItem(TAB_KEY)});
  if (reply.ok && reply.query !== undefined) {
    sessionStorage.setItem(TAB_KEY, state.token);
    if (!state.query || !reply.query || reply.query.point_id !== state.query.point_id) show(reply.query);
    else state.query = reply.query;
  }
  say(reply.message, reply.ok ? 'note' : 'error');
  replay();
  pollStatus();
}

function submitAnswer() {
  if (!state.query) { say('there is no point to answer', 'error'); return; }
  if (state.label === null) { say('choose a label first (keys 1, 2, …)', 'error'); return; }
  const rewrite = rewriteGiven() ? ui.rewrite.value : null;
  const directions = state.arrows.length + (state.towards ? 1 : 0) + (rewrite === null ? 0 : 1);
  if (directions > config.max_directions) {
    say('an answer carries at most ' + config.max_directions + ' directions: remove one first', 'error');
    return;
  }
  const data = {...who(), point_id: state.query.point_id, label: classes[state.label],
    arrows: state.arrows.map((a) => ({a: a.a, b: a.b, target: C > 2 ? targetName(a.target) : null})),
    towards: state.towards ? {point_id: state.towards.point_id, target: C > 2 ? classes[state.towards.target] : null} : null,
    rewrite, rewrite_target: C > 2 && rewrite !== null ? targetName(rewriteTarget()) : null};
  if (C > 2) {
    const missing = state.arrows.findIndex((a) => a.target === null);
    if (missing >= 0) { say('say which class arrow ' + (missing + 1) + ' leads to (list on the right)', 'error'); return; }
    if (rewrite !== null && rewriteTarget() === null) { say('say which class the rewrite leads to', 'error'); return; }
    const same = state.arrows.findIndex((a) => a.target === state.label);
    if (same >= 0) { say('arrow ' + (same + 1) + ' leads to the label itself: change one of them', 'error'); return; }
  }
  respond('nudge_answer', data);
}

function targetName(k) {
  return k === null ? null : classes[k];
}

function rewriteTarget() {
  return ui.rewriteTarget.value === '' ? null : Number(ui.rewriteTarget.value);
}

async function respond(fn, data) {
  clearTimeout(state.renameTimer); state.renameTimer = null;
  const reply = await call(fn, data);
  if (reply.ok && reply.query !== undefined) {
    show(reply.query);
    if (reply.restore) restore(reply.restore);
  }
  say(reply.message, reply.ok ? 'note' : 'error');
  replay();
}

function apply(action) {
  switch (action.type) {
    case 'label': setLabel(action.index); break;
    case 'click': clickAt(action.fx, action.fy); break;
    case 'towards': {
      const candidate = shownCandidates().find((c) => c.point_id === action.point_id);
      if (candidate) toggleTowards(candidate);
      break;
    }
    case 'remove': removeArrow(action.index); break;
    case 'last': if (state.arrows.length) removeArrow(state.arrows.length - 1); break;
    case 'clear': clearDirections(); break;
    case 'submit': submitAnswer(); break;
    case 'skip':
      if (state.query) respond('nudge_skip', {...who(), point_id: state.query.point_id});
      break;
    case 'undo': respond('nudge_undo', who()); break;
    case 'rename': begin(); break;
  }
}

function act(action) {
  if (state.busy) state.pending.push(action);
  else apply(action);
}

// ------------------------------------------------------------------ status and progress
function plotProgress(history) {
  const svg = ui.progress, W = 640, H = 220, left = 46, right = 12, top = 10, bottom = 34;
  svg.replaceChildren();
  const make = (tag, attributes, text = null) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (text !== null) node.textContent = text;
    svg.append(node);
    return node;
  };
  const maxX = Math.max(1, ...history.map((h) => h[0]));
  const x = (v) => left + v / maxX * (W - left - right), y = (v) => H - bottom - v * (H - top - bottom);
  make('line', {class: 'axis', x1: left, y1: y(0), x2: W - right, y2: y(0)});
  make('line', {class: 'axis', x1: left, y1: y(0), x2: left, y2: y(1)});
  const step = Math.max(1, ticks(0, maxX, 8)[1] || 1);
  for (let v = 0; v <= maxX; v += Math.ceil(step)) make('text', {x: x(v), y: H - bottom + 16, 'text-anchor': 'middle'}, String(v));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) make('text', {x: left - 6, y: y(v) + 4, 'text-anchor': 'end'}, v.toFixed(2));
  make('text', {x: (left + W - right) / 2, y: H - 4, 'text-anchor': 'middle'}, 'labels');
  if (history.length) {
    make('polyline', {class: 'curve', points: history.map((h) => x(h[0]) + ',' + y(h[1])).join(' ')});
    for (const h of history) make('circle', {class: 'dot', cx: x(h[0]), cy: y(h[1]), r: 2.5});
  } else {
    make('text', {x: (left + W - right) / 2, y: H / 2, 'text-anchor': 'middle'}, 'no held-out accuracy yet');
  }
}

async function pollStatus() {
  if (!state.token || document.visibilityState === 'hidden') return;
  let reply;
  try { reply = await server.nudge_status(who()); } catch (error) { reply = undefined; }
  if (!reply) { ui.status.textContent = 'the server does not answer'; return; }
  ui.status.textContent = reply.line;
  if (reply.history) plotProgress(reply.history);
  if (reply.model_version !== undefined) modelPublished(reply.model_version);
}

// ------------------------------------------------------------------ events
function typingIn(target) {
  return target.tagName === 'TEXTAREA' || target.tagName === 'SELECT' || target.isContentEditable
    || (target.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'submit'].includes(target.type));
}

function onKey(event) {
  if (!root.isConnected || event.defaultPrevented) return;
  if (typingIn(event.target)) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { act({type: 'submit'}); event.preventDefault(); }
    else if (event.key === 'Enter' && event.target === ui.name) { event.preventDefault(); ui.name.blur(); renameNow(); }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  let action = null;
  if (/^[1-9]$/.test(key) && Number(key) <= C) action = {type: 'label', index: Number(key) - 1};
  else if (key === 'Enter') action = {type: 'submit'};
  else if (key === 's') action = {type: 'skip'};
  else if (key === 'u') action = {type: 'undo'};
  else if (key === 'c' || key === 'Escape') action = {type: 'clear'};
  else if (key === 'Backspace' || key === 'Delete') action = {type: 'last'};
  if (action) { event.preventDefault(); act(action); }
}

function renameNow() {
  if (state.login || !state.token) return;
  if (!state.name) { say('enter your name (top of the page) before annotating', 'error'); return; }
  if (state.busy) { state.pending.push({type: 'rename'}); return; }
  begin();
}

ui.canvas.addEventListener('click', (event) => {
  const rect = ui.canvas.getBoundingClientRect(), g = box();
  const fx = (event.clientX - rect.left - g.left) / (g.right - g.left);
  const fy = (event.clientY - rect.top - g.top) / (g.bottom - g.top);
  act({type: 'click', fx, fy});
});
ui.submit.addEventListener('click', () => act({type: 'submit'}));
ui.skip.addEventListener('click', () => act({type: 'skip'}));
ui.undo.addEventListener('click', () => act({type: 'undo'}));
ui.clear.addEventListener('click', () => act({type: 'clear'}));
ui.rewrite.addEventListener('input', () => rewriteEdited());
ui.name.addEventListener('input', () => {
  state.name = ui.name.value.trim();
  if (state.name) localStorage.setItem(NAME_KEY, state.name);
  clearTimeout(state.renameTimer);
  state.renameTimer = setTimeout(renameNow, RENAME_MS);
});
if (!window.__nudgeKeys) {
  window.__nudgeKeys = true;
  document.addEventListener('keydown', (event) => window.__nudgeOnKey(event));
}
window.__nudgeOnKey = onKey;
window.addEventListener('resize', () => draw());
document.addEventListener('visibilitychange', () => pollStatus());
setInterval(pollStatus, STATUS_MS);
// for scripts and tests: the picture's mapping between plane coordinates and canvas pixels
window.nudgePage = {toPixel: (a, b) => toPixel(a, b), toPlane: (x, y) => toPlane(x, y), box, state};

function start(value) {
  if (!value || !value.token || state.token) return;
  state.token = value.token;
  state.login = value.login || null;
  if (state.login) {
    ui.name.value = state.login; ui.name.readOnly = true;
    ui.nameNote.textContent = 'logged in';
  } else {
    state.name = (localStorage.getItem(NAME_KEY) || '').trim() || guestName();
    localStorage.setItem(NAME_KEY, state.name);
    ui.name.value = state.name;
    ui.nameNote.textContent = 'remembered in this browser; a new name counts at once';
  }
  begin();
}

draw();
plotProgress([]);
start(props.value);
watch('value', () => start(props.value));
