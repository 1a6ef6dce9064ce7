import { createDecipheriv, createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError, RuntimeFailure } from '../core/errors.js';
import { t } from '../core/i18n.js';

/**
 * The on-disk backup format (version 1), shared by `backup run` (writer) and `backup restore` (reader).
 *
 *   <dataDir>/backups/<id>/manifest.json
 *   <dataDir>/backups/<id>/<entity>.jsonl.gz        gzip of UTF-8 JSON Lines
 *   <dataDir>/backups/<id>/<entity>.jsonl.gz.enc    when encrypted: 12-byte IV ‖ AES-256-GCM(gzip bytes) ‖ 16-byte tag
 *
 * `id` is `YYYYMMDD-HHMMSS` in China time, plus `-n` when taken. A backup is written into
 * `<dataDir>/backups/.tmp-<id>-<pid>/` and renamed into place only when complete, so a directory without
 * a leading dot and with a manifest is a whole backup. Leftover `.tmp-*` directories are ignored (and
 * removed by the next run).
 *
 * Entities and their lines:
 *   departments   platform Department objects (department/list)
 *   members       platform User objects (user/list with details, the whole company)
 *   tags          {tagid, tagname, userlist: string[], partylist: number[]}
 *   customers     one line per (customer, owner) relation, exactly as batch/get_by_user gives it:
 *                 {external_contact, follow_info}. A customer with several owners is on several lines;
 *                 a reader merges by external_contact.external_userid.
 *   corp_tags     CorpTagGroup objects
 *   mp_menu       one line {button: [...]}, or no line when the Official Account has no menu
 *   mp_tags       MpTag objects
 *   mp_followers  {openid, tagid_list, remark}
 *   wxops_store   {collection, id, value} for every store collection except caches
 *   policies      {file, content} for each file of the policy directory
 */
export const BACKUP_VERSION = 1;
export const BACKUPS_DIR = 'backups';
export const TMP_PREFIX = '.tmp-';
export const MANIFEST = 'manifest.json';
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_ENV = 'WXOPS_BACKUP_KEY';
/** Decompressed bytes read at a time. */
const READ_CHUNK = 256 * 1024;

export const PARTS = ['contacts', 'customers', 'mp', 'wxops'] as const;
export type Part = (typeof PARTS)[number];

export const ENTITIES = ['departments', 'members', 'tags', 'customers', 'corp_tags', 'mp_menu', 'mp_tags', 'mp_followers', 'wxops_store', 'policies'] as const;
export type EntityName = (typeof ENTITIES)[number];

/** Which entities each part holds, in the order they are written. */
export const PART_ENTITIES: Record<Part, EntityName[]> = {
  contacts: ['departments', 'members', 'tags'],
  customers: ['customers', 'corp_tags'],
  mp: ['mp_menu', 'mp_tags', 'mp_followers'],
  wxops: ['wxops_store', 'policies'],
};

export interface EntityInfo {
  file: string;
  /** Lines in the file. */
  count: number;
  /** Size of the file as written. */
  bytes: number;
  /** SHA-256 (hex) of the file bytes as written. */
  sha256: string;
}

export interface Manifest {
  version: 1;
  id: string;
  created_at: string;
  /** The userid who ran it, or "wxops" for the schedule. */
  created_by: string;
  only: Part[];
  encrypted: boolean;
  entities: Partial<Record<EntityName, EntityInfo>> & Record<string, EntityInfo>;
}

/** The lines of each entity. */
export interface TagLine {
  tagid: number;
  tagname: string;
  userlist: string[];
  partylist: number[];
}
export interface MpFollowerLine {
  openid: string;
  tagid_list: number[];
  remark: string;
}
export interface StoreLine {
  collection: string;
  id: string;
  value: unknown;
}
export interface PolicyLine {
  file: string;
  content: string;
}

export function backupsRoot(dataDir: string): string {
  return join(dataDir, BACKUPS_DIR);
}

export function backupDir(dataDir: string, id: string): string {
  return join(backupsRoot(dataDir), id);
}

export function entityFile(name: string, encrypted: boolean): string {
  return `${name}.jsonl.gz${encrypted ? '.enc' : ''}`;
}

export const ID_PATTERN = /^\d{8}-\d{6}(-\d+)?$/;

/** `YYYYMMDD-HHMMSS` in China time (UTC+8, no daylight saving). */
export function stampId(at: Date): string {
  const c = new Date(at.getTime() + 8 * 3_600_000).toISOString();
  return `${c.slice(0, 4)}${c.slice(5, 7)}${c.slice(8, 10)}-${c.slice(11, 13)}${c.slice(14, 16)}${c.slice(17, 19)}`;
}

/**
 * The key from `WXOPS_BACKUP_KEY`: base64 of exactly 32 bytes. Undefined when unset; a malformed key is
 * an input error whose message never repeats the key.
 */
export function parseKey(value: string | undefined): Buffer | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const s = value.trim();
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(s) ? Buffer.from(s, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) {
    throw new InputError(
      'BACKUP_KEY_INVALID',
      t(
        '{env} 必须是 32 字节密钥的 base64（44 个字符，如 openssl rand -base64 32 生成），当前值不是（已隐去）。',
        '{env} must be the base64 of a 32-byte key (44 characters, e.g. from `openssl rand -base64 32`); the value set is not (not shown).',
        { env: KEY_ENV },
      ),
    );
  }
  return key;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
}

