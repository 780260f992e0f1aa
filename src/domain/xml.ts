// Domain XML as an ordered tree: parsed by xml2js, written back by a small serializer of our own,
// because xml2js's Builder cannot express interleaved children (it groups them by element name).
//
// What survives a parse → build: every element and attribute (names kept verbatim, so namespace
// prefixes and xmlns declarations stay as written), attribute order, the order of children, and
// all text including whitespace. What does not: comments, processing instructions, the XML
// declaration and CDATA markers (the text inside is kept) — libvirt drops all of them too.
// Output uses libvirt's own style: single-quoted attributes, `<empty/>` elements.

import xml2js from 'xml2js';
import { DomainXmlError } from './errors.js';

export interface XmlElement {
  readonly kind: 'element';
  /** the qualified name as written, e.g. `disk` or `qemu:commandline` */
  name: string;
  /** in document order; JavaScript objects keep string keys in insertion order */
  attributes: Record<string, string>;
  children: XmlNode[];
}

export interface XmlText {
  readonly kind: 'text';
  text: string;
}

export type XmlNode = XmlElement | XmlText;

/** The shape xml2js gives each node with explicitChildren + preserveChildrenOrder + charsAsChildren. */
interface RawNode {
  '#name': string;
  $?: Record<string, string>;
  '#text'?: string;
  $$?: RawNode[];
}

// xml2js stores text, attributes and children under keys of the element object itself; '#' and
// '$' cannot start an XML name, so these keys never collide with a child element's name.
const TEXT_KEY = '#text';
const TEXT_NODE_NAME = '__text__';

/** A text piece, not an element that happens to be named `__text__`: only text pieces carry a
 * string under TEXT_KEY without ever having children or attributes. */
function isTextPiece(raw: RawNode): boolean {
  return raw['#name'] === TEXT_NODE_NAME && typeof raw[TEXT_KEY] === 'string' && raw.$$ === undefined && raw.$ === undefined;
}

const PARSER_OPTIONS: xml2js.ParserOptions = {
  explicitRoot: false,
  attrkey: '$',
  charkey: TEXT_KEY,
  childkey: '$$',
  explicitChildren: true,
  preserveChildrenOrder: true,
  charsAsChildren: true,
  includeWhiteChars: true,
  // the ordered `$$` list is the only tree we read; the keyed copies xml2js also builds are ignored
  explicitArray: true,
  trim: false,
  normalize: false,
  xmlns: false,
  async: false,
  strict: true,
};

/** What was computed from recent documents, by their text, the oldest forgotten first. The
 * keys are the strings callers hold anyway; equal texts from two reads hash alike. */
export class ByText<T> {
  private readonly known = new Map<string, T>();
  constructor(private readonly max: number) {}

  get(text: string): T | undefined {
    return this.known.get(text);
  }

  has(text: string): boolean {
    return this.known.has(text);
  }

  set(text: string, value: T): void {
    if (this.known.size >= this.max) this.known.delete(this.known.keys().next().value!);
    this.known.set(text, value);
  }
}

/** The last few documents parsed. The engine reads one definition through several string
 * functions in a row (disks, metadata, a rewrite); xml2js takes ~0.2 ms a parse, a clone a few
 * microseconds. Callers get their own copy, since they edit the tree. (Planning parses each
 * definition once and edits the tree itself: plan/vm-steps.ts.) */
const recentlyParsed = new ByText<XmlElement>(8);
/** Texts parsed once lately: a tree is kept (a clone of it) only for a text seen a second time,
 * so a fleet's plan, which parses thousands of texts once each, pays no clone for them. */
const seenOnce = new ByText<true>(8);

/** Parses an XML document into its root element. Throws DomainXmlError on malformed XML,
 * including content after the root element (which xml2js alone would silently drop). */
export function parseXml(xml: string): XmlElement {
  const known = recentlyParsed.get(xml);
  if (known !== undefined) return cloneElement(known);
  const parsed = parseUncached(xml);
  if (seenOnce.has(xml)) recentlyParsed.set(xml, cloneElement(parsed));
  else seenOnce.set(xml, true);
  return parsed;
}

