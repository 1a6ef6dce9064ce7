import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext } from '../core/context.js';
import { InputError, PlatformError } from '../core/errors.js';
import type { StepOutcome } from '../core/execute-plan.js';
import { executePlan } from '../core/execute-plan.js';
import { t, type Text } from '../core/i18n.js';
import { canonicalJson, type Plan, type PlanStep } from '../core/plan.js';
import { diffMenus } from '../mp/menu.js';
import type { Menu, MenuButton, MpTag } from '../platform/mp/types.js';
import type { BatchRow, CorpTagGroup } from '../platform/wecom/customers.js';
import type { Department, User } from '../platform/wecom/types.js';
import { KEY_ENV, PARTS, parseKey, readEntity, readEntityBatches, type Manifest, type MpFollowerLine, type Part, type PolicyLine, type StoreLine, type TagLine } from './format.js';

/**
 * `backup restore`: compares a backup with the live platform and plans the calls that bring the live
 * state back. Nothing is written while planning; the plan is recomputed from the live state on every run,
 * so a restore interrupted halfway completes when run again without duplicates. Entities are read with the
 * streaming reader; only what the comparison needs is held (live members by userid, the backup's relations
 * by `external_userid\0userid` with their tag ids and remark).
 */

/**
 * Workers per wave. The client's per-API cap (12; external-contact APIs 10) is what holds each API under
 * the platform's limit; 20 workers let two APIs of one wave (mark_tag and remark) each use their own cap.
 */
export const RESTORE_CONCURRENCY = 20;

/** Waves: departments (by depth) → department fixes → members → contact tags → tag members → customers → OA. */
export const WAVE = { dept: 0, deptUpdate: 40, member: 50, tag: 60, tagMembers: 70, customer: 80, mpMenu: 90, mpTag: 91, mpFollowers: 92 } as const;

/** Answers that mean "already there" for a create whose earlier answer may have been lost. */
const EXISTS: Record<string, number[]> = {
  'user/create': [60102],
  'department/create': [60008],
  'tag/create': [40071, 40068],
  'tags/create': [45157],
};

const MEMBER_FIELDS = ['name', 'mobile', 'email', 'position', 'gender', 'alias', 'telephone', 'address'] as const;
const USER_CALL = 1000;
const PARTY_CALL = 100;
const FOLLOWER_CALL = 50;
/** Official Account system tags (0 黑名单, 1, 2 星标组) are not created or assigned. */
const SYSTEM_MP_TAGS = new Set([0, 1, 2]);
/** Approval requests are a record of decisions; restoring old states could re-open executed requests. */
const SKIPPED_STORE_COLLECTIONS = new Set(['approvals']);
/** The tag id of an Official Account tag this restore creates, known only after tags/create answers. */
const NEW_MP_TAG = 'new-tag:';

export type ItemKind = 'department' | 'member' | 'tag' | 'customer' | 'menu' | 'mp_tag' | 'store' | 'policy';
export type ItemAction = 'create' | 'update';

export interface RestoreItem {
  row: number;
  kind: ItemKind;
  key: string;
  action: ItemAction;
  changes?: string[];
}

export type LocalChange = { kind: 'store'; collection: string; id: string; value: unknown } | { kind: 'policy'; file: string; content: string };
export type LocalWrite = LocalChange & { row: number };

export interface NotRestorable {
  external_userid: string;
  name: string;
  userid: string;
  /** The owner is missing now and recreated by this restore (their relations come back only if the customer adds them again). */
  owner_recreated: boolean;
}

export interface RestoreAnalysis {
  id: string;
  parts: Part[];
  deleteNewer: boolean;
  items: RestoreItem[];
  steps: PlanStep[];
  local: LocalWrite[];
  unchanged: Record<ItemKind, number>;
  /** Things newer than the backup that are kept (not deleted). */
  kept: Text[];
  notRestorable: NotRestorable[];
  warnings: Text[];
  menuDiff?: string[];
}

export interface RestoreOptions {
  parts: Part[];
  deleteNewer: boolean;
  /** The backup key (WXOPS_BACKUP_KEY) for an encrypted backup. */
  key?: Buffer;
}

export function backupKey(): Buffer | undefined {
  return parseKey(process.env[KEY_ENV]);
}

export function parseParts(only: string | undefined): Part[] {
  if (!only) return [...PARTS];
  const parts = only.split(/[,，\s]+/).filter(Boolean);
  const bad = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (bad.length || !parts.length) {
    throw new InputError('INVALID_ONLY', t('--only 只能是 {all} 中的一个或几个（逗号分隔），不认识：{b}', '--only takes one or more of {all} (comma-separated); unknown: {b}', { all: PARTS.join(', '), b: bad.join(', ') || '—' }));
  }
  return PARTS.filter((p) => parts.includes(p));
}

class Builder {
  items: RestoreItem[] = [];
  steps: PlanStep[] = [];
  local: LocalWrite[] = [];
  private next = 1;

