import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '../../src/core/errors.js';
import { pages, paginate } from '../../src/platform/paginate.js';
import { ContactsApi } from '../../src/platform/wecom/contacts.js';
import { CustomerApi, type BatchRow } from '../../src/platform/wecom/customers.js';
import { startPlatformSim, type PlatformSim } from './helpers.js';

let p: PlatformSim;
beforeAll(async () => {
  p = await startPlatformSim();
});
afterAll(() => p.close());

describe('paginate', () => {
  it('reads every user-department pair from user/list_id, across pages', async () => {
    const c = p.client();
    const pairs = await new ContactsApi(c).listUserIds();
    expect(pairs.length).toBeGreaterThanOrEqual(60);
    expect(pairs[0]).toEqual({ userid: expect.any(String), department: expect.any(Number) });
    // the same through small pages
    const before = await p.calls('user/list_id');
    const small = await paginate(
      async (cursor) => {
        const r = await c.call('user/list_id', { secret: 'contacts', body: { cursor, limit: 10 } });
        return { items: r.dept_user, next: r.next_cursor };
      },
      { api: 'user/list_id' },
    );
    expect(small).toEqual(pairs);
    const pagesRead = (await p.calls('user/list_id')) - before;
    expect(pagesRead).toBeGreaterThanOrEqual(Math.ceil(pairs.length / 10));
    expect(pagesRead).toBeLessThanOrEqual(Math.ceil(pairs.length / 10) + 1);
  });

  it('stops on an empty or absent cursor', async () => {
    expect(await paginate(async () => ({ items: [1, 2] }))).toEqual([1, 2]);
    expect(await paginate(async () => ({ items: [1], next: '' }))).toEqual([1]);
    expect(await paginate(async () => ({ items: [1], next: null }))).toEqual([1]);
    const seq = ['a', 'b', ''];
    let i = 0;
    expect(await paginate(async () => ({ items: [i], next: seq[i++] }))).toEqual([0, 1, 2]);
  });

  it('throws on a repeated cursor instead of looping', async () => {
    let calls = 0;
    const cursors = ['c1', 'c2', 'c1'];
    const err = await paginate(async () => ({ items: [calls], next: cursors[calls++] }), { api: 'user/list_id' }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.api).toBe('user/list_id');
    expect(err.text.en).toContain('cursor');
    expect(err.text.zh).toContain('游标');
    expect(calls).toBe(3);
    // the simplest platform bug: the same cursor back every time
    await expect(paginate(async () => ({ items: [], next: 'SAME' }))).rejects.toBeInstanceOf(PlatformError);
  });

  it('yields page by page for streaming callers', async () => {
    const seen: number[][] = [];
    const next = ['x', 'y', undefined];
    let n = 0;
    for await (const page of pages(async () => ({ items: [n, n], next: next[n++] }))) seen.push(page);
    expect(seen).toEqual([[0, 0], [1, 1], [2, 2]]);
  });
});

describe('customer pages as the platform sent them', () => {
  it('hands every relation over as its own bytes, the same relations as the parsed pages', async () => {
    const api = new CustomerApi(p.client());
    const owners = await api.followUsers();
    const parsed: BatchRow[] = [];
    await api.forEachPage(owners, (rows) => parsed.push(...rows));
    const raw: Buffer[] = [];
    await api.forEachRawPage(owners, (rows) => raw.push(...rows));
    expect(parsed.length).toBeGreaterThan(0);
    expect(raw.every((b) => Buffer.isBuffer(b) && !b.includes(0x0a))).toBe(true);
    const key = (r: BatchRow) => `${r.external_contact.external_userid}/${r.follow_info.userid}`;
    const byKey = (rows: BatchRow[]) => new Map(rows.map((r) => [key(r), r]));
    expect(byKey(raw.map((b) => JSON.parse(b.toString('utf8')) as BatchRow))).toEqual(byKey(parsed));
  });
});