function parseUncached(xml: string): XmlElement {
  const parser = new xml2js.Parser(PARSER_OPTIONS);
  const roots: RawNode[] = [];
  const failures: unknown[] = [];
  // Listeners rather than parseString's callback: the callback stops listening after the first
  // root, and we must see a second root or stray text to refuse them.
  parser.on('end', (result: RawNode | null) => {
    if (result !== null) roots.push(result);
  });
  parser.on('error', (err: unknown) => failures.push(err));
  try {
    // with async: false, the whole parse and all its events happen inside this call
    parser.parseString(xml);
  } catch (err) {
    failures.push(err);
  }
  if (failures.length > 0) throw new DomainXmlError(`not well-formed XML: ${firstLine(failures[0])}`);
  const [root, ...more] = roots;
  if (root === undefined) throw new DomainXmlError('the XML document is empty');
  if (more.length > 0) throw new DomainXmlError('not well-formed XML: more than one root element');
  return fromRaw(root);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

function fromRaw(raw: RawNode): XmlElement {
  const children: XmlNode[] = [];
  for (const child of raw.$$ ?? []) {
    if (isTextPiece(child)) {
      const text = child[TEXT_KEY] ?? '';
      const previous = children[children.length - 1];
      // sax may report one run of text in several pieces (around entities); keep it as one node
      if (previous?.kind === 'text') previous.text += text;
      else if (text !== '') children.push({ kind: 'text', text });
    } else {
      children.push(fromRaw(child));
    }
  }
  return { kind: 'element', name: raw['#name'], attributes: { ...(raw.$ ?? {}) }, children };
}

/** Serializes an element tree back to XML text (no XML declaration, like libvirt). */
export function buildXml(root: XmlElement): string {
  // parts joined once: a string grown by += stays a rope of hundreds of pieces, which a plan
  // of thousands of VMs holding four definitions each keeps in memory (40 MB per 2,000 VMs)
  const out: string[] = [];
  writeElement(root, out);
  return out.join('');
}

function writeElement(el: XmlElement, out: string[]): void {
  out.push('<', el.name);
  for (const name in el.attributes) out.push(' ', name, "='", escapeAttribute(el.attributes[name]!), "'");
  if (el.children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  for (const child of el.children) {
    if (child.kind === 'text') out.push(escapeText(child.text));
    else writeElement(child, out);
  }
  out.push('</', el.name, '>');
}

// libvirt escapes quotes in text too; doing the same makes libvirt's own output round-trip byte for byte
const TEXT_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  "'": '&apos;',
  '"': '&quot;',
  '\r': '&#13;',
};
const ATTRIBUTE_ESCAPES: Record<string, string> = {
  ...TEXT_ESCAPES,
  // a parser turns raw tabs and newlines in attribute values into spaces; character references survive
  '\n': '&#10;',
  '\t': '&#9;',
};

const TEXT_SPECIAL = /[&<>'"\r]/;
const ATTRIBUTE_SPECIAL = /[&<>\r'"\n\t]/;

// most text and values have nothing to escape: a test is cheaper than a replace that finds nothing
export function escapeText(text: string): string {
  return TEXT_SPECIAL.test(text) ? text.replace(/[&<>'"\r]/g, (c) => TEXT_ESCAPES[c] ?? c) : text;
}

export function escapeAttribute(value: string): string {
  return ATTRIBUTE_SPECIAL.test(value) ? value.replace(/[&<>\r'"\n\t]/g, (c) => ATTRIBUTE_ESCAPES[c] ?? c) : value;
}

// ---- navigation and small edits, shared by disks.ts, metadata.ts and identity.ts ----

export function element(name: string, attributes: Record<string, string> = {}, children: XmlNode[] = []): XmlElement {
  return { kind: 'element', name, attributes: { ...attributes }, children };
}

export function text(value: string): XmlText {
  return { kind: 'text', text: value };
}

/** Direct child elements, optionally only those with a given qualified name. */
export function childElements(parent: XmlElement, name?: string): XmlElement[] {
  return parent.children.filter(
    (c): c is XmlElement => c.kind === 'element' && (name === undefined || c.name === name),
  );
}

export function firstChild(parent: XmlElement, name: string): XmlElement | undefined {
  return childElements(parent, name)[0];
}

/** The concatenated text directly inside an element (what libvirt reads for `<name>` and the like). */
export function textContent(el: XmlElement): string {
  return el.children.map((c) => (c.kind === 'text' ? c.text : textContent(c))).join('');
}

/** A deep copy: edits never alias the tree a caller still holds. */
export function cloneElement(el: XmlElement): XmlElement {
  return {
    kind: 'element',
    name: el.name,
    attributes: { ...el.attributes },
    children: el.children.map((c) => (c.kind === 'text' ? text(c.text) : cloneElement(c))),
  };
}

/** The namespace URI an element's name is in, resolved through the xmlns declarations of its
 * ancestors (outermost first) and itself. null for a name in no namespace. */
export function namespaceUri(el: XmlElement, ancestors: readonly XmlElement[]): string | null {
  const colon = el.name.indexOf(':');
  const declaration = colon === -1 ? 'xmlns' : `xmlns:${el.name.slice(0, colon)}`;
  for (const scope of [el, ...[...ancestors].reverse()]) {
    const uri = scope.attributes[declaration];
    if (uri !== undefined) return uri === '' ? null : uri;
  }
  return null;
}

/** Does the document carry indentation (whitespace text between elements)? New elements follow suit. */
export function isIndented(root: XmlElement): boolean {
  return root.children.some((c) => c.kind === 'text' && c.text.includes('\n') && c.text.trim() === '');
}

const INDENT_UNIT = '  ';

export interface InsertOptions {
  /** nesting level of the parent (the root is 0) */
  depth: number;
  /** indent the new element like libvirt does; usually `isIndented(root)` */
  indent: boolean;
  /** insert before this element child (index among element children only); default: at the end */
  beforeElementIndex?: number;
}

/** Inserts `child` among `parent`'s children, indented like its siblings when asked. */
export function insertChildElement(parent: XmlElement, child: XmlElement, options: InsertOptions): void {
  const { depth, indent } = options;
  const innerIndent = '\n' + INDENT_UNIT.repeat(depth + 1);
  const outerIndent = '\n' + INDENT_UNIT.repeat(depth);
  if (indent) indentNewElement(child, depth + 1);
  const before =
    options.beforeElementIndex === undefined ? undefined : childElements(parent)[options.beforeElementIndex];
  if (before !== undefined) {
    const at = parent.children.indexOf(before);
    parent.children.splice(at, 0, ...(indent ? [child, text(innerIndent)] : [child]));
    return;
  }
  if (!indent) {
    parent.children.push(child);
    return;
  }
  // append after the last element: the trailing whitespace (before the closing tag) moves after the child
  const last = parent.children[parent.children.length - 1];
  if (last?.kind === 'text' && last.text.trim() === '') {
    parent.children.splice(parent.children.length - 1, 0, text(innerIndent), child);
  } else {
    parent.children.push(text(innerIndent), child, text(outerIndent));
  }
}

/** Removes an element child and the whitespace that indented it. */
export function removeChildElement(parent: XmlElement, child: XmlElement): void {
  const at = parent.children.indexOf(child);
  if (at === -1) return;
  const previous = parent.children[at - 1];
  if (previous?.kind === 'text' && previous.text.trim() === '') parent.children.splice(at - 1, 2);
  else parent.children.splice(at, 1);
}

/** Adds whitespace to a freshly built, text-free element so it prints like libvirt's own output. */
function indentNewElement(el: XmlElement, depth: number): void {
  const kids = childElements(el);
  if (kids.length === 0 || kids.length !== el.children.length) return;
  const inner = '\n' + INDENT_UNIT.repeat(depth + 1);
  const outer = '\n' + INDENT_UNIT.repeat(depth);
  el.children = kids.flatMap((k) => [text(inner), k]);
  el.children.push(text(outer));
  for (const k of kids) indentNewElement(k, depth + 1);
}
