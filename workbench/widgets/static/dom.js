// Shared DOM helpers of the widget views. Not a module of its own: workbench.widgets._static.widget_esm() puts
// this text in front of each view's ES module (anywidget loads one ESM string per widget, with no bundler).

/**
 * An element with attributes, listeners (``on<event>``) and children. ``false``/``null``/``undefined`` attributes
 * are left out and ``true`` sets a boolean attribute, so ``{disabled: busy}`` means what it says.
 * @param {string} tag @param {Record<string, any>} [attrs] @param {(Node|string)[]} [children]
 */
function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : String(v));
  }
  // Keys typed into a widget's text field belong to it: JupyterLab's notebook shortcuts (Enter, Shift+Enter, a, b,
  // d d, ...) must not see them, or Enter in a text box would not type a new line.
  if (tag === "textarea" || tag === "input" || tag === "select") el.addEventListener("keydown", (e) => e.stopPropagation());
  for (const c of children) el.append(c);
  return el;
}

/** A value for display: "–" when missing, numbers to ``digits`` decimals unless whole. */
function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return String(value);
}
