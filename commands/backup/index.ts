import { hostname } from 'node:os';
import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../../src/core/command.js';
import type { CommandContext } from '../../src/core/context.js';
import { RuntimeFailure } from '../../src/core/errors.js';
import { formatTime, t } from '../../src/core/i18n.js';
import { canonicalJson } from '../../src/core/plan.js';
import { message, type View } from '../../src/core/result.js';
import { CATALOGUE, findBackup, keyFor, listBackups, type CatalogueEntry, parseKey, PARTS, readEntity, readEntityBatches, verifyBackup, KEY_ENV, type Part, type TagLine, type VerifyResult } from '../../src/backup/format.js';
import { applyRetention, parseKeep, uncatalogue } from '../../src/backup/retention.js';
import { entitiesOf, runBackup } from '../../src/backup/writer.js';
import type { BatchRow, CorpTagGroup, FollowInfo } from '../../src/platform/wecom/customers.js';
import type { Department, User } from '../../src/platform/wecom/types.js';
import { backupRestore } from './restore.js';

/**
 * Backups (issue 8): `backup run` streams the platform's data and wxops's own state into
 * `<dataDir>/backups/<id>/` (format in src/backup/format.ts); `list`, `verify` and `diff` read them.
 */
const VERIFICATIONS = 'backup-verifications';

interface VerificationRecord {
  id: string;
  at: string;
  ok: boolean;
  by: string;
  problems: { file: string; problem: string }[];
}

