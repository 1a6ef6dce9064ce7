import type { DemoCredentials } from './auth.js';
import { DEMO_CORP_ID } from './seed.js';
import { Simulator } from './server.js';

export type { DemoCredentials } from './auth.js';
export { Simulator } from './server.js';

/** Fixed demo credentials, printed by `wxops sim` and used by sandbox mode. Not secrets of anyone. */
export const DEMO_CREDENTIALS: DemoCredentials = {
  corp_id: DEMO_CORP_ID,
  contacts_secret: 'SimContactsSyncSecret0000000000000000000001',
  app_secret: 'SimAppSecret00000000000000000000000000000002',
  agent_id: 1000002,
  customer_secret: 'SimCustomerContactSecret0000000000000000003',
  callback_token: 'SimCallbackToken2026',
  encoding_aes_key: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  mp_appid: 'wx5d3f1a2b3c4d5e6f',
  mp_secret: 'SimMpAppSecret000000000000000004',
  mp_original_id: 'gh_5a1b2c3d4e5f',
  mp_token: 'SimMpToken2026',
  mp_aes_key: 'MpSimAesKey0123456789abcdefghijklmnopqrstuv',
  webhook_key: '6a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d',
  bot_id: 'aibSimWxopsOpsBot2026-demo0001',
  bot_token: 'SimBotToken2026',
  bot_aes_key: 'BotSimAesKey0123456789abcdefghijklmnopqrstu',
};

export interface SimulatorOptions {
  dataDir: string;
  port?: number;
  host?: string;
  latencyMs?: number;
  /**
   * Benchmarks: that many extra members (spread over the departments, all enabled for 客户联系) and
   * that many customers spread evenly over them. Applies when the company is seeded (a fresh data
   * directory, or `/_sim/reset`); the demo company's named facts stay as they are.
   */
  scale?: { members: number; customers: number };
}

export interface SimulatorHandle {
  baseUrl: string;
  mpBaseUrl: string;
  controlUrl: string;
  credentials: DemoCredentials;
  /** The WXOPS_* variables that point wxops at this simulator, exactly as in live mode. */
  env: Record<string, string>;
  simulator: Simulator;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function startSimulator(opts: SimulatorOptions): Promise<SimulatorHandle> {
  const credentials = DEMO_CREDENTIALS;
  const sim = new Simulator(credentials, opts.dataDir, opts.latencyMs ?? 0, { scale: opts.scale });
  sim.customers.warm();
  const host = opts.host ?? '127.0.0.1';
  const address = await sim.listen(opts.port ?? 0, host);
  const baseUrl = `http://${host}:${address.port}`;
  const mpBaseUrl = `${baseUrl}/mp`;
  return {
    baseUrl,
    mpBaseUrl,
    controlUrl: `${baseUrl}/_sim`,
    credentials,
    env: {
      WXOPS_WECOM_BASE_URL: baseUrl,
      WXOPS_MP_BASE_URL: mpBaseUrl,
      WXOPS_CORP_ID: credentials.corp_id,
      WXOPS_CONTACTS_SECRET: credentials.contacts_secret,
      WXOPS_APP_SECRET: credentials.app_secret,
      WXOPS_AGENT_ID: String(credentials.agent_id),
      WXOPS_CUSTOMER_SECRET: credentials.customer_secret,
      WXOPS_CALLBACK_TOKEN: credentials.callback_token,
      WXOPS_CALLBACK_AES_KEY: credentials.encoding_aes_key,
      WXOPS_MP_APPID: credentials.mp_appid,
      WXOPS_MP_SECRET: credentials.mp_secret,
      WXOPS_MP_TOKEN: credentials.mp_token,
      WXOPS_MP_AES_KEY: credentials.mp_aes_key,
      WXOPS_WEBHOOK_KEY: credentials.webhook_key,
      WXOPS_BOT_TOKEN: credentials.bot_token,
      WXOPS_BOT_AES_KEY: credentials.bot_aes_key,
    },
    simulator: sim,
    flush: async () => sim.stateFile.flush(),
    close: () => sim.close(),
  };
}