export interface BackupSummary {
  id: string;
  dir: string;
  manifest: Manifest;
  /** Total bytes of the entity files. */
  bytes: number;
}

/** Store collection listing every instance's backups: `<host>:<id>` → CatalogueEntry. */
export const CATALOGUE = 'backups';

export interface CatalogueEntry {
  id: string;
  host: string;
  dir: string;
  created_at: string;
  created_by: string;
  only: Manifest['only'];
  encrypted: boolean;
  bytes: number;
  counts: Record<string, number>;
}

/** Complete backups, newest first. `.tmp-*` directories and directories without a readable manifest are not backups. */
export function listBackups(dataDir: string): BackupSummary[] {
  const root = backupsRoot(dataDir);
  if (!existsSync(root)) return [];
  const out: BackupSummary[] = [];
  for (const name of readdirSync(root)) {
    if (name.startsWith('.') || !ID_PATTERN.test(name)) continue;
    const dir = join(root, name);
    try {
      if (!statSync(dir).isDirectory()) continue;
      const manifest = readManifest(dir);
      if (manifest.version !== BACKUP_VERSION || manifest.id !== name) continue;
      out.push({ id: name, dir, manifest, bytes: Object.values(manifest.entities).reduce((s, e) => s + e.bytes, 0) });
    } catch {
      // no manifest (or an unreadable one): not a backup
    }
  }
  return out.sort((a, b) => b.manifest.created_at.localeCompare(a.manifest.created_at) || b.id.localeCompare(a.id));
}

/** The backup `id`, or an input error (exit 2) listing the ids there are. */
export function findBackup(dataDir: string, id: string): BackupSummary {
  const all = listBackups(dataDir);
  const found = all.find((b) => b.id === id);
  if (found) return found;
  const ids = all.map((b) => b.id);
  throw new InputError(
    'UNKNOWN_BACKUP',
    t('没有备份 “{id}”。{list}', 'There is no backup “{id}”. {list}', {
      id,
      list: ids.length ? `${ids.join(', ')}` : '—',
    }),
    { ids },
  );
}

/** The key an encrypted backup needs, or a clear error when it is missing. */
export function keyFor(manifest: Manifest, key: Buffer | undefined): Buffer | undefined {
  if (!manifest.encrypted) return undefined;
  if (!key) {
    throw new InputError(
      'BACKUP_KEY_MISSING',
      t('备份 {id} 已加密：请设置加密时用的 {env}。', 'The backup {id} is encrypted: set {env} to the key it was made with.', { id: manifest.id, env: KEY_ENV }),
    );
  }
  return key;
}

export function decryptError(file: string): RuntimeFailure {
  return new RuntimeFailure(
    'BACKUP_DECRYPT_FAILED',
    t('无法解密 {f}：{env} 不是加密时用的密钥，或文件被改动过。', 'Cannot decrypt {f}: {env} is not the key it was encrypted with, or the file was altered.', { f: file, env: KEY_ENV }),
    { file },
  );
}

/**
 * The gzip bytes of an entity file as a stream: the file itself, or — encrypted — the ciphertext between
 * the IV and the tag run through AES-256-GCM. The tag is checked at the end of the stream (an altered file
 * or a wrong key errors there), so a caller must consume the stream to the end before trusting it.
 */
async function gzipBytes(path: string, key: Buffer | undefined): Promise<Readable> {
  if (!key) return createReadStream(path);
  const size = statSync(path).size;
  if (size < IV_BYTES + TAG_BYTES) throw new Error('the file is too short to be encrypted');
  const fh = await open(path, 'r');
  const iv = Buffer.alloc(IV_BYTES);
  const tag = Buffer.alloc(TAG_BYTES);
  try {
    await fh.read(iv, 0, IV_BYTES, 0);
    await fh.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    await fh.close();
  }
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  const body = createReadStream(path, { start: IV_BYTES, end: size - TAG_BYTES - 1 });
  body.on('error', (e) => decipher.destroy(e));
  return body.pipe(decipher);
}

/**
 * The lines of one entity of a backup, parsed, one at a time (never the whole entity in memory).
 * `backupDir` is the backup's directory; `key` is needed when the manifest says encrypted. An entity the
 * backup does not hold yields nothing. A wrong key, an altered or truncated file throws (a
 * RuntimeFailure naming the file) — possibly after some lines: verify the backup first when that matters.
 */
export async function* readEntity<T = unknown>(backupDir: string, entity: string, key?: Buffer): AsyncGenerator<T> {
  for await (const batch of readEntityBatches<T>(backupDir, entity, key)) yield* batch;
}

/**
 * The same lines in batches (one per decompressed chunk, a few hundred lines each), for entities of
 * 100,000 lines: a step of an async iteration per line costs more than parsing the line.
 */
