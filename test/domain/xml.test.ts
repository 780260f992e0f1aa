import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DomainXmlError } from '../../src/domain/errors.js';
import { domainIdentity, parseDomain } from '../../src/domain/identity.js';
import {
  buildXml,
  childElements,
  cloneElement,
  element,
  firstChild,
  namespaceUri,
  parseXml,
  text,
  type XmlElement,
  type XmlNode,
} from '../../src/domain/xml.js';
import { InputError } from '../../src/util/errors.js';
import { domainFixtureNames, readDomainFixture } from './fixtures.js';

describe('parse then build', () => {
  it('has at least 8 varied domain fixtures to prove itself on', () => {
    expect(domainFixtureNames.length).toBeGreaterThanOrEqual(8);
  });

  it.each(domainFixtureNames)('gives back %s byte for byte', (file) => {
    const original = readDomainFixture(file);
    // text after the root element (the file's final newline) is not part of the document
    expect(buildXml(parseXml(original))).toBe(original.trimEnd());
  });

  it('keeps the order of mixed children: text, elements, text', () => {
    const xml = "<a>one<b x='1'/>two<c>three</c>four<b x='2'/></a>";
    const root = parseXml(xml);
    expect(root.children.map((c) => (c.kind === 'text' ? c.text : `<${c.name}>`))).toEqual([
      'one',
      '<b>',
      'two',
      '<c>',
      'four',
      '<b>',
    ]);
    expect(buildXml(root)).toBe(xml);
  });

  it('keeps attribute order as written, even when not alphabetical', () => {
    const xml = "<disk type='block' device='disk' snapshot='no' cache='none' aaa='1'/>";
    expect(Object.keys(parseXml(xml).attributes)).toEqual(['type', 'device', 'snapshot', 'cache', 'aaa']);
    expect(buildXml(parseXml(xml))).toBe(xml);
  });

  it('keeps namespaced elements, their prefixes and xmlns declarations', () => {
    const original = readDomainFixture('qemu-commandline-namespace.xml');
    const root = parseXml(original);
    const commandline = firstChild(root, 'qemu:commandline');
    expect(commandline).toBeDefined();
    expect(namespaceUri(commandline!, [root])).toBe('http://libvirt.org/schemas/domain/qemu/1.0');
    expect(childElements(commandline!, 'qemu:arg').map((a) => a.attributes['value'])).toEqual([
      '-fw_cfg',
      'name=opt/com.example/config,string=a&b',
    ]);
    expect(buildXml(root)).toContain("<qemu:env name='SPICE_DEBUG_ALLOW_MC' value='1'/>");
  });

  it('decodes entities into the tree and encodes them again', () => {
    const root = parseXml(`<d a="x&amp;y &lt;z&gt; &quot;q&quot; &apos;s&apos;">1 &lt; 2 &amp;&amp; 3 &gt; 2</d>`);
    expect(root.attributes['a']).toBe(`x&y <z> "q" 's'`);
    expect(root.children).toEqual([{ kind: 'text', text: '1 < 2 && 3 > 2' }]);
    expect(buildXml(root)).toBe("<d a='x&amp;y &lt;z&gt; &quot;q&quot; &apos;s&apos;'>1 &lt; 2 &amp;&amp; 3 &gt; 2</d>");
  });

  it('keeps newlines and tabs inside attribute values through character references', () => {
    const root = element('x', { v: 'line1\nline2\tend' });
    const again = parseXml(buildXml(root));
    expect(again.attributes['v']).toBe('line1\nline2\tend');
  });

  it('writes double-quoted input in libvirt style without changing its meaning', () => {
    const root = parseXml('<domain type="kvm"><name>n</name></domain>');
    expect(buildXml(root)).toBe("<domain type='kvm'><name>n</name></domain>");
  });

  it('drops comments and the XML declaration, as libvirt itself does', () => {
    const xml = "<?xml version='1.0'?>\n<!-- made by hand -->\n<domain type='kvm'><!-- inside --><name>n</name></domain>";
    expect(buildXml(parseXml(xml))).toBe("<domain type='kvm'><name>n</name></domain>");
  });

  it('keeps the text of a CDATA section', () => {
    expect(buildXml(parseXml('<d>a<![CDATA[<b>&]]>c</d>'))).toBe('<d>a&lt;b&gt;&amp;c</d>');
  });

  it('refuses malformed XML with a DomainXmlError (an input error, exit code 2)', () => {
    const bad = ['<domain><name>x</domain>', '<domain', 'not xml at all', '', '   ', '<a>&bogus;</a>'];
    // content after the root would otherwise be dropped without a word
    bad.push("<domain><name>a</name></domain>junk", "<domain><name>a</name></domain><domain><name>b</name></domain>");
    for (const xml of bad) {
      let caught: unknown;
      try {
        parseXml(xml);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(DomainXmlError);
      expect(caught).toBeInstanceOf(InputError);
      expect((caught as InputError).exitCode).toBe(2);
    }
  });

  it('refuses a document whose root is not <domain> where a domain is expected', () => {
    expect(() => parseDomain("<network><name>default</name></network>")).toThrow(/root element is <network>/);
  });

  it('cloneElement gives a tree that shares nothing with the original', () => {
    const root = parseXml("<a x='1'><b>t</b></a>");
    const copy = cloneElement(root);
    (copy.children[0] as XmlElement).attributes['y'] = '2';
    copy.attributes['x'] = 'changed';
    expect(buildXml(root)).toBe("<a x='1'><b>t</b></a>");
  });
});

describe('parse then build, for any tree (property)', () => {
  const nameArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,8}(:[A-Za-z_][A-Za-z0-9_-]{0,6})?$/);
  // printable text including the characters XML must escape; no control characters XML forbids
  const textArb = fc.stringMatching(/^[ -~\n\t\u00e9\u20ac]{1,20}$/);

  const treeArb: fc.Arbitrary<XmlElement> = fc.letrec<{ el: XmlElement; node: XmlNode }>((tie) => ({
    el: fc
      .record({
        name: nameArb,
        attributes: fc.dictionary(nameArb, fc.stringMatching(/^[ -~\n\t]{0,12}$/), { maxKeys: 4 }),
        children: fc.array(tie('node'), { maxLength: 4 }),
      })
      .map(({ name, attributes, children }) => element(name, attributes, mergeAdjacentText(children))),
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, textArb.map(text), tie('el')),
  })).el;

  it('gives back an equal tree', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        expect(parseXml(buildXml(tree))).toEqual(tree);
      }),
      { numRuns: 300 },
    );
  });
});