  item(kind: ItemKind, key: string, action: ItemAction, steps: Omit<PlanStep, 'row'>[], changes?: string[]): number {
    const row = this.next++;
    this.items.push({ row, kind, key, action, changes });
    for (const s of steps) this.steps.push({ ...s, row });
    return row;
  }

  write(w: LocalChange, action: ItemAction): void {
    const row = this.next++;
    const kind = w.kind;
    this.items.push({ row, kind, key: w.kind === 'store' ? `${w.collection}/${w.id}` : w.file, action });
    this.local.push({ ...w, row });
  }
}

function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

const lc = (s: string) => s.toLowerCase();

/** Builds the restore: every comparison first; nothing is written. */
export async function analyseRestore(ctx: CommandContext, backupDir: string, manifest: Manifest, opts: RestoreOptions): Promise<RestoreAnalysis> {
  const parts = opts.parts.filter((p) => manifest.only.includes(p));
  const b = new Builder();
  const a: RestoreAnalysis = {
    id: manifest.id,
    parts,
    deleteNewer: opts.deleteNewer,
    items: b.items,
    steps: b.steps,
    local: b.local,
    unchanged: { department: 0, member: 0, tag: 0, customer: 0, menu: 0, mp_tag: 0, store: 0, policy: 0 },
    kept: [],
    notRestorable: [],
    warnings: [],
  };
  const read: Reader = Object.assign(<T>(entity: string) => readEntity<T>(backupDir, entity, opts.key), {
    batches: <T>(entity: string) => readEntityBatches<T>(backupDir, entity, opts.key),
  });
  const phases = parts.length;
  let phase = 0;
  const progress = (label: Text) => ctx.progress({ done: phase++, total: phases, label });
  let contacts: Promise<Set<string>> = Promise.resolve(new Set());
  if (parts.includes('contacts')) {
    progress(t('比较通讯录', 'comparing contacts'));
    contacts = analyseContacts(ctx, read, b, a);
  }
  // Customers are read while contacts are compared (both mostly wait on the platform); their items
  // and notes are added once the contacts' are, so rows and the plan keep their order.
  let customers: Promise<void> | undefined;
  if (parts.includes('customers')) {
    progress(t('比较客户', 'comparing customers'));
    // The file's SHA-256 and the key it is read with: another file, or another key, is read again.
    const keyHash = opts.key ? createHash('sha256').update(opts.key).digest('hex') : '';
    customers = analyseCustomers(ctx, read, b, a, contacts, [backupDir, manifest.entities.customers?.sha256 ?? '', keyHash].join('\u0000'));
  }
  await Promise.all([contacts, customers]);
  if (parts.includes('mp')) {
    progress(t('比较公众号', 'comparing the Official Account'));
    await analyseMp(ctx, read, b, a);
  }
  if (parts.includes('wxops')) {
    progress(t('比较 wxops 自身数据', 'comparing wxops state'));
    await analyseWxops(ctx, read, b, a);
  }
  ctx.progress({ done: phases, total: phases });
  return a;
}

/** An entity's lines one by one, or (for the large ones) in batches. */
type Reader = { <T>(entity: string): AsyncGenerator<T>; batches<T>(entity: string): AsyncGenerator<T[]> };

