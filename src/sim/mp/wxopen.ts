import { ApiError } from '../errors.js';
import type { MpRequest, MpRoute } from './router.js';
import type { MpMiniProgram } from './types.js';

/**
 * Mini program linking (mp.md §9): wxopen/wxamplinkget, wxamplink, wxampunlink. On the platform these
 * need a third-party platform's authorizer token; the sandbox accepts the account's own token, as if
 * wxops were that third party. A link request waits for the account admin (status 12) until
 * `/_sim/mp/miniprogram/confirm` says yes (→ 1) or no (→ 3).
 *
 * Errcodes the docs leave open: an unknown appid → 40166 (invalid weapp appid); linking one already
 * linked or pending → 89015.
 */
function app(req: MpRequest): MpMiniProgram {
  const appid = req.body.appid;
  const found = typeof appid === 'string' ? req.mp.miniprograms.find((m) => m.appid === appid) : undefined;
  if (!found) throw new ApiError(40166);
  return found;
}

function item(m: MpMiniProgram): Record<string, unknown> {
  return {
    status: m.status,
    username: m.username,
    appid: m.appid,
    source: 'SOURCE_NORMAL',
    nickname: m.nickname,
    selected: 1,
    nearby_display_status: 0,
    released: 1,
    headimg_url: `https://wx.qlogo.cn/mmhead/${m.username}/0`,
    email: '',
    func_infos: [
      { status: 1, id: 1, name: '微信认证' },
      { status: 1, id: 2, name: '微信支付' },
    ],
  };
}

export const wxopenRoutes: Record<string, MpRoute> = {
  'wxopen/wxamplinkget': {
    method: 'POST',
    emptyBody: true,
    handler: (req) => ({ wxopens: { items: req.mp.miniprograms.filter((m) => m.status !== null).map(item) } }),
  },
  'wxopen/wxamplink': {
    method: 'POST',
    handler(req) {
      const m = app(req);
      if (m.status === 1 || m.status === 2 || m.status === 12) throw new ApiError(89015);
      m.status = 12;
      req.changed();
      return {};
    },
  },
  'wxopen/wxampunlink': {
    method: 'POST',
    handler(req) {
      const m = app(req);
      if (m.status === null) throw new ApiError(40166);
      m.status = null;
      req.changed();
      return {};
    },
  },
};
