// base.js: what every module of the page shares: its elements, the session's configuration with the
// answer rules the server sends (config.rules: the page holds no copy of them), the class colours,
// and small helpers to make elements, to say things and to read a typed text as the server does. Every text from the data (class names,
// texts, names, messages) is set as text, never as HTML.
function nudgeBase(element, config) {
  const root = element.querySelector('.nudge');
  const $ = (selector) => root.querySelector(selector);
  const ui = {
    title: $('.title'), hint: $('.hint'), name: $('#annotator-name input'), nameNote: $('.name-note'),
    status: $('#status-line'), message: $('#message'), prediction: $('#prediction'), text: $('#query-text'),
    picture: $('#projection'), canvas: $('#projection canvas'), legend: $('.legend'), labels: $('#label-choice'),
    labelKeys: $('#label-choice legend'),
    maxDirections: $('.max-directions'), arrowList: $('#arrow-list'), towardsList: $('#towards-list'),
    rewriteBox: $('.rewrite'), rewrite: $('#rewrite'), rewriteTarget: $('#rewrite-target'),
    submit: $('#submit-button'), skip: $('#skip-button'), undo: $('#undo-button'), clear: $('#clear-button'),
    progress: $('#progress-plot'), progressTitle: $('#progress-title'), highlightNote: $('#highlight-note'), feedback: $('#rewrite-feedback'),
    reading: $('#rewrite-feedback .reading'), warning: $('#rewrite-feedback .warning'),
    diff: $('#rewrite-feedback .diff'), account: $('.account'), teamLink: $('.team-link'),
  };
  // matplotlib's tab10 then tab20's lighter halves: 20 colours that do not repeat; then a rule (golden-angle hues)
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
    '#bcbd22', '#17becf', '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#c7c7c7',
    '#dbdb8d', '#9edae5'];
  const probe = document.createElement('canvas').getContext('2d');

  function colour(k) {
    if (!(k >= 0)) return '#888888';
    if (k < PALETTE.length) return PALETTE[k];
    const hue = Math.round((k - PALETTE.length) * 137.508) % 360, light = [38, 52, 66][(k - PALETTE.length) % 3];
    return 'hsl(' + hue + ', 62%, ' + light + '%)';
  }

  // the key of each class, as typed: the class's own name when the classes are named by numbers (0, 1, …; up
  // to two digits), else 1..9 and 0 for the tenth; with more than ten, 1..9 then 10, 11, … (two digits typed)
  const numbered = config.classes.every((name) => /^(0|[1-9][0-9]?)$/.test(name));
  const KEYS = config.classes.map((name, k) => {
    if (numbered) return name;
    return config.classes.length <= 10 ? String((k + 1) % 10) : String(k + 1);
  });

  // a typed text without the characters the server sets aside around it (str.strip()'s, not String.trim's)
  function stripped(text) {
    const spaces = config.rules.spaces;
    let start = 0, end = text.length;
    while (start < end && spaces.includes(text[start])) start += 1;
    while (end > start && spaces.includes(text[end - 1])) end -= 1;
    return text.slice(start, end);
  }

  // a name as the server reads it: stripped, and '' when it shows nothing (only invisible characters)
  const BLANK = new RegExp(`^${config.rules.blank}*$`, 'u');
  function typedName(text) {
    const name = stripped(text);
    return BLANK.test(name) ? '' : name;
  }

  // arrows are named by letters (A, B, …): the numbers are the examples' to move towards
  function arrowName(i) {
    return String.fromCharCode(65 + i);
  }

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

  function rgb(hex) {
    probe.fillStyle = hex;
    const normal = probe.fillStyle; // #rrggbb, or rgba(...) for colours with alpha
    if (normal.startsWith('#')) return [1, 3, 5].map((i) => parseInt(normal.slice(i, i + 2), 16));
    return normal.match(/[\d.]+/g).slice(0, 3).map(Number);
  }

  return {root, ui, config, rules: config.rules, classes: config.classes, C: config.classes.length, keys: KEYS,
    colour, arrowName, el, say, cssColour, rgb, stripped, typedName};
}