async function analyseContacts(ctx: CommandContext, read: Reader, b: Builder, a: RestoreAnalysis): Promise<Set<string>> {
  const contacts = await ctx.contacts();
  // Departments: few; the whole tree of both sides.
  const live = new Map((await contacts.listDepartments()).map((d) => [d.id, d]));
  const backup = new Map<number, Department>();
  for await (const d of read<Department>('departments')) backup.set(d.id, d);
  const depth = (id: number, seen = 0): number => {
    const d = backup.get(id);
    if (!d || d.parentid === 0 || d.id === 1 || seen > 64) return 0;
    return 1 + depth(d.parentid, seen + 1);
  };
  const missing = [...backup.values()].filter((d) => !live.has(d.id) && d.parentid !== 0).sort((x, y) => depth(x.id) - depth(y.id) || x.id - y.id);
  for (const d of missing) {
    const body: Record<string, unknown> = { id: d.id, name: d.name, parentid: d.parentid };
    if (d.name_en) body.name_en = d.name_en;
    if (d.order !== undefined) body.order = d.order;
    b.item('department', `${d.id} ${d.name}`, 'create', [
      { api: 'department/create', method: 'POST', secret: 'contacts', wave: WAVE.dept + depth(d.id), body, describe: t('创建部门 {n}（id {id}，上级 {p}）', 'create department {n} (id {id}, parent {p})', { n: d.name, id: d.id, p: d.parentid }) },
    ]);
  }
  for (const d of [...backup.values()].sort((x, y) => x.id - y.id)) {
    const l = live.get(d.id);
    if (!l) continue;
    const changes: string[] = [];
    if (l.name !== d.name) changes.push('name');
    if (d.id !== 1 && l.parentid !== d.parentid) changes.push('parentid');
    if (!changes.length) {
      a.unchanged.department++;
      continue;
    }
    b.item(
      'department',
      `${d.id} ${d.name}`,
      'update',
      [{ api: 'department/update', method: 'POST', secret: 'contacts', wave: WAVE.deptUpdate, body: { id: d.id, name: d.name, ...(changes.includes('parentid') ? { parentid: d.parentid } : {}) }, describe: t('恢复部门 {id} 的 {f}', 'restore {f} of department {id}', { id: d.id, f: changes.join(', ') }) }],
      changes,
    );
  }
  const newerDepts = [...live.keys()].filter((id) => !backup.has(id)).length;
  if (newerDepts) a.kept.push(t('备份之后新建的 {n} 个部门保留不动。', '{n} departments created since the backup are kept.', { n: newerDepts }));

  // Members: the live company by userid; the backup streamed.
  const root = [...live.values()].find((d) => d.parentid === 0)?.id ?? 1;
  const liveUsers = new Map((await contacts.listUsers(root, { fetchChild: true })).map((u) => [lc(u.userid), u]));
  const inBackup = new Set<string>();
  const recreated = new Set<string>();
  for await (const m of read<User>('members')) {
    inBackup.add(lc(m.userid));
    const l = liveUsers.get(lc(m.userid));
    if (!l) {
      const body: Record<string, unknown> = { userid: m.userid, name: m.name, department: m.department };
      for (const k of MEMBER_FIELDS) if (k !== 'name' && m[k] !== undefined && m[k] !== '') body[k] = m[k];
      if (m.order?.length === m.department.length) body.order = m.order;
      if (m.is_leader_in_dept?.length === m.department.length) body.is_leader_in_dept = m.is_leader_in_dept;
      if (m.enable === 0) body.enable = 0;
      body.to_invite = false;
      recreated.add(lc(m.userid));
      b.item('member', m.userid, 'create', [
        { api: 'user/create', method: 'POST', secret: 'contacts', wave: WAVE.member, body, describe: t('重建成员 {u}（{n}）', 'recreate member {u} ({n})', { u: m.userid, n: m.name }) },
      ]);
      continue;
    }
    const changes: Record<string, unknown> = {};
    for (const k of MEMBER_FIELDS) {
      const want = m[k];
      // Only fields the backup has a value for: clearing a value set since would lose newer data.
      if (want !== undefined && want !== '' && String(want) !== String(l[k] ?? '')) changes[k] = want;
    }
    const have = [...(l.department ?? [])].sort((x, y) => x - y).join(',');
    const want = [...m.department].sort((x, y) => x - y).join(',');
    if (have !== want) changes.department = m.department;
    const fields = Object.keys(changes);
    if (!fields.length) {
      a.unchanged.member++;
      continue;
    }
    b.item(
      'member',
      l.userid,
      'update',
      [{ api: 'user/update', method: 'POST', secret: 'contacts', wave: WAVE.member, body: { userid: l.userid, ...changes }, describe: t('恢复成员 {u} 的 {f}', 'restore {f} of member {u}', { u: l.userid, f: fields.join(', ') }) }],
      fields,
    );
  }
  const newerUsers = [...liveUsers.keys()].filter((u) => !inBackup.has(u)).length;
  if (newerUsers) a.kept.push(t('备份之后加入的 {n} 位成员保留不动（恢复从不删除成员）。', '{n} members added since the backup are kept (a restore never removes members).', { n: newerUsers }));

  // Contact tags: by id; a tag recreated under another id with the same name counts as the same tag.
  const liveTags = await contacts.listTags();
  const liveTagById = new Map(liveTags.map((x) => [x.tagid, x]));
  const liveTagByName = new Map(liveTags.map((x) => [x.tagname, x]));
  const backupTagIds = new Set<number>();
  for await (const tag of read<TagLine>('tags')) {
    backupTagIds.add(tag.tagid);
    const users = (tag.userlist ?? []).map((u) => (typeof u === 'string' ? u : (u as { userid: string }).userid));
    const parties = tag.partylist ?? [];
    const target = liveTagById.get(tag.tagid) ?? liveTagByName.get(tag.tagname);
    const steps: Omit<PlanStep, 'row'>[] = [];
    const changes: string[] = [];
    let haveUsers = new Set<string>();
    let haveParties = new Set<number>();
    const tagid = target?.tagid ?? tag.tagid;
    if (!target) {
      steps.push({ api: 'tag/create', method: 'POST', secret: 'contacts', wave: WAVE.tag, body: { tagid: tag.tagid, tagname: tag.tagname }, describe: t('重建标签 {n}（id {id}）', 'recreate tag {n} (id {id})', { n: tag.tagname, id: tag.tagid }) });
    } else {
      if (target.tagname !== tag.tagname) {
        changes.push('tagname');
        steps.push({ api: 'tag/update', method: 'POST', secret: 'contacts', wave: WAVE.tag, body: { tagid, tagname: tag.tagname }, describe: t('恢复标签 {id} 的名称 {n}', 'restore the name {n} of tag {id}', { n: tag.tagname, id: tagid }) });
      }
      const detail = await contacts.getTag(tagid);
      haveUsers = new Set(detail.userlist.map((u) => lc(typeof u === 'string' ? u : u.userid)));
      haveParties = new Set(detail.partylist);
    }
    const addUsers = users.filter((u) => !haveUsers.has(lc(u)));
    const addParties = parties.filter((p) => !haveParties.has(p));
    const n = Math.max(Math.ceil(addUsers.length / USER_CALL), Math.ceil(addParties.length / PARTY_CALL));
    for (let i = 0; i < n; i++) {
      const userlist = addUsers.slice(i * USER_CALL, (i + 1) * USER_CALL);
      const partylist = addParties.slice(i * PARTY_CALL, (i + 1) * PARTY_CALL);
      steps.push({ api: 'tag/addtagusers', method: 'POST', secret: 'contacts', wave: WAVE.tagMembers, body: { tagid, userlist, partylist }, describe: t('标签 {n}：加回 {c} 位成员、{p} 个部门', 'tag {n}: add back {c} members and {p} departments', { n: tag.tagname, c: userlist.length, p: partylist.length }) });
    }
    if (n) changes.push('members');
    const wantUsers = new Set(users.map(lc));
    const wantParties = new Set(parties);
    const extraUsers = [...haveUsers].filter((u) => !wantUsers.has(u)).sort();
    const extraParties = [...haveParties].filter((p) => !wantParties.has(p)).sort((x, y) => x - y);
    if (extraUsers.length || extraParties.length) {
      if (a.deleteNewer) {
        changes.push('remove newer members');
        const m = Math.max(Math.ceil(extraUsers.length / USER_CALL), Math.ceil(extraParties.length / PARTY_CALL));
        for (let i = 0; i < m; i++) {
          const userlist = extraUsers.slice(i * USER_CALL, (i + 1) * USER_CALL);
          const partylist = extraParties.slice(i * PARTY_CALL, (i + 1) * PARTY_CALL);
          steps.push({ api: 'tag/deltagusers', method: 'POST', secret: 'contacts', wave: WAVE.tagMembers, body: { tagid, userlist, partylist }, describe: t('标签 {n}：移除备份之后加入的 {c} 位成员、{p} 个部门', 'tag {n}: remove {c} members and {p} departments added since the backup', { n: tag.tagname, c: userlist.length, p: partylist.length }) });
        }
      } else {
        a.kept.push(t('标签 {n}：备份之后加入的 {c} 位成员、{p} 个部门保留（--delete-newer 才移除）。', 'tag {n}: {c} members and {p} departments added since the backup are kept (--delete-newer removes them).', { n: tag.tagname, c: extraUsers.length, p: extraParties.length }));
      }
    }
    if (!steps.length) {
      a.unchanged.tag++;
      continue;
    }
    b.item('tag', `${tagid} ${tag.tagname}`, target ? 'update' : 'create', steps, target ? changes : undefined);
  }
  const newerTags = liveTags.filter((x) => !backupTagIds.has(x.tagid)).length;
  if (newerTags) a.kept.push(t('备份之后新建的 {n} 个标签保留不动。', '{n} tags created since the backup are kept.', { n: newerTags }));
  return recreated;
}