/** The key from the environment (`.env` included); undefined when not set. Never logged. */
function backupKey(ctx: CommandContext): Buffer | undefined {
  return parseKey(ctx.session.runtime.env[KEY_ENV]);
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

const idArg = arg(z.string().min(1), t('备份 id（backup list 可查）', 'backup id (see backup list)'), { placeholder: 'id' });

const partsSchema = z
  .array(z.string().min(1))
  .optional()
  .transform((v, c) => {
    if (!v) return undefined;
    const parts = v.flatMap((s) => s.split(/[,，]/)).map((s) => s.trim()).filter(Boolean);
    for (const p of parts) {
      if (!(PARTS as readonly string[]).includes(p)) {
        c.addIssue({ code: z.ZodIssueCode.custom, message: `“${p}”：只能是 / one of ${PARTS.join(', ')}` });
        return z.NEVER;
      }
    }
    return [...new Set(parts)] as Part[];
  });

export const backupRun = defineCommand({
  name: 'backup run',
  alias: '备份 执行',
  summary: t('备份通讯录、客户、公众号和 wxops 自身数据', 'Back up contacts, customers, the Official Account and wxops’s own state'),
  details: t(
    '每类数据写成一个压缩的 JSON Lines 文件，边读边写；清单记录条数、大小和 SHA-256。设置 WXOPS_BACKUP_KEY 时加密（AES-256-GCM）。完成后按 WXOPS_BACKUP_KEEP（默认 7d,4w）清理旧备份。',
    'Each entity is streamed to a compressed JSON Lines file; the manifest records counts, sizes and SHA-256. Encrypted (AES-256-GCM) when WXOPS_BACKUP_KEY is set. Afterwards old backups are pruned per WXOPS_BACKUP_KEEP (default 7d,4w).',
  ),
  examples: ['backup run', 'backup run --only contacts,customers', 'backup run --dry-run'],
  params: {
    only: option(partsSchema, t('只备份这些部分：contacts、customers、mp、wxops（逗号分隔）', 'only these parts: contacts, customers, mp, wxops (comma-separated)'), { many: true, placeholder: 'parts' }),
  },
  action: 'backup.run',
  attributes: ['parts'],
  mutates: true,
  async resolve(_ctx, a) {
    return { parts: a.only ?? [...PARTS] };
  },
  async plan(ctx, a) {
    const parts = a.only ?? [...PARTS];
    const key = backupKey(ctx);
    parseKeep(ctx.session.runtime.env.WXOPS_BACKUP_KEEP);
    return {
      summary: t('备份 {p} 到 {d}', 'Back up {p} to {d}', { p: parts.join(', '), d: `${ctx.dataDir}/backups` }),
      steps: [],
      notes: [
        t('内容：{e}', 'Entities: {e}', { e: entitiesOf(parts).join(', ') }),
        key ? t('加密：是（AES-256-GCM，密钥来自 {env}）', 'Encrypted: yes (AES-256-GCM, key from {env})', { env: KEY_ENV }) : t('加密：否（未设置 {env}）', 'Encrypted: no ({env} not set)', { env: KEY_ENV }),
        t('保留规则：{k}', 'Retention: {k}', { k: ctx.session.runtime.env.WXOPS_BACKUP_KEEP || '7d,4w' }),
      ],
    };
  },
  async run(ctx, a) {
    const key = backupKey(ctx);
    const rule = parseKeep(ctx.session.runtime.env.WXOPS_BACKUP_KEEP);
    const out = await runBackup(ctx, { only: a.only, explicit: !!a.only, createdBy: ctx.actor.userid, key, progress: (u) => ctx.progress(u) });
    const retention = applyRetention(ctx.dataDir, ctx.now(), rule);
    await uncatalogue(await ctx.store(), retention.removed);
    const counts = Object.entries(out.manifest.entities).map(([name, e]) => ({ entity: name, count: e.count, size: size(e.bytes) }));
    const data = {
      id: out.id,
      dir: out.dir,
      only: out.manifest.only,
      encrypted: out.manifest.encrypted,
      counts: Object.fromEntries(counts.map((c) => [c.entity, c.count])),
      bytes: out.bytes,
      raw_bytes: out.rawBytes,
      skipped: out.skipped,
      removed: retention.removed,
    };
    const sections: View[] = [
      {
        type: 'message',
        tone: 'success',
        text: t('备份 {id} 完成：{n} 个文件，共 {s}{enc}。', 'Backup {id} done: {n} files, {s}{enc}.', {
          id: out.id,
          n: counts.length,
          s: size(out.bytes),
          enc: out.manifest.encrypted ? (ctx.lang === 'zh' ? '，已加密' : ', encrypted') : '',
        }),
      },
      { type: 'table', columns: [{ key: 'entity', title: t('内容', 'entity') }, { key: 'count', title: t('条数', 'count') }, { key: 'size', title: t('大小', 'size') }], rows: counts },
    ];
    if (out.skipped.length) sections.push({ type: 'message', tone: 'warning', text: t('未备份（未配置）：{p}', 'Not backed up (not configured): {p}', { p: out.skipped.map((s) => s.part).join(', ') }) });
    if (retention.removed.length) sections.push({ type: 'message', tone: 'info', text: t('按保留规则删除了旧备份：{ids}', 'Removed by retention: {ids}', { ids: retention.removed.join(', ') }) });
    return { data, view: { type: 'sections', sections } };
  },
});

export const backupList = defineCommand({
  name: 'backup list',
  alias: '备份 列表',
  summary: t('列出完整的备份', 'List the complete backups'),
  params: {},
  action: 'backup.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const store = await ctx.store();
    const rows = [];
    const here = listBackups(ctx.dataDir);
    for (const b of here) {
      const v = await store.get<VerificationRecord>(VERIFICATIONS, b.id);
      rows.push({
        id: b.id,
        host: null as string | null,
        created_at: b.manifest.created_at,
        created_by: b.manifest.created_by,
        only: b.manifest.only,
        counts: Object.fromEntries(Object.entries(b.manifest.entities).map(([k, e]) => [k, e.count])),
        bytes: b.bytes,
        encrypted: b.manifest.encrypted,
        verified: v ? { ok: v.ok, at: v.at } : null,
      });
    }
    // Several instances on one database: the others' backups, from the catalogue, with where they are.
    // This machine's own entries are what the directory says (a backup removed by hand is gone).
    for (const c of await store.list<CatalogueEntry>(CATALOGUE)) {
      if (c.host === hostname()) continue;
      rows.push({ id: c.id, host: c.host, created_at: c.created_at, created_by: c.created_by, only: c.only, counts: c.counts, bytes: c.bytes, encrypted: c.encrypted, verified: null });
    }
    const view: View = {
      type: 'table',
      caption: t('备份（{d}）', 'Backups ({d})', { d: `${ctx.dataDir}/backups` }),
      columns: [
        { key: 'id', title: t('id', 'id') },
        { key: 'time', title: t('时间', 'time') },
        { key: 'by', title: t('操作人', 'by') },
        { key: 'parts', title: t('内容', 'parts') },
        { key: 'counts', title: t('条数', 'counts') },
        { key: 'size', title: t('大小', 'size') },
        { key: 'encrypted', title: t('加密', 'encrypted') },
        { key: 'verified', title: t('校验', 'verified') },
      ],
      rows: rows.map((r) => ({
        id: r.id,
        time: formatTime(r.created_at),
        by: r.created_by,
        parts: r.only.join(','),
        counts: Object.entries(r.counts)
          .map(([k, n]) => `${k} ${n}`)
          .join(', '),
        size: size(r.bytes),
        encrypted: r.encrypted ? '✓' : '',
        verified: r.host ? t('在 {h} 上', 'on {h}', { h: r.host })[ctx.lang] : r.verified ? `${r.verified.ok ? '✓' : '✗'} ${formatTime(r.verified.at)}` : '—',
      })),
      footer: rows.length ? undefined : t('还没有备份：backup run 创建一个。', 'No backups yet: `backup run` makes one.'),
    };
    return { data: { backups: rows }, view };
  },
});

