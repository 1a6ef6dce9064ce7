import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { CustomerState } from './customers/state.js';
import type { MpState } from './mp/types.js';

/** The simulated company, persisted as one JSON file (atomic writes, reloaded when another process wrote it). */
export interface SimDepartment {
  id: number;
  name: string;
  name_en?: string;
  parentid: number;
  order: number;
}

export interface SimUser {
  userid: string;
  name: string;
  department: number[];
  order: number[];
  is_leader_in_dept: number[];
  position: string;
  mobile: string;
  gender: string;
  email: string;
  alias: string;
  telephone: string;
  address: string;
  status: number;
  main_department: number;
  direct_leader: string[];
  created_at: number;
}

export interface SimTag {
  tagid: number;
  tagname: string;
  userlist: string[];
  partylist: number[];
  /** The secret kind that created it: only that kind may change it (wecom.md §3). */
  owner: string;
}

export interface SimState {
  version: 1;
  corp_id: string;
  creator: string;
  departments: SimDepartment[];
  users: SimUser[];
  tags: SimTag[];
  next_department_id: number;
  next_tag_id: number;
  /** The Official Account (mp/types.ts); state files written before it existed lack it until first use. */
  mp: MpState;
  /** 客户联系 (customers/state.ts); state files written before it existed lack it until first use. */
  customers: CustomerState;
  /** Later issues add their collections beside these (external contacts, followers …). */
  [collection: string]: unknown;
}

export class StateFile {
  readonly path: string;
  private stamp = '';
  private timer?: NodeJS.Timeout;
  private dirty = false;
  /** Counts changes, so a write knows whether the state changed while it was being written. */
  private version = 0;
  /** Bumped by every synchronous write and reload: a sliced write begun before it is stale. */
  private epoch = 0;
  private writing = false;
  private readonly slicesTmp: string;
  /** Main-thread time of the last write. */
  private lastWriteMs = 0;

  constructor(
    dataDir: string,
    private readonly seed: () => SimState,
    private readonly flushDelayMs = 100,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'state.json');
    this.slicesTmp = `${this.path}.${process.pid}.slices.tmp`;
  }

  state!: SimState;

  load(): void {
    this.epoch++;
    try {
      this.state = JSON.parse(readFileSync(this.path, 'utf8')) as SimState;
      this.stamp = this.fileStamp();
    } catch {
      this.state = this.seed();
      this.writeNow();
    }
  }

  /** Before a request: pick up what another process wrote, unless we have unwritten changes ourselves. */
  refresh(): void {
    if (this.dirty) return;
    const stamp = this.fileStamp();
    if (stamp && stamp !== this.stamp) this.load();
  }

  markDirty(): void {
    this.dirty = true;
    this.version++;
    this.schedule();
  }

  /**
   * A large company (a benchmark's 100,000 customers) takes a while to serialise: write at most about a
   * tenth of the time, so persisting never starves the API it simulates.
   */
  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      // A write in progress schedules the next one when it ends.
      if (!this.writing) void this.writeSliced();
    }, Math.max(this.flushDelayMs, this.lastWriteMs * 10));
  }

  /**
   * Writes in slices of a few milliseconds with the event loop running in between: serialising a 30 MB
   * state in one go would hold every call that arrives meanwhile for half a second, a delay the platform
   * does not have. A part is as new as the moment it was serialised; when anything changed during the
   * write, the state stays dirty and another write follows (close() writes everything at once). A
   * synchronous write or a reload meanwhile makes this one stale, and it is dropped.
   */
  private async writeSliced(): Promise<void> {
    this.writing = true;
    const { version, epoch, state } = this;
    const tmp = this.slicesTmp;
    let busy = 0;
    try {
      const file = await open(tmp, 'w');
      try {
        let pending: string[] = [];
        let size = 0;
        let started = performance.now();
        for (const piece of jsonPieces(state)) {
          pending.push(piece);
          size += piece.length;
          if (size < SLICE_CHARS) continue;
          const text = pending.join('');
          pending = [];
          size = 0;
          busy += performance.now() - started;
          await file.write(text);
          if (this.epoch !== epoch) return;
          started = performance.now();
        }
        await file.write(pending.join(''));
        busy += performance.now() - started;
      } finally {
        await file.close();
      }
      if (this.epoch !== epoch) return;
      renameSync(tmp, this.path);
      this.stamp = this.fileStamp();
      this.lastWriteMs = busy;
      if (this.version === version) this.dirty = false;
    } catch {
      // The next write tries again; the state in memory is what counts.
    } finally {
      this.writing = false;
      rmSync(tmp, { force: true });
      if (this.dirty) this.schedule();
    }
  }

  writeNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.epoch++;
    // A sliced write in progress is stale now: its file goes, even if the process ends before it notices.
    if (this.writing) rmSync(this.slicesTmp, { force: true });
    const started = performance.now();
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.path);
    this.lastWriteMs = performance.now() - started;
    this.stamp = this.fileStamp();
    this.dirty = false;
  }

  flush(): void {
    if (this.dirty) this.writeNow();
  }

  replace(state: SimState): void {
    this.state = state;
    this.writeNow();
  }

  private fileStamp(): string {
    try {
      const s = statSync(this.path);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return '';
    }
  }
}

/** About this much JSON (a millisecond or two of work) is written between two turns of the event loop. */
const SLICE_CHARS = 128 * 1024;
/** Array elements serialised together. */
const SLICE_ITEMS = 200;

/** `JSON.stringify(value)` in pieces: plain objects key by key, long arrays a few hundred elements at a time. */
export function* jsonPieces(value: unknown): Generator<string> {
  if (Array.isArray(value)) {
    if (value.length <= SLICE_ITEMS) {
      yield JSON.stringify(value);
      return;
    }
    for (let i = 0; i < value.length; i += SLICE_ITEMS) yield (i ? ',' : '[') + JSON.stringify(value.slice(i, i + SLICE_ITEMS)).slice(1, -1);
    yield ']';
    return;
  }
  if (value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    yield JSON.stringify(value);
    return;
  }
  let first = true;
  for (const [key, v] of Object.entries(value)) {
    // Skipped by JSON.stringify too.
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    yield `${first ? '{' : ','}${JSON.stringify(key)}:`;
    first = false;
    yield* jsonPieces(v);
  }
  yield first ? '{}' : '}';
}