interface BackupRelation {
  /** Corp tag ids, as live ids (mapped by group/name when the id changed). */
  t: string[];
  r?: string;
  d?: string;
  n: string;
}

/** A live relation, as much of it as the comparison needs. */
interface LiveRelation {
  ext: string;
  userid: string;
  tags: string[];
  remark?: string;
  description?: string;
}

/** A backed-up relation as the comparison needs it: key (customer + owner), tag ids as backed up, name, remark, description. */
type BackupRelationRow = [key: string, tags: string[], name: string, remark: string | undefined, description: string | undefined];

/**
 * The relations of the backup last compared, for a while. Approving a restore runs it again from the
 * start — the live state must be read afresh, but the backup cannot have changed (its file's SHA-256 is
 * part of the key) — and in `serve` or the REPL the approval comes to the same process: reading and
 * parsing 100,000 lines once is enough.
 */
let lastBackupRelations: { key: string; rows: BackupRelationRow[] } | undefined;
const KEEP_BACKUP_RELATIONS_MS = 15 * 60_000;

async function backupRelations(read: Reader, cacheKey: string): Promise<BackupRelationRow[]> {
  if (lastBackupRelations?.key === cacheKey) return lastBackupRelations.rows;
  const shared = new Map<string, string>();
  const once = (v: string) => shared.get(v) ?? (shared.set(v, v), v);
  const rows: BackupRelationRow[] = [];
  for await (const batch of read.batches<BatchRow>('customers')) {
    for (const row of batch) {
      const f = row.follow_info;
      const tags = (f.tags ? f.tags.map((x) => x.tag_id) : (f.tag_id ?? [])).map(once);
      rows.push([`${row.external_contact.external_userid}\u0000${lc(f.userid)}`, tags, row.external_contact.name, f.remark || undefined, f.description || undefined]);
    }
  }
  lastBackupRelations = { key: cacheKey, rows };
  setTimeout(() => {
    if (lastBackupRelations?.rows === rows) lastBackupRelations = undefined;
  }, KEEP_BACKUP_RELATIONS_MS).unref();
  return rows;
}

