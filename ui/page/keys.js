// keys.js: the keyboard. Outside a text box: a class's key (base.js's keys: shown beside each label; two
// digits typed one after the other for a two-digit key) its label, Enter submit, s skip, u undo, c or Escape
// clear the directions, Backspace or Delete remove the last arrow; in the rewrite box Ctrl+Enter
// submits, and Enter in the name box makes the new name count at once. Each key becomes an action
// for act (round.js), applied now or after the call on its way.
function nudgeKeys({root, ui, keys, say}, state, act, renameNow) {
  const TWO_DIGITS_MS = 1000; // a second digit this soon after the first makes a two-digit key, if one exists
  const NO_KEY = 'no class has the key ';

  // the class a digit selects, with the digit typed just before it if together they are a key
  function classOfDigit(digit) {
    const joined = state.typedKey + digit;
    const now = performance.now(), recent = now - state.typedAt < TWO_DIGITS_MS;
    state.typedAt = now;
    if (recent && state.typedKey && keys.includes(joined)) { state.typedKey = joined; return keys.indexOf(joined); }
    state.typedKey = digit;
    return keys.indexOf(digit);
  }

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
    if (/^[0-9]$/.test(key)) {
      const index = classOfDigit(key);
      if (index < 0) { say(NO_KEY + key + ': the keys are shown beside the labels', 'error'); return; }
      if (ui.message.textContent.startsWith(NO_KEY)) say(''); // a key that matched: the stale complaint goes
      action = {type: 'label', index};
    } else if (key === 'Enter') action = {type: 'submit'};
    else if (key === 's') action = {type: 'skip'};
    else if (key === 'u') action = {type: 'undo'};
    else if (key === 'c' || key === 'Escape') action = {type: 'clear'};
    else if (key === 'Backspace' || key === 'Delete') action = {type: 'last'};
    if (action) { event.preventDefault(); act(action); }
  }

  // one document listener for the page's life: a page drawn again (Gradio re-runs js_on_load) takes it over
  if (!window.__nudgeKeys) {
    window.__nudgeKeys = true;
    document.addEventListener('keydown', (event) => window.__nudgeOnKey(event));
  }
  window.__nudgeOnKey = onKey;
}
