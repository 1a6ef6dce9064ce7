import { describe, expect, it } from 'vitest';
import { splitArrayField } from '../../src/platform/raw-array.js';

/** The elements a backup writes as the platform sent them, and the rest of the answer parsed as usual. */
function split(text: string, key = 'list') {
  const r = splitArrayField(Buffer.from(text), key);
  return r && { envelope: JSON.parse(r.envelope.toString()), items: r.items.map((b) => b.toString()) };
}

describe('splitArrayField', () => {
  it('cuts out each element byte for byte and leaves the rest of the answer to parse', () => {
    const r = split('{"errcode":0,"list":[{"a":1,"b":[1,2,{"c":"]"}]},{"name":"王芳，\\"小王\\"","x":"a,b}"}],"next_cursor":"n1"}');
    expect(r?.envelope).toEqual({ errcode: 0, list: [], next_cursor: 'n1' });
    expect(r?.items).toEqual(['{"a":1,"b":[1,2,{"c":"]"}]}', '{"name":"王芳，\\"小王\\"","x":"a,b}"}']);
    expect(r?.items.map((x) => JSON.parse(x))).toEqual([{ a: 1, b: [1, 2, { c: ']' }] }, { name: '王芳，"小王"', x: 'a,b}' }]);
  });

  it('finds only the key of the top-level object, not the same word in a value or a nested object', () => {
    const r = split('{"note":"\\"list\\":[1]","inner":{"list":[9]},"list":[{"k":"v"}]}');
    expect(r?.items).toEqual(['{"k":"v"}']);
    expect(r?.envelope).toEqual({ note: '"list":[1]', inner: { list: [9] }, list: [] });
  });

  it('puts elements spread over lines on one line, and keeps a string ending in a backslash whole', () => {
    const r = split('{\n  "list": [\n    {\n      "a": "x\\\\",\n      "b": [1, 2]\n    } ,\n    {"c": 3}\n  ]\n}');
    expect(r?.items).toEqual(['{"a":"x\\\\","b":[1,2]}', '{"c": 3}']);
    for (const item of r!.items) expect(item).not.toMatch(/[\r\n]/);
  });

  it('gives no elements for an empty array', () => {
    expect(split('{"list":[],"next_cursor":""}')).toEqual({ envelope: { list: [], next_cursor: '' }, items: [] });
    expect(split('{"list":[ ]}')?.items).toEqual([]);
  });

  it('declines answers it cannot split, so that they are parsed whole (and their errors reported) as before', () => {
    expect(split('{"errcode":84061,"errmsg":"not external contact"}')).toBeUndefined();
    expect(split('{"list":{"a":1}}')).toBeUndefined();
    expect(split('{"list":[{"a":1},]}')).toBeUndefined();
    expect(split('{"list":[{"a":1},,{"b":2}]}')).toBeUndefined();
    expect(split('{"list":[{"a":"unterminated}]}')).toBeUndefined();
    expect(split('{"list":[{"a":1}')).toBeUndefined();
    expect(split('{"list":[{"a":\n1,,}]}')).toBeUndefined();
    // A raw newline inside a string is not JSON (and would split a line of JSON Lines in two).
    expect(split('{"list":[{"a":"x\ny"}]}')).toBeUndefined();
  });
});
