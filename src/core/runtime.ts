import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseDotEnv } from 'dotenv';
import { InputError } from './errors.js';
import type { OrgTree } from './org.js';
import { currentLang, t, type Lang } from './i18n.js';
import type { Actor } from './context.js';
import type { Store } from '../store/store.js';
import type { PostgresStore } from '../store/postgres-store.js';
import type { ContactsApi } from '../platform/wecom/contacts.js';
import type { WecomClient } from '../platform/wecom/client.js';
import type { MpApi } from '../platform/mp/api.js';
import type { CustomerApi } from '../platform/wecom/customers.js';
import type { PlatformConfig } from '../platform/config.js';
import type { AuditLog } from '../audit/log.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { ApprovalService, Notifier } from '../approval/service.js';
import type { Logger } from '../platform/redact.js';

/**
 * The installed package's root: shipped policies live there when the working directory has none. Found
 * by walking up to wxops's package.json, so it holds whether this file runs from dist/ or from the bundle.
 */
export const PACKAGE_ROOT = packageRoot(dirname(fileURLToPath(import.meta.url)));

function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'wxops') return dir;
    } catch {
      // not here: keep walking up
    }
    if (dirname(dir) === dir) return resolve(from, '../../..');
  }
}

export const SANDBOX_ACTOR = 'zhangwei';

/** How old a department snapshot advisory commands may use. */
export const ORG_SNAPSHOT_MAX_AGE_MS = 10 * 60_000;
const ORG_SNAPSHOT_REFRESH_MS = 60_000;

export interface RuntimeOptions {
  /** An undici dispatcher for every platform call (benchmarks measure the pipeline without network). */
  dispatcher?: import('undici').Dispatcher;
}

export interface Platform {
  client: WecomClient;
  contacts: ContactsApi;
  /** Customer contact (客户联系), with the customer-contact secret. */
  customers: CustomerApi;
  /** The Official Account; its calls fail with a clear sentence when WXOPS_MP_* is not configured. */
  mp: MpApi;
  config: PlatformConfig;
  /** The ops group's robot webhook, when WXOPS_WEBHOOK_KEY is set. */
  robot?: import('../channels/webhook.js').GroupRobot;
  /** Sandbox only: the simulator's control surface (`/_sim/`), so `serve` can point callbacks at itself. */
  controlUrl?: string;
}

/**
 * One per process: configuration, and the services commands share — started lazily so that
 * `wxops run help` never starts the simulator or opens a connection.
 */
export class Runtime {
  readonly env: NodeJS.ProcessEnv;
  readonly mode: 'sandbox' | 'live';
  readonly dataDir: string;
  readonly policyDir: string;
  readonly lang: Lang;
  private platformPromise?: Promise<Platform>;
  private sandbox?: { close(): Promise<void>; flush(): Promise<void> };
  private sandboxControlUrl?: string;
  private storeInstance?: Store;
  private storePromise?: Promise<Store>;
  private auditInstance?: AuditLog;
  private auditPromise?: Promise<AuditLog>;
  private policyInstance?: PolicyEngine;
  private knownActions?: string[];
  private approvalInstance?: ApprovalService;
  private notifier?: Notifier;
  private loggerPromise?: Promise<Logger>;

  constructor(
    env: NodeJS.ProcessEnv = process.env,
    cwd = process.cwd(),
    private readonly options: RuntimeOptions = {},
  ) {
    this.env = withDotEnv(env, cwd);
    this.mode = this.env.WXOPS_CORP_ID ? 'live' : 'sandbox';
    this.dataDir = resolve(cwd, this.env.WXOPS_DATA_DIR || '.wxops');
    const localPolicies = resolve(cwd, 'policies');
    this.policyDir = this.env.WXOPS_POLICY_DIR
      ? resolve(cwd, this.env.WXOPS_POLICY_DIR)
      : existsSync(localPolicies)
        ? localPolicies
        : join(PACKAGE_ROOT, 'policies');
    this.lang = currentLang(this.env);
  }

  /** The actor when none is named: the demo super admin in the sandbox; required in live mode. */
  defaultActor(): string {
    if (this.env.WXOPS_ACTOR) return this.env.WXOPS_ACTOR;
    if (this.mode === 'sandbox') return SANDBOX_ACTOR;
    throw new InputError(
      'ACTOR_REQUIRED',
      t('正式环境下必须用 --as <userid> 或 WXOPS_ACTOR 指明操作人。', 'In live mode name the acting user with --as <userid> or WXOPS_ACTOR.'),
    );
  }

  platform(): Promise<Platform> {
    this.platformPromise ??= this.startPlatform();
    return this.platformPromise;
  }

