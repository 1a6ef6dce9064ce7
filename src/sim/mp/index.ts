import type { Simulator } from '../server.js';
import { autoreplyRoutes } from './autoreply.js';
import { deliver, type DeliveryResult, type Message, type ServerConfig, type XmlFields } from './callbacks.js';
import { mpControl } from './control.js';
import { datacubeRoutes } from './datacube.js';
import { followerRoutes } from './followers.js';
import { MASS_DURATION_MS, massRoutes, settleMass } from './mass.js';
import { menuRoutes } from './menu.js';
import { takeQuota, quotaRoutes } from './quota.js';
import type { MpRequest, MpRoute } from './router.js';
import { anchorMp, seedMp } from './seed.js';
import { tagRoutes } from './tags.js';
import { MpTokens, tokenRoutes } from './tokens.js';
import type { MpDay, MpMassJob, MpState } from './types.js';
import { dayStart, shanghaiDate } from './util.js';
import { wxopenRoutes } from './wxopen.js';

export type { MpRoute } from './router.js';
export { seedMp } from './seed.js';

/**
 * The Official Account (mp.md) beside WeCom in one simulator: its API under `/mp` (`/mp/cgi-bin/…`,
 * `/mp/datacube/…`) with its own tokens and daily quotas, its state in `state.mp`, and the platform's
 * side — followers acting, the account's server being called — under `/_sim/mp/`.
 *
 * The simulator's request handling (body, 44002/47001, 43001/43002, fault injection, stats under
 * `mp/<api>`) is shared; this class answers once a request got that far.
 */
const TICK_MS = 100;

/** `/mp/cgi-bin/menu/create` → `menu/create`; `/mp/datacube/getusersummary` → `datacube/getusersummary`. */
export function mpApiName(pathname: string): string | undefined {
  if (pathname.startsWith('/mp/cgi-bin/')) return pathname.slice('/mp/cgi-bin/'.length);
  if (pathname.startsWith('/mp/datacube/')) return pathname.slice('/mp/'.length);
  return undefined;
}

/** A delivery nobody waits for (MASSSENDJOBFINISH), kept for `/_sim/mp/deliveries`. */
export interface DeliveryLogEntry {
  at: number;
  event: string;
  msg_id?: number;
  ok: boolean;
  attempts: number;
  status: number | null;
  error?: string;
}

export class MpAccount {
  readonly tokens: MpTokens;
  /** 服务器配置: where the platform delivers messages and events (none until configured). */
  server?: ServerConfig;
  readonly deliveries: DeliveryLogEntry[] = [];
  private readonly routes = new Map<string, MpRoute>();
  private readonly timer: NodeJS.Timeout;
  private readonly stop = new AbortController();
  private closed = false;

