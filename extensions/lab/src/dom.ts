/** Small DOM helpers shared by the sidebar and the team report panel. */

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) {
    node.className = props.className;
  }
  if (props.text !== undefined) {
    node.textContent = props.text;
  }
  for (const [k, v] of Object.entries(props.attrs || {})) {
    node.setAttribute(k, v);
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

/**
 * A JupyterLab-styled button (`jp-Button jp-mod-styled`, themed colours): `primary` for the main action of a
 * card or panel, `small` for actions inside headers and tables.
 */
export function button(
  text: string,
  className: string,
  onClick: () => void,
  opts: { primary?: boolean; small?: boolean; attrs?: Record<string, string> } = {}
): HTMLButtonElement {
  const classes = ['jp-Button', 'jp-mod-styled', 'wb-Button', className];
  if (opts.primary) {
    classes.push('jp-mod-accept', 'wb-mod-primary');
  }
  if (opts.small) {
    classes.push('jp-mod-small');
  }
  const node = el('button', { className: classes.join(' '), text, attrs: { type: 'button', ...(opts.attrs || {}) } });
  node.addEventListener('click', onClick);
  return node;
}

/** A JupyterLab-styled select filling its container (never truncating its options). */
export function select(className: string, label: string): HTMLSelectElement {
  return el('select', { className: `jp-mod-styled wb-Select ${className}`, attrs: { 'aria-label': label } });
}

/** One decimal, or an en dash for a missing value. */
export function fmt(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : value.toFixed(1);
}
