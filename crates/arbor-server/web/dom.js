// Building elements without ever parsing HTML: every string becomes a text node or an attribute value, so
// names, memos and summaries that contain markup are shown as the text they are.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'tabIndex', 'open']);

/**
 * `h('button', {class: 'primary', onclick: f, 'aria-label': 'Close'}, 'Close')`.
 * Props starting with `on` add listeners; `class` sets the class; a few form props are set as properties;
 * everything else is an attribute (`true` → present, `false`/`null`/`undefined` → absent).
 * Children are nodes, strings, numbers, arrays of them, or null (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'style' || name === 'innerHTML') throw new Error(`h: ${name} is not allowed`);
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (PROPERTIES.has(name)) element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** Replaces an element's children, with the same rules as `h` (arrays flattened, null skipped). */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** "3 rows", "1 row". */
export function plural(count, one, many = `${one}s`) {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

/** "40 s ago", "3 min ago", "2 h ago". */
export function ago(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  return `${Math.round(minutes / 60)} h ago`;
}

/** A stored time (Unix milliseconds) as the reader's local date and time. */
export function when(millis) {
  return new Date(millis).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
