/**
 * One array of a JSON answer left as bytes: its elements cut out of the answer without being parsed.
 *
 * A backup writes each customer relation exactly as the platform sent it. Parsing a 40 KB page into
 * objects only to serialise every object again cost more than the rest of the backup together; cutting the
 * elements out costs a scan. The scan follows JSON's structure (strings with their escapes, nesting), so
 * a bracket or a comma inside a string, or the key's name inside a value, is never taken for structure.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const LF = 0x0a;
const CR = 0x0d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === LF || c === CR || c === 0x09;
}

/**
 * The index of the quote closing the string that opens at `i`, or -1 when it never closes or holds a raw
 * control character (not JSON: a raw newline inside a string would also break a line of JSON Lines).
 */
function stringEnd(buf: Buffer, i: number): number {
  for (let j = i + 1; j < buf.length; j++) {
    const c = buf[j]!;
    if (c === QUOTE) return j;
    if (c === BACKSLASH) j++;
    else if (c < 0x20) return -1;
  }
  return -1;
}

function skipSpace(buf: Buffer, i: number): number {
  while (i < buf.length && isSpace(buf[i]!)) i++;
  return i;
}

export interface SplitAnswer {
  /** The answer with the array emptied (`"key":[]`), to be parsed as usual. */
  envelope: Buffer;
  /** Each element's bytes, on one line (an element spread over lines is re-encoded compactly). */
  items: Buffer[];
}

/**
 * Cuts the elements of the array under `key` of the top-level object out of `buf`. Undefined when the
 * answer has no such array (an error answer, say) or is not well-formed enough to tell: the caller then
 * parses it whole, which reports what is wrong with it.
 */
export function splitArrayField(buf: Buffer, key: string): SplitAnswer | undefined {
  const name = Buffer.from(JSON.stringify(key));
  let depth = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      const end = stringEnd(buf, i);
      if (end < 0) return undefined;
      if (depth === 1 && end - i + 1 === name.length && buf.compare(name, 0, name.length, i, end + 1) === 0) {
        const colon = skipSpace(buf, end + 1);
        if (buf[colon] === COLON) {
          const open = skipSpace(buf, colon + 1);
          if (buf[open] !== OPEN_ARRAY) return undefined;
          return elements(buf, open);
        }
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return undefined;
}

/**
 * The elements of the array opening at `open`, and the answer without them: an element ends at a comma
 * or the closing bracket at depth 0.
 */
function elements(buf: Buffer, open: number): SplitAnswer | undefined {
  const items: Buffer[] = [];
  let depth = 0;
  let start = -1;
  let last = -1;
  // An element with a line break between its tokens (a pretty-printed answer) is re-encoded on one line.
  let spread = false;
  let broken = false;
  const cut = (): boolean => {
    if (start < 0) return false;
    const item = buf.subarray(start, last + 1);
    items.push(spread ? Buffer.from(JSON.stringify(JSON.parse(item.toString('utf8')))) : item);
    start = -1;
    spread = broken = false;
    return true;
  };
  try {
    for (let i = open + 1; i < buf.length; i++) {
      const c = buf[i]!;
      if (isSpace(c)) {
        if ((c === LF || c === CR) && start >= 0) broken = true;
        continue;
      }
      if (depth === 0 && c === CLOSE_ARRAY) {
        // `[]` has no element; `[a,]` is not JSON.
        if (!cut() && items.length) return undefined;
        return { envelope: Buffer.concat([buf.subarray(0, open + 1), buf.subarray(i)]), items };
      }
      if (depth === 0 && c === COMMA) {
        if (!cut()) return undefined;
        continue;
      }
      if (start < 0) start = i;
      spread ||= broken;
      if (c === QUOTE) {
        i = stringEnd(buf, i);
        if (i < 0) return undefined;
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (depth === 0) return undefined;
        depth--;
      }
      last = i;
    }
  } catch {
    // an element spread over lines that is not JSON
    return undefined;
  }
  return undefined;
}