/** A parser cannot tell two adjacent text nodes apart; generated trees hold them merged. */
function mergeAdjacentText(nodes: XmlNode[]): XmlNode[] {
  const out: XmlNode[] = [];
  for (const n of nodes) {
    const last = out[out.length - 1];
    if (n.kind === 'text' && last?.kind === 'text') out[out.length - 1] = text(last.text + n.text);
    else out.push(n);
  }
  return out;
}

describe('domainIdentity', () => {
  it('reads the name and UUID of a fixture', () => {
    expect(domainIdentity(readDomainFixture('web-virtio-block.xml'))).toEqual({
      name: 'fx-web',
      uuid: '3f1c2a9e-5b0d-4c7e-9a61-0d2f4b8e7c01',
    });
  });

  it('gives a null UUID when the XML has none, and refuses a domain without a name', () => {
    expect(domainIdentity("<domain type='kvm'><name> spaced </name></domain>")).toEqual({ name: 'spaced', uuid: null });
    expect(() => domainIdentity("<domain type='kvm'><uuid>x</uuid></domain>")).toThrow(DomainXmlError);
  });
});

describe('element names that clash with xml2js internals', () => {
  it.each(['_', '__text__', 'cdata', '__proto__', 'constructor'])('keeps an element named %s', (name) => {
    const xml = `<r><${name}><${name}/></${name}><${name} a='1'>t</${name}><${name}/></r>`;
    expect(buildXml(parseXml(xml))).toBe(xml);
  });
});
