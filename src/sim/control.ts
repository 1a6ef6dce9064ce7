import type { FaultConfig } from './faults.js';
import type { Simulator } from './server.js';

/**
 * `/_sim/`: what people and time do on the platform's side. Keys are `METHOD path`; later issues
 * register their events (a customer adds a member, a follower subscribes …) with `addControl`.
 */
export type ControlHandler = (req: { body: any; query: URLSearchParams }) => unknown | Promise<unknown>;

export function controlRoutes(sim: Simulator): Record<string, ControlHandler> {
  const faults = () => sim.faults.config;
  return {
    'GET /health': () => ({ ok: true }),
    'GET /clock': () => ({ now_ms: sim.clock.now() }),
    'POST /clock': ({ body }) => {
      if (typeof body.advance_ms === 'number') sim.clock.advance(body.advance_ms);
      else if (typeof body.set_ms === 'number') sim.clock.set(body.set_ms);
      else throw new Error('give advance_ms or set_ms (numbers)');
      return { now_ms: sim.clock.now() };
    },
    'GET /faults': faults,
    'POST /faults': ({ body }) => {
      const { expire_tokens, ...patch } = body as FaultConfig & { expire_tokens?: boolean };
      if (expire_tokens) sim.tokens.expireAll();
      sim.faults.merge(patch);
      return faults();
    },
    'DELETE /faults': () => {
      sim.faults.reset();
      return faults();
    },
    'GET /stats': () => ({ calls: Object.fromEntries(sim.stats) }),
    'POST /reset': () => {
      sim.reset();
      return { ok: true };
    },
  };
}
