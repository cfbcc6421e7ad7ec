import { parser } from 'sax';

/** An element of a parsed XML document: enough to query an SVG in a test. */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** The element's own text, entities decoded. */
  text: string;
}

/**
 * Parses `xml` with sax in strict mode: a document that is not well-formed (an unescaped `<` or `&`, a
 * bad entity, a tag left open or closed twice, text after the root) throws with sax's position.
 */
export function parseXml(xml: string): XmlElement {
  const p = parser(true);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let error: Error | undefined;
  p.onerror = (err) => {
    error ??= err;
    throw err;
  };
  p.onopentag = (tag) => {
    const el: XmlElement = { name: tag.name, attrs: tag.attributes, children: [], text: '' };
    if (stack.length === 0) {
      if (root !== undefined) throw new Error('a second root element');
      root = el;
    } else stack[stack.length - 1]!.children.push(el);
    stack.push(el);
  };
  p.onclosetag = () => void stack.pop();
  p.ontext = (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
    else if (t.trim() !== '') throw new Error(`text outside the root element: ${JSON.stringify(t.slice(0, 40))}`);
  };
  p.write(xml).close();
  if (error) throw error;
  if (root === undefined) throw new Error('no root element');
  return root;
}

/** Every element below `el` (depth first) that `match` accepts. */
export function findAll(el: XmlElement, match: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (match(c)) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

/** The text of `el` and everything below it. */
export function allText(el: XmlElement): string {
  return el.text + el.children.map(allText).join('');
}

export const hasClass = (name: string) => (e: XmlElement) => (e.attrs['class'] ?? '').split(/\s+/).includes(name);
