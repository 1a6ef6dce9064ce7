import { existsSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { t } from '../core/i18n.js';
import { FileAuditLog, PROBLEM_TEXT, type AuditLog } from '../audit/log.js';
import { LowdbStore } from './lowdb-store.js';
import type { PostgresStore } from './postgres-store.js';
import type { Store, StoreEntry } from './store.js';

/**
 * `wxops db export|import`: a single-machine data directory (the embedded store and the audit log's JSON
 * Lines) into PostgreSQL and back. Values are moved as JSON and audit lines byte for byte, so the hash
 * chain survives both ways and an exported directory is what was imported. Both refuse to overwrite
 * existing state: merging two histories would break the audit chain. Private collections (tokens,
 * coordination between instances) are not moved — `Store.entries()` leaves them out.
 */
async function hasEntries(store: Store): Promise<boolean> {
  for await (const _ of store.entries()) return true;
  return false;
}

/** The directory's entries, read whole before anything is written; an unreadable store.json is bad input. */
async function readDirectoryStore(dir: string): Promise<StoreEntry[]> {
  const out: StoreEntry[] = [];
  try {
    for await (const e of new LowdbStore(dir).entries()) out.push(e);
  } catch {
    throw new InputError('STORE_FILE_UNREADABLE', t('{dir} 里的 store.json 不是有效的 JSON，没有导入任何内容。', 'store.json in {dir} is not valid JSON; nothing was imported.', { dir }));
  }
  return out;
}

/** Inserts every entry in one transaction (all or nothing), 500 rows per statement. */
async function writeDatabaseStore(db: PostgresStore, entries: StoreEntry[]): Promise<number> {
  await db.transaction(async (c) => {
    for (let i = 0; i < entries.length; i += 500) {
      const batch = entries.slice(i, i + 500);
      await c.query('INSERT INTO wxops_store (collection, id, value) SELECT * FROM unnest($1::text[], $2::text[], $3::json[])', [
        batch.map((e) => e.collection),
        batch.map((e) => e.id),
        batch.map((e) => JSON.stringify(e.value)),
      ]);
    }
  });
  return entries.length;
}

export interface TransferReport {
  entries: number;
  audit: number;
}

/** Database → data directory. The directory must not hold state already. */
export async function exportToDirectory(db: PostgresStore, audit: AuditLog, dir: string): Promise<TransferReport> {
  const target = new FileAuditLog(dir);
  const targetStore = new LowdbStore(dir);
  if ((await hasEntries(targetStore)) || (await target.head()).seq > 0) {
    throw new InputError('TARGET_NOT_EMPTY', t('{dir} 已有状态或审计日志；请导出到一个空目录。', '{dir} already holds state or an audit log; export into an empty directory.', { dir }));
  }
  // The audit first: if its chain does not check out, no half export is left looking complete.
  const moved = await target.importLines(audit.lines());
  return { entries: await targetStore.load(db.entries()), audit: moved.count };
}

/**
 * Data directory → database, which must be empty. The audit goes first (its chain is checked line by line
 * and stored in one transaction), then the state in one transaction; a run cut off between the two
 * finds the same audit already there and carries on with the state.
 */
export async function importFromDirectory(db: PostgresStore, audit: AuditLog, dir: string): Promise<TransferReport> {
  if (!existsSync(dir)) throw new InputError('NO_DATA_DIR', t('没有目录 {dir}。', 'There is no directory {dir}.', { dir }));
  const source = new FileAuditLog(dir);
  const data = await readDirectoryStore(dir);
  const [sourceHead, dbHead, dbHasEntries] = await Promise.all([source.head(), audit.head(), hasEntries(db)]);
  const auditDone = dbHead.seq > 0 && dbHead.seq === sourceHead.seq && dbHead.hash === sourceHead.hash;
  if (dbHasEntries || (dbHead.seq > 0 && !auditDone)) {
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
