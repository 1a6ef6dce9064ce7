import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Tokens, type DemoCredentials } from './auth.js';
import { SimClock } from './clock.js';
import { AiBot } from './bot/index.js';
import { activeRoutes } from './contacts/active.js';
import { BatchJobs } from './contacts/batch.js';
import { departmentRoutes } from './contacts/departments.js';
import { tagRoutes } from './contacts/tags.js';
import { userRoutes } from './contacts/users.js';
import { Customers, type ScaleOption } from './customers/index.js';
import { ApiError, errorBody, type Platform } from './errors.js';
import { Faults } from './faults.js';
import { MpAccount, mpApiName } from './mp/index.js';
import type { ApiRequest, ApiRoute } from './router.js';
import { seedCompany } from './seed.js';
import { StateFile } from './state.js';
import { controlRoutes, type ControlHandler } from './control.js';
import { WebhookRobots } from './webhook/index.js';

const MAX_BODY = 32 * 1024 * 1024;

/** A file served under `/_sim/` (a contact way's QR image): its bytes, or undefined for 404. */
export type FileHandler = (pathname: string) => { contentType: string; body: Buffer } | undefined;

/** A call to an API authenticated by its own query credential (webhook `key`, aibot `response_code`), not an access token. */
export interface OpenRequest {
  query: URLSearchParams;
  raw: Buffer;
  now: number;
  /** The body as a JSON object (44002 empty, 47001 not an object): parsed when the handler asks, after its credential check. */
  json(): any;
}

export interface OpenRoute {
  method: 'GET' | 'POST';
  handler(req: OpenRequest): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/**
 * The WeCom server API over HTTP (ARCHITECTURE §8): same paths, JSON, limits and errcodes as the
 * platform, with per-API rate and concurrency limits, a simulated clock and fault injection.
 * The Official Account's API is beside it under `/mp` (mp/index.ts), sharing the request handling.
 */
export class Simulator {
  readonly clock = new SimClock();
  readonly faults = new Faults();
  readonly tokens: Tokens;
  readonly stateFile: StateFile;
  readonly stats = new Map<string, number>();
  readonly mp: MpAccount;
  readonly customers: Customers;
  readonly webhook: WebhookRobots;
  readonly bot: AiBot;
  /** `http://host:port` once listening (contact-way QR URLs point here). */
  baseUrl?: string;
  private readonly routes = new Map<string, ApiRoute>();
  private readonly openRoutes = new Map<string, OpenRoute>();
  private readonly control = new Map<string, ControlHandler>();
  private readonly files: { prefix: string; serve: FileHandler }[] = [];
  private readonly batch = new BatchJobs();
  private readonly inflight = new Map<string, number>();
  private readonly windows = new Map<string, { minute: number; count: number }>();
  private server?: Server;

  constructor(
    readonly credentials: DemoCredentials,
    dataDir: string,
    private readonly baseLatencyMs = 0,
    private readonly options: { scale?: ScaleOption } = {},
  ) {
    this.tokens = new Tokens(credentials, this.clock, this.faults);
    this.stateFile = new StateFile(dataDir, () => seedCompany(undefined, options.scale));
    this.stateFile.load();
    for (const routes of [departmentRoutes, userRoutes, tagRoutes, activeRoutes, this.batch.routes()]) this.addRoutes(routes);
    for (const [key, handler] of Object.entries(controlRoutes(this))) this.control.set(key, handler);
    this.mp = new MpAccount(this);
    this.customers = new Customers(this);
    this.webhook = new WebhookRobots(this);
    this.bot = new AiBot(this);
  }

  /** Later parts of the simulator (customers, the Official Account …) add their APIs here. */
  addRoutes(routes: Record<string, ApiRoute>): void {
    for (const [api, route] of Object.entries(routes)) this.routes.set(api, route);
  }

  /** APIs without an access token (the group robot webhook, the 智能机器人's response_url). */
  addOpenRoutes(routes: Record<string, OpenRoute>): void {
    for (const [api, route] of Object.entries(routes)) this.openRoutes.set(api, route);
  }

