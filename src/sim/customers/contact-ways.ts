import { deflateSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { findDepartment } from '../contacts/departments.js';
import { ApiError } from '../errors.js';
import type { ApiRequest } from '../router.js';
import { followUser, relation } from './common.js';
import type { CustomerRoute } from './index.js';
import type { CustomerState, SimContactWay } from './state.js';
import { configIdFor, cursorInt, decodeCursor, encodeCursor, optString, seconds } from './util.js';

/**
 * 「联系我」 contact ways (wecom.md §4.3): type 1 single member (exactly one user, 41041 for more) or 2
 * multi (≤ 100 members, departments allowed), scene 1 mini-program button or 2 QR code (the QR image
 * is served by the simulator itself), `state` and `remark` ≤ 30 characters, temporary ways (type 1 only)
 * valid up to 14 days. Every member must be enabled for 客户联系 (84074).
 */
const MAX_WAYS = 500_000;
const MAX_MEMBERS = 100;
const TEMP_MAX_S = 14 * 86_400;
const TEMP_DEFAULT_S = 7 * 86_400;
const CHAT_DEFAULT_S = 86_400;

function flag(value: unknown, dflt: boolean): boolean {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== 'boolean' && value !== 0 && value !== 1) throw new ApiError(40058);
  return Boolean(value);
}

function seconds14(value: unknown, dflt: number): number {
  if (value === undefined || value === null) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > TEMP_MAX_S) throw new ApiError(40058);
  return n;
}

/** Checks members and departments of a way (type decides how many). */
function checkMembers(req: ApiRequest, cs: CustomerState, type: 1 | 2, user: unknown, party: unknown): { user: string[]; party: number[] } {
  const users = user === undefined || user === null ? [] : user;
  const parties = party === undefined || party === null ? [] : party;
  if (!Array.isArray(users) || !Array.isArray(parties)) throw new ApiError(40058);
  if (type === 1) {
    if (parties.length > 0) throw new ApiError(40058);
    if (users.length === 0) throw new ApiError(40058);
    if (users.length > 1) throw new ApiError(41041);
  } else {
    if (users.length + parties.length === 0) throw new ApiError(40058);
    if (users.length > MAX_MEMBERS || parties.length > MAX_MEMBERS) throw new ApiError(41041);
  }
  const ids = users.map((u) => followUser(req.state, cs, u).userid);
  const depts = parties.map((p) => {
    const id = Number(p);
    if (!Number.isInteger(id) || !findDepartment(req.state, id)) throw new ApiError(req.options.unknownDepartmentErrcode);
    return id;
  });
  return { user: [...new Set(ids)], party: [...new Set(depts)] };
}

function findWay(cs: CustomerState, configId: unknown): SimContactWay {
  if (configId === undefined || configId === null || configId === '') throw new ApiError(41043);
  const way = cs.contact_ways.find((w) => w.config_id === configId);
  if (!way) throw new ApiError(41044);
  return way;
}

/** Validates the optional fields shared by add and update, over `way`'s current values. */
function applyOptions(way: SimContactWay, b: Record<string, any>): void {
  if (b.style !== undefined && b.style !== null) {
    const style = Number(b.style);
    if (!Number.isInteger(style) || style < 1 || style > 1000) throw new ApiError(41042);
    way.style = style;
  }
  const remark = optString(b.remark, 30);
  if (remark !== undefined) way.remark = remark;
  const state = optString(b.state, 30);
  if (state !== undefined) way.state = state;
  way.skip_verify = flag(b.skip_verify, way.skip_verify);
  const unionid = optString(b.unionid, 64);
  if (unionid !== undefined) way.unionid = unionid;
  if (b.conclusions !== undefined && b.conclusions !== null) {
    if (typeof b.conclusions !== 'object' || Array.isArray(b.conclusions)) throw new ApiError(40058);
    way.conclusions = b.conclusions;
  }
  if (way.is_temp) {
    way.expires_in = seconds14(b.expires_in, way.expires_in ?? TEMP_DEFAULT_S);
    way.chat_expires_in = seconds14(b.chat_expires_in, way.chat_expires_in ?? CHAT_DEFAULT_S);
  } else if ((b.expires_in !== undefined && b.expires_in !== null) || (b.chat_expires_in !== undefined && b.chat_expires_in !== null)) {
    // Only temporary ways expire; still the same limits apply to what is given.
    seconds14(b.expires_in, TEMP_DEFAULT_S);
    seconds14(b.chat_expires_in, CHAT_DEFAULT_S);
  }
}

export function contactWayView(way: SimContactWay, qrUrl: (configId: string) => string): Record<string, unknown> {
  return {
    config_id: way.config_id,
    type: way.type,
    scene: way.scene,
    ...(way.style !== undefined ? { style: way.style } : {}),
    remark: way.remark,
    skip_verify: way.skip_verify,
    state: way.state,
    ...(way.scene === 2 ? { qr_code: qrUrl(way.config_id) } : {}),
    user: way.user,
    party: way.party,
    is_temp: way.is_temp,
    ...(way.is_temp ? { expires_in: way.expires_in, chat_expires_in: way.chat_expires_in } : {}),
    ...(way.unionid ? { unionid: way.unionid } : {}),
    ...(way.conclusions ? { conclusions: way.conclusions } : {}),
  };
}

