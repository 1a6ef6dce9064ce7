import type { DemoCredentials } from '../auth.js';
import type { FaultConfig } from '../faults.js';
import type { MpState } from './types.js';

/** What an Official Account API handler gets. */
export interface MpRequest {
  api: string;
  method: 'GET' | 'POST';
  query: URLSearchParams;
  body: any;
  now: number;
  mp: MpState;
  creds: DemoCredentials;
  faults: FaultConfig;
  /** Call after changing `mp` so it is written to disk. */
  changed(): void;
}

export type MpHandler = (req: MpRequest) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface MpRoute {
  method: 'GET' | 'POST';
  /** `false` for the token calls, which take appid + secret instead of an access_token. */
  auth?: boolean;
  /**
   * Success bodies: by default `{errcode:0, errmsg:ok, ...result}`; `bare` ones carry no errcode at all
   * (token, tags/create, tags/get, user/get, user/info, menu/get, datacube — mp.md §0).
   */
  bare?: boolean;
  ok?: string;
  /** A POST that may come with an empty body (wxopen/wxamplinkget). */
  emptyBody?: boolean;
  handler: MpHandler;
}
