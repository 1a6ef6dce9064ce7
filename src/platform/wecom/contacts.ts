import type { WecomClient } from './client.js';
import { paginate } from '../paginate.js';
import type { BatchResult, Department, DeptUser, Tag, TagDetail, User, UserWrite } from './types.js';

/** Contacts (通讯录) calls, all with the contacts-sync secret (wecom.md §1.2, §2, §3). */
export class ContactsApi {
  constructor(readonly client: WecomClient) {}

  /** `rawArray`: that array of the answer comes back as bytes, one Buffer per element (http.ts). */
  private get(api: string, query?: Record<string, string | number | undefined>, rawArray?: string) {
    return this.client.call(api, { secret: 'contacts', method: 'GET', query, rawArray });
  }

  private post(api: string, body: unknown) {
    return this.client.call(api, { secret: 'contacts', method: 'POST', body });
  }

  async listDepartments(id?: number): Promise<Department[]> {
    return (await this.get('department/list', { id })).department ?? [];
  }

  async getDepartment(id: number): Promise<Department> {
    return (await this.get('department/get', { id })).department;
  }

  async createDepartment(d: { name: string; parentid: number; order?: number; id?: number }): Promise<number> {
    return (await this.post('department/create', d)).id;
  }

  async updateDepartment(d: { id: number; name?: string; parentid?: number; order?: number }): Promise<void> {
    await this.post('department/update', d);
  }

  async deleteDepartment(id: number): Promise<void> {
    await this.get('department/delete', { id });
  }

  async getUser(userid: string): Promise<User> {
    const { errcode: _c, errmsg: _m, ...user } = await this.get('user/get', { userid });
    return user as User;
  }

  async listUsers(departmentId: number, opts: { fetchChild?: boolean } = {}): Promise<User[]> {
    return (await this.get('user/list', userListQuery(departmentId, opts))).userlist ?? [];
  }

  /** The same members as the bytes the platform sent (one JSON object each, on one line), unparsed: for writing them out as they are (backups). */
  async listUsersRaw(departmentId: number, opts: { fetchChild?: boolean } = {}): Promise<Buffer[]> {
    return (await this.get('user/list', userListQuery(departmentId, opts), 'userlist')).userlist ?? [];
  }

  /** Every (user, department) pair, through `user/list_id` pages. */
  listUserIds(): Promise<DeptUser[]> {
    return paginate<DeptUser>(
      async (cursor) => {
        const page = await this.client.call('user/list_id', { secret: 'contacts', method: 'POST', body: { cursor, limit: 10000 } });
        return { items: page.dept_user ?? [], next: page.next_cursor };
      },
      { api: 'user/list_id' },
    );
  }

  async createUser(user: UserWrite): Promise<void> {
    await this.post('user/create', user);
  }

  async updateUser(user: UserWrite): Promise<void> {
    await this.post('user/update', user);
  }

  async deleteUser(userid: string): Promise<void> {
    await this.get('user/delete', { userid });
  }

  async getUserIdByMobile(mobile: string): Promise<string> {
    return (await this.post('user/getuserid', { mobile })).userid;
  }

  async listTags(): Promise<Tag[]> {
    return (await this.get('tag/list')).taglist ?? [];
  }

  async getTag(tagid: number): Promise<TagDetail> {
    const r = await this.get('tag/get', { tagid });
    return { tagname: r.tagname, userlist: r.userlist ?? [], partylist: r.partylist ?? [] };
  }

  async createTag(tag: { tagname: string; tagid?: number }): Promise<number> {
    return (await this.post('tag/create', tag)).tagid;
  }

  async updateTag(tag: { tagid: number; tagname: string }): Promise<void> {
    await this.post('tag/update', tag);
  }

  async deleteTag(tagid: number): Promise<void> {
    await this.get('tag/delete', { tagid });
  }

  async addTagUsers(tagid: number, who: { userlist?: string[]; partylist?: number[] }): Promise<{ invalidlist?: string; invalidparty?: number[] }> {
    const r = await this.post('tag/addtagusers', { tagid, ...who });
    return { invalidlist: r.invalidlist, invalidparty: r.invalidparty };
  }

  async delTagUsers(tagid: number, who: { userlist?: string[]; partylist?: number[] }): Promise<{ invalidlist?: string; invalidparty?: number[] }> {
    const r = await this.post('tag/deltagusers', { tagid, ...who });
    return { invalidlist: r.invalidlist, invalidparty: r.invalidparty };
  }

  async uploadMedia(type: 'file' | 'image' | 'voice' | 'video', filename: string, content: Buffer): Promise<string> {
    // undici serialises only its own FormData; loaded here so that start-up does not pay for it.
    const { FormData } = await import('undici');
    const form = new FormData();
    form.append('media', new Blob([new Uint8Array(content)]), filename);
    return (await this.client.call('media/upload', { secret: 'contacts', method: 'POST', query: { type }, form })).media_id;
  }

  async batchSyncUser(mediaId: string, opts: { toInvite?: boolean } = {}): Promise<string> {
    return (await this.post('batch/syncuser', { media_id: mediaId, to_invite: opts.toInvite ?? false })).jobid;
  }

  async batchGetResult(jobid: string): Promise<BatchResult> {
    return (await this.get('batch/getresult', { jobid })) as BatchResult;
  }
}

function userListQuery(departmentId: number, opts: { fetchChild?: boolean }) {
  return { department_id: departmentId, fetch_child: opts.fetchChild ? 1 : undefined };
}
