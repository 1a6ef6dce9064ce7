import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { errorText } from '../core/errors.js';
import { Runtime } from '../core/runtime.js';
import { policyVersion } from '../policy/cache.js';
import type { Notifier } from '../approval/service.js';
import type { Logger } from '../platform/redact.js';

/**
 * `wxops serve`: the long-running service on 127.0.0.1 (ARCHITECTURE §2): `GET /healthz`, and
 * `/mp/callback` for the Official Account's messages and events. In sandbox mode it points the
 * embedded simulator's server URL at itself, so a follower's message made through `/_sim/` flows through
 * wxops exactly as in live mode. Policy edits take effect without a restart.
 */
export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface RunningServer {
  port: number;
  url: string;
  /** Sandbox only: the embedded simulator's `/_sim` control URL. */
  simulator?: string;
  /** Writes buffered counters; tests call it before reading statistics. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(runtime: Runtime, opts: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const started = Date.now();
  const host = opts.host ?? '127.0.0.1';
  const routes = new Map<string, Route>();
  const policyVersions = await trackPolicyVersion(runtime);
  const stopWatching = await watchPolicy(runtime, () => policyVersions.loaded());
  await policyVersions.loaded();
  const mp = await mountMpCallback(runtime, routes);
  const wecom = await mountWecomCallback(runtime, routes);
  const bot = await mountWecomBot(runtime, routes);
  const digest = await startDigest(runtime);
  const backup = await startBackup(runtime);
  const chats = await startChatChannels(runtime, routes);
  await installNotifier(runtime, chats.notifiers);
  // In the sandbox, where the simulator's control surface is, so people and tests can play the followers.
  const simulator = (await runtime.platform()).controlUrl;
  routes.set('GET /healthz', (_req, res) =>
    json(res, 200, {
      ok: true,
      mode: runtime.mode,
      uptime_s: Math.round((Date.now() - started) / 1000),
      instance: policyVersions.instance,
      policy: policyVersions.current(),
      ...(simulator ? { simulator } : {}),
    }),
  );
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://wxops').pathname;
    const route = routes.get(`${req.method} ${path}`);
    if (!route) return json(res, 404, { ok: false, error: 'not found' });
    Promise.resolve(route(req, res)).catch(() => {
      if (!res.headersSent) json(res, 500, { ok: false, error: 'internal error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 8080);
  const url = `http://${host}:${port}`;
  if (mp) await mp.connectSandbox(`${url}/mp/callback`);
  if (wecom) await connectSandbox(runtime, '/wecom/callback', { url: `${url}/wecom/callback` });
  if (bot) await connectSandbox(runtime, '/bot/config', { url: `${url}/wecom/bot` });
  return {
    port,
    url,
    simulator,
    flush: async () => mp?.flush(),
    async close() {
      stopWatching();
      await policyVersions.stop();
      digest?.stop();
      backup?.stop();
      await chats.stop();
      await mp?.flush();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function serve(opts: { port?: number; host?: string }): Promise<number> {
  const runtime = new Runtime();
  // The last guard of a long-running service: background work (a job, a callback's late write, a lost
  // database connection) that fails unheard is logged, and the service goes on.
  const log = await runtime.logger();
  process.on('unhandledRejection', (err) => {
    log.error({ error: (err as { text?: { en: string } })?.text?.en ?? String((err as Error)?.message ?? err), stack: (err as Error)?.stack }, 'unhandled failure in background work; the service goes on');
  });
  const running = await startServer(runtime, opts);
  process.stderr.write(`wxops serve: listening on ${running.url} (${runtime.mode === 'sandbox' ? 'sandbox' : 'live'} mode)\n`);
  if (running.simulator) process.stderr.write(`wxops serve: sandbox simulator control at ${running.simulator} (e.g. POST ${running.simulator}/mp/events)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  await runtime.close();
  return 0;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/**
 * Mounts `/mp/callback` when the account's server-URL token is configured (always in the sandbox).
 * Returns how to flush its counters and, in the sandbox, how to point the simulator at it.
 */
async function mountMpCallback(runtime: Runtime, routes: Map<string, Route>): Promise<{ flush(): Promise<void>; connectSandbox(url: string): Promise<void> } | undefined> {
  const platform = await runtime.platform();
  const cfg = platform.config.mp;
  const log = await runtime.logger();
  if (!cfg.callbackToken || !cfg.appId) {
    log.info({}, 'mp callback not mounted: WXOPS_MP_TOKEN / WXOPS_MP_APPID not set');
    return undefined;
  }
  const [{ CallbackVerifier }, { MpCallback }, { EventCounters }, { recordPushResult }] = await Promise.all([
    import('../platform/callback/index.js'),
    import('../mp/callback.js'),
    import('../mp/counters.js'),
    import('../mp/pushes.js'),
  ]);
  const store = await runtime.store();
  const counters = new EventCounters(store, 200, log);
  const handler = new MpCallback({
    verifier: new CallbackVerifier({ platform: 'mp', token: cfg.callbackToken, aesKey: cfg.callbackAesKey, receiveId: cfg.appId }),
    store,
    counters,
    mp: platform.mp,
    logger: log,
    onMassSendFinished: (msgId, result) => recordPushResult(store, msgId, result),
  });
  const route: Route = (req, res) => handler.route(req, res);
  routes.set('GET /mp/callback', route);
  routes.set('POST /mp/callback', route);
  return {
    flush: () => counters.flush(),
    connectSandbox: (url: string) => connectSandbox(runtime, '/mp/server', { url, mode: 'safe' }),
  };
}

/**
 * Mounts `/wecom/callback` (customer-contact events) when the callback Token and EncodingAESKey are
 * configured (always in the sandbox).
 */
async function mountWecomCallback(runtime: Runtime, routes: Map<string, Route>): Promise<boolean> {
  const platform = await runtime.platform();
  const { callbackToken, callbackAesKey, corpId } = platform.config;
  const log = await runtime.logger();
  if (!callbackToken || !callbackAesKey) {
    log.info({}, 'wecom callback not mounted: WXOPS_CALLBACK_TOKEN / WXOPS_CALLBACK_AES_KEY not set');
    return false;
  }
  const [{ CallbackVerifier }, { WecomCallback }] = await Promise.all([import('../platform/callback/index.js'), import('../customers/callback.js')]);
  const handler = new WecomCallback({
    verifier: new CallbackVerifier({ platform: 'wecom', token: callbackToken, aesKey: callbackAesKey, receiveId: corpId }),
    client: platform.client,
    customers: platform.customers,
    store: await runtime.store(),
    audit: await runtime.audit(),
    org: () => runtime.org(),
    logger: log,
  });
  const route: Route = (req, res) => handler.route(req, res);
  routes.set('GET /wecom/callback', route);
  routes.set('POST /wecom/callback', route);
  return true;
}

/** `/wecom/bot`: the 智能机器人 in the ops group, when its Token and EncodingAESKey are configured. */
async function mountWecomBot(runtime: Runtime, routes: Map<string, Route>): Promise<boolean> {
  const platform = await runtime.platform();
  const { botToken, botAesKey } = platform.config;
  const log = await runtime.logger();
  if (!botToken || !botAesKey) {
    log.info({}, 'wecom bot not mounted: WXOPS_BOT_TOKEN / WXOPS_BOT_AES_KEY not set');
    return false;
  }
  const [{ CallbackVerifier }, { WecomBot }, { ChatGateway }, { createRegistry }, { sendJson, createAgent, resolveTimeouts }] = await Promise.all([
    import('../platform/callback/index.js'),
    import('../channels/wecom-bot.js'),
    import('../channels/chat.js'),
    import('../../commands/index.js'),
    import('../platform/http.js'),
  ]);
  const agent = createAgent({ connections: 2 });
  const bot = new WecomBot({
    // The robot's callbacks carry an empty receive id (wecom.md §8.4).
    verifier: new CallbackVerifier({ platform: 'wecom', token: botToken, aesKey: botAesKey, receiveId: '' }),
    gateway: new ChatGateway({ runtime, registry: createRegistry(), channel: 'wecom' }),
    logger: log,
    // Shared with the other instances when the store is: a stream refresh may reach any of them.
    store: await runtime.store(),
    respond: async (url, markdown) => {
      await sendJson(agent, { url, method: 'POST', json: { msgtype: 'markdown', markdown: { content: markdown } }, timeouts: resolveTimeouts(10_000) });
    },
  });
  const route: Route = (req, res) => bot.route(req, res);
  routes.set('GET /wecom/bot', route);
  routes.set('POST /wecom/bot', route);
  return true;
}

/** The daily digest, posted through the group robot at WXOPS_DIGEST_CRON (default 09:00) in WXOPS_TZ. */
async function startDigest(runtime: Runtime): Promise<{ stop(): void } | undefined> {
  const platform = await runtime.platform();
  const log = await runtime.logger();
  const robot = platform.robot;
  if (!robot) {
    log.info({}, 'digest not scheduled: WXOPS_WEBHOOK_KEY not set');
    return undefined;
  }
  const [{ DailyJob }, { composeDigest, sendDigest }, { addDays }] = await Promise.all([import('../jobs/scheduler.js'), import('../jobs/digest.js'), import('../core/dates.js')]);
  const sources = { customers: () => runtime.customers(), mp: () => runtime.mp(), platform: () => runtime.platform(), org: () => runtime.org(), store: () => runtime.store(), now: () => new Date() };
  const job = new DailyJob({
    name: 'digest',
    pattern: runtime.env.WXOPS_DIGEST_CRON || '0 9 * * *',
    timezone: runtime.env.WXOPS_TZ || 'Asia/Shanghai',
    store: await runtime.store(),
    logger: log,
    run: async (date) => sendDigest(await composeDigest(sources, addDays(date, -1)), robot, runtime.lang),
    onFailure: async (date, err) => {
      const supers = (await runtime.policy()).set.roles['super-admin']?.members ?? [];
      const why = (err as { text?: { zh: string; en: string } }).text?.[runtime.lang] ?? err.message;
      await robot.markdown(runtime.lang === 'zh' ? `⚠️ ${date} 的运营日报发送失败：${why}` : `⚠️ The digest for ${date} was not sent: ${why}`, supers).catch(() => undefined);
    },
  });
  await job.start();
  return job;
}

/**
 * The nightly backup (`WXOPS_BACKUP_CRON`, default 02:00 China time): everything configured, encrypted
 * when WXOPS_BACKUP_KEY is set, then retention. The outcome goes to the ops group's robot (when
 * configured) and the audit log; a failure is retried by the job and then reported to the super admins.
 */
async function startBackup(runtime: Runtime): Promise<{ stop(): void } | undefined> {
  const log = await runtime.logger();
  const [{ DailyJob }, { runBackup }, { parseKey }, { applyRetention, parseKeep, uncatalogue }] = await Promise.all([
    import('../jobs/scheduler.js'),
    import('../backup/writer.js'),
    import('../backup/format.js'),
    import('../backup/retention.js'),
  ]);
  let key: Buffer | undefined;
  let keep: ReturnType<typeof parseKeep>;
  try {
    key = parseKey(runtime.env.WXOPS_BACKUP_KEY);
    keep = parseKeep(runtime.env.WXOPS_BACKUP_KEEP);
  } catch (err) {
    // A bad key or rule is a configuration error: say so loudly, never back up unencrypted instead.
    log.error({ error: errorText(err) }, 'nightly backup not scheduled');
    const robot = (await runtime.platform()).robot;
    await robot?.markdown(`⚠️ ${(err as { text?: { zh: string; en: string } }).text?.[runtime.lang] ?? String(err)}`).catch(() => undefined);
    return undefined;
  }
  const zh = runtime.lang === 'zh';
  const sources = {
    dataDir: runtime.dataDir,
    policyDir: runtime.policyDir,
    contacts: () => runtime.contacts(),
    customers: () => runtime.customers(),
    mp: () => runtime.mp(),
    store: () => runtime.store(),
    now: () => new Date(),
  };
  const audit = async (outcome: string, detail: unknown, error?: { code: string; message: string }) =>
    (await runtime.audit()).append({ kind: 'result', actor: 'wxops', channel: 'schedule', command: 'backup run', action: 'backup.run', outcome, detail, error });
  const job = new DailyJob({
    name: 'backup',
    pattern: runtime.env.WXOPS_BACKUP_CRON || '0 2 * * *',
    timezone: runtime.env.WXOPS_TZ || 'Asia/Shanghai',
    store: await runtime.store(),
    logger: log,
    run: async () => {
      const out = await runBackup(sources, { createdBy: 'wxops', key });
      const retention = applyRetention(runtime.dataDir, new Date(), keep);
      await uncatalogue(await runtime.store(), retention.removed);
      const counts = Object.entries(out.manifest.entities)
        .map(([k, e]) => `${k} ${e.count}`)
        .join(', ');
      const mb = (out.bytes / 1048576).toFixed(1);
      log.info({ id: out.id, bytes: out.bytes, removed: retention.removed }, 'nightly backup done');
      await audit('done', { id: out.id, bytes: out.bytes, removed: retention.removed, skipped: out.skipped });
      const robot = (await runtime.platform()).robot;
      await robot
        ?.markdown(
          zh
            ? `✅ 夜间备份 ${out.id} 完成：${counts}；${mb} MB${out.manifest.encrypted ? '，已加密' : ''}。${retention.removed.length ? `按保留规则删除 ${retention.removed.length} 份旧备份。` : ''}`
            : `✅ Nightly backup ${out.id} done: ${counts}; ${mb} MB${out.manifest.encrypted ? ', encrypted' : ''}.${retention.removed.length ? ` Retention removed ${retention.removed.length} old backups.` : ''}`,
        )
        .catch((err: Error) => log.warn({ error: err.message }, 'backup outcome not posted'));
    },
    onFailure: async (date, err) => {
      const why = (err as { text?: { zh: string; en: string } }).text?.[runtime.lang] ?? err.message;
      log.error({ date, error: why }, 'nightly backup failed');
      await audit('failed', { date }, { code: (err as { code?: string }).code ?? 'BACKUP_FAILED', message: why }).catch(() => undefined);
      const robot = (await runtime.platform().catch(() => undefined))?.robot;
      const supers = (await runtime.policy().catch(() => undefined))?.set.roles['super-admin']?.members ?? [];
      await robot?.markdown(zh ? `⚠️ ${date} 的夜间备份失败：${why}` : `⚠️ The nightly backup of ${date} failed: ${why}`, supers).catch(() => undefined);
    },
  });
  // A night missed while the service was down is caught up at start, in the background (a backup takes
  // minutes). In the sandbox only the schedule runs, so starting a demo does not back it up each time.
  if (runtime.mode === 'live') void job.start().catch((err: Error) => log.error({ error: err.message }, 'nightly backup catch-up failed'));
  return job;
}

/**
 * Slack (`/slack/events`) and wechaty, when configured. A chat platform that cannot start is logged
 * and left out; the rest of the service runs.
 */
async function startChatChannels(runtime: Runtime, routes: Map<string, Route>): Promise<{ notifiers: Record<string, Notifier>; stop(): Promise<void> }> {
  const log = await runtime.logger();
  const notifiers: Record<string, Notifier> = {};
  const stops: (() => Promise<void>)[] = [];
  const { createRegistry } = await import('../../commands/index.js');
  const { wechatyConfigured, startWechatyChannel } = await import('../channels/wechaty.js');
  // Bolt is only loaded when a Slack app is configured.
  if (runtime.env.WXOPS_SLACK_SIGNING_SECRET || runtime.env.WXOPS_SLACK_BOT_TOKEN) {
    const { slackConfigured, createSlackChannel, SLACK_EVENTS_PATH } = await import('../channels/slack.js');
    if (slackConfigured(runtime.env)) {
      const slack = createSlackChannel({ runtime, registry: createRegistry() });
      routes.set(`POST ${SLACK_EVENTS_PATH}`, slack.handler);
      notifiers.slack = slack.notifier;
    } else {
      log.warn({}, 'Slack needs both WXOPS_SLACK_SIGNING_SECRET and WXOPS_SLACK_BOT_TOKEN; the Slack channel is off');
    }
  }
  if (wechatyConfigured(runtime.env)) {
    try {
      const w = await startWechatyChannel({ runtime, registry: createRegistry() });
      notifiers.wechaty = w.notifier;
      stops.push(() => w.stop());
    } catch (err) {
      log.error({ error: (err as Error).message }, 'wechaty channel did not start; the other channels run');
    }
  }
  return { notifiers, stop: async () => void (await Promise.all(stops.map((s) => s().catch(() => undefined)))) };
}

/** Approval requests are announced in the chat they came from. */
async function installNotifier(runtime: Runtime, chats: Record<string, Notifier>): Promise<void> {
  const platform = await runtime.platform();
  const [{ ChannelNotifier, GroupRobotNotifier }, { StoreNotifier }] = await Promise.all([import('../channels/channel-notifier.js'), import('../approval/service.js')]);
  const byChannel: Record<string, Notifier> = { ...chats, ...(platform.robot ? { wecom: new GroupRobotNotifier(platform.robot, runtime.lang) } : {}) };
  runtime.setNotifier(new ChannelNotifier(byChannel, new StoreNotifier(await runtime.store()), await runtime.logger()));
}

/** In the sandbox, points the embedded simulator's callbacks at this server, as an admin would in the console. */
async function connectSandbox(runtime: Runtime, path: string, body: unknown): Promise<void> {
  const { controlUrl } = await runtime.platform();
  if (!controlUrl) return;
  const res = await fetch(`${controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) (await runtime.logger()).warn({ status: res.status, path }, 'could not point the sandbox simulator at wxops serve');
}

/**
 * Policy edits take effect without a restart; a broken edit keeps the policy in force and the error
 * (file, line, sentence) goes to the log and to the super admins.
 */
export async function watchPolicy(runtime: Runtime, onReload?: () => Promise<void>): Promise<() => void> {
  const { watch } = await import('node:fs');
  const { createRegistry } = await import('../../commands/index.js');
  const { SUPER_ADMIN_ROLE } = await import('../approval/service.js');
  const log = await runtime.logger();
  await runtime.policy(createRegistry().actions());
  let timer: NodeJS.Timeout | undefined;
  const reload = async () => {
    try {
      await runtime.reloadPolicy();
      log.info({ dir: runtime.policyDir }, 'policy reloaded');
      await onReload?.();
    } catch (err) {
      const text = (err as { text?: { zh: string; en: string } }).text ?? { zh: String(err), en: String(err) };
      log.error({ dir: runtime.policyDir, error: text.en }, 'policy edit rejected; the previous policy stays in force');
      const current = await runtime.policy();
      const supers = current.set.roles[SUPER_ADMIN_ROLE]?.members ?? [];
      try {
        const store = await runtime.store();
        await store.put('notifications', `policy-${Date.now()}`, {
          channel: 'serve',
          to: supers,
          text: { zh: `策略修改未生效，仍使用之前的策略：${text.zh}`, en: `A policy edit was rejected; the previous policy stays in force: ${text.en}` },
          at: new Date().toISOString(),
        });
      } catch (e) {
        log.warn({ error: errorText(e) }, 'policy rejection not stored for the super admins');
      }
    }
  };
  const watcher = watch(runtime.policyDir, () => {
    // Editors write in several steps: wait for the burst to settle before reading.
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), 200);
  });
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}

/** Where each running instance says which policy it runs (ARCHITECTURE §9: several instances, one bot). */
export const INSTANCES = 'instances';
const HEARTBEAT_MS = 60_000;

export interface InstanceRecord {
  instance: string;
  /** SHA-256 over the policy files' names and bytes, as loaded. */
  policy_version: string;
  policy_loaded_at: string;
  seen_at: string;
}

let servers = 0;

/**
 * Records the policy version this instance runs (at start, after each reload, and every minute), and
 * warns in the log when another live instance on the same store runs a different one — a policy edit
 * that reached one machine and not the other. Store errors are logged; the service goes on.
 */
async function trackPolicyVersion(runtime: Runtime): Promise<{ instance: string; current(): { version?: string; loaded_at?: string }; loaded(): Promise<void>; stop(): Promise<void> }> {
  const log = await runtime.logger();
  // hostname:pid — a second server in one process (tests) gets a suffix.
  const instance = `${hostname()}:${process.pid}${servers++ ? `/${servers}` : ''}`;
  let mine: InstanceRecord | undefined;
  let warned = '';
  // Only a shared store has other instances to compare with; the embedded one keeps nothing extra.
  const shared = !!runtime.env.WXOPS_DATABASE_URL;
  const publish = async () => {
    if (!mine || !shared) return;
    try {
      const store = await runtime.store();
      mine.seen_at = new Date().toISOString();
      await store.put<InstanceRecord>(INSTANCES, instance, mine);
      checkOthers(await store.list<InstanceRecord>(INSTANCES), log);
    } catch (err) {
      log.warn({ error: errorText(err) }, 'policy version not recorded in the store');
    }
  };
  const checkOthers = (all: InstanceRecord[], logger: Logger) => {
    const live = all.filter((r) => r.instance === instance || Date.now() - Date.parse(r.seen_at) < 3 * HEARTBEAT_MS);
    const versions = [...new Set(live.map((r) => r.policy_version))];
    const signature = versions.length > 1 ? live.map((r) => `${r.instance}=${r.policy_version}`).sort().join(',') : '';
    if (signature && signature !== warned) {
      logger.warn({ instances: live.map((r) => ({ instance: r.instance, policy_version: r.policy_version.slice(0, 12), loaded_at: r.policy_loaded_at })) }, 'instances run different policy versions');
    }
    warned = signature;
  };
  const timer = shared ? setInterval(() => void publish(), HEARTBEAT_MS) : undefined;
  timer?.unref?.();
  return {
    instance,
    current: () => (mine ? { version: mine.policy_version, loaded_at: mine.policy_loaded_at } : {}),
    async loaded() {
      let version: string;
      try {
        version = policyVersion(runtime.policyDir);
      } catch (err) {
        log.warn({ error: (err as Error).message }, 'policy version not computed');
        return;
      }
      mine = { instance, policy_version: version, policy_loaded_at: new Date().toISOString(), seen_at: new Date().toISOString() };
      log.info({ instance, policy_version: version.slice(0, 12) }, 'policy version in use');
      await publish();
    },
    async stop() {
      clearInterval(timer);
      if (!shared) return;
      await runtime
        .store()
        .then((s) => s.delete(INSTANCES, instance))
        .catch(() => undefined);
    },
  };
}
