// main.js: the modules wired together, last of the page's scripts. The page runs as gr.HTML's
// js_on_load, the body of a plain function given (element, trigger, props, server, upload, watch):
// no import statements there, so the modules are files joined in a fixed order at start-up
// (nudge.ui.app.PAGE_SCRIPTS), each one function that takes what it uses and returns a small interface.
// round.js owns the calls to the server; the controls, made after it, handle what the calls send back.
const base = nudgeBase(element, props.config);
const state = nudgeState();
const answer = nudgeAnswer(base, state);
const drawing = nudgeDrawing(base, state, answer);
// the round's handlers reach the text help and the controls made after it: it calls them once started
const round = nudgeRound(base, state, server, {
  apply: (action) => controls.apply(action),
  shown: (query, undone) => { itemView.show(query); controls.shown(query, undone); },
  resumed: (query, undone) => { itemView.show(query); controls.resumed(query, undone); },
  status: (reply) => {
    if (reply.history) drawing.plotProgress(reply.history, reply.measured);
    if (reply.model_version !== undefined) textHelp.modelPublished(reply.model_version);
  },
});
const itemView = nudgeItemView(base);
const textHelp = nudgeTextHelp(base, state, answer, round.ask);
const controls = nudgeControls(base, state, answer, drawing, textHelp, round.act);
nudgeKeys(base, state, round.act, round.renameNow);
window.addEventListener('resize', () => drawing.draw());
// for scripts and tests: the picture's mapping between plane coordinates and canvas pixels, how ticks, arrows and
// classes are written and coloured, and the state
window.nudgePage = {toPixel: drawing.toPixel, toPlane: drawing.toPlane, box: drawing.box, tickLabel: drawing.tickLabel,
  arrowTag: drawing.arrowTag, colour: base.colour, keys: base.keys, state};

drawing.draw();
drawing.plotProgress([]);
round.start(props.value);
watch('value', () => round.start(props.value));
