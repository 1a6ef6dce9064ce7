import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '../../src/core/errors.js';
import { describeErrcode, shortMessage } from '../../src/platform/wecom/errcodes.js';
import { ContactsApi } from '../../src/platform/wecom/contacts.js';
import { startPlatformSim, type PlatformSim } from './helpers.js';

let p: PlatformSim;
beforeAll(async () => {
  p = await startPlatformSim();
});
afterEach(() => p.resetFaults());
afterAll(() => p.close());

const REAL_ERRMSG =
  'api forbidden, hint: [1732000000_12_abcdef0123456789], from ip: 203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e=48002';

describe('platform errors against the simulator', () => {
  it('48002 with the app secret on a write names the contacts-sync secret, in both languages', async () => {
    const c = p.client();
    const err = await c.call('department/create', { secret: 'app', body: { name: '不该建', parentid: 1 } }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(48002);
    expect(err.code).toBe('PLATFORM_48002');
    expect(err.api).toBe('department/create');
    expect(err.text.zh).toContain('通讯录同步 Secret');
    expect(err.text.zh).toContain('WXOPS_CONTACTS_SECRET');
    expect(err.text.en).toContain('contacts-sync secret');
    expect(err.text.en).toContain('WXOPS_CONTACTS_SECRET');
    expect(err.text.en).not.toMatch(/hint:|from ip|more info/);
    expect(err.platformMessage).not.toMatch(/hint:|from ip|more info/);
  });

  it('reads errcode, not the HTTP status, and maps data errors to what to fix', async () => {
    const api = new ContactsApi(p.client());
    const missing = await api.getUser('no-such-user').catch((e) => e);
    expect(missing).toBeInstanceOf(PlatformError);
    expect(missing.errcode).toBe(60111);
    expect(missing.text.en).toContain('member list');
    const dup = await api.createUser({ userid: 'LINA', name: '重复', department: [1], mobile: '13900001111' }).catch((e) => e);
    expect(dup.errcode).toBe(60102);
    expect(dup.text.zh).toContain('已存在');
  });

  it('does not retry data errors', async () => {
    const api = new ContactsApi(p.client());
    await api.getUser('lina');
    const before = await p.calls('user/get');
    await api.getUser('no-such-user').catch(() => undefined);
    expect((await p.calls('user/get')) - before).toBe(1);
  });
});

describe('errcode table', () => {
  const REQUIRED = [
    -1, 40001, 40003, 40013, 40014, 40031, 40032, 40068, 40070, 40071, 40072, 41001, 42001, 45009, 45033, 48002, 60001, 60003, 60004, 60005, 60006,
    60007, 60008, 60009, 60010, 60011, 60020, 60102, 60103, 60104, 60105, 60106, 60111, 60112, 60123, 60124, 60127, 60129, 81002, 301005,
  ];

  it.each(REQUIRED)('has its own sentence for %i', (code) => {
    const text = describeErrcode(code, 'user/create', 'x');
    const generic = describeErrcode(999_999, 'user/create', 'x');
    expect(text.zh).not.toBe(generic.zh);
    expect(text.en).not.toBe(generic.en);
    expect(text.zh.length).toBeGreaterThan(4);
    expect(text.en).toMatch(/[.]$|\)$|`$/);
  });

  it('gives unknown codes a generic sentence with the code and the short platform message', () => {
    const text = describeErrcode(86001, 'externalcontact/x', 'some new thing, hint: [abc], from ip: 1.2.3.4, more info at https://x');
    expect(text.en).toContain('86001');
    expect(text.en).toContain('some new thing');
    expect(text.en).not.toContain('hint');
    expect(text.zh).toContain('86001');
  });

  it('says which secret 48002 needs, by API', () => {
    expect(describeErrcode(48002, 'user/create', REAL_ERRMSG).en).toContain('WXOPS_CONTACTS_SECRET');
    expect(describeErrcode(48002, 'externalcontact/list', REAL_ERRMSG).en).toContain('WXOPS_CUSTOMER_SECRET');
    expect(describeErrcode(48002, 'message/send', REAL_ERRMSG).en).toContain('message/send');
  });

  it('names the caller IP for 60020', () => {
    const text = describeErrcode(60020, 'user/get', 'not allow to access from your ip, hint: [x], from ip: 203.0.113.7, more info at https://x');
    expect(text.en).toContain('203.0.113.7');
    expect(text.zh).toContain('203.0.113.7');
  });

  it('strips the hint / from ip / more info tail', () => {
    expect(shortMessage(REAL_ERRMSG)).toBe('api forbidden');
    expect(shortMessage('invalid access_token')).toBe('invalid access_token');
  });
});