  constructor(readonly sim: Simulator) {
    this.tokens = new MpTokens(sim.credentials, sim.clock, sim.faults);
    const take = (api: string, req: MpRequest) => {
      takeQuota(req.mp, api, req.now, req.faults);
      req.changed();
    };
    for (const table of [tokenRoutes(this.tokens, take), quotaRoutes, menuRoutes, autoreplyRoutes, tagRoutes, followerRoutes, massRoutes, datacubeRoutes, wxopenRoutes]) {
      for (const [api, route] of Object.entries(table)) this.routes.set(api, route);
    }
    for (const [key, handler] of Object.entries(mpControl(this))) sim.addControl(key, handler);
    // Mass jobs finish with simulated time, and their MASSSENDJOBFINISH must go out even if nobody calls.
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  get creds() {
    return this.sim.credentials;
  }

  now(): number {
    return this.sim.clock.now();
  }

  route(api: string): MpRoute | undefined {
    return this.routes.get(api);
  }

  /** After the method check, before the body: the access token, then today's quota for the API. */
  admit(api: string, route: MpRoute, query: URLSearchParams): void {
    if (route.auth === false) return;
    this.tokens.check(query.get('access_token'));
    takeQuota(this.state(), api, this.now(), this.sim.faults.config);
    this.changed();
  }

  async run(api: string, route: MpRoute, call: { method: 'GET' | 'POST'; query: URLSearchParams; body: any }): Promise<Record<string, unknown>> {
    const mp = this.state();
    this.settle(mp);
    const req: MpRequest = {
      api,
      method: call.method,
      query: call.query,
      body: call.body,
      now: this.now(),
      mp,
      creds: this.creds,
      faults: this.sim.faults.config,
      changed: () => this.changed(),
    };
    const result = await route.handler(req);
    return route.bare ? result : { errcode: 0, errmsg: route.ok ?? 'ok', ...result };
  }

  /** The account's state, seeded for a state file written before the Official Account existed, and anchored to the clock. */
  state(): MpState {
    const s = this.sim.stateFile.state;
    if (!s.mp) {
      s.mp = seedMp();
      this.changed();
    }
    if (s.mp.anchored_at === null) {
      anchorMp(s.mp, dayStart(shanghaiDate(this.now())));
      this.changed();
    }
    return s.mp;
  }

  changed(): void {
    if (!this.closed) this.sim.stateFile.markDirty();
  }

  /** Today's statistics row (datacube upstream and interface numbers). */
  day(mp: MpState): MpDay {
    const date = shanghaiDate(this.now());
    return (mp.days[date] ??= { callback_count: 0, fail_count: 0, total_time_cost: 0, max_time_cost: 0, upstream: {} });
  }

  /**
   * Delivers a message or event to the server URL (if one is configured) and counts the attempts for
   * getinterfacesummary. Resolves with what the platform made of the answers.
   */
  async deliver(openid: string, fields: XmlFields): Promise<DeliveryResult | undefined> {
    const cfg = this.server;
    if (!cfg || this.closed) return undefined;
    const msg: Message = { appid: this.creds.mp_appid, originalId: this.creds.mp_original_id, openid, fields };
    const result = await deliver(cfg, msg, () => Math.floor(this.now() / 1000), this.stop.signal);
    if (this.closed) return result;
    this.sim.stateFile.refresh();
    const day = this.day(this.state());
    for (const c of result.costs) {
      day.callback_count++;
      if (!c.ok) day.fail_count++;
      day.total_time_cost += c.ms;
      day.max_time_cost = Math.max(day.max_time_cost, c.ms);
    }
    this.changed();
    return result;
  }

  /** Finishes due mass jobs and announces them to the server URL. */
  settle(mp: MpState): void {
    const finished = settleMass(mp, this.now());
    if (finished.length === 0) return;
    this.changed();
    for (const job of finished) void this.announce(mp, job);
  }

  private async announce(mp: MpState, job: MpMassJob): Promise<void> {
    const r = job.result!;
    const article = job.msgtype === 'mpnews' ? mp.articles.find((a) => a.media_id === job.payload.media_id) : undefined;
    const fields: XmlFields = {
      ToUserName: this.creds.mp_original_id,
      FromUserName: mp.admin_openid,
      CreateTime: Math.floor((job.submitted_at + MASS_DURATION_MS) / 1000),
      MsgType: 'event',
      Event: 'MASSSENDJOBFINISH',
      // MsgID with a capital D here, unlike MsgId in messages (mp.md §5).
      MsgID: job.msg_id,
      Status: 'send success',
      TotalCount: r.total,
      FilterCount: r.filter,
      SentCount: r.sent,
      ErrorCount: r.error,
      ...(article
        ? {
            CopyrightCheckResult: { Count: 0, ResultList: [], CheckState: 1 },
            ArticleUrlResult: { Count: 1, ResultList: [{ ArticleIdx: 1, ArticleUrl: article.url }] },
          }
        : {}),
    };
    const result = await this.deliver(mp.admin_openid, fields);
    if (!result || this.closed) return;
    this.deliveries.push({ at: this.now(), event: 'MASSSENDJOBFINISH', msg_id: job.msg_id, ok: result.answered, attempts: result.attempts, status: result.status, error: result.answered ? undefined : result.error });
  }

  private tick(): void {
    if (this.closed) return;
    const s = this.sim.stateFile;
    s.refresh();
    if (!s.state.mp?.mass_jobs.some((j) => j.status === 'SENDING')) return;
    this.settle(this.state());
  }

  /** `/_sim/reset` re-seeds `state.mp`; tokens and the server URL (wiring, not account data) stay. */
  reset(): void {
    this.deliveries.length = 0;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.stop.abort();
  }
}