  private async startPlatform(): Promise<Platform> {
    let env = this.env;
    if (this.mode === 'sandbox') {
      // The product imports the simulator only here, to run the sandbox (ARCHITECTURE §4).
      const { startSimulator } = await import('../sim/index.js');
      const sim = await startSimulator({ dataDir: join(this.dataDir, 'sandbox'), port: 0 });
      this.sandbox = sim;
      this.sandboxControlUrl = sim.controlUrl;
      env = { ...this.env, ...sim.env };
    }
    const [{ WecomClient }, { ContactsApi }, { CustomerApi }, { MpClient }, { MpApi }, { loadPlatformConfig }, { storeTokens }] = await Promise.all([
      import('../platform/wecom/client.js'),
      import('../platform/wecom/contacts.js'),
      import('../platform/wecom/customers.js'),
      import('../platform/mp/client.js'),
      import('../platform/mp/api.js'),
      import('../platform/config.js'),
      import('../platform/token-cache.js'),
    ]);
    const logger = await this.logger();
    const dispatcher = this.options.dispatcher;
    // Several instances on one database share their access tokens: one refresher at a time, the others
    // read its token (a new Official Account token invalidates the previous one). The store is opened on
    // first use, so starting the platform does not wait for the database. Embedded: this process's own.
    const sharedTokens = this.env.WXOPS_DATABASE_URL ? storeTokens(() => this.store()) : undefined;
    const extra = { logger, ...(dispatcher ? { dispatcher } : {}), ...(sharedTokens ? { sharedTokens } : {}) };
    const config = { ...loadPlatformConfig(env), logger };
    const client = new WecomClient({ ...config, ...extra });
    const mpClient = new MpClient({ ...config.mp, ...extra });
    const robot = config.webhookKey ? new (await import('../channels/webhook.js')).GroupRobot({ baseUrl: config.baseUrl, key: config.webhookKey, dispatcher }) : undefined;
    return {
      client,
      robot,
      contacts: new ContactsApi(client),
      customers: new CustomerApi(client),
      mp: new MpApi(mpClient),
      config,
      controlUrl: this.sandboxControlUrl,
    };
  }

  async contacts(): Promise<ContactsApi> {
    return (await this.platform()).contacts;
  }

  /** The department tree with memberships, read fresh from the platform (and kept as the snapshot below). */
  async org(): Promise<OrgTree> {
    const contacts = await this.contacts();
    const [{ OrgTree: Tree }, departments, memberships] = await Promise.all([import('./org.js'), contacts.listDepartments(), contacts.listUserIds()]);
    this.saveOrgSnapshot(departments, memberships);
    return new Tree(departments, memberships);
  }

  /**
   * The department tree as the last command here saw it, if that was within `maxAgeMs`; else fresh. For
   * commands that only advise (`help` lists what you may run — every command is still decided live when
   * it runs), so they answer without starting the sandbox or calling the platform.
   */
  async orgSnapshot(maxAgeMs = ORG_SNAPSHOT_MAX_AGE_MS): Promise<OrgTree> {
    try {
      const snap = JSON.parse(readFileSync(join(this.dataDir, 'cache', 'org.json'), 'utf8')) as { at: number; departments: never[]; memberships: never[] };
      if (Date.now() - snap.at < maxAgeMs) {
        const { OrgTree: Tree } = await import('./org.js');
        return new Tree(snap.departments, snap.memberships);
      }
    } catch {
      // no snapshot yet, or unreadable: read the platform
    }
    return this.org();
  }

