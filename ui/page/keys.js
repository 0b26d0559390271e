// keys.js: the keyboard. Outside a text box: 1-9 a label, Enter submit, s skip, u undo, c or Escape
// clear the directions, Backspace or Delete remove the last arrow; in the rewrite box Ctrl+Enter
// submits, and Enter in the name box makes the new name count at once. Each key becomes an action
// for act (round.js), applied now or after the call on its way.
function nudgeKeys({root, ui, C}, act, renameNow) {
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

  // one document listener for the page's life: a page drawn again (Gradio re-runs js_on_load) takes it over
  if (!window.__nudgeKeys) {
    window.__nudgeKeys = true;
    document.addEventListener('keydown', (event) => window.__nudgeOnKey(event));
  }
  window.__nudgeOnKey = onKey;
}
