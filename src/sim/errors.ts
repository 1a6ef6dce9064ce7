import { randomBytes } from 'node:crypto';

/**
 * The platform's error envelope (wecom.md §0.2): HTTP 200, `errcode`, and an `errmsg` with the
 * `hint: [...] from ip: ... more info at ...` tail real responses carry.
 */
const SHORT: Record<number, string> = {
  [-1]: 'system busy',
  40001: 'invalid credential',
  40003: 'invalid userid',
  40005: 'invalid file type',
  40007: 'invalid media_id',
  40008: 'invalid message type',
  40009: 'invalid image size',
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
  40096: 'invalid external userid',
  40097: 'handover user has not resigned',
  40098: 'user not real-name verified',
  40126: 'corp tag count out of limit',
  40128: 'customer transferred too often',
  40129: 'customer is being transferred',
  40130: 'handover and takeover user are the same',
  40131: 'handover user does not follow the customer',
  41001: 'access_token missing',
  41002: 'corpid missing',
  41004: 'corpsecret missing',
  41009: 'missing userid',
  41035: 'missing external userid',
  41037: 'missing contact way type',
  41038: 'missing contact way scene',
  41039: 'invalid contact way type',
  41040: 'invalid contact way scene',
  41041: 'contact way user count out of limit',
  41042: 'invalid contact way style',
  41043: 'missing contact way config_id',
  41044: 'invalid contact way config_id',
  41045: 'contact way count out of limit',
  41049: 'missing welcome code',
  41050: 'invalid welcome code',
  41051: 'externaluser has started chatting',
  41054: 'user not active',
  41065: 'invalid attachment type',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  44002: 'empty post data',
  44004: 'empty content',
  45002: 'content size out of limit',
  45009: 'api freq out of limit',
  45033: 'api concurrent out of limit',
  46004: 'user not found',
  47001: 'data format error',
  48002: 'api forbidden',
  50100: 'invalid cursor',
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
  82002: 'invalid partyid list size',
  84061: 'not external contact',
  84074: 'no external contact permission',
  93000: 'invalid webhook url',
  301005: 'not allow to delete creator',
  301019: 'media md5 not match',
  600018: 'invalid start endtime',
};

export class ApiError extends Error {
  constructor(
    readonly errcode: number,
    readonly extra: Record<string, unknown> = {},
    readonly httpStatus = 200,
    /** The errmsg text before the hint tail, when the platform says more than the short text (`markdown.content exceed max length 4096`). */
    text?: string,
  ) {
    super(text ?? SHORT[errcode] ?? `error ${errcode}`);
  }
}

export function errmsg(errcode: number, text?: string): string {
  const rid = randomBytes(6).toString('hex');
  return `${text ?? SHORT[errcode] ?? 'error'}, hint: [${Date.now().toString(36)}-${rid}], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
}

/** Which platform answers: their errmsg texts and tails differ. */
export type Platform = 'wecom' | 'mp';

/**
 * The Official Account's texts (mp.md §1.3, §2.6, §3, §10): the same code can mean another thing than
 * on WeCom (40003 is an openid, 48002 a follower refusing messages). Codes not listed here fall back to
 * the WeCom text.
 */
const MP_SHORT: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40007: 'invalid media_id',
  40008: 'invalid message type',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40016: 'invalid button size',
  40017: 'invalid button type',
  40018: 'invalid button name size',
  40019: 'invalid button key size',
  40020: 'invalid button url size',
  40022: 'invalid sub_menu level',
  40023: 'invalid sub button size',
  40024: 'invalid sub button type',
  40025: 'invalid sub button name size',
  40026: 'invalid sub button key size',
  40027: 'invalid sub button url size',
  40032: 'invalid openid list size',
  40054: 'invalid sub button url domain',
  40055: 'invalid button url domain',
  40125: 'invalid appsecret',
  40130: 'invalid openid list size, at least two openid',
  40132: 'invalid username',
  40165: 'invalid weapp pagepath',
  40166: 'invalid weapp appid',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  42001: 'access_token expired',
  43004: 'require subscribe',
  44004: 'empty content',
  45002: 'content size out of limit',
  45008: 'article size out of limit',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit, must slower, retry next minute',
  45015: 'response out of time limit or subscription is canceled',
  45047: 'out of response count limit',
  45056: 'too many tags now, no need to add new',
  45057: "can't delete the tag that has too many fans",
  45058: "can't modify sys tag",
  45059: 'user has too many tags',
  45065: 'clientmsgid exist',
  45066: 'same clientmsgid retry too fast',
  45067: 'clientmsgid size out of limit',
  45157: 'invalid tag name',
  45158: 'tag name too long',
  45159: 'invalid tag id',
  46003: 'menu no exist',
  46004: 'user not exist',
  48001: 'api unauthorized',
  48002: 'user refuse to accept the msg',
  48006: 'forbid to clear quota because of reaching the limit',
  61451: 'invalid parameter',
  61500: 'date format error',
  61501: 'date range error',
  76021: 'cgi_path not found, please check',
  85005: 'appid not bind weapp',
  89015: 'has linked once',
};

/** MP errmsgs end in ` rid: xxxxxxxx-xxxxxxxx-xxxxxxxx` (mp.md §0): the time in hex, then two random words. */
export function mpErrmsg(errcode: number): string {
  const rid = `${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
  return `${MP_SHORT[errcode] ?? SHORT[errcode] ?? 'error'} rid: ${rid}`;
}

export function errorBody(err: ApiError, platform: Platform = 'wecom'): Record<string, unknown> {
  if (platform === 'mp') return { errcode: err.errcode, errmsg: mpErrmsg(err.errcode), ...err.extra };
  return { errcode: err.errcode, errmsg: errmsg(err.errcode, err.message), ...err.extra };
}
