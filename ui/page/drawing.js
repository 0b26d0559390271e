// drawing.js: the picture on the canvas, drawn from the shown query's data and the answer being
// composed (the probability field, the boundaries, the points, the numbered examples, the star and
// the arrows, the axes), its legend, the mapping between plane coordinates and canvas pixels, and
// the progress plot. It writes only state.field.
function nudgeDrawing({ui, classes, C, colour, arrowName, el, cssColour, rgb}, state, answer) {
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

  // a new query: its probability field as an image, made once (null: no query, or no model yet)
  function prepare(q) {
    state.field = q ? fieldImage(q.projection, cssColour('--background-fill-primary', '#ffffff')) : null;
  }

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

  // a tick's value as written: its significant digits (10, 60, -100, 0.3), without a float's noise
  // (0.30000000000000004)
  function tickLabel(value) {
    return String(Number(value.toPrecision(12)));
  }

  // the tag drawn at an arrow's tip: its letter, and where it leads when the person says so
  function arrowTag(i, target) {
    return arrowName(i) + (answer.asksTargets ? ' → ' + (target === null ? '?' : classes[target]) : '');
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
    answer.shownCandidates().forEach((candidate, i) => {
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
      const tint = answer.asksTargets ? (a.target === null ? subdued : colour(a.target)) : ink;
      arrow(context, x, y, tint, 2.6);
      const tag = arrowTag(i, a.target);
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
    ui.legend.append(el('span', {}, '○ large: labelled · small: by prediction · numbered: examples'),
      el('span', {class: 'axes-note'},
        'each point has its own picture: arrows given to earlier points are not drawn here'));
  }

  function plotProgress(history, measured = 'held-out accuracy') {
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
      make('text', {x: (left + W - right) / 2, y: H / 2, 'text-anchor': 'middle'}, `no ${measured} yet`);
    }
    ui.progressTitle.textContent = `Progress: ${measured} against labels`;
  }

  return {box, toPixel, toPlane, prepare, draw, drawLegend, plotProgress, tickLabel, arrowTag};
}
