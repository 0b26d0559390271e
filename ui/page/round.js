// round.js: the server round. Every call to the server's functions goes through here (plain JSON over
// HTTP): who is calling (the tab's token, the login or the typed name), the begin / answer / skip / undo
// calls, one at a time, with the input made while one is on its way queued and applied, in order, to
// what comes back; refusals and a silent server said in the message line; the status poll; and the
// side calls of the text help, which never wait for nor hold up the rest.
//
// handlers, from the controls: apply(action) makes an action's local change and returns the request it
// sends, if any ({fn, data}); shown(query, restore) shows a query sent back (restore: an undone answer);
// resumed(query, restore) takes the query a (re)begin sends; status(reply) the status poll's reply.
function nudgeRound({ui, rules, say, typedName}, state, server, handlers) {
  const NAME_KEY = 'nudge.annotator';
  const TAB_KEY = 'nudge.tab';
  const STATUS_MS = 2000;
  const RENAME_MS = 600;
  const SILENT = 'the server did not answer: check the connection, then try again';

  function who() {
    return {token: state.token, name: state.login || state.name};
  }

  // the person's action now, or after the call on its way (kept in order)
  function act(action) {
    if (state.busy) { state.pending.push(action); return; }
    if (action.type === 'rename') { begin(); return; }
    const request = handlers.apply(action);
    if (request) respond(request);
  }

  function replay() {
    while (state.pending.length && !state.busy) act(state.pending.shift());
  }

  // a call that holds the queue until it comes back; busy is set before this returns
  async function call(fn, data) {
    state.busy = true;
    let reply;
    try { reply = await server[fn](data); } catch (error) { reply = undefined; }
    state.busy = false;
    return reply || {ok: false, message: SILENT};
  }

  // a side call: nothing waits for it; undefined when the server does not answer
  async function ask(fn, data) {
    try { return await server[fn](data); } catch (error) { return undefined; }
  }

  async function begin() {
    clearTimeout(state.renameTimer); state.renameTimer = null;
    const reply = await call('nudge_begin', {...who(), previous: sessionStorage.getItem(TAB_KEY)});
    if (reply.ok && reply.query !== undefined) {
      sessionStorage.setItem(TAB_KEY, state.token);
      handlers.resumed(reply.query, reply.restore);
    }
    say(reply.message, reply.ok ? 'note' : 'error');
    replay();
    pollStatus();
  }

  async function respond({fn, data}) {
    clearTimeout(state.renameTimer); state.renameTimer = null;
    const reply = await call(fn, {...who(), ...data});
    if (reply.ok && reply.query !== undefined) handlers.shown(reply.query, reply.restore);
    say(reply.message, reply.ok ? 'note' : 'error');
    replay();
  }

  async function pollStatus() {
    if (!state.token || document.visibilityState === 'hidden') return;
    const reply = await ask('nudge_status', who());
    const line = reply ? reply.line : 'the server does not answer';
    ui.status.textContent = line; ui.status.title = line; // one line on the page, cut at its width: whole on hover
    if (!reply) return;
    handlers.status(reply);
  }

  // a new name counts at once: the tab begins again under it (keeping its point)
  function renameNow() {
    clearTimeout(state.renameTimer); state.renameTimer = null; // now, not once more after the pause
    if (state.login || !state.token) return;
    if (!state.name) { say(rules.name_needed, 'error'); return; }
    act({type: 'rename'});
  }

  function guestName() {
    const bytes = new Uint8Array(3);
    crypto.getRandomValues(bytes);
    return 'guest-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // the page's value from the server: the tab's token, the login (null without --auth) and whether it is the lead's
  function start(value) {
    if (!value || !value.token || state.token) return;
    state.token = value.token;
    state.login = value.login || null;
    if (state.login) {
      ui.name.value = state.login; ui.name.readOnly = true;
      ui.nameNote.textContent = 'logged in';
      ui.account.hidden = false; // a logout (Gradio's /logout) and, for the lead, the team's page
      ui.teamLink.hidden = !value.lead;
    } else {
      state.name = typedName(localStorage.getItem(NAME_KEY) || '') || guestName();
      localStorage.setItem(NAME_KEY, state.name);
      ui.name.value = state.name;
      ui.nameNote.textContent = 'remembered in this browser; a new name counts at once';
    }
    begin();
  }

  ui.name.maxLength = rules.max_name_chars;
  ui.name.addEventListener('input', () => {
    state.name = typedName(ui.name.value);
    if (state.name) localStorage.setItem(NAME_KEY, state.name);
    clearTimeout(state.renameTimer);
    state.renameTimer = setTimeout(renameNow, RENAME_MS);
  });
  document.addEventListener('visibilitychange', () => pollStatus());
  setInterval(pollStatus, STATUS_MS);

  return {act, ask, pollStatus, renameNow, start};
}
