import { findUser } from '../contacts/users.js';
import type { XmlFields, PostOutcome } from '../mp/callbacks.js';
import type { ApiRequest, ApiRoute } from '../router.js';
import type { Simulator } from '../server.js';
import type { SimState, SimUser } from '../state.js';
import { behaviorRoutes } from './behavior.js';
import { deliverEvent, verifyCallbackUrl, type WecomCallbackConfig } from './callbacks.js';
import { CUSTOMER_API, customersOf } from './common.js';
import { contactWayRoutes, qrPng } from './contact-ways.js';
import { customersControl } from './control.js';
import { customerRoutes } from './customers.js';
import { indexOf, setFollow } from './relations.js';
import type { CustomerState } from './state.js';
import { tagRoutes } from './tags.js';
import { settleTransfers, transferRoutes } from './transfer.js';
import { pruneWelcomeCodes, welcomeRoutes } from './welcome.js';

export type { CustomerState } from './state.js';
export { seedCustomers, scaleMembers, type ScaleOption } from './seed.js';

/**
 * 客户联系 in the simulator (wecom.md §4, §5.1, §8.5): the `externalcontact/*` APIs for the customer
 * secret and self-built apps (48002 for the contacts secret), state in `state.customers`, the 客户联系
 * callback URL receiving `change_external_contact` events, and the platform's side under `/_sim/`.
 * Before each call, what time settled happens: due transfers complete, members deleted from contacts
 * count as having left (their customers become unassigned).
 */
export interface CustomerRoute {
  method: 'GET' | 'POST';
  ok?: string;
  handler(req: ApiRequest, cs: CustomerState): Record<string, unknown> | Promise<Record<string, unknown>>;
}

export class Customers {
  /** The 客户联系 callback receiver (none until configured). */
  callback?: WecomCallbackConfig;
  private readonly stop = new AbortController();
  private closed = false;
  /** The member lists as of the last check that every follow user is still in contacts. */
  private membersSeen?: { users: SimUser[]; size: number; follow: string[]; followSize: number };

  constructor(readonly sim: Simulator) {
    const qrUrl = (configId: string) => `${sim.baseUrl ?? 'http://127.0.0.1'}/_sim/qr/${configId}.png`;
    for (const table of [customerRoutes, tagRoutes, contactWayRoutes(qrUrl), welcomeRoutes, transferRoutes, behaviorRoutes]) {
      const routes: Record<string, ApiRoute> = {};
      for (const [api, route] of Object.entries(table)) routes[api] = this.wrap(route);
      sim.addRoutes(routes);
    }
    for (const [key, handler] of Object.entries(customersControl(this))) sim.addControl(key, handler);
    // The lookups of a loaded company (100,000 customers in a benchmark) are built now, not inside the
    // first call: the platform answers its first call as fast as any other.
    const { state } = sim.stateFile;
    findUser(state, state.creator);
    if (state.customers) indexOf(state.customers);
    sim.addFile('/_sim/qr/', (path) => {
      const m = /^\/_sim\/qr\/([0-9a-f]{32})\.png$/.exec(path);
      if (!m) return undefined;
      this.sim.stateFile.refresh();
      const { cs } = customersOf(this.sim.stateFile.state);
      if (!cs.contact_ways.some((w) => w.config_id === m[1])) return undefined;
      return { contentType: 'image/png', body: qrPng(m[1]!) };
    });
  }

  private wrap(route: CustomerRoute): ApiRoute {
    return {
      method: route.method,
      allow: CUSTOMER_API,
      ok: route.ok,
      handler: (req) => {
        const { cs, seeded } = customersOf(req.state);
        if (this.settle(req.state, cs, req.now) || seeded) req.changed();
        return route.handler(req, cs);
      },
    };
  }

  /** Due transfers complete; follow users gone from contacts have left; old welcome codes go. True when state changed. */
  settle(state: SimState, cs: CustomerState, now: number): boolean {
    let changed = false;
    // Every call settles, and a scaled company has 10,000 follow users: look them up only when a member
    // list changed. Members leave by a new (filtered) or shorter array, never by an in-place swap.
    const seen = this.membersSeen;
    if (!seen || seen.users !== state.users || seen.size !== state.users.length || seen.follow !== cs.follow_users || seen.followSize !== cs.follow_users.length) {
      for (const userid of cs.follow_users) {
        if (findUser(state, userid)) continue;
        this.depart(cs, userid, userid, now);
        changed = true;
      }
      this.membersSeen = { users: state.users, size: state.users.length, follow: cs.follow_users, followSize: cs.follow_users.length };
    }
    if (settleTransfers(state, cs, now)) changed = true;
    if (pruneWelcomeCodes(cs, now)) changed = true;
    return changed;
  }

  /** A member left the company: no longer a follow user, their customers unassigned. */
  depart(cs: CustomerState, userid: string, name: string, now: number): void {
    setFollow(cs, userid, false);
    if (!cs.departed.some((d) => d.userid.toLowerCase() === userid.toLowerCase()) && indexOf(cs).relationsOf(userid).length > 0) {
      cs.departed.push({ userid, name, at: now });
    }
  }

  /** For the control surface: fresh state, settled. */
  begin(): { state: SimState; cs: CustomerState; now: number } {
    this.sim.stateFile.refresh();
    const state = this.sim.stateFile.state;
    const now = this.sim.clock.now();
    const { cs, seeded } = customersOf(state);
    if (this.settle(state, cs, now) || seeded) this.changed();
    return { state, cs, now };
  }

  changed(): void {
    if (!this.closed) this.sim.stateFile.markDirty();
  }

  /**
   * Settles the state and builds its lookups now, at start, rather than inside the first customer call:
   * with 100,000 customers that is a tenth of a second the platform itself never spends on a call.
   */
  warm(): void {
    indexOf(this.begin().cs);
  }

  /** Delivers an event to the 客户联系 callback URL, if one is configured. */
  async deliver(fields: XmlFields): Promise<PostOutcome | undefined> {
    const cfg = this.callback;
    if (!cfg || this.closed) return undefined;
    return deliverEvent(cfg, this.sim.credentials.corp_id, fields, () => Math.floor(this.sim.clock.now() / 1000), this.stop.signal);
  }

  verify() {
    return verifyCallbackUrl(this.callback!, this.sim.credentials.corp_id, Math.floor(this.sim.clock.now() / 1000));
  }

  close(): void {
    this.closed = true;
    this.stop.abort();
  }
}
