import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '../../src/core/errors.js';
import { ContactsApi } from '../../src/platform/wecom/contacts.js';
import { startPlatformSim, type PlatformSim } from './helpers.js';

let p: PlatformSim;
let api: ContactsApi;
beforeAll(async () => {
  p = await startPlatformSim();
  api = new ContactsApi(p.client());
});
afterAll(() => p.close());

describe('ContactsApi against the simulator', () => {
  it('departments: list, get, create, update, delete', async () => {
    const all = await api.listDepartments();
    expect(all.find((d) => d.id === 1)?.parentid).toBe(0);
    const id = await api.createDepartment({ name: '测试部', parentid: 1, order: 5 });
    expect(id).toBeGreaterThan(1);
    await api.updateDepartment({ id, name: '测试二部' });
    expect((await api.getDepartment(id)).name).toBe('测试二部');
    expect((await api.listDepartments(id)).map((d) => d.id)).toContain(id);
    await api.deleteDepartment(id);
    await expect(api.getDepartment(id)).rejects.toBeInstanceOf(PlatformError);
  });

  it('users: create, get, update, list, look up by mobile, delete', async () => {
    await api.createUser({ userid: 'apitest1', name: '接口测试', department: [1], mobile: '13911112222', to_invite: false });
    expect((await api.getUser('apitest1')).name).toBe('接口测试');
    await api.updateUser({ userid: 'apitest1', position: '工程师' });
    expect((await api.getUser('apitest1')).position).toBe('工程师');
    expect((await api.listUsers(1)).map((u) => u.userid)).toContain('apitest1');
    expect((await api.listUsers(1, { fetchChild: true })).length).toBeGreaterThan((await api.listUsers(1)).length);
    expect(await api.getUserIdByMobile('13911112222')).toBe('apitest1');
    expect((await api.listUserIds()).some((r) => r.userid === 'apitest1' && r.department === 1)).toBe(true);
    await api.deleteUser('apitest1');
    await expect(api.getUser('apitest1')).rejects.toMatchObject({ errcode: 60111 });
  });

  it('tags: list, create, get, update, add and remove members, delete', async () => {
    expect((await api.listTags()).length).toBeGreaterThan(0);
    const tagid = await api.createTag({ tagname: '接口测试标签' });
    await api.updateTag({ tagid, tagname: '接口测试标签2' });
    const added = await api.addTagUsers(tagid, { userlist: ['lina', 'no-such-user'] });
    expect(added.invalidlist).toContain('no-such-user');
    const tag = await api.getTag(tagid);
    expect(tag.tagname).toBe('接口测试标签2');
    expect(tag.userlist.map((u) => u.userid)).toEqual(['lina']);
    await api.delTagUsers(tagid, { userlist: ['lina'] });
    expect((await api.getTag(tagid)).userlist).toEqual([]);
    await api.deleteTag(tagid);
    await expect(api.getTag(tagid)).rejects.toMatchObject({ errcode: 40068 });
  });

  it('async import: upload a CSV, sync, read the result', async () => {
    const csv = '姓名,帐号,手机,所在部门\n批量一,batch1,13933334444,1\n';
    const mediaId = await api.uploadMedia('file', 'members.csv', Buffer.from(csv, 'utf8'));
    expect(mediaId).toMatch(/\S{10,}/);
    const jobid = await api.batchSyncUser(mediaId, { toInvite: false });
    expect(jobid).toBeTruthy();
    expect([1, 2, 3]).toContain((await api.batchGetResult(jobid)).status);
    await p.advanceClock(5_000);
    const done = await api.batchGetResult(jobid);
    expect(done.status).toBe(3);
    expect(done.result?.[0]).toMatchObject({ userid: 'batch1', errcode: 0 });
    expect((await api.getUser('batch1')).name).toBe('批量一');
  });
});
