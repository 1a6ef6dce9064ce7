import { ApiError } from '../errors.js';
import { CONTACTS_READ, type ApiRequest, type ApiRoute } from '../router.js';
import type { SimTag } from '../state.js';
import { findDepartment } from './departments.js';
import { findUser } from './users.js';

/**
 * tag/* (wecom.md §3). A tag belongs to the secret that created it: only that one may change it (81011).
 * Member changes report invalid userids and parties and still apply the valid ones; all invalid → 40070.
 */
const TAG_WRITERS = ['contacts', 'app'] as const;
const MAX_TAGS = 3000;

function findTag(req: ApiRequest, id: unknown): SimTag {
  const tag = req.state.tags.find((x) => x.tagid === Number(id));
  if (!tag) throw new ApiError(40068);
  return tag;
}

function owned(req: ApiRequest, id: unknown): SimTag {
  const tag = findTag(req, id);
  if (tag.owner !== req.secret) throw new ApiError(81011);
  return tag;
}

function checkName(req: ApiRequest, name: unknown, except?: number): string {
  if (typeof name !== 'string' || [...name].length < 1 || [...name].length > 32) throw new ApiError(40072);
  if (req.state.tags.some((x) => x.tagname === name && x.tagid !== except)) throw new ApiError(40071);
  return name;
}

function membership(add: boolean): ApiRoute {
  return {
    method: 'POST',
    allow: [...TAG_WRITERS],
    handler(req) {
      const tag = owned(req, req.body.tagid);
      const users: unknown[] = req.body.userlist ?? [];
      const parties: unknown[] = req.body.partylist ?? [];
      if (!Array.isArray(users) || !Array.isArray(parties) || (users.length === 0 && parties.length === 0)) throw new ApiError(40031);
      if (users.length > 1000 || parties.length > 100) throw new ApiError(40032);
      const invalidUsers: string[] = [];
      const invalidParties: number[] = [];
      const validUsers: string[] = [];
      const validParties: number[] = [];
      for (const u of users) {
        const found = findUser(req.state, u);
        if (found) validUsers.push(found.userid);
        else invalidUsers.push(String(u).toLowerCase());
      }
      for (const p of parties) {
        if (findDepartment(req.state, Number(p))) validParties.push(Number(p));
        else invalidParties.push(Number(p));
      }
      if (validUsers.length === 0 && validParties.length === 0) throw new ApiError(40070);
      if (add) {
        for (const u of validUsers) if (!tag.userlist.some((x) => x.toLowerCase() === u.toLowerCase())) tag.userlist.push(u);
        for (const p of validParties) if (!tag.partylist.includes(p)) tag.partylist.push(p);
      } else {
        const drop = new Set(validUsers.map((u) => u.toLowerCase()));
        tag.userlist = tag.userlist.filter((u) => !drop.has(u.toLowerCase()));
        tag.partylist = tag.partylist.filter((p) => !validParties.includes(p));
      }
      req.changed();
      return {
        ...(invalidUsers.length ? { invalidlist: invalidUsers.join('|') } : {}),
        ...(invalidParties.length ? { invalidparty: invalidParties } : {}),
      };
    },
  };
}

export const tagRoutes: Record<string, ApiRoute> = {
  'tag/create': {
    method: 'POST',
    allow: [...TAG_WRITERS],
    ok: 'created',
    handler(req) {
      const s = req.state;
      const tagname = checkName(req, req.body.tagname);
      if (s.tags.length >= MAX_TAGS) throw new ApiError(40058);
      let tagid = req.body.tagid === undefined || req.body.tagid === null ? undefined : Number(req.body.tagid);
      if (tagid !== undefined) {
        if (!Number.isInteger(tagid) || tagid < 0) throw new ApiError(40068);
        if (s.tags.some((x) => x.tagid === tagid)) throw new ApiError(40068);
      } else {
        tagid = Math.max(s.next_tag_id, ...s.tags.map((x) => x.tagid + 1));
      }
      s.next_tag_id = Math.max(s.next_tag_id, tagid + 1);
      s.tags.push({ tagid, tagname, userlist: [], partylist: [], owner: req.secret });
      req.changed();
      return { tagid };
    },
  },
  'tag/update': {
    method: 'POST',
    allow: [...TAG_WRITERS],
    ok: 'updated',
    handler(req) {
      const tag = owned(req, req.body.tagid);
      tag.tagname = checkName(req, req.body.tagname, tag.tagid);
      req.changed();
      return {};
    },
  },
  'tag/delete': {
    method: 'GET',
    allow: [...TAG_WRITERS],
    ok: 'deleted',
    handler(req) {
      const tag = owned(req, req.query.get('tagid'));
      req.state.tags = req.state.tags.filter((x) => x !== tag);
      req.changed();
      return {};
    },
  },
  'tag/get': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler(req) {
      const tag = findTag(req, req.query.get('tagid'));
      const userlist = tag.userlist.map((id) => findUser(req.state, id)).flatMap((u) => (u ? [{ userid: u.userid, name: u.name }] : []));
      return { tagname: tag.tagname, userlist, partylist: tag.partylist };
    },
  },
  'tag/addtagusers': membership(true),
  'tag/deltagusers': membership(false),
  'tag/list': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler: (req) => ({ taglist: req.state.tags.map((x) => ({ tagid: x.tagid, tagname: x.tagname })) }),
  },
};
