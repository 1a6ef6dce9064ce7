import type { Lang } from './i18n.js';
import type { ContactsApi } from '../platform/wecom/contacts.js';
import type { MpApi } from '../platform/mp/api.js';
import type { CustomerApi } from '../platform/wecom/customers.js';
import type { Platform } from './runtime.js';
import type { OrgTree } from './org.js';
import type { Registry } from './registry.js';
import type { Store } from '../store/store.js';
import type { Text } from './i18n.js';
import type { Directory } from '../approval/service.js';
import type { Session } from './pipeline.js';

export type Channel = 'repl' | 'cli' | 'wecom' | 'wechaty' | 'slack';

export interface Actor {
  userid: string;
  name?: string;
  departments: number[];
}

export interface ProgressUpdate {
  done: number;
  total: number;
  label?: Text;
}

/** Everything a command may use. Commands get nothing else (ARCHITECTURE §4). */
export interface CommandContext {
  actor: Actor;
  channel: Channel;
  room?: string;
  lang: Lang;
  mode: 'sandbox' | 'live';
  dryRun: boolean;
  registry: Registry;
  /** Where wxops keeps its state (WXOPS_DATA_DIR); backups live in `<dataDir>/backups`. */
  dataDir: string;
  /** The policy directory in use (WXOPS_POLICY_DIR, ./policies or the shipped one). */
  policyDir: string;
  /** Contacts API (contacts-sync secret); starts the sandbox simulator on first use. */
  contacts(): Promise<ContactsApi>;
  /** Customer contact (客户联系) reads; writes are plan steps. */
  customers(): Promise<CustomerApi>;
  /** The Official Account API (reads; writes are plan steps). */
  mp(): Promise<MpApi>;
  /** The raw clients, for running plan steps. */
  platform(): Promise<Platform>;
  /** The department tree with memberships, fetched once per command. */
  org(): Promise<OrgTree>;
  store(): Promise<Store>;
  /** The policy's view of members (departments, managed subtrees), for policy and approval commands. */
  directory(): Promise<Directory>;
  /** The session running this command (approval commands re-run approved requests through it). */
  session: Session;
  now(): Date;
  /** Long work reports here; the REPL draws a progress bar, chat channels post messages. */
  progress(update: ProgressUpdate): void;
  signal?: AbortSignal;
}