async function analyseCustomers(ctx: CommandContext, read: Reader, b: Builder, a: RestoreAnalysis, contactsDone: Promise<Set<string>>, cacheKey: string): Promise<void> {
  const api = await ctx.customers();
  // The backup's relations: key → tag ids + remark (+ the name for the not-restorable list).
  const relations = new Map<string, BackupRelation>();
  const found: { key: string; userid: string; ext: string; add: string[]; remove: string[]; remark?: { remark?: string; description?: string } }[] = [];
  let newer = 0;
  let unchanged = 0;
  // Each live relation is compared and dropped from the map (what is left is gone).
  const compare = (l: LiveRelation) => {
    const key = `${l.ext}\u0000${lc(l.userid)}`;
    const want = relations.get(key);
    if (!want) {
      newer++;
      return;
    }
    relations.delete(key);
    // A relation carries a few tags: arrays, not two Sets for each of 100,000 relations.
    const add = want.t.filter((x) => !l.tags.includes(x));
    const remove = a.deleteNewer ? [...new Set(l.tags)].filter((x) => !want.t.includes(x)) : [];
    const remark: { remark?: string; description?: string } = {};
    if (want.r !== undefined && want.r !== (l.remark ?? '')) remark.remark = want.r;
    if (want.d !== undefined && want.d !== (l.description ?? '')) remark.description = want.d;
    if (!add.length && !remove.length && remark.remark === undefined && remark.description === undefined) {
      unchanged++;
      return;
    }
    found.push({ key, userid: l.userid, ext: l.ext, add: add.sort(), remove: remove.sort(), remark: Object.keys(remark).length ? remark : undefined });
  };

  // The live relations are read from the platform while the backup's are read from disk; those that
  // arrive before the backup's are all in wait, compact, until they are.
  let backupRead = false;
  const early: LiveRelation[] = [];
  const live = (async () => {
    const followUsers = await api.followUsers();
    await api.forEachPage(followUsers, (rows) => {
      for (const row of rows) {
        const f = row.follow_info;
        const l: LiveRelation = { ext: row.external_contact.external_userid, userid: f.userid, tags: f.tags ? f.tags.map((x) => x.tag_id) : (f.tag_id ?? []), remark: f.remark, description: f.description };
        if (backupRead) compare(l);
        else early.push(l);
      }
    });
  })();
  // Awaited below; a failure meanwhile is not unhandled.
  live.catch(() => undefined);

  const liveGroups = await api.corpTags();
  const liveIds = new Set(liveGroups.flatMap((g) => g.tag.map((x) => x.id)));
  const liveByName = new Map(liveGroups.flatMap((g) => g.tag.map((x) => [`${g.group_name}/${x.name}`, x.id] as const)));
  const mapped = new Map<string, string | undefined>();
  const gone: string[] = [];
  for await (const g of read<CorpTagGroup>('corp_tags')) {
    for (const x of g.tag) {
      if (liveIds.has(x.id)) mapped.set(x.id, x.id);
      else {
        const id = liveByName.get(`${g.group_name}/${x.name}`);
        mapped.set(x.id, id);
        if (!id) gone.push(`${g.group_name}/${x.name}`);
      }
    }
  }
  const mapTag = (id: string) => (mapped.has(id) ? mapped.get(id) : liveIds.has(id) ? id : undefined);

  for (const [key, tags, n, r, d] of await backupRelations(read, cacheKey)) {
    const rel: BackupRelation = { t: tags.map(mapTag).filter((x): x is string => !!x), n };
    if (r) rel.r = r;
    if (d) rel.d = d;
    relations.set(key, rel);
  }
  backupRead = true;
  for (const l of early) compare(l);
  early.length = 0;
  await live;

  const recreated = await contactsDone;
  if (gone.length) {
    gone.sort();
    a.warnings.push(
      t('企业客户标签 {l} 已不存在，客户身上的这些标签无法恢复；先用 ctag add 重建，再运行一次恢复。', 'The corp tags {l} no longer exist, so they cannot be put back on customers; recreate them with `ctag add`, then run the restore again.', {
        l: gone.slice(0, 20).join('、') + (gone.length > 20 ? ` …(+${gone.length - 20})` : ''),
      }),
    );
  }
  a.unchanged.customer += unchanged;
  // Pages arrive in whatever order the parallel chains answer; the plan (and its hash) must not.
  found.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  for (const r of found) {
    const steps: Omit<PlanStep, 'row'>[] = [];
    const changes: string[] = [];
    if (r.add.length || r.remove.length) {
      const body: Record<string, unknown> = { userid: r.userid, external_userid: r.ext };
      if (r.add.length) body.add_tag = r.add;
      if (r.remove.length) body.remove_tag = r.remove;
      if (r.add.length) changes.push('tags');
      if (r.remove.length) changes.push('remove newer tags');
      steps.push({ api: 'externalcontact/mark_tag', method: 'POST', secret: 'customer', wave: WAVE.customer, body, describe: t('客户 {c}（{u}）：加回 {a} 个标签，去掉 {r} 个', 'customer {c} ({u}): add back {a} tags, remove {r}', { c: r.ext, u: r.userid, a: r.add.length, r: r.remove.length }) });
    }
    if (r.remark) {
      changes.push('remark');
      steps.push({ api: 'externalcontact/remark', method: 'POST', secret: 'customer', wave: WAVE.customer, body: { userid: r.userid, external_userid: r.ext, ...r.remark }, describe: t('客户 {c}（{u}）：恢复备注', 'customer {c} ({u}): restore the remark', { c: r.ext, u: r.userid }) });
    }
    b.item('customer', `${r.ext}/${r.userid}`, 'update', steps, changes);
  }
  if (newer) a.kept.push(t('备份之后新增的 {n} 个客户关系保留不动。', '{n} customer relations added since the backup are kept.', { n: newer }));
  const lost: NotRestorable[] = [];
  for (const [key, rel] of relations) {
    const [ext, userid] = key.split('\u0000') as [string, string];
    lost.push({ external_userid: ext, name: rel.n, userid, owner_recreated: recreated.has(userid) });
  }
  lost.sort((x, y) => x.external_userid.localeCompare(y.external_userid) || x.userid.localeCompare(y.userid));
  a.notRestorable = lost;
}

