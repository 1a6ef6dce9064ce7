import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { t } from '../core/i18n.js';
import { FileAuditLog, PROBLEM_TEXT, type AuditLog } from '../audit/log.js';
import type { PostgresStore } from './postgres-store.js';
import { PRIVATE_COLLECTIONS } from './store.js';

/**
 * `wxops db export|import`: a single-machine data directory (lowdb's store.json and the audit log's JSON
 * Lines) into PostgreSQL and back. Values are moved as JSON text and audit lines byte for byte, so the
 * hash chain survives both ways and an exported directory is what was imported. Both refuse to overwrite
 * existing state: merging two histories would break the audit chain.
 */
type StoreData = Record<string, Record<string, unknown>>;

const STORE_FILE = 'store.json';

export function readStoreFile(dataDir: string): StoreData {
  const file = join(dataDir, STORE_FILE);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoreData;
  } catch {
    throw new InputError('STORE_FILE_UNREADABLE', t('{file} 不是有效的 JSON，无法导入。', '{file} is not valid JSON; nothing was imported.', { file }));
  }
}

/** Written the way lowdb writes it (indented JSON, renamed into place), so the embedded store reads it as its own. */
export function writeStoreFile(dataDir: string, data: StoreData): void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, STORE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(data, null, 2));
  renameSync(`${file}.tmp`, file);
}

export function countEntries(data: StoreData): number {
  return Object.values(data).reduce((n, c) => n + Object.keys(c).length, 0);
}

/** Every shareable entry in the database, by collection. Tokens and the like stay behind (PRIVATE_COLLECTIONS). */
export async function readDatabaseStore(db: PostgresStore): Promise<StoreData> {
  const out: StoreData = {};
  for await (const e of db.entries()) (out[e.collection] ??= {})[e.id] = e.value;
  return out;
}

export async function databaseStoreCount(db: PostgresStore): Promise<number> {
  const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM wxops_store WHERE NOT (collection = ANY($1))', [[...PRIVATE_COLLECTIONS]]);
  return Number(r.rows[0]!.n);
}

/** Inserts every entry in one transaction (all or nothing), 500 rows per statement. */
export async function writeDatabaseStore(db: PostgresStore, data: StoreData): Promise<number> {
  const rows: [string, string, string][] = [];
  for (const [collection, entries] of Object.entries(data)) {
    if (PRIVATE_COLLECTIONS.has(collection)) continue;
    for (const [id, value] of Object.entries(entries)) rows.push([collection, id, JSON.stringify(value)]);
  }
  await db.transaction(async (c) => {
    for (let i = 0; i < rows.length; i += 500) {
      const batch = rows.slice(i, i + 500);
      await c.query(
        'INSERT INTO wxops_store (collection, id, value) SELECT * FROM unnest($1::text[], $2::text[], $3::json[])',
        [batch.map((r) => r[0]), batch.map((r) => r[1]), batch.map((r) => r[2])],
      );
    }
  });
  return rows.length;
}

export interface TransferReport {
  entries: number;
  audit: number;
}

/** Database → data directory. The directory must not hold state already. */
export async function exportToDirectory(db: PostgresStore, audit: AuditLog, dir: string): Promise<TransferReport> {
  const target = new FileAuditLog(dir);
  if (countEntries(readStoreFile(dir)) > 0 || (await target.head()).seq > 0) {
    throw new InputError('TARGET_NOT_EMPTY', t('{dir} 已有状态或审计日志；请导出到一个空目录。', '{dir} already holds state or an audit log; export into an empty directory.', { dir }));
  }
  const data = await readDatabaseStore(db);
  // The audit first: if its chain does not check out, no half export is left looking complete.
  const moved = await target.importLines(audit.lines());
  writeStoreFile(dir, data);
  return { entries: countEntries(data), audit: moved.count };
}

/**
 * Data directory → database, which must be empty. The audit goes first (its chain is checked line by line
 * and stored in one transaction), then the state in one transaction; a run cut off between the two
 * finds the same audit already there and carries on with the state.
 */
export async function importFromDirectory(db: PostgresStore, audit: AuditLog, dir: string): Promise<TransferReport> {
  const source = new FileAuditLog(dir);
  const data = readStoreFile(dir);
  const [sourceHead, dbHead, dbEntries] = await Promise.all([source.head(), audit.head(), databaseStoreCount(db)]);
  const auditDone = dbHead.seq > 0 && dbHead.seq === sourceHead.seq && dbHead.hash === sourceHead.hash;
  if (dbEntries > 0 || (dbHead.seq > 0 && !auditDone)) {
    throw new InputError('DATABASE_NOT_EMPTY', t('数据库里已有 wxops 的状态或审计日志；只能导入到空数据库（两份历史无法合并成一条审计链）。', 'The database already holds wxops state or an audit log; import only into an empty database (two histories cannot be merged into one audit chain).'));
  }
  const verified = await source.verify();
  if (!verified.ok) {
    const p = verified.problem!;
    const k = PROBLEM_TEXT[p.kind];
    throw new InputError(
      'AUDIT_BROKEN',
      { zh: `${dir} 的审计日志第 ${p.line} 行${k.zh}，校验不通过；没有导入任何内容。`, en: `The audit log in ${dir} does not verify: line ${p.line} ${k.en}; nothing was imported.` },
      p,
    );
  }
  const moved = auditDone ? { count: dbHead.seq } : await audit.importLines(source.lines());
  const entries = await writeDatabaseStore(db, data);
  return { entries, audit: moved.count };
}
