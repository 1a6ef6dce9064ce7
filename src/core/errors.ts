import { t, type Text } from './i18n.js';

/**
 * Every failure a user can see is a WxopsError: a stable machine code, a one-sentence bilingual
 * message naming what to fix, and the category that decides the `wxops run` exit code.
 */
export type ErrorCategory = 'input' | 'failed' | 'denied' | 'approval';

export const EXIT_CODES: Record<ErrorCategory | 'ok', number> = {
  ok: 0,
  failed: 1,
  input: 2,
  denied: 3,
  approval: 4,
};

export class WxopsError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly text: Text;
  readonly details?: unknown;

  constructor(code: string, category: ErrorCategory, text: Text, details?: unknown) {
    super(text.en);
    this.name = 'WxopsError';
    this.code = code;
    this.category = category;
    this.text = text;
    this.details = details;
  }
}

/** Bad input: parse, validation, unknown or ambiguous names. Exit code 2. */
export class InputError extends WxopsError {
  constructor(code: string, text: Text, details?: unknown) {
    super(code, 'input', text, details);
    this.name = 'InputError';
  }
}

/** The policy denied the command. Exit code 3. */
export class DeniedError extends WxopsError {
  constructor(text: Text, details?: unknown) {
    super('DENIED', 'denied', text, details);
    this.name = 'DeniedError';
  }
}

/**
 * The platform answered with a non-zero errcode (or could not be reached). `errcode` is the
 * platform's number (or a negative local code for transport failures), `api` the path called.
 * Messages never contain tokens or secrets: they are built from the errcode table, not from the URL.
 */
export class PlatformError extends WxopsError {
  readonly errcode: number;
  readonly api: string;
  readonly platformMessage: string;

  constructor(api: string, errcode: number, platformMessage: string, text?: Text) {
    super(
      `PLATFORM_${errcode}`,
      'failed',
      text ??
        t(
          '企业微信接口 {api} 返回错误 {code}：{msg}',
          'The WeCom API {api} answered with error {code}: {msg}',
          { api, code: errcode, msg: platformMessage },
        ),
    );
    this.name = 'PlatformError';
    this.errcode = errcode;
    this.api = api;
    this.platformMessage = platformMessage;
  }
}

/** A runtime failure that is not the user's fault and not a platform refusal. Exit code 1. */
export class RuntimeFailure extends WxopsError {
  constructor(code: string, text: Text, details?: unknown) {
    super(code, 'failed', text, details);
    this.name = 'RuntimeFailure';
  }
}

export function exitCodeFor(err: unknown): number {
  return err instanceof WxopsError ? EXIT_CODES[err.category] : EXIT_CODES.failed;
}

/** The command is waiting for approval: not a failure, but not done either. Exit code 4. */
export class ApprovalPending extends WxopsError {
  constructor(text: Text, details: { request_id: string; approvers: string[][]; plan: unknown; expires_at: string }) {
    super('APPROVAL_PENDING', 'approval', text, details);
    this.name = 'ApprovalPending';
  }
}

/** The English sentence of a WxopsError, else the message: what the operator's log records for a failure. */
export function errorText(err: unknown): string {
  return (err as { text?: { en: string } }).text?.en ?? (err as Error)?.message ?? String(err);
}