function stripMenu(buttons: MenuButton[]): MenuButton[] {
  return buttons.map((btn) => {
    const { sub_button, ...rest } = btn;
    return sub_button?.length ? { ...rest, sub_button: stripMenu(sub_button) } : rest;
  });
}

async function analyseMp(ctx: CommandContext, read: Reader, b: Builder, a: RestoreAnalysis): Promise<void> {
  const mp = await ctx.mp();
  let menu: Menu | undefined;
  for await (const m of read<Menu>('mp_menu')) menu = { button: stripMenu(m.button ?? []) };
  if (menu) {
    const live = await mp.getMenu();
    const liveMenu = live ? { button: stripMenu(live.button) } : undefined;
    if (canonicalJson(liveMenu?.button ?? null) !== canonicalJson(menu.button)) {
      a.menuDiff = diffMenus(liveMenu, menu).lines;
      b.item('menu', 'menu', 'update', [{ api: 'menu/create', method: 'POST', secret: 'mp', wave: WAVE.mpMenu, body: menu, describe: t('恢复公众号菜单（{n} 个一级菜单）', 'restore the Official Account menu ({n} top-level buttons)', { n: menu.button.length }) }], ['menu']);
    } else a.unchanged.menu++;
  }

  // Follower tags by name (ids are the platform's); memberships per tag.
  const liveTags = await mp.listTags();
  const liveByName = new Map(liveTags.map((x) => [x.name, x.id]));
  const backupTags = new Map<number, string>();
  for await (const tag of read<MpTag>('mp_tags')) if (!SYSTEM_MP_TAGS.has(tag.id)) backupTags.set(tag.id, tag.name);
  const members = new Map<string, string[]>();
  for await (const f of read<MpFollowerLine>('mp_followers')) {
    for (const id of f.tagid_list ?? []) {
      const name = backupTags.get(id);
      if (name === undefined) continue;
      (members.get(name) ?? members.set(name, []).get(name)!).push(f.openid);
    }
  }
  const names = [...new Set(backupTags.values())].sort();
  const needsFollowers = names.some((n) => members.get(n)?.length);
  const followers = needsFollowers ? new Set(await mp.listFollowerIds()) : new Set<string>();
  const backupNames = new Set(names);
  for (const name of names) {
    const liveId = liveByName.get(name);
    const steps: Omit<PlanStep, 'row'>[] = [];
    const changes: string[] = [];
    const tagid: number | string = liveId ?? `${NEW_MP_TAG}${name}`;
    if (liveId === undefined) steps.push({ api: 'tags/create', method: 'POST', secret: 'mp', wave: WAVE.mpTag, body: { tag: { name } }, describe: t('重建关注者标签 {n}', 'recreate the follower tag {n}', { n: name }) });
    const have = liveId === undefined ? new Set<string>() : new Set(await mp.tagFollowerIds(liveId));
    const want = (members.get(name) ?? []).filter((o) => followers.has(o));
    const add = [...new Set(want)].filter((o) => !have.has(o)).sort();
    for (const chunk of chunks(add, FOLLOWER_CALL)) {
      steps.push({ api: 'tags/members/batchtagging', method: 'POST', secret: 'mp', wave: WAVE.mpFollowers, body: { openid_list: chunk, tagid }, describe: t('给 {c} 位关注者加回标签 {n}', 'tag {c} followers with {n} again', { c: chunk.length, n: name }) });
    }
    if (add.length) changes.push('followers');
    const wantSet = new Set(want);
    const extra = [...have].filter((o) => !wantSet.has(o)).sort();
    if (extra.length && a.deleteNewer && liveId !== undefined) {
      changes.push('remove newer followers');
      for (const chunk of chunks(extra, FOLLOWER_CALL)) {
        steps.push({ api: 'tags/members/batchuntagging', method: 'POST', secret: 'mp', wave: WAVE.mpFollowers, body: { openid_list: chunk, tagid: liveId }, describe: t('取消 {c} 位备份之后加上的关注者的标签 {n}', 'untag {c} followers tagged {n} since the backup', { c: chunk.length, n: name }) });
      }
    } else if (extra.length) {
      a.kept.push(t('关注者标签 {n}：备份之后加上的 {c} 位关注者保留（--delete-newer 才取消）。', 'follower tag {n}: {c} followers tagged since the backup are kept (--delete-newer untags them).', { n: name, c: extra.length }));
    }
    if (!steps.length) {
      a.unchanged.mp_tag++;
      continue;
    }
    b.item('mp_tag', name, liveId === undefined ? 'create' : 'update', steps, liveId === undefined ? undefined : changes);
  }
  const newerTags = liveTags.filter((x) => !SYSTEM_MP_TAGS.has(x.id) && !backupNames.has(x.name)).length;
  if (newerTags) a.kept.push(t('备份之后新建的 {n} 个关注者标签保留不动。', '{n} follower tags created since the backup are kept.', { n: newerTags }));
}

