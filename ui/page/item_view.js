// item_view.js: the item itself, above its projection, as the server describes it (query.item_view,
// made by nudge.loop.service.item_view): a table row as its feature names and values, each with a
// bar for where it sits between the pool's smallest and largest value; an image as the image (a
// PNG data URL made on the server). Texts and 2-D points have no item view (the text and the
// picture show them). Every name is set as text.
function nudgeItemView(base) {
  const box = base.root.querySelector('#item-view');

  function table(features) {
    const rows = base.el('table', {class: 'features'});
    for (const feature of features) {
      const span = feature.max - feature.min;
      const share = span > 0 ? (feature.value - feature.min) / span : 0.5;
      const row = base.el('tr');
      row.append(base.el('th', {scope: 'row'}, feature.name), base.el('td', {class: 'value'}, String(feature.value)));
      const bar = base.el('td', {class: 'range', title: `pool: ${feature.min} .. ${feature.max}`});
      const track = base.el('span', {class: 'track'});
      track.append(base.el('span', {class: 'mark', style: `left: ${(100 * Math.min(1, Math.max(0, share))).toFixed(1)}%`}));
      bar.append(base.el('span', {class: 'low'}, String(feature.min)), track, base.el('span', {class: 'high'}, String(feature.max)));
      row.append(bar);
      rows.append(row);
    }
    return rows;
  }

  function image(view) {
    return base.el('img', {src: view.src, width: view.width, height: view.height, alt: 'the item (an image)',
      class: 'item-image'});
  }

  function show(query) {
    const view = query && query.item_view;
    box.replaceChildren();
    box.hidden = !view;
    if (!view) return;
    box.append(view.kind === 'image' ? image(view) : table(view.features));
  }

  return {show};
}
