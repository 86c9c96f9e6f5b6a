// A few lines instead of a framework: elements are built with h(), and text always goes in as
// text nodes, so names and descriptions that users typed can never inject markup.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replaces all children of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** Sets text only when it changed, so live updates do not disturb selection or screen readers. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A countdown kept fresh by tick(): the element shows the time left until `end`. */
export function countdown(end: Date, render: (end: Date) => string): HTMLElement {
  const el = h("span", { "data-ends-at": String(end.getTime()) }, render(end));
  renderers.set(el, render);
  return el;
}

const renderers = new WeakMap<Element, (end: Date) => string>();

/** One timer for every countdown on the page (they come and go with the pages). */
export function startCountdowns(): void {
  setInterval(() => {
    for (const el of document.querySelectorAll<HTMLElement>("[data-ends-at]")) {
      const render = renderers.get(el);
      if (render) setText(el, render(new Date(Number(el.dataset.endsAt))));
    }
  }, 1000);
}

/** The item's picture, or the "no image" placeholder when there is none or it fails to load
 * (image URLs are whatever sellers typed; a dead link must not leave a broken box). */
export function photo(url: string | undefined, alt: string, cls: string): HTMLElement {
  const placeholder = () => h("div", { class: `${cls} noimage` }, "no image");
  if (!url) return placeholder();
  const img = h("img", { class: cls, src: url, alt, loading: "lazy" });
  img.addEventListener("error", () => img.replaceWith(placeholder()), { once: true });
  return img;
}
