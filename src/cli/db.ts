import { resolve } from 'node:path';
import { Runtime } from '../core/runtime.js';
import { RuntimeFailure, InputError, WxopsError, exitCodeFor } from '../core/errors.js';
import { localize, t } from '../core/i18n.js';
import type { PostgresStore } from '../store/postgres-store.js';

/**
 * `wxops db migrate|export|import`: operator tools for the shared PostgreSQL state (ARCHITECTURE §9).
 * They act on the database named by WXOPS_DATABASE_URL — holding that URL is the permission — and on the
 * data directory (WXOPS_DATA_DIR, or --dir). Not chat commands: they move the state the policy lives in.
 */
export interface DbOptions {
  dir?: string;
  json?: boolean;
}

export async function runDb(action: 'migrate' | 'export' | 'import', opts: DbOptions, runtime = new Runtime()): Promise<number> {
  let own: PostgresStore | undefined;
  try {
    // `migrate` applies the schema itself, to report what it applied; the others open the store (which migrates).
    const db = action === 'migrate' ? (own = await unopened(runtime)) : await database(runtime);
    const report = await ACTIONS[action](db, opts.dir ? resolve(opts.dir) : runtime.dataDir, runtime);
    print(opts.json ? JSON.stringify({ ok: true, ...report.data }) : localize(report.text, runtime.lang), false);
    return 0;
  } catch (err) {
    if (!(err instanceof WxopsError)) throw err;
    print(opts.json ? JSON.stringify({ ok: false, error: { code: err.code, message: localize(err.text, runtime.lang) } }) : localize(err.text, runtime.lang), true);
    return exitCodeFor(err);
  } finally {
    await own?.close();
    await runtime.close();
  }
}

interface Report {
  text: ReturnType<typeof t>;
  data: Record<string, unknown>;
}

const ACTIONS: Record<'migrate' | 'export' | 'import', (db: PostgresStore, dir: string, runtime: Runtime) => Promise<Report>> = {
  async migrate(db) {
    const { migrate } = await import('../store/migrations.js');
    const result = await db.withClient((c) => migrate(c));
    const names = result.applied.map((m) => `${m.version} ${m.name}`).join('; ');
    return {
      text: result.applied.length
        ? t('数据库结构已更新到第 {v} 版（本次应用：{names}）。', 'Database schema is now at version {v} (applied: {names}).', { v: result.version, names })
        : t('数据库结构已是最新（第 {v} 版），无需更新。', 'Database schema is up to date (version {v}); nothing to apply.', { v: result.version }),
      data: { version: result.version, applied: result.applied.map((m) => m.version) },
    };
  },

  async export(db, dir, runtime) {
    const { exportToDirectory } = await import('../store/transfer.js');
    const r = await exportToDirectory(db, await runtime.audit(), dir);
    return {
      text: t('已导出到 {dir}：{entries} 条状态记录，{audit} 条审计日志（哈希链完整）。', 'Exported to {dir}: {entries} state entries and {audit} audit entries (hash chain intact).', { dir, ...r }),
      data: { dir, ...r },
    };
  },

  async import(db, dir, runtime) {
    const { importFromDirectory } = await import('../store/transfer.js');
    const r = await importFromDirectory(db, await runtime.audit(), dir);
    return {
      text: t('已从 {dir} 导入：{entries} 条状态记录，{audit} 条审计日志（哈希链已校验）。', 'Imported from {dir}: {entries} state entries and {audit} audit entries (hash chain verified).', { dir, ...r }),
      data: { dir, ...r },
    };
  },
};

async function unopened(runtime: Runtime): Promise<PostgresStore> {
  const url = requireUrl(runtime);
  const { PostgresStore } = await import('../store/postgres-store.js');
  return new PostgresStore({ url });
}

function requireUrl(runtime: Runtime): string {
  const url = runtime.env.WXOPS_DATABASE_URL;
  if (!url) {
    throw new InputError('NO_DATABASE', t('未设置 WXOPS_DATABASE_URL：请指定要使用的 PostgreSQL 数据库，例如 postgres://wxops@127.0.0.1:5432/wxops。', 'WXOPS_DATABASE_URL is not set: name the PostgreSQL database to use, e.g. postgres://wxops@127.0.0.1:5432/wxops.'));
  }
  return url;
}

async function database(runtime: Runtime): Promise<PostgresStore> {
  requireUrl(runtime);
  const store = await runtime.store();
  if (store.kind !== 'postgres') throw new RuntimeFailure('NO_DATABASE', t('数据库未能打开。', 'The database could not be opened.'));
  return store as PostgresStore;
}

function print(text: string, error: boolean): void {
  (error ? process.stderr : process.stdout).write(`${text}\n`);
}
