import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createGzip, type Gzip } from 'node:zlib';
import { RuntimeFailure, WxopsError } from '../core/errors.js';
import { t, type Text } from '../core/i18n.js';
import { ROOT_DEPARTMENT } from '../core/org.js';
import type { ContactsApi } from '../platform/wecom/contacts.js';
import type { CustomerApi } from '../platform/wecom/customers.js';
import type { MpApi } from '../platform/mp/api.js';
import type { Store } from '../store/store.js';
import {
  BACKUP_VERSION,
  backupsRoot,
  CATALOGUE,
  type BackupSummary,
  type CatalogueEntry,
  entityFile,
  ID_PATTERN,
  IV_BYTES,
  MANIFEST,
  PART_ENTITIES,
  PARTS,
  stampId,
  TMP_PREFIX,
  type EntityInfo,
  type EntityName,
  type Manifest,
  type MpFollowerLine,
  type Part,
  type StoreLine,
  type TagLine,
} from './format.js';

/** Lines are handed to gzip in chunks this size (one zlib call each, not one per line). */
const CHUNK_BYTES = 256 * 1024;
const SPARE_CHUNKS = 4;

/** Store collections that are caches rebuilt from the platform, or the catalogue of backups itself: not backed up. */
export const SKIPPED_COLLECTIONS = new Set(['behavior-cache', CATALOGUE]);

/** What a backup reads from. A command's context is one; `serve` builds one from the runtime. */
export interface BackupSources {
  dataDir: string;
  policyDir: string;
  contacts(): Promise<ContactsApi>;
  customers(): Promise<CustomerApi>;
  mp(): Promise<MpApi>;
  store(): Promise<Store>;
  now(): Date;
}

export interface BackupOptions {
  only?: Part[];
  /** Whether `only` was chosen: when not, a part the installation is not configured for (no Official Account) is left out instead of failing. */
  explicit?: boolean;
  createdBy: string;
  key?: Buffer;
  progress?(u: { done: number; total: number; label?: Text }): void;
}

export interface BackupOutcome {
  id: string;
  dir: string;
  manifest: Manifest;
  /** Sum of the file sizes. */
  bytes: number;
  /** Sum of the uncompressed JSON Lines bytes. */
  rawBytes: number;
  /** Parts left out because they are not configured. */
  skipped: { part: Part; reason: string }[];
}

/**
 * One entity file being written: JSON Lines → gzip → (AES-256-GCM) → SHA-256 and size → file. `write`
 * respects the gzip stream's backpressure; `push` is for synchronous callbacks (a page arriving), whose
 * lines are buffered by the stream until it drains.
 */
export class EntityWriter {
  count = 0;
  rawBytes = 0;
  private readonly gzip: Gzip;
  private readonly done: Promise<void>;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  /** Lines are encoded straight into this buffer: joining strings and encoding the result cost more than the JSON itself. */
  private chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private readonly spare: Buffer[] = [];
  private used = 0;
  private flushes = 0;

