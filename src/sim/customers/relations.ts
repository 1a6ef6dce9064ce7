import type { CustomerState, SimCorpTag, SimCustomer, SimRelation, SimTagGroup } from './state.js';

/**
 * Lookups over `state.customers` that stay cheap with 100,000 customers: customers by external_userid,
 * relations by customer and by member (each member's list in seq order, so a cursor resumes in O(1)),
 * the follow-user set, and corp tags by id. Built once per state object (a state reloaded from disk is a
 * new object and gets a new index); every change goes through the functions below, which keep it in step.
 */
export class CustomerIndex {
  readonly customers = new Map<string, SimCustomer>();
  readonly byCustomer = new Map<string, SimRelation[]>();
  readonly byUser = new Map<string, SimRelation[]>();
  readonly follow = new Set<string>();
  private tags?: Map<string, { group: SimTagGroup; tag?: SimCorpTag }>;

  constructor(readonly cs: CustomerState) {
    for (const c of cs.customers) this.customers.set(c.external_userid, c);
    for (const r of cs.relations) this.link(r);
    for (const u of cs.follow_users) this.follow.add(u.toLowerCase());
  }

  link(r: SimRelation): void {
    push(this.byCustomer, r.external_userid, r);
    push(this.byUser, r.userid.toLowerCase(), r);
  }

  unlink(r: SimRelation): void {
    pull(this.byCustomer, r.external_userid, r);
    pull(this.byUser, r.userid.toLowerCase(), r);
  }

  relationsOf(userid: string): SimRelation[] {
    return this.byUser.get(userid.toLowerCase()) ?? [];
  }

  relation(userid: string, externalUserid: string): SimRelation | undefined {
    const key = userid.toLowerCase();
    return this.byCustomer.get(externalUserid)?.find((r) => r.userid.toLowerCase() === key);
  }

  /** A corp tag or group by id (groups and tags share the `et…` id space). */
  tagOrGroup(id: string): { group: SimTagGroup; tag?: SimCorpTag } | undefined {
    if (!this.tags) {
      this.tags = new Map();
      for (const group of this.cs.tag_groups) {
        this.tags.set(group.group_id, { group });
        for (const tag of group.tag) this.tags.set(tag.id, { group, tag });
      }
    }
    return this.tags.get(id);
  }

  /** After corp tags changed. */
  tagsChanged(): void {
    this.tags = undefined;
  }
}

function push(map: Map<string, SimRelation[]>, key: string, r: SimRelation): void {
  const list = map.get(key);
  if (list) list.push(r);
  else map.set(key, [r]);
}

function pull(map: Map<string, SimRelation[]>, key: string, r: SimRelation): void {
  const list = map.get(key);
  if (!list) return;
  const i = list.indexOf(r);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) map.delete(key);
}

const indexes = new WeakMap<CustomerState, CustomerIndex>();

export function indexOf(cs: CustomerState): CustomerIndex {
  let index = indexes.get(cs);
  if (!index) indexes.set(cs, (index = new CustomerIndex(cs)));
  return index;
}

export function addCustomer(cs: CustomerState, c: SimCustomer): void {
  cs.customers.push(c);
  indexOf(cs).customers.set(c.external_userid, c);
}

/** Adds a relation with the next seq (so it sorts last in its member's list). */
export function addRelation(cs: CustomerState, r: Omit<SimRelation, 'seq'>): SimRelation {
  const rel: SimRelation = { seq: cs.next_relation_seq++, ...r };
  cs.relations.push(rel);
  indexOf(cs).link(rel);
  return rel;
}

export function removeRelations(cs: CustomerState, gone: Set<SimRelation>): void {
  if (gone.size === 0) return;
  const index = indexOf(cs);
  for (const r of gone) index.unlink(r);
  cs.relations = cs.relations.filter((r) => !gone.has(r));
}

export function setFollow(cs: CustomerState, userid: string, enabled: boolean): void {
  const index = indexOf(cs);
  const key = userid.toLowerCase();
  if (enabled && !index.follow.has(key)) {
    cs.follow_users.push(userid);
    index.follow.add(key);
  } else if (!enabled && index.follow.has(key)) {
    cs.follow_users = cs.follow_users.filter((u) => u.toLowerCase() !== key);
    index.follow.delete(key);
  }
}

/** First index in a seq-ordered list whose seq is above `seq` (the resume point of a cursor). */
export function firstAfter(list: SimRelation[], seq: number, hint: number): number {
  if (hint > 0 && hint <= list.length && list[hint - 1]!.seq === seq) return hint;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