export function contactWayRoutes(qrUrl: (configId: string) => string): Record<string, CustomerRoute> {
  return {
    'externalcontact/add_contact_way': {
      method: 'POST',
      handler(req, cs) {
        const b = req.body;
        if (b.type === undefined || b.type === null) throw new ApiError(41037);
        if (b.scene === undefined || b.scene === null) throw new ApiError(41038);
        const type = Number(b.type);
        const scene = Number(b.scene);
        if (type !== 1 && type !== 2) throw new ApiError(41039);
        if (scene !== 1 && scene !== 2) throw new ApiError(41040);
        const isTemp = flag(b.is_temp, false);
        if (isTemp && type !== 1) throw new ApiError(40058);
        const members = checkMembers(req, cs, type, b.user, b.party);
        if (cs.contact_ways.length >= MAX_WAYS) throw new ApiError(41045);
        const way: SimContactWay = {
          config_id: configIdFor(cs.next_way_seq++),
          type,
          scene,
          remark: '',
          skip_verify: true,
          state: '',
          ...members,
          is_temp: isTemp,
          created_at: req.now,
          next_pick: 0,
        };
        applyOptions(way, b);
        cs.contact_ways.push(way);
        req.changed();
        return { config_id: way.config_id, ...(scene === 2 ? { qr_code: qrUrl(way.config_id) } : {}) };
      },
    },

    'externalcontact/get_contact_way': {
      method: 'POST',
      handler: (req, cs) => ({ contact_way: contactWayView(findWay(cs, req.body.config_id), qrUrl) }),
    },

    'externalcontact/list_contact_way': {
      method: 'POST',
      handler(req, cs) {
        const b = req.body;
        const end = b.end_time === undefined || b.end_time === null ? seconds(req.now) : Number(b.end_time);
        const start = b.start_time === undefined || b.start_time === null ? end - 90 * 86_400 : Number(b.start_time);
        if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) throw new ApiError(40058);
        const limit = b.limit === undefined || b.limit === null ? 100 : Number(b.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ApiError(40058);
        const parts = decodeCursor(b.cursor, 1);
        const from = parts ? cursorInt(parts[0]) : 0;
        const matching = cs.contact_ways.filter((w) => seconds(w.created_at) >= start && seconds(w.created_at) <= end);
        const page = matching.slice(from, from + limit);
        const next = from + limit < matching.length ? encodeCursor([from + limit]) : '';
        return { contact_way: page.map((w) => ({ config_id: w.config_id })), next_cursor: next };
      },
    },

    'externalcontact/update_contact_way': {
      method: 'POST',
      handler(req, cs) {
        const b = req.body;
        const way = findWay(cs, b.config_id);
        const draft: SimContactWay = { ...way };
        // Given lists replace the current ones (wecom.md §4.3).
        if (b.user !== undefined || b.party !== undefined) Object.assign(draft, checkMembers(req, cs, way.type, b.user ?? way.user, b.party ?? way.party));
        applyOptions(draft, b);
        Object.assign(way, draft);
        req.changed();
        return {};
      },
    },

    'externalcontact/del_contact_way': {
      method: 'POST',
      handler(req, cs) {
        const way = findWay(cs, req.body.config_id);
        cs.contact_ways = cs.contact_ways.filter((w) => w !== way);
        req.changed();
        return {};
      },
    },

    'externalcontact/close_temp_chat': {
      method: 'POST',
      handler(req, cs) {
        relation(req.state, cs, req.body.userid, req.body.external_userid);
        return {};
      },
    },
  };
}

/** The members a way hands customers to: its users, then follow users of its departments. */
export function wayMembers(way: SimContactWay, follow: (userid: string) => boolean, inDepartment: (dept: number) => string[]): string[] {
  const out = [...way.user];
  for (const d of way.party) for (const u of inDepartment(d)) if (follow(u) && !out.includes(u)) out.push(u);
  return out;
}

/** Whether a temporary way has expired at `now`. */
export function wayExpired(way: SimContactWay, now: number): boolean {
  return way.is_temp && now > way.created_at + (way.expires_in ?? TEMP_DEFAULT_S) * 1000;
}

// ---------------------------------------------------------------------------------------------------
// The QR image: a 25×25 pattern derived from the config_id (finder squares in three corners), as a
// grayscale PNG. Not a scannable QR code — just a valid image at a stable URL.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

export function qrPng(configId: string): Buffer {
  const N = 25;
  const SCALE = 4;
  const QUIET = 4;
  const bits = createHash('sha256').update(`qr:${configId}`).digest();
  const dark = (x: number, y: number): boolean => {
    for (const [ox, oy] of [[0, 0], [N - 7, 0], [0, N - 7]] as const) {
      const dx = x - ox;
      const dy = y - oy;
      if (dx >= 0 && dx < 7 && dy >= 0 && dy < 7) return dx === 0 || dx === 6 || dy === 0 || dy === 6 || (dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4);
      if (dx >= -1 && dx <= 7 && dy >= -1 && dy <= 7) return false;
    }
    const i = (y * N + x) % (bits.length * 8);
    return ((bits[i >> 3]! >> (i & 7)) & 1) === 1;
  };
  const size = (N + 2 * QUIET) * SCALE;
  const raw = Buffer.alloc(size * (size + 1), 255);
  for (let py = 0; py < size; py++) {
    raw[py * (size + 1)] = 0; // filter: none
    const my = Math.floor(py / SCALE) - QUIET;
    for (let px = 0; px < size; px++) {
      const mx = Math.floor(px / SCALE) - QUIET;
      if (mx >= 0 && mx < N && my >= 0 && my < N && dark(mx, my)) raw[py * (size + 1) + 1 + px] = 0;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