export async function* readEntityBatches<T = unknown>(backupDir: string, entity: string, key?: Buffer): AsyncGenerator<T[]> {
  const manifest = readManifest(backupDir);
  const info = manifest.entities[entity];
  if (!info) return;
  const k = keyFor(manifest, key);
  const path = join(backupDir, info.file);
  const src = await gzipBytes(path, k).catch(() => {
    throw decryptError(info.file);
  });
  const gunzip = createGunzip({ chunkSize: READ_CHUNK });
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    gunzip.destroy(e);
  };
  src.on('error', fail);
  src.pipe(gunzip);
  // Split on the newline byte before decoding (it never occurs inside a UTF-8 sequence), so each chunk's
  // complete lines are decoded in one call and the unfinished last line waits, as bytes, for the next.
  let rest: Buffer | undefined;
  try {
    for await (const data of gunzip as AsyncIterable<Buffer>) {
      const chunk = rest ? Buffer.concat([rest, data]) : data;
      const end = chunk.lastIndexOf(0x0a);
      if (end < 0) {
        rest = chunk;
        continue;
      }
      rest = end + 1 < chunk.length ? chunk.subarray(end + 1) : undefined;
      yield* parsedBatches<T>(chunk.toString('utf8', 0, end));
    }
    if (rest) yield* parsedBatches<T>(rest.toString('utf8'));
  } catch (e) {
    failure ??= e as Error;
  } finally {
    gunzip.destroy();
    src.destroy();
  }
  if (failure) {
    if (k && /auth|decrypt/i.test(failure.message)) throw decryptError(info.file);
    throw new RuntimeFailure('BACKUP_FILE_DAMAGED', t('备份文件 {f} 已损坏或不完整：{m}', 'The backup file {f} is damaged or incomplete: {m}', { f: info.file, m: failure.message }), { file: info.file });
  }
}

/** Lines parsed per batch: about a millisecond of work between two turns of the event loop. */
const BATCH_LINES = 200;

/**
 * JSON Lines → values, a batch at a time; blank lines are skipped. Decompressed data is usually already
 * waiting, so without a turn of the event loop before each batch a whole file would be parsed in one
 * stretch while the platform's answers (a restore lists the live state meanwhile) sat unread.
 */
async function* parsedBatches<T>(text: string): AsyncGenerator<T[]> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += BATCH_LINES) {
    await yieldToEventLoop();
    const out: T[] = [];
    for (const line of lines.slice(i, i + BATCH_LINES)) {
      try {
        out.push(JSON.parse(line) as T);
      } catch (e) {
        if (line.trim()) throw e;
      }
    }
    if (out.length) yield out;
  }
}

export interface VerifyProblem {
  file: string;
  problem: string;
}

export interface VerifyResult {
  id: string;
  ok: boolean;
  problems: VerifyProblem[];
  entities: Record<string, { file: string; expected: number; counted: number; sha256_ok: boolean; readable: boolean }>;
}

/**
 * Checks every file of a backup: its SHA-256 against the manifest, that it decrypts (when encrypted) and
 * gunzips to the end, and that its line count equals the manifest's count. Never throws for a damaged
 * file: each problem names its file.
 */
export async function verifyBackup(backupDir: string, key?: Buffer): Promise<VerifyResult> {
  const manifest = readManifest(backupDir);
  const k = keyFor(manifest, key);
  const result: VerifyResult = { id: manifest.id, ok: true, problems: [], entities: {} };
  for (const [name, info] of Object.entries(manifest.entities)) {
    const path = join(backupDir, info.file);
    const entry = { file: info.file, expected: info.count, counted: 0, sha256_ok: false, readable: false };
    result.entities[name] = entry;
    if (!existsSync(path)) {
      result.problems.push({ file: info.file, problem: 'missing' });
      continue;
    }
    const size = statSync(path).size;
    if (size !== info.bytes) result.problems.push({ file: info.file, problem: `size ${size} bytes, manifest says ${info.bytes}` });
    const hash = await sha256File(path);
    entry.sha256_ok = hash === info.sha256;
    if (!entry.sha256_ok) result.problems.push({ file: info.file, problem: 'SHA-256 does not match the manifest' });
    try {
      const src = await gzipBytes(path, k);
      entry.counted = await countLines(src);
      entry.readable = true;
    } catch (e) {
      const m = (e as Error).message;
      result.problems.push({ file: info.file, problem: k && /auth|decrypt|too short/i.test(m) ? 'cannot decrypt (wrong key, or the file was altered)' : `unreadable: ${m}` });
      continue;
    }
    if (entry.counted !== info.count) result.problems.push({ file: info.file, problem: `${entry.counted} lines, manifest says ${info.count}` });
  }
  result.ok = result.problems.length === 0;
  return result;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Gunzips to the end, counting newline-terminated lines without parsing them. */
function countLines(src: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const gunzip = createGunzip();
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
        cb();
      },
    });
    const fail = (e: Error) => {
      src.destroy();
      gunzip.destroy();
      counter.destroy();
      reject(e);
    };
    src.on('error', fail);
    gunzip.on('error', fail);
    counter.on('error', fail);
    counter.on('finish', () => resolve(n));
    src.pipe(gunzip).pipe(counter);
  });
}
