import { randomBytes } from 'node:crypto';
import { ApiError } from './errors.js';
import type { SimClock } from './clock.js';
import type { Faults } from './faults.js';

export type SecretKind = 'contacts' | 'app' | 'customer';

export interface DemoCredentials {
  corp_id: string;
  contacts_secret: string;
  app_secret: string;
  agent_id: number;
  customer_secret: string;
  callback_token: string;
  encoding_aes_key: string;
  /** The Official Account (mp.md): AppID, AppSecret, original id (gh_…), and its server-URL token and EncodingAESKey. */
  mp_appid: string;
  mp_secret: string;
  mp_original_id: string;
  mp_token: string;
  mp_aes_key: string;
  /** The group robot's webhook key (wecom.md §6.3): `POST /cgi-bin/webhook/send?key=…`, no access token. */
  webhook_key: string;
  /** The 智能机器人 (wecom.md §8.6 A): its aibotid, and the Token and EncodingAESKey of its URL callback (receive id ""). */
  bot_id: string;
  bot_token: string;
  bot_aes_key: string;
}

/**
 * Tokens per (corp, secret), as `gettoken` issues them (wecom.md §1.1). Expired tokens are answered
 * with 40014 by default — what the real platform usually does — or 42001 when the faults say so.
 */
export class Tokens {
  private readonly issued = new Map<string, { kind: SecretKind; expiresAt: number }>();

  constructor(
    private readonly creds: DemoCredentials,
    private readonly clock: SimClock,
    private readonly faults: Faults,
  ) {}

  issue(corpid: string | null, secret: string | null): { access_token: string; expires_in: number } {
    if (!corpid) throw new ApiError(41002);
    if (!secret) throw new ApiError(41004);
    if (corpid !== this.creds.corp_id) throw new ApiError(40013);
    const kind = this.kindOf(secret);
    if (!kind) throw new ApiError(40001);
    const ttl = this.faults.config.token_ttl_s ?? 7200;
    const token = randomBytes(48).toString('base64url');
    this.issued.set(token, { kind, expiresAt: this.clock.now() + ttl * 1000 });
    return { access_token: token, expires_in: ttl };
  }

  check(token: string | null): SecretKind {
    if (!token) throw new ApiError(41001);
    const t = this.issued.get(token);
    if (!t) throw new ApiError(40014);
    if (t.expiresAt <= this.clock.now()) throw new ApiError(this.faults.config.expired_token_errcode ?? 40014);
    return t.kind;
  }

  expireAll(): void {
    for (const t of this.issued.values()) t.expiresAt = 0;
  }

  private kindOf(secret: string): SecretKind | undefined {
    if (secret === this.creds.contacts_secret) return 'contacts';
    if (secret === this.creds.app_secret) return 'app';
    if (secret === this.creds.customer_secret) return 'customer';
    return undefined;
  }
}
