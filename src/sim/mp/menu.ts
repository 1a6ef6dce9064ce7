import { ApiError } from '../errors.js';
import type { MpRequest, MpRoute } from './router.js';
import type { MpButton, MpMenu } from './types.js';
import { bytes } from './util.js';

/**
 * Custom menu (mp.md §2): menu/create, menu/get, menu/delete, get_current_selfmenu_info.
 * create checks the whole menu before replacing it, with the errcodes of §2.6 — top-level and
 * sub-level buttons have their own codes, limits are in UTF-8 bytes (a top name holds 5 Chinese
 * characters), and a `miniprogram` button must name a mini program linked to this account.
 */
const CLICK_LIKE = new Set(['click', 'scancode_push', 'scancode_waitmsg', 'pic_sysphoto', 'pic_photo_or_album', 'pic_weixin', 'location_select']);
const TYPES = new Set([...CLICK_LIKE, 'view', 'miniprogram', 'media_id', 'view_limited', 'article_id', 'article_view_limited']);

interface Level {
  type: number;
  name: number;
  nameMax: number;
  key: number;
  url: number;
  domain: number;
}
const TOP: Level = { type: 40017, name: 40018, nameMax: 16, key: 40019, url: 40020, domain: 40055 };
const SUB: Level = { type: 40024, name: 40025, nameMax: 60, key: 40026, url: 40027, domain: 40054 };
const KEY_MAX = 128;
const URL_MAX = 1024;

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const filled = (v: unknown): v is string => typeof v === 'string' && v !== '';

function checkMenu(req: MpRequest): MpButton[] {
  // Posting menu/get's output (`{"menu":{"button":…}}`) lands here too: no top-level `button` → 40016.
  const top = req.body.button;
  if (!Array.isArray(top) || top.length < 1 || top.length > 3) throw new ApiError(40016);
  return top.map((b) => {
    if (!isObject(b)) throw new ApiError(47001);
    const subs = b.sub_button;
    if (subs !== undefined && subs !== null && !Array.isArray(subs)) throw new ApiError(47001);
    if (Array.isArray(subs) && subs.length > 0) {
      // A parent: only its name counts (a type beside sub_button is ignored).
      const name = checkName(b.name, TOP);
      if (subs.length > 5) throw new ApiError(40023);
      return {
        name,
        sub_button: subs.map((s) => {
          if (!isObject(s)) throw new ApiError(47001);
          if (Array.isArray(s.sub_button) && s.sub_button.length > 0) throw new ApiError(40022);
          return leaf(req, s, SUB);
        }),
      };
    }
    // menu/get shows leaves with `sub_button: []`, so an empty list beside a type is a leaf; without a type it is a parent with no buttons.
    if (b.type === undefined && Array.isArray(subs)) throw new ApiError(40023);
    return leaf(req, b, TOP);
  });
}

function checkName(name: unknown, level: Level): string {
  if (!filled(name) || bytes(name) > level.nameMax) throw new ApiError(level.name);
  return name;
}

function leaf(req: MpRequest, b: Record<string, any>, level: Level): MpButton {
  const name = checkName(b.name, level);
  const type = b.type;
  if (typeof type !== 'string' || !TYPES.has(type)) throw new ApiError(level.type);
  const out: MpButton = { type, name };
  if (CLICK_LIKE.has(type)) {
    if (!filled(b.key) || bytes(b.key) > KEY_MAX) throw new ApiError(level.key);
    out.key = b.key;
  } else if (type === 'view' || type === 'miniprogram') {
    if (!filled(b.url) || bytes(b.url) > URL_MAX) throw new ApiError(level.url);
    if (!/^https?:\/\/[^/\s]+/i.test(b.url)) throw new ApiError(level.domain);
    out.url = b.url;
    if (type === 'miniprogram') {
      const app = filled(b.appid) ? req.mp.miniprograms.find((m) => m.appid === b.appid) : undefined;
      if (!app) throw new ApiError(40166);
      if (app.status !== 1) throw new ApiError(req.faults.mp_unlinked_weapp_errcode ?? 85005);
      if (!filled(b.pagepath)) throw new ApiError(40165);
      out.appid = b.appid;
      out.pagepath = b.pagepath;
    }
  } else if (type === 'media_id' || type === 'view_limited') {
    const known = req.mp.materials.some((m) => m.media_id === b.media_id) || req.mp.articles.some((a) => a.media_id === b.media_id);
    if (!filled(b.media_id) || !known) throw new ApiError(40007);
    out.media_id = b.media_id;
  } else {
    if (!filled(b.article_id) || !req.mp.articles.some((a) => a.article_id === b.article_id)) throw new ApiError(40007);
    out.article_id = b.article_id;
  }
  return out;
}

/** Every clickable button of the menu (the leaves), for the follower events of the control surface. */
export function menuLeaves(menu: MpMenu | null): MpButton[] {
  if (!menu) return [];
  return menu.button.flatMap((b) => (b.sub_button?.length ? b.sub_button : [b]));
}

/** menu/get shows each leaf with an empty `sub_button` list, as the platform does. */
function shown(b: MpButton): MpButton {
  if (b.sub_button?.length) return { name: b.name, sub_button: b.sub_button.map(shown) };
  return { ...b, sub_button: [] };
}

/** get_current_selfmenu_info nests sub buttons as `{"list":[…]}` (mp.md §2.5). */
function selfmenu(b: MpButton): Record<string, unknown> {
  if (b.sub_button?.length) return { name: b.name, sub_button: { list: b.sub_button.map(selfmenu) } };
  const { sub_button: _, ...rest } = b;
  return rest;
}

export const menuRoutes: Record<string, MpRoute> = {
  'menu/create': {
    method: 'POST',
    handler(req) {
      // A matchrule here is ignored, as on the platform (conditional menus have their own API).
      const button = checkMenu(req);
      req.mp.menu = { button, menuid: req.mp.next_menuid++ };
      req.changed();
      return {};
    },
  },
  'menu/get': {
    method: 'GET',
    bare: true,
    handler(req) {
      const menu = req.mp.menu;
      if (!menu) throw new ApiError(46003);
      return { menu: { button: menu.button.map(shown), menuid: menu.menuid } };
    },
  },
  'menu/delete': {
    method: 'GET',
    handler(req) {
      req.mp.menu = null;
      req.changed();
      return {};
    },
  },
  get_current_selfmenu_info: {
    method: 'GET',
    bare: true,
    handler(req) {
      const menu = req.mp.menu;
      if (!menu) return { is_menu_open: 0 };
      return { is_menu_open: 1, selfmenu_info: { button: menu.button.map(selfmenu) } };
    },
  },
};