/** A policy file name from a backup: a plain name in the policy directory, never a path. */
const POLICY_FILE = /^[\w.-]+\.(ya?ml|json)$/;

async function analyseWxops(ctx: CommandContext, read: Reader, b: Builder, a: RestoreAnalysis): Promise<void> {
  const store = await ctx.store();
  const entries: StoreLine[] = [];
  for await (const e of read<StoreLine>('wxops_store')) if (!SKIPPED_STORE_COLLECTIONS.has(e.collection)) entries.push(e);
  entries.sort((x, y) => x.collection.localeCompare(y.collection) || x.id.localeCompare(y.id));
  for (const e of entries) {
    const live = await store.get(e.collection, e.id);
    if (live !== undefined && canonicalJson(live) === canonicalJson(e.value)) {
      a.unchanged.store++;
      continue;
    }
    b.write({ kind: 'store', collection: e.collection, id: e.id, value: e.value }, live === undefined ? 'create' : 'update');
  }
  const files: PolicyLine[] = [];
  for await (const p of read<PolicyLine>('policies')) files.push(p);
  files.sort((x, y) => x.file.localeCompare(y.file));
  for (const p of files) {
    if (!POLICY_FILE.test(p.file)) {
      a.warnings.push(t('跳过备份中的策略文件名 {f}（不是策略目录下的文件名）。', 'Skipped the policy file name {f} in the backup (not a plain file name).', { f: p.file }));
      continue;
    }
    const path = join(ctx.policyDir, p.file);
    const live = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (live === p.content) {
      a.unchanged.policy++;
      continue;
    }
    b.write({ kind: 'policy', file: p.file, content: p.content }, live === undefined ? 'create' : 'update');
  }
}

function count(a: RestoreAnalysis, kind: ItemKind, action: ItemAction): number {
  return a.items.filter((i) => i.kind === kind && i.action === action).length;
}

/** The plan approvers see: summary with counts, notes (menu diff, local writes, what is kept, what cannot come back), the calls. */
export function restorePlan(a: RestoreAnalysis): Plan {
  const notes: Text[] = [...a.warnings];
  const parts: string[][] = [];
  const add = (zh: string, en: string, n: number) => n && parts.push([`${zh} ${n}`, `${en} ${n}`]);
  add('新建部门', 'create departments', count(a, 'department', 'create'));
  add('修正部门', 'fix departments', count(a, 'department', 'update'));
  add('重建成员', 'recreate members', count(a, 'member', 'create'));
  add('恢复成员信息', 'restore members', count(a, 'member', 'update'));
  add('重建标签', 'recreate tags', count(a, 'tag', 'create'));
  add('恢复标签成员', 'restore tags', count(a, 'tag', 'update'));
  add('恢复客户标签/备注', 'restore customer tags/remarks', count(a, 'customer', 'update'));
  add('恢复菜单', 'restore the menu', count(a, 'menu', 'update'));
  add('重建关注者标签', 'recreate follower tags', count(a, 'mp_tag', 'create'));
  add('恢复关注者标签', 'restore follower tags', count(a, 'mp_tag', 'update'));
  add('本地数据', 'local entries', a.local.length);
  if (a.menuDiff?.length) notes.push(t('菜单与备份的差异（+ 恢复后有，- 恢复后没有）：', 'Menu changes against the backup (+ comes back, - goes):'), ...a.menuDiff.map((l) => ({ zh: l, en: l })));
  if (a.local.length) {
    const stores = new Map<string, number>();
    for (const w of a.local) if (w.kind === 'store') stores.set(w.collection, (stores.get(w.collection) ?? 0) + 1);
    const policies = a.local.filter((w) => w.kind === 'policy').map((w) => (w as { file: string }).file);
    const list = [...[...stores].map(([c, n]) => `${c} ×${n}`), ...policies.map((f) => `policies/${f}`)].join(', ');
    notes.push(
      t('批准后在本地写回 wxops 自身数据（确认）：{l}。备份之后新增的条目保留。', 'On approval wxops also writes back its own state locally (confirm): {l}. Entries added since the backup are kept.', { l: list }),
    );
  }
  notes.push(...a.kept);
  if (a.notRestorable.length) {
    const shown = a.notRestorable.slice(0, 20).map((r) => `${r.name}(${r.external_userid}) ↔ ${r.userid}`);
    const more = a.notRestorable.length - shown.length;
    const recreated = a.notRestorable.filter((r) => r.owner_recreated).length;
    notes.push(
      t(
        '{n} 个客户关系已不存在，接口无法重建，需要客户重新添加成员：{l}{m}',
        '{n} customer relations no longer exist and cannot be recreated through the API; needs the customer to add the member again: {l}{m}',
        {
          n: a.notRestorable.length,
          l: shown.join('; '),
          m: more > 0 ? ` …(+${more})` : '',
        },
      ),
    );
    if (recreated) {
      notes.push(t('其中 {n} 个属于本次重建的成员：重建后如果客户关系仍在，再运行一次恢复即可补回标签和备注。', '{n} of them belong to members this restore recreates: if those relations are still there afterwards, run the restore again to put their tags and remarks back.', { n: recreated }));
    }
  }
  const what = parts.length ? parts : [['无需变更', 'nothing to change']];
  return {
    summary: {
      zh: `从备份 ${a.id} 恢复（${a.parts.join(', ')}）：${what.map((x) => x[0]).join('，')}`,
      en: `Restore from backup ${a.id} (${a.parts.join(', ')}): ${what.map((x) => x[1]).join(', ')}`,
    },
    notes,
    steps: a.steps,
  };
}