export const backupVerify = defineCommand({
  name: 'backup verify',
  alias: '备份 校验',
  summary: t('校验备份：校验和、条数、能否解压和解密', 'Verify a backup: checksums, counts, that it decompresses and decrypts'),
  examples: ['backup verify 20261125-020000'],
  params: { id: idArg },
  action: 'backup.verify',
  attributes: ['id'],
  mutates: false,
  async resolve(_ctx, a) {
    return { id: a.id };
  },
  async run(ctx, a) {
    const b = findBackup(ctx.dataDir, a.id);
    const key = keyFor(b.manifest, backupKey(ctx));
    const r: VerifyResult = await verifyBackup(b.dir, key);
    const record: VerificationRecord = { id: b.id, at: ctx.now().toISOString(), ok: r.ok, by: ctx.actor.userid, problems: r.problems };
    await (await ctx.store()).put(VERIFICATIONS, b.id, record);
    if (!r.ok) {
      throw new RuntimeFailure(
        'BACKUP_VERIFY_FAILED',
        t('备份 {id} 校验失败：{p}', 'Backup {id} failed verification: {p}', { id: b.id, p: r.problems.map((p) => `${p.file}: ${p.problem}`).join('; ') }),
        r,
      );
    }
    const total = Object.values(r.entities).reduce((s, e) => s + e.counted, 0);
    return message(
      t('备份 {id} 校验通过：{n} 个文件、{c} 条记录，校验和与条数都与清单一致{enc}。', 'Backup {id} verified: {n} files, {c} lines; checksums and counts match the manifest{enc}.', {
        id: b.id,
        n: Object.keys(r.entities).length,
        c: total,
        enc: b.manifest.encrypted ? (ctx.lang === 'zh' ? '，解密成功' : ', decrypted') : '',
      }),
      r,
    );
  },
});

// ---------------------------------------------------------------- diff

interface EntityDiff<M = unknown> {
  added: string[];
  removed: string[];
  modified: M[];
}

interface FieldChange {
  before: unknown;
  after: unknown;
}

function emptyDiff<M>(): EntityDiff<M> {
  return { added: [], removed: [], modified: [] };
}