  constructor(
    private readonly dir: string,
    readonly name: string,
    private readonly key?: Buffer,
  ) {
    // Level 3: nearly level 6's size on JSON Lines at a third of the CPU.
    this.gzip = createGzip({ level: 3, chunkSize: 64 * 1024 });
    const file = createWriteStream(join(dir, entityFile(name, !!key)));
    const measure = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        cb(null, chunk);
      },
    });
    const stages: (Transform | Gzip | Writable)[] = [this.gzip];
    if (key) stages.push(encryptor(key));
    stages.push(measure, file);
    this.done = pipeline(stages as [Gzip, ...Transform[], Writable]);
    // Errors surface from `close()`; until then keep them from being unhandled.
    this.done.catch(() => undefined);
  }

  get file(): string {
    return entityFile(this.name, !!this.key);
  }

  /** Buffers the line (for synchronous callbacks); handed to gzip a chunk (CHUNK_BYTES) at a time. */
  push(value: unknown): void {
    const line = JSON.stringify(value);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.room(3 * line.length + 1);
    this.used += this.chunk.write(line, this.used);
    this.end();
  }

  /** Like `push`, for a value that is already JSON on one line (as the platform sent it). */
  pushRaw(json: Buffer): void {
    this.room(json.length + 1);
    this.used += json.copy(this.chunk, this.used);
    this.end();
  }

  private room(most: number): void {
    if (this.used + most > this.chunk.length) {
      this.flush();
      if (most > this.chunk.length) this.chunk = Buffer.allocUnsafe(most);
    }
  }

  private end(): void {
    this.chunk[this.used++] = 0x0a;
    this.count++;
  }

  /**
   * Writes the line, waiting while the stream is full. After each chunk handed to gzip it also lets the
   * event loop in: a large entity written line by line would otherwise hold up every request in flight.
   */
  async write(value: unknown): Promise<void> {
    const flushed = this.flushes;
    this.push(value);
    await this.drain();
    if (this.flushes !== flushed) await yieldToEventLoop();
  }

  /** Waits until whatever was pushed has been taken by the stream. */
  async drain(): Promise<void> {
    if (this.gzip.writableNeedDrain) await once(this.gzip, 'drain');
  }

  private flush(): void {
    if (!this.used) return;
    this.flushes++;
    this.rawBytes += this.used;
    // A chunk comes back once gzip has consumed it: a backup reuses a handful of buffers instead of
    // allocating one per chunk, which left tens of MB waiting for the collector.
    const full = this.chunk;
    this.gzip.write(full.subarray(0, this.used), () => {
      if (full.length === CHUNK_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(full);
    });
    this.chunk = this.spare.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
  }

  async close(): Promise<EntityInfo> {
    this.flush();
    this.gzip.end();
    await this.done;
    return { file: this.file, count: this.count, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  destroy(): void {
    this.gzip.destroy();
  }
}

/** 12-byte random IV ‖ AES-256-GCM ciphertext ‖ 16-byte tag, as one stream. */
function encryptor(key: Buffer): Transform {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!started) (started = true, this.push(iv));
      cb(null, cipher.update(chunk));
    },
    flush(cb) {
      if (!started) this.push(iv);
      this.push(cipher.final());
      cb(null, cipher.getAuthTag());
    },
  });
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `.tmp-*` directories left by runs that died (those whose process is gone). */
export function cleanLeftovers(dataDir: string): string[] {
  const root = backupsRoot(dataDir);
  if (!existsSync(root)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const pid = Number(/-(\d+)$/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function freeId(root: string, at: Date): string {
  const base = stampId(at);
  if (!existsSync(join(root, base))) return base;
  for (let n = 2; ; n++) if (!existsSync(join(root, `${base}-${n}`))) return `${base}-${n}`;
}

/** The entities of the chosen parts, in writing order. */
export function entitiesOf(parts: Part[]): EntityName[] {
  return PARTS.filter((p) => parts.includes(p)).flatMap((p) => PART_ENTITIES[p]);
}

function notConfigured(err: unknown): boolean {
  return err instanceof WxopsError && (err.code === 'MP_NOT_CONFIGURED' || err.code === 'SECRET_MISSING');
}

/**
 * Writes one backup. Every entity is streamed to its file as the platform answers; the manifest is
 * written last and the directory renamed into place only then. On any failure the temporary directory
 * is removed and the error rethrown: nothing half-written is ever listed.
 */
export async function runBackup(src: BackupSources, opts: BackupOptions): Promise<BackupOutcome> {
  const root = backupsRoot(src.dataDir);
  mkdirSync(root, { recursive: true });
  cleanLeftovers(src.dataDir);
  const startedAt = src.now();
  const id0 = freeId(root, startedAt);
  const tmp = join(root, `${TMP_PREFIX}${id0}-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  let parts = [...(opts.only?.length ? opts.only : PARTS)];
  const skipped: BackupOutcome['skipped'] = [];
  const entities: Record<string, EntityInfo> = {};
  let rawBytes = 0;
  try {
    // Parts the installation has no credentials for are left out of a default backup (named in the outcome).
    if (!opts.explicit) {
      const probes = (['customers', 'mp'] as const).filter((part) => parts.includes(part));
      const outcomes = await Promise.allSettled(probes.map(async (part) => (part === 'mp' ? (await src.mp()).listTags() : (await src.customers()).corpTags())));
      outcomes.forEach((o, i) => {
        if (o.status === 'fulfilled') return;
        if (!notConfigured(o.reason)) throw o.reason;
        parts = parts.filter((p) => p !== probes[i]);
        skipped.push({ part: probes[i]!, reason: (o.reason as WxopsError).text.en });
      });
    }
    const list = entitiesOf(parts);
    let done = 0;
    const writers: EntityWriter[] = [];
    const one = async (name: EntityName) => {
      const w = new EntityWriter(tmp, name, opts.key);
      writers.push(w);
      await WRITERS[name](src, w);
      entities[name] = await w.close();
      rawBytes += w.rawBytes;
      done++;
      opts.progress?.({ done, total: list.length, label: t('已备份 {e}（{n} 条）', 'backed up {e} ({n} lines)', { e: name, n: w.count }) });
    };
    opts.progress?.({ done, total: list.length, label: t('开始备份 {e}', 'backing up {e}', { e: list.join(', ') }) });
    // Customers take by far the longest (hundreds of pages at the platform's concurrency limit): they are
    // read beside the rest, which go one after the other. Each entity has its own file and stream. The
    // members go last: their one large answer (3 MB for 10,000 members) keeps both ends busy for tens of
    // milliseconds, which at the start held up the follow-user list and so every customer page behind
    // it; once the pages are flowing it costs one such pause, and the code that cuts it up is warm.
    const heavy = list.filter((n) => n === 'customers');
    const light = list.filter((n) => n !== 'customers').sort((a, b) => Number(a === 'members') - Number(b === 'members'));
    const settled = await Promise.allSettled([
      (async () => {
        for (const name of light) await one(name);
      })(),
      ...heavy.map(one),
    ]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const w of writers) w.destroy();
      throw failed.reason;
    }
    // The manifest lists entities in the fixed order, whatever order they finished in.
    const ordered: Record<string, EntityInfo> = {};
    for (const name of list) ordered[name] = entities[name]!;
    const manifest: Manifest = {
      version: BACKUP_VERSION,
      id: id0,
      created_at: startedAt.toISOString(),
      created_by: opts.createdBy,
      only: parts,
      encrypted: !!opts.key,
      entities: ordered,
    };
    // Renamed into place last; if the id was taken meanwhile (another run in the same second), the next free one.
    let id = id0;
    for (let attempt = 0; ; attempt++) {
      manifest.id = id;
      writeFileSync(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
      try {
        if (existsSync(join(root, id))) throw Object.assign(new Error('taken'), { code: 'ENOTEMPTY' });
        renameSync(tmp, join(root, id));
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (attempt > 20 || (code !== 'ENOTEMPTY' && code !== 'EEXIST')) throw e;
        id = freeId(root, startedAt);
      }
    }
    const bytes = Object.values(entities).reduce((s, e) => s + e.bytes, 0);
    await catalogue(src, { id, dir: join(root, id), manifest, bytes });
    return { id, dir: join(root, id), manifest, bytes, rawBytes, skipped };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof WxopsError) throw err;
    throw new RuntimeFailure('BACKUP_FAILED', t('备份失败：{m}', 'The backup failed: {m}', { m: (err as Error).message }));
  }
}

/**
 * The backup catalogue in the store: with several instances on one database, `backup list` on any of them
 * shows every instance's backups (and where they are). The directory stays the truth for what is here.
 */
async function catalogue(src: BackupSources, b: BackupSummary): Promise<void> {
  const entry: CatalogueEntry = { id: b.id, host: hostname(), dir: b.dir, created_at: b.manifest.created_at, created_by: b.manifest.created_by, only: b.manifest.only, encrypted: b.manifest.encrypted, bytes: b.bytes, counts: Object.fromEntries(Object.entries(b.manifest.entities).map(([k, e]) => [k, e.count])) };
  try {
    await (await src.store()).put(CATALOGUE, `${entry.host}:${b.id}`, entry);
  } catch {
    // The backup is complete on disk and listed from there; only other instances will not see it.
  }
}

type EntityWriterFn = (src: BackupSources, w: EntityWriter) => Promise<void>;

async function inOrder<T, R>(items: T[], width: number, fetch: (x: T) => Promise<R>, write: (r: R) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) {
    const answers = await Promise.all(items.slice(i, i + width).map(fetch));
    for (const a of answers) await write(a);
  }
}

const WRITERS: Record<EntityName, EntityWriterFn> = {
  async departments(src, w) {
    for (const d of await (await src.contacts()).listDepartments()) await w.write(d);
  },
  async members(src, w) {
    // user/list with fetch_child from the root (always department 1, and visible to the contacts secret)
    // answers the whole company in one (unpaged) call. Written as the bytes the platform sent, like the
    // customers: 10,000 members are a 3 MB answer.
    for (const u of await (await src.contacts()).listUsersRaw(ROOT_DEPARTMENT, { fetchChild: true })) w.pushRaw(u);
    await w.drain();
  },
  async tags(src, w) {
    const contacts = await src.contacts();
    const tags = await contacts.listTags();
    await inOrder(
      tags,
      10,
      async (tag) => ({ tag, detail: await contacts.getTag(tag.tagid) }),
      ({ tag, detail }) => w.write({ tagid: tag.tagid, tagname: detail.tagname ?? tag.tagname, userlist: detail.userlist.map((u) => (typeof u === 'string' ? u : (u as { userid: string }).userid)), partylist: detail.partylist } satisfies TagLine),
    );
  },
  async customers(src, w) {
    const api = await src.customers();
    const owners = await api.followUsers();
    // Pages arrive from parallel cursor chains; each row is one (customer, owner) relation, written as it is.
    // Each relation is written as the bytes the platform sent: parsing 40 KB pages only to serialise them
    // again was the backup's largest cost.
    await api.forEachRawPage(owners, (rows) => {
      for (const row of rows) w.pushRaw(row);
    });
    await w.drain();
  },
  async corp_tags(src, w) {
    for (const g of await (await src.customers()).corpTags()) await w.write(g);
  },
  async mp_menu(src, w) {
    const menu = await (await src.mp()).getMenu();
    if (menu) await w.write({ button: menu.button });
  },
  async mp_tags(src, w) {
    for (const tag of await (await src.mp()).listTags()) await w.write(tag);
  },
  async mp_followers(src, w) {
    const mp = await src.mp();
    const ids = await mp.listFollowerIds();
    // user/info/batchget takes 100 openids; ten calls at a time, written in order.
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
    await inOrder(chunks, 10, (c) => mp.followers(c), async (list) => {
      for (const f of list) await w.write({ openid: f.openid, tagid_list: f.tagid_list ?? [], remark: f.remark ?? '' } satisfies MpFollowerLine);
    });
  },
  async wxops_store(src, w) {
    // Through the Store, whichever back-end it is on (credentials and instance coordination are not listed).
    for await (const e of (await src.store()).entries()) {
      if (!SKIPPED_COLLECTIONS.has(e.collection)) await w.write(e satisfies StoreLine);
    }
  },
  async policies(src, w) {
    if (!existsSync(src.policyDir)) return;
    for (const file of readdirSync(src.policyDir).sort()) {
      const path = join(src.policyDir, file);
      if (!statSync(path).isFile()) continue;
      await w.write({ file, content: readFileSync(path, 'utf8') });
    }
  },
};
