import type { SecretKind } from './auth.js';
import type { SimState } from './state.js';

/** What an API handler gets: the parsed request, the company state and the simulated time. */
export interface ApiRequest {
  api: string;
  method: 'GET' | 'POST';
  query: URLSearchParams;
  body: any;
  raw: Buffer;
  contentType: string;
  secret: SecretKind;
  state: SimState;
  now: number;
  /** Call after changing `state` so it is written to disk. */
  changed(): void;
  options: { unknownDepartmentErrcode: 60003 | 60123 };
}

export type ApiHandler = (req: ApiRequest) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface ApiRoute {
  method: 'GET' | 'POST';
  /** Which secrets may call it (48002 otherwise). */
  allow: SecretKind[];
  /** Success errmsg: "ok", "created", "updated", "deleted". */
  ok?: string;
  handler: ApiHandler;
}

export const CONTACTS_READ: SecretKind[] = ['contacts', 'app'];
export const CONTACTS_WRITE: SecretKind[] = ['contacts'];
