import { randomBytes } from 'node:crypto';

/**
 * The platform's error envelope (wecom.md §0.2): HTTP 200, `errcode`, and an `errmsg` with the
 * `hint: [...] from ip: ... more info at ...` tail real responses carry.
 */
const SHORT: Record<number, string> = {
  [-1]: 'system busy',
  40001: 'invalid credential',
  40003: 'invalid userid',
  40007: 'invalid media_id',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40031: 'invalid userid list or party list',
  40032: 'invalid list size',
  40058: 'invalid parameter',
  40066: 'invalid url',
  40068: 'invalid tagid',
  40070: 'all list invalid',
  40071: 'tag name exists',
  40072: 'invalid tag name length',
  41001: 'access_token missing',
  41002: 'corpid missing',
  41004: 'corpsecret missing',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  44002: 'empty post data',
  45009: 'api freq out of limit',
  45033: 'api concurrent out of limit',
  46004: 'user not found',
  47001: 'data format error',
  48002: 'api forbidden',
  60001: 'department name length invalid',
  60003: 'department not found',
  60004: 'parent department not found',
  60005: 'department contains users',
  60006: 'department contains sub-departments',
  60007: 'not allow to delete root department',
  60008: 'department existed',
  60009: 'invalid department name',
  60010: 'department cycle',
  60102: 'userid existed',
  60103: 'invalid mobile',
  60104: 'mobile existed',
  60105: 'invalid email',
  60106: 'email existed',
  60111: 'userid not found',
  60112: 'invalid username',
  60123: 'invalid party id',
  60127: 'missing department',
  60129: 'mobile and email can not be empty at the same time',
  81002: 'department level too deep',
  81011: 'no privilege to access/modify the tag',
  301005: 'not allow to delete creator',
};

export class ApiError extends Error {
  constructor(
    readonly errcode: number,
    readonly extra: Record<string, unknown> = {},
    readonly httpStatus = 200,
  ) {
    super(SHORT[errcode] ?? `error ${errcode}`);
  }
}

export function errmsg(errcode: number, text?: string): string {
  const rid = randomBytes(6).toString('hex');
  return `${text ?? SHORT[errcode] ?? 'error'}, hint: [${Date.now().toString(36)}-${rid}], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
}

export function errorBody(err: ApiError): Record<string, unknown> {
  return { errcode: err.errcode, errmsg: errmsg(err.errcode, err.message), ...err.extra };
}
