import { PlatformError } from '../../core/errors.js';
import { paginate } from '../paginate.js';
import type { MpClient } from './client.js';
import type { CurrentAutoreply, Follower, LinkedMiniProgram, MassStatus, Menu, MenuButton, MpTag } from './types.js';

/** Official Account reads (mp.md). Writes are plan steps, run by `executePlan` through the same client. */
export class MpApi {
  constructor(readonly client: MpClient) {}

  /** The menu set through the API, or undefined when there is none (46003). */
  async getMenu(): Promise<(Menu & { menuid?: number }) | undefined> {
    try {
      const r = await this.client.request('menu/get');
      const button: MenuButton[] = (r.menu?.button ?? []).map(function strip(b: MenuButton): MenuButton {
        // menu/get lists `sub_button: []` on every leaf; menu/create does not want them.
        const { sub_button, ...rest } = b;
        return sub_button?.length ? { ...rest, sub_button: sub_button.map(strip) } : rest;
      });
      return { button, menuid: r.menu?.menuid };
    } catch (err) {
      if (err instanceof PlatformError && err.errcode === 46003) return undefined;
      throw err;
    }
  }

  async listTags(): Promise<MpTag[]> {
    return (await this.client.request('tags/get')).tags ?? [];
  }

  /** Every follower's openid, page by page (10 000 per page, mp.md §4). */
  async listFollowerIds(): Promise<string[]> {
    return paginate(
      async (cursor) => {
        const r = await this.client.request('user/get', { query: { next_openid: cursor ?? '' } });
        const items: string[] = r.data?.openid ?? [];
        // The last page answers count 0; some pages repeat the last openid as the cursor.
        return { items, next: items.length === 0 ? '' : r.next_openid };
      },
      { api: 'user/get' },
    );
  }

  /** The openids carrying a tag (mp.md §3, same cursor rules). */
  async tagFollowerIds(tagid: number): Promise<string[]> {
    return paginate(
      async (cursor) => {
        const r = await this.client.request('user/tag/get', { body: { tagid, next_openid: cursor ?? '' } });
        const items: string[] = r.data?.openid ?? [];
        return { items, next: items.length === 0 ? '' : r.next_openid };
      },
      { api: 'user/tag/get' },
    );
  }

  async follower(openid: string): Promise<Follower> {
    const { errcode: _c, errmsg: _m, ...info } = await this.client.request('user/info', { query: { openid, lang: 'zh_CN' } });
    return info as Follower;
  }

  /** Follower details, 100 per call (mp.md §4). */
  async followers(openids: string[]): Promise<Follower[]> {
    const chunks: string[][] = [];
    for (let i = 0; i < openids.length; i += 100) chunks.push(openids.slice(i, i + 100));
    const answers = await Promise.all(
      chunks.map((c) => this.client.request('user/info/batchget', { body: { user_list: c.map((openid) => ({ openid, lang: 'zh_CN' })) } })),
    );
    return answers.flatMap((a) => (a.user_info_list ?? []) as Follower[]);
  }

  async massStatus(msgId: number | string): Promise<MassStatus> {
    return (await this.client.request('message/mass/get', { body: { msg_id: String(msgId) } })).msg_status;
  }

  /** One datacube report (mp.md §8); the caller keeps within the report's span. */
  async datacube<T = Record<string, unknown>>(report: string, begin: string, end: string): Promise<T[]> {
    return (await this.client.request(`datacube/${report}`, { body: { begin_date: begin, end_date: end } })).list ?? [];
  }

  async linkedMiniPrograms(): Promise<LinkedMiniProgram[]> {
    const r = await this.client.request('wxopen/wxamplinkget', { body: {} });
    return (r.wxopens?.items ?? []).map((i: any) => ({ appid: i.appid, nickname: i.nickname, status: i.status, username: i.username }));
  }

  async currentAutoreply(): Promise<CurrentAutoreply> {
    return this.client.request('get_current_autoreply_info');
  }
}