  private saveOrgSnapshot(departments: unknown[], memberships: unknown[]): void {
    try {
      const dir = join(this.dataDir, 'cache');
      // Fresh enough already: a large company's snapshot is not rewritten by every command.
      const last = statSync(join(dir, 'org.json'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
      if (Date.now() - last < ORG_SNAPSHOT_REFRESH_MS) return;
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `org.json.${process.pid}.tmp`);
      writeFileSync(tmp, JSON.stringify({ at: Date.now(), departments, memberships }));
      renameSync(tmp, join(dir, 'org.json'));
    } catch {
      // a snapshot is an optimisation; failing to write one changes nothing else
    }
  }

  async customers(): Promise<CustomerApi> {
    return (await this.platform()).customers;
  }

  async mp(): Promise<MpApi> {
    return (await this.platform()).mp;
  }

  /** Looks the actor up in the company; an unknown userid is bad input, not a crash. */
  async resolveActor(userid: string, org: OrgTree): Promise<Actor> {
    const wanted = userid.toLowerCase();
    const departments = org.all.filter((d) => org.directMemberIds(d.id).some((u) => u.toLowerCase() === wanted)).map((d) => d.id);
    if (departments.length === 0) {
      throw new InputError(
        'UNKNOWN_ACTOR',
        t('公司里没有帐号为 {u} 的成员，无法以其身份操作。', 'There is no member {u} in the company to act as.', { u: userid }),
      );
    }
    const actual = org.directMemberIds(departments[0]!).find((u) => u.toLowerCase() === wanted) ?? userid;
    return { userid: actual, departments };
  }

  logger(): Promise<Logger> {
    this.loggerPromise ??= import('./logger.js').then(({ createFileLogger }) => createFileLogger(this.dataDir, this.env.WXOPS_LOG_LEVEL || 'info'));
    return this.loggerPromise;
  }

  /** lowdb in the data directory, or PostgreSQL shared by several instances when WXOPS_DATABASE_URL is set. */
  store(): Promise<Store> {
    this.storePromise ??= this.openStore().catch((err) => {
      this.storePromise = undefined;
      throw err;
    });
    return this.storePromise;
  }

  private async openStore(): Promise<Store> {
    const url = this.env.WXOPS_DATABASE_URL;
    if (!url) {
      const { LowdbStore } = await import('../store/lowdb-store.js');
      return (this.storeInstance = new LowdbStore(this.dataDir));
    }
    const [{ PostgresStore }, { registerSecret }, logger] = await Promise.all([import('../store/postgres-store.js'), import('../platform/redact.js'), this.logger()]);
    // The database password is a secret like any other: redacted wherever it might be printed.
    registerSecret(databasePassword(url));
    const store = new PostgresStore({ url, onIdleError: (err) => logger.warn({ error: err.message }, 'database connection lost while idle') });
    this.storeInstance = store;
    // The schema is brought up to date at start (safe when several instances start together).
    await store.open();
    return store;
  }

  /** The audit log beside the store: the file in the data directory, or PostgreSQL shared by every instance. */
  audit(): Promise<AuditLog> {
    this.auditPromise ??= this.openAudit().catch((err) => {
      this.auditPromise = undefined;
      throw err;
    });
    return this.auditPromise;
  }

  private async openAudit(): Promise<AuditLog> {
    if (this.env.WXOPS_DATABASE_URL) {
      const [{ PostgresAuditLog }, store] = await Promise.all([import('../audit/postgres-log.js'), this.store()]);
      return (this.auditInstance = new PostgresAuditLog(store as PostgresStore));
    }
    const { FileAuditLog } = await import('../audit/log.js');
    return (this.auditInstance = new FileAuditLog(this.dataDir));
  }

  /**
   * The policy, loaded once and checked against the actions the commands declare. A broken edit
   * is reported with file and line; `reloadPolicy` keeps the previous policy when the new one fails.
   */
  async policy(knownActions?: string[]): Promise<PolicyEngine> {
    if (!this.policyInstance) {
      const [{ PolicyEngine }, { loadPolicySetCached }] = await Promise.all([import('../policy/engine.js'), import('../policy/cache.js')]);
      if (knownActions) this.knownActions = knownActions;
      this.policyInstance = new PolicyEngine(await loadPolicySetCached(this.policyDir, this.knownActions, join(this.dataDir, 'cache')));
    }
    return this.policyInstance;
  }

  async reloadPolicy(): Promise<PolicyEngine> {
    const { PolicyEngine } = await import('../policy/engine.js');
    const next = PolicyEngine.load(this.policyDir, this.knownActions);
    this.policyInstance = next;
    return next;
  }

  async approvals(): Promise<ApprovalService> {
    if (!this.approvalInstance) {
      const { ApprovalService, StoreNotifier } = await import('../approval/service.js');
      const store = await this.store();
      this.approvalInstance = new ApprovalService(store, this.notifier ?? new StoreNotifier(store));
    }
    return this.approvalInstance;
  }

  /** Chat channels install theirs so approvers are told where the request was made. */
  setNotifier(notifier: Notifier): void {
    this.notifier = notifier;
    this.approvalInstance = undefined;
  }

  async close(): Promise<void> {
    if (this.platformPromise) {
      const p = await this.platformPromise.catch(() => undefined);
      await p?.client.close();
      await p?.mp.client.close();
      await p?.robot?.close();
    }
    await this.sandbox?.close();
    // Appends in flight reach the database before its pool closes.
    await this.auditInstance?.close().catch(() => undefined);
    await this.storeInstance?.close();
  }
}

function databasePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** `.env` in the working directory fills variables the environment does not already set. */
function withDotEnv(env: NodeJS.ProcessEnv, cwd: string): NodeJS.ProcessEnv {
  const file = join(cwd, '.env');
  if (!existsSync(file)) return env;
  return { ...parseDotEnv(readFileSync(file)), ...env };
}