  /** And their `/_sim/` events here, keyed `METHOD path` (path without the /_sim prefix). */
  addControl(key: string, handler: ControlHandler): void {
    this.control.set(key, handler);
  }

  /** And files they serve under `/_sim/` (GET, any content type), by path prefix. */
  addFile(prefix: string, serve: FileHandler): void {
    this.files.push({ prefix, serve });
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) json(res, 500, { errcode: -1, errmsg: `simulator error: ${(err as Error).message}` });
      });
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    return address;
  }

  async close(): Promise<void> {
    this.mp.close();
    this.customers.close();
    this.bot.close();
    this.stateFile.flush();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const raw = await readBody(req);
    if (raw === undefined) return json(res, 413, { errcode: 45002, errmsg: 'content size out of limit' });
    if (url.pathname.startsWith('/_sim/')) {
      const file = req.method === 'GET' ? this.files.find((f) => url.pathname.startsWith(f.prefix)) : undefined;
      if (file) {
        const found = file.serve(url.pathname);
        if (!found) return json(res, 404, { ok: false, error: `no such file ${url.pathname}` });
        res.writeHead(200, { 'content-type': found.contentType, 'content-length': found.body.length });
        res.end(found.body);
        return;
      }
      return this.handleControl(req.method ?? 'GET', url, raw, res);
    }
    if (url.pathname.startsWith('/cgi-bin/')) return this.handleApi(req, res, url, raw, 'wecom', url.pathname.slice('/cgi-bin/'.length));
    const mpApi = mpApiName(url.pathname);
    if (mpApi !== undefined) return this.handleApi(req, res, url, raw, 'mp', mpApi);
    json(res, 404, { errcode: 404, errmsg: `no such path ${url.pathname}` });
  }

  private async handleControl(method: string, url: URL, raw: Buffer, res: ServerResponse): Promise<void> {
    const handler = this.control.get(`${method} ${url.pathname.slice('/_sim'.length)}`);
    if (!handler) return json(res, 404, { ok: false, error: `no control endpoint ${method} ${url.pathname}` });
    let body: any = {};
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      return json(res, 400, { ok: false, error: 'body is not JSON' });
    }
    try {
      json(res, 200, await handler({ body, query: url.searchParams }));
    } catch (err) {
      json(res, 400, { ok: false, error: (err as Error).message });
    }
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer, platform: Platform, api: string): Promise<void> {
    // Stats, fault rules and concurrency name MP APIs `mp/<api>`: both platforms have a `menu/create`.
    const key = platform === 'mp' ? `mp/${api}` : api;
    this.stats.set(key, (this.stats.get(key) ?? 0) + 1);
    if (this.faults.takeDrop(key)) {
      req.socket.destroy();
      return;
    }
    const limit = this.faults.concurrencyLimit(key);
    const running = this.inflight.get(key) ?? 0;
    if (running >= limit) return json(res, 200, errorBody(new ApiError(45033), platform));
    this.inflight.set(key, running + 1);
    try {
      // The latency is how long the platform takes to answer, its own work included: the answer is worked
      // out on arrival and sent when the time is up. (Working it out after the wait would add this
      // process's CPU time, queued behind every other call in flight, to each call's latency.)
      const latency = this.baseLatencyMs + (this.faults.config.latency_ms ?? 0);
      const due = performance.now() + latency;
      const [status, body] = await this.answer(req, url, api, raw, platform, key);
      const bytes = encode(body);
      const left = due - performance.now();
      if (left >= 1) await new Promise((r) => setTimeout(r, left));
      send(res, status, bytes);
    } finally {
      this.inflight.set(key, (this.inflight.get(key) ?? 1) - 1);
    }
  }

  private async answer(req: IncomingMessage, url: URL, api: string, raw: Buffer, platform: Platform, key: string): Promise<[number, Record<string, unknown>]> {
    try {
      const injected = this.faults.takeFailure(key);
      if (injected !== undefined) throw new ApiError(injected);
      if (platform === 'mp') return [200, await this.answerMp(req, url, api, raw)];
      if (api === 'gettoken') {
        const issued = this.tokens.issue(url.searchParams.get('corpid'), url.searchParams.get('corpsecret'));
        return [200, { errcode: 0, errmsg: 'ok', ...issued }];
      }
      const open = this.openRoutes.get(api);
      if (open) {
        if ((req.method === 'POST' ? 'POST' : 'GET') !== open.method) throw new ApiError(open.method === 'GET' ? 43001 : 43002);
        this.stateFile.refresh();
        const result = await open.handler({ query: url.searchParams, raw, now: this.clock.now(), json: () => jsonBody(raw) });
        return [200, { errcode: 0, errmsg: 'ok', ...result }];
      }
      const route = this.routes.get(api);
      if (!route) throw new ApiError(40066, {}, 404);
      const method = req.method === 'POST' ? 'POST' : 'GET';
      if (method !== route.method) throw new ApiError(route.method === 'GET' ? 43001 : 43002);
      const secret = this.tokens.check(url.searchParams.get('access_token'));
      this.checkRate(api);
      if (!route.allow.includes(secret)) throw new ApiError(48002);
      const contentType = String(req.headers['content-type'] ?? '');
      const body = method === 'POST' && !contentType.startsWith('multipart/') ? jsonBody(raw) : {};
      this.stateFile.refresh();
      const request: ApiRequest = {
        api,
        method,
        query: url.searchParams,
        body,
        raw,
        contentType,
        secret,
        state: this.stateFile.state,
        now: this.clock.now(),
        changed: () => this.stateFile.markDirty(),
        options: { unknownDepartmentErrcode: this.faults.config.unknown_department_errcode ?? 60003 },
      };
      this.batch.settle(request);
      const result = await route.handler(request);
      return [200, { errcode: 0, errmsg: route.ok ?? 'ok', ...result }];
    } catch (err) {
      if (err instanceof ApiError) return [err.httpStatus, errorBody(err, platform)];
      throw err;
    }
  }

  /** The Official Account: its own routes, tokens and daily quotas (mp/index.ts). */
  private async answerMp(req: IncomingMessage, url: URL, api: string, raw: Buffer): Promise<Record<string, unknown>> {
    const route = this.mp.route(api);
    if (!route) throw new ApiError(40066, {}, 404);
    const method = req.method === 'POST' ? 'POST' : 'GET';
    if (method !== route.method) throw new ApiError(route.method === 'GET' ? 43001 : 43002);
    this.stateFile.refresh();
    this.mp.admit(api, route, url.searchParams);
    const body = method === 'POST' && !(route.emptyBody && raw.length === 0) ? jsonBody(raw) : {};
    return this.mp.run(api, route, { method, query: url.searchParams, body });
  }

  /** Per-API minute windows (wecom.md §9): past the limit, 45009 until the minute is over. */
  private checkRate(api: string): void {
    const minute = Math.floor(this.clock.now() / 60_000);
    const w = this.windows.get(api);
    if (!w || w.minute !== minute) {
      this.windows.set(api, { minute, count: 1 });
      return;
    }
    w.count++;
    if (w.count > this.faults.rateLimit(api)) throw new ApiError(45009);
  }

  reset(): void {
    this.stateFile.replace(seedCompany(undefined, this.options.scale));
    this.mp.reset();
    this.webhook.reset();
    this.bot.reset();
    this.stats.clear();
    this.windows.clear();
  }
}

/** A POST body: a JSON object, else 44002 (empty) or 47001. */
function jsonBody(raw: Buffer): any {
  if (raw.length === 0) throw new ApiError(44002);
  let body: any;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(47001);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(47001);
  return body;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, encode(body));
}

/** Encoded once: a batch page is 40 KB, and measuring the string would walk it a second time. */
function encode(body: unknown): Buffer {
  return Buffer.from(JSON.stringify(body));
}

function send(res: ServerResponse, status: number, bytes: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length });
  res.end(bytes);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
