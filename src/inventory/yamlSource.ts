// The inventory text as a YAML 1.2 document (JSON is YAML 1.2 too), kept together with its
// positions so every later message can name the line of a key path.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { InputErrorCode, type Problem } from '../util/errors.js';

export type KeyPath = readonly (string | number)[];

export interface YamlSource {
  /** plain JS value of the document; undefined when the text does not parse */
  data: unknown;
  /** 1-based line of the key (or list item) at `path`; for a path that does not exist, the line of its deepest existing parent */
  lineOf(path: KeyPath): number | undefined;
  /** syntax errors and duplicate keys */
  problems: Problem[];
}

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

export function readYaml(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  // uniqueKeys off: we report duplicates ourselves, naming both lines and the key path
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const lineAt = (offset: number): number => lines.linePos(offset).line;

  const lineOf = (path: KeyPath): number | undefined => {
    let node: unknown = doc.contents;
    let line: number | undefined = isNodeWithRange(node) ? lineAt(node.range[0]) : undefined;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => keyName(p.key) === String(part));
        if (pair === undefined) return line;
        if (isNodeWithRange(pair.key)) line = lineAt(pair.key.range[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        const item = node.items[part];
        if (!isNodeWithRange(item)) return line;
        line = lineAt(item.range[0]);
        node = item;
      } else {
        return line;
      }
    }
    return line;
  };

  const problems: Problem[] = [];
  // after the first syntax error the parser's later errors are mostly echoes of it
  const [error] = doc.errors;
  if (error !== undefined) {
    const { line, col } = lines.linePos(error.pos[0]);
    const more = doc.errors.length - 1;
    problems.push({
      code: InputErrorCode.invalidInput,
      message: `not valid YAML or JSON: ${error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}${more > 0 ? ` (and ${more} more error${more === 1 ? '' : 's'} after it)` : ''}`,
      hint: `fix the syntax at line ${line} or just above it (indentation, an unclosed bracket or quote, a missing colon or comma)`,
      at: { file, line, column: col },
    });
  }
  if (problems.length > 0) return { data: undefined, lineOf, problems };

  findDuplicateKeys(doc.contents, [], (path, key, firstLine, line) => {
    const what = path.length === 1 && path[0] === 'hosts' ? `host ${JSON.stringify(key)}` : `key ${JSON.stringify(key)}`;
    problems.push({
      code: InputErrorCode.alreadyExists,
      message: `${what} is declared twice (first at line ${firstLine})`,
      hint: `keep one ${JSON.stringify(key)} entry: rename or merge the two`,
      at: { file, path: [...path, key], line },
    });
  }, lineAt);

  return { data: doc.toJS({ maxAliasCount: 1000 }) as unknown, lineOf, problems };
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && Array.isArray((node as { range?: unknown }).range);
}

function findDuplicateKeys(
  node: unknown,
  path: (string | number)[],
  report: (path: (string | number)[], key: string, firstLine: number, line: number) => void,
  lineAt: (offset: number) => number,
): void {
  if (isMap(node)) {
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      const key = keyName(pair.key);
      const line = isNodeWithRange(pair.key) ? lineAt(pair.key.range[0]) : 0;
      const first = seen.get(key);
      if (first !== undefined) report(path, key, first, line);
      else seen.set(key, line);
      findDuplicateKeys(pair.value, [...path, key], report, lineAt);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => findDuplicateKeys(item, [...path, i], report, lineAt));
  }
}