export type ItemResult = 'created' | 'updated' | 'unchanged' | 'failed';

export interface ItemReport {
  row: number;
  kind: ItemKind;
  key: string;
  action: ItemAction;
  result: ItemResult;
  changes?: string[];
  errcode?: number;
  error?: string;
  errorText?: Text;
}

function isExists(o: StepOutcome): boolean {
  return !o.ok && o.error instanceof PlatformError && (EXISTS[o.step.api] ?? []).includes(o.error.errcode);
}

/** Runs the approved plan (the calls wave by wave, then the local writes) and reports per item. */
export async function executeRestore(ctx: CommandContext, a: RestoreAnalysis, plan: Plan): Promise<ItemReport[]> {
  const pending = (s: PlanStep) => typeof (s.body as { tagid?: unknown } | undefined)?.tagid === 'string' && String((s.body as { tagid: string }).tagid).startsWith(NEW_MP_TAG);
  const first = plan.steps.filter((s) => !pending(s));
  const later = plan.steps.filter(pending);
  const outcomes: StepOutcome[] = [];
  if (first.length) outcomes.push(...(await executePlan(ctx, { ...plan, steps: first }, { concurrency: RESTORE_CONCURRENCY, continueOnError: true })));
  if (later.length) {
    // Follower tags this restore created: their ids are known now.
    const ids = new Map((await (await ctx.mp()).listTags()).map((x) => [x.name, x.id]));
    const resolved: PlanStep[] = [];
    for (const s of later) {
      const name = String((s.body as { tagid: string }).tagid).slice(NEW_MP_TAG.length);
      const id = ids.get(name);
      if (id === undefined) outcomes.push({ step: s, ok: false, error: new InputError('MP_TAG_MISSING', t('关注者标签 {n} 没有建成。', 'The follower tag {n} was not created.', { n: name })) });
      else resolved.push({ ...s, body: { ...(s.body as object), tagid: id } });
    }
    if (resolved.length) outcomes.push(...(await executePlan(ctx, { ...plan, steps: resolved }, { concurrency: RESTORE_CONCURRENCY, continueOnError: true })));
  }
  const failures = new Map<number, StepOutcome>();
  for (const o of outcomes) if (!o.ok && !isExists(o) && o.step.row !== undefined && !failures.has(o.step.row)) failures.set(o.step.row, o);
  const localErrors = new Map<number, Error>();
  if (a.local.length) {
    const store = await ctx.store();
    for (const w of a.local) {
      try {
        if (w.kind === 'store') await store.put(w.collection, w.id, w.value);
        else {
          mkdirSync(ctx.policyDir, { recursive: true });
          writeFileSync(join(ctx.policyDir, w.file), w.content);
        }
      } catch (err) {
        localErrors.set(w.row, err as Error);
      }
    }
  }
  return a.items.map((i) => {
    const f = failures.get(i.row);
    const le = localErrors.get(i.row);
    const base = { row: i.row, kind: i.kind, key: i.key, action: i.action, changes: i.changes };
    if (f) {
      const e = f.error!;
      return { ...base, result: 'failed' as const, errcode: e instanceof PlatformError ? e.errcode : undefined, error: e.text.en, errorText: e.text };
    }
    if (le) return { ...base, result: 'failed' as const, error: le.message, errorText: { zh: le.message, en: le.message } };
    return { ...base, result: i.action === 'create' ? ('created' as const) : ('updated' as const) };
  });
}
