import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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

  constructor(
    dataDir: string,
    private readonly seed: () => SimState,
    private readonly flushDelayMs = 100,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'state.json');
  }

  state!: SimState;

  load(): void {
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
    // A large company (a benchmark's 100,000 customers) takes a while to serialise: write at most
    // about a tenth of the time, so persisting never starves the API it simulates.
    this.timer ??= setTimeout(() => this.writeNow(), Math.max(this.flushDelayMs, this.lastWriteMs * 10));
  }

  private lastWriteMs = 0;

  writeNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
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
