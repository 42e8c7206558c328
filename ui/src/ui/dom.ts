// A tiny element builder: enough DOM for a few screens without a framework.

type Child = Node | string | number | null | undefined | false;
type Value = string | number | boolean | null | undefined;
type Attrs = Record<string, Value | EventListener>;

/** Set as properties, not attributes, so they reflect the live state. */
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected']);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(key)) {
      (el as unknown as Record<string, Value>)[key] = value;
    } else if (value !== null && value !== undefined && value !== false) {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el: Element): void {
  el.replaceChildren();
}