function fieldChanges(before: Record<string, unknown>, after: Record<string, unknown>, fields?: string[]): Record<string, FieldChange> {
  const keys = fields ?? [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const out: Record<string, FieldChange> = {};
  for (const k of keys) {
    if (canonicalJson(before[k] ?? null) !== canonicalJson(after[k] ?? null)) out[k] = { before: before[k] ?? null, after: after[k] ?? null };
  }
  return out;
}

function keyed<T>(items: T[], key: (x: T) => string): Map<string, T> {
  return new Map(items.map((x) => [key(x), x]));
}

function diffMaps<T>(before: Map<string, T>, after: Map<string, T>, compare: (b: T, a: T) => Record<string, FieldChange>): EntityDiff<{ key: string; fields: Record<string, FieldChange> }> {
  const d = emptyDiff<{ key: string; fields: Record<string, FieldChange> }>();
  for (const [k, b] of before) {
    const a = after.get(k);
    if (!a) d.removed.push(k);
    else {
      const fields = compare(b, a);
      if (Object.keys(fields).length) d.modified.push({ key: k, fields });
    }
  }
  for (const k of after.keys()) if (!before.has(k)) d.added.push(k);
  return d;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const sorted = <T>(xs: T[] | undefined): T[] => [...(xs ?? [])].sort();

function tagIds(f: FollowInfo): string[] {
  return [...new Set([...(f.tag_id ?? []), ...(f.tags ?? []).filter((x) => x.type === undefined || x.type === 1).map((x) => x.tag_id)])].sort();
}

/** What a customer relation's diff compares, compactly (100,000 of them may be held). */
function relationState(f: FollowInfo): string {
  return JSON.stringify([tagIds(f), f.remark ?? '', f.description ?? '']);
}

export const backupDiff = defineCommand({
  name: 'backup diff',
  alias: '备份 对比',
  summary: t('对比备份和现在：新增、删除、修改了什么', 'What changed since a backup: added, removed, modified'),
  details: t(
    '对比成员（逐字段）、部门、通讯录标签、客户（按客户和跟进成员：标签、备注、描述）、客户标签和公众号菜单。',
    'Compares members (field by field), departments, contact tags, customers (per customer and owner: tags, remark, description), customer tags and the Official Account menu.',
  ),
  examples: ['backup diff 20261125-020000'],
  params: { id: idArg },
  action: 'backup.diff',
  attributes: ['id'],
  mutates: false,
  async resolve(_ctx, a) {
    return { id: a.id };
  },
  async run(ctx, a) {
    const b = findBackup(ctx.dataDir, a.id);
    const key = keyFor(b.manifest, backupKey(ctx));
    const has = (p: Part) => b.manifest.only.includes(p);
    const data: Record<string, unknown> = { id: b.id, created_at: b.manifest.created_at };
    const summary: { entity: string; added: number; removed: number; modified: number }[] = [];
    const details: { entity: string; key: string; change: string }[] = [];
    const show = (v: unknown) => (v === null || v === undefined || v === '' ? '∅' : typeof v === 'string' ? v : JSON.stringify(v));
    const record = (entity: string, d: EntityDiff<{ key: string; fields: Record<string, FieldChange> }>) => {
      data[entity] = d;
      summary.push({ entity, added: d.added.length, removed: d.removed.length, modified: d.modified.length });
      for (const k of d.added) details.push({ entity, key: k, change: ctx.lang === 'zh' ? '新增' : 'added' });
      for (const k of d.removed) details.push({ entity, key: k, change: ctx.lang === 'zh' ? '已删除' : 'removed' });
      for (const m of d.modified) details.push({ entity, key: m.key, change: Object.entries(m.fields).map(([f, c]) => `${f}: ${show(c.before)} → ${show(c.after)}`).join('; ') });
    };
    if (has('contacts')) {
      const contacts = await ctx.contacts();
      const depts = await contacts.listDepartments();
      const deptKeys = ['name', 'parentid', 'order', 'department_leader'];
      record('departments', diffMaps(keyed(await collect(readEntity<Department>(b.dir, 'departments', key)), (d) => String(d.id)), keyed(depts, (d) => String(d.id)), (x, y) => fieldChanges(x as never, y as never, deptKeys)));
      const root = depts.find((d) => !d.parentid)?.id ?? 1;
      const users = await contacts.listUsers(root, { fetchChild: true });
      record('members', diffMaps(keyed(await collect(readEntity<User>(b.dir, 'members', key)), (u) => u.userid), keyed(users, (u) => u.userid), (x, y) => fieldChanges(x as never, y as never)));
      const live: TagLine[] = [];
      for (const tag of await contacts.listTags()) {
        const d = await contacts.getTag(tag.tagid);
        live.push({ tagid: tag.tagid, tagname: d.tagname ?? tag.tagname, userlist: d.userlist.map((u) => (typeof u === 'string' ? u : u.userid)), partylist: d.partylist });
      }
      const norm = (x: TagLine) => ({ tagname: x.tagname, userlist: sorted(x.userlist), partylist: sorted(x.partylist) });
      record('tags', diffMaps(keyed(await collect(readEntity<TagLine>(b.dir, 'tags', key)), (x) => String(x.tagid)), keyed(live, (x) => String(x.tagid)), (x, y) => fieldChanges(norm(x), norm(y))));
    }
    if (has('customers')) {
      const api = await ctx.customers();
      // Backed-up relations compactly by (customer, owner); the live ones are compared page by page.
      const before = new Map<string, string>();
      for await (const rows of readEntityBatches<BatchRow>(b.dir, 'customers', key)) for (const row of rows) before.set(`${row.external_contact.external_userid}/${row.follow_info.userid}`, relationState(row.follow_info));
      const d = emptyDiff<{ key: string; fields: Record<string, FieldChange> }>();
      const seen = new Set<string>();
      await api.forEachPage(await api.followUsers(), (rows) => {
        for (const row of rows) {
          const k = `${row.external_contact.external_userid}/${row.follow_info.userid}`;
          seen.add(k);
          const was = before.get(k);
          const now = relationState(row.follow_info);
          if (was === undefined) d.added.push(k);
          else if (was !== now) {
            const [bt, br, bd] = JSON.parse(was) as [string[], string, string];
            const [at, ar, ad] = JSON.parse(now) as [string[], string, string];
            d.modified.push({ key: k, fields: fieldChanges({ tags: bt, remark: br, description: bd }, { tags: at, remark: ar, description: ad }) });
          }
        }
      });
      for (const k of before.keys()) if (!seen.has(k)) d.removed.push(k);
      record('customers', d);
      const flat = (groups: CorpTagGroup[]) => new Map(groups.flatMap((g) => [[`group ${g.group_id}`, { name: g.group_name }] as const, ...g.tag.map((x) => [`tag ${x.id}`, { name: x.name, group: g.group_name }] as const)]));
      record('corp_tags', diffMaps(flat(await collect(readEntity<CorpTagGroup>(b.dir, 'corp_tags', key))), flat(await api.corpTags()), (x, y) => fieldChanges(x, y)));
    }
    if (has('mp')) {
      const [was] = await collect(readEntity<{ button: unknown[] }>(b.dir, 'mp_menu', key));
      const menu = await (await ctx.mp()).getMenu();
      const now = menu ? { button: menu.button } : undefined;
      const changed = canonicalJson(was ?? null) !== canonicalJson(now ?? null);
      const d = emptyDiff<{ key: string; fields: Record<string, FieldChange> }>();
      if (changed && !was) d.added.push('menu');
      else if (changed && !now) d.removed.push('menu');
      else if (changed) d.modified.push({ key: 'menu', fields: { button: { before: was!.button, after: now!.button } } });
      record('menu', d);
    }
    const total = summary.reduce((s, x) => s + x.added + x.removed + x.modified, 0);
    const LIMIT = 50;
    const sections: View[] = [
      {
        type: 'message',
        tone: 'info',
        text: total
          ? t('自备份 {id}（{at}）以来有 {n} 处变化。', '{n} changes since backup {id} ({at}).', { id: b.id, at: formatTime(b.manifest.created_at), n: total })
          : t('自备份 {id}（{at}）以来没有变化。', 'Nothing changed since backup {id} ({at}).', { id: b.id, at: formatTime(b.manifest.created_at) }),
      },
      {
        type: 'table',
        columns: [
          { key: 'entity', title: t('内容', 'entity') },
          { key: 'added', title: t('新增', 'added') },
          { key: 'removed', title: t('删除', 'removed') },
          { key: 'modified', title: t('修改', 'modified') },
        ],
        rows: summary,
      },
    ];
    if (details.length) {
      sections.push({
        type: 'table',
        columns: [
          { key: 'entity', title: t('内容', 'entity') },
          { key: 'key', title: t('对象', 'item') },
          { key: 'change', title: t('变化', 'change') },
        ],
        rows: details.slice(0, LIMIT),
        footer: details.length > LIMIT ? t('另有 {n} 处变化，见 --json 输出。', '{n} more changes: see the --json output.', { n: details.length - LIMIT }) : undefined,
      });
    }
    return { data: { ...data, summary }, view: { type: 'sections', sections } };
  },
});

/** The group's commands. `backup restore` lives in ./restore.ts. */
export const backupCommands: CommandSpec<any>[] = [backupRun, backupList, backupVerify, backupDiff, backupRestore];

