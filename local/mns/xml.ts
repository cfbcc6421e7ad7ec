/**
 * The little XML the MNS wire needs: parse a request body into an element tree, and escape text for
 * responses. MNS request bodies are flat documents (`<Queue>`, `<Message>`, `<Messages>`,
 * `<ReceiptHandles>`) with at most two levels of nesting; attributes (the `xmlns`) are ignored.
 * Anything that is not well-formed throws {@link XmlSyntaxError} (answered as MalformedXML).
 */

export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  /** The concatenated, entity-decoded text directly inside the element. */
  text: string;
}

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|&/g, (whole, entity: string | undefined) => {
    if (entity === undefined) throw new XmlSyntaxError('bare "&" in text: escape it as &amp;');
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    const named = NAMED_ENTITIES[entity];
    if (named === undefined) throw new XmlSyntaxError(`unknown entity ${whole}`);
    return named;
  });
}

/** Parses one XML document and returns its root element. */
export function parseXml(input: string): XmlElement {
  let at = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  const skipProlog = (): void => {
    for (;;) {
      while (at < input.length && /\s/.test(input[at] ?? '')) at += 1;
      if (input.startsWith('<?', at)) {
        const end = input.indexOf('?>', at);
        if (end < 0) throw new XmlSyntaxError('unterminated <? ... ?>');
        at = end + 2;
      } else if (input.startsWith('<!--', at)) {
        const end = input.indexOf('-->', at);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        at = end + 3;
      } else return;
    }
  };

  skipProlog();
  while (at < input.length) {
    const lt = input.indexOf('<', at);
    const textEnd = lt < 0 ? input.length : lt;
    if (textEnd > at) {
      const text = input.slice(at, textEnd);
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        if (text.trim() !== '') throw new XmlSyntaxError('text outside the root element');
      } else parent.text += decodeEntities(text);
      at = textEnd;
      continue;
    }
    if (input.startsWith('<![CDATA[', at)) {
      const end = input.indexOf(']]>', at);
      const parent = stack[stack.length - 1];
      if (end < 0 || parent === undefined) throw new XmlSyntaxError('misplaced or unterminated CDATA');
      parent.text += input.slice(at + 9, end);
      at = end + 3;
      continue;
    }
    if (input.startsWith('<!--', at)) {
      const end = input.indexOf('-->', at);
      if (end < 0) throw new XmlSyntaxError('unterminated comment');
      at = end + 3;
      continue;
    }
    const gt = input.indexOf('>', at);
    if (gt < 0) throw new XmlSyntaxError('unterminated tag');
    const tag = input.slice(at + 1, gt);
    at = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open === undefined || open.name !== name) throw new XmlSyntaxError(`unexpected </${name}>`);
      if (stack.length === 0) {
        root = open;
        skipProlog();
        if (at < input.length && input.slice(at).trim() !== '') throw new XmlSyntaxError('content after the root element');
        break;
      }
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const nameMatch = /^([A-Za-z_][\w.:-]*)(\s[^]*)?$/.exec(selfClosing ? tag.slice(0, -1) : tag);
    if (nameMatch === null) throw new XmlSyntaxError(`bad tag <${tag}>`);
    const element: XmlElement = { name: nameMatch[1] as string, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent !== undefined) parent.children.push(element);
    else if (root !== undefined || stack.length > 0) throw new XmlSyntaxError('more than one root element');
    if (selfClosing) {
      if (parent === undefined) {
        root = element;
        break;
      }
    } else stack.push(element);
  }
  if (stack.length > 0 || root === undefined) throw new XmlSyntaxError('document ends inside an element');
  return root;
}

/** The first child element with this name. */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

/** Escapes text for an XML element body. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}

/** Renders `<Root xmlns=MNS>` with the given children, already rendered. */
export function mnsDocument(root: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://mns.aliyuncs.com/doc/v1/">${inner}</${root}>`;
}

/** `<K>v</K>` for each entry whose value is defined, in order. */
export function elements(entries: ReadonlyArray<readonly [string, string | number | undefined]>): string {
  return entries
    .filter((entry): entry is readonly [string, string | number] => entry[1] !== undefined)
    .map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`)
    .join('');
}
