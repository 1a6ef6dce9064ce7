import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { WxopsError } from '../../src/core/errors.js';
import {
  buildReply,
  CallbackDedupe,
  CallbackRejected,
  CallbackVerifier,
  dedupeKey,
  findEncrypt,
  parseXml,
  replyWithin,
  type RejectReason,
} from '../../src/platform/callback/index.js';

// parseXml is wrapped in a spy (the verifier gets the same module), to prove that no body is parsed
// before its signature has been checked.
vi.mock('../../src/platform/callback/xml.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/platform/callback/xml.js')>();
  return { ...mod, parseXml: vi.fn(mod.parseXml) };
});
const parseSpy = vi.mocked(parseXml);

const TOKEN = 'wxopsCbToken2026';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const APPID = 'wx0123456789abcdef';
const CORPID = 'ww0123456789abcdef';
const NOW_MS = 1_700_000_000_000;
const TS = String(NOW_MS / 1000);
const NONCE = '1372623149';
const RANDOM = Buffer.alloc(16, 7); // fixed, so tampering below hits the same bytes every run
const BIG_MSGID = '6929811451463413248'; // > 2^53: a number would round it

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

function mp(extra: Partial<ConstructorParameters<typeof CallbackVerifier>[0]> = {}) {
  return new CallbackVerifier({ token: TOKEN, aesKey: AES_KEY, receiveId: APPID, platform: 'mp', now: () => NOW_MS, ...extra });
}
function wecom(extra: Partial<ConstructorParameters<typeof CallbackVerifier>[0]> = {}) {
  return new CallbackVerifier({ token: TOKEN, aesKey: AES_KEY, receiveId: CORPID, platform: 'wecom', now: () => NOW_MS, ...extra });
}

const textMsg = (content = '你好，营业吗？') =>
  `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oLVPpjqs9BhvzwPj5A-vTYAX3GLc]]></FromUserName>` +
  `<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content><MsgId>${BIG_MSGID}</MsgId></xml>`;

/** A plain-mode MP request, signed like the platform signs it (or with `sig` instead). */
function plainRequest(body: string, opts: { ts?: string; sig?: string; token?: string } = {}) {
  const ts = opts.ts ?? TS;
  const signature = opts.sig ?? sha1([opts.token ?? TOKEN, ts, NONCE].sort().join(''));
  const query = new URLSearchParams({ signature, timestamp: ts, nonce: NONCE, openid: 'oLVPpjqs9BhvzwPj5A-vTYAX3GLc' });
  return { query, body: Buffer.from(body) };
}

/** A safe-mode request: the plaintext encrypted for `id`, msg_signature over the Encrypt text. */
function safeRequest(
  plaintext: string,
  opts: { id?: string; ts?: string; token?: string; platform?: 'mp' | 'wecom'; alter?: (encrypt: string) => string; sign?: 'altered' | 'original'; outer?: (enc: string) => string } = {},
) {
  const platform = opts.platform ?? 'mp';
  const ts = opts.ts ?? TS;
  const token = opts.token ?? TOKEN;
  const original = encrypt(AES_KEY, plaintext, opts.id ?? (platform === 'mp' ? APPID : CORPID), RANDOM);
  const sent = opts.alter ? opts.alter(original) : original;
  const msgSignature = getSignature(token, ts, NONCE, opts.sign === 'original' ? original : sent);
  const query =
    platform === 'mp'
      ? new URLSearchParams({
          signature: sha1([token, ts, NONCE].sort().join('')),
          timestamp: ts,
          nonce: NONCE,
          openid: 'oLVPpjqs9BhvzwPj5A-vTYAX3GLc',
          encrypt_type: 'aes',
          msg_signature: msgSignature,
        })
      : new URLSearchParams({ msg_signature: msgSignature, timestamp: ts, nonce: NONCE });
  const body = opts.outer
    ? opts.outer(sent)
    : platform === 'mp'
      ? `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[${sent}]]></Encrypt></xml>`
      : `<xml><ToUserName><![CDATA[${CORPID}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[${sent}]]></Encrypt></xml>`;
  return { query, body: Buffer.from(body) };
}

/** Runs `fn`, expects a CallbackRejected with `reason`, returns it. */
function rejected(fn: () => unknown, reason: RejectReason): CallbackRejected {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CallbackRejected);
    const e = err as CallbackRejected;
    expect(e.reason).toBe(reason);
    return e;
  }
  throw new Error(`expected a rejection for ${reason}`);
}

beforeEach(() => {
  parseSpy.mockClear();
});

describe('signatures', () => {
  it('the plain-mode signature is @wecom/crypto getSignature with an empty Encrypt', () => {
    for (const [ts, nonce] of [[TS, NONCE], ['1', 'zzz'], ['1699999999', '0']]) {
      expect(getSignature(TOKEN, ts, nonce, '')).toBe(sha1([TOKEN, ts, nonce].sort().join('')));
    }
  });
});

describe('URL verification (GET)', () => {
  it('MP: checks the plain signature and returns echostr verbatim', () => {
    const query = new URLSearchParams({ signature: sha1([TOKEN, TS, NONCE].sort().join('')), timestamp: TS, nonce: NONCE, echostr: '5838479218127813673' });
    expect(mp().verifyUrl(query)).toBe('5838479218127813673');
    // also without an AES key (plain mode): the MP echostr is never encrypted
    expect(mp({ aesKey: undefined }).verifyUrl(query)).toBe('5838479218127813673');
    query.set('signature', sha1('forged'));
    expect(rejected(() => mp().verifyUrl(query), 'signature').status).toBe(403);
  });

  it('WeCom: checks msg_signature over the echostr, decrypts it and checks the corp id', () => {
    const echostr = encrypt(AES_KEY, '8374562108', CORPID);
    const sig = getSignature(TOKEN, TS, NONCE, echostr);
    const raw = `msg_signature=${sig}&timestamp=${TS}&nonce=${NONCE}&echostr=${encodeURIComponent(echostr)}`;
    expect(wecom().verifyUrl(new URLSearchParams(raw))).toBe('8374562108');
    // an unencoded '+' arrives as a space; base64 has none, so it is put back
    const plus = encrypt(AES_KEY, '8374562108', CORPID, Buffer.from('++++++++++++++++').subarray(0, 16));
    const unescaped = new URLSearchParams(`msg_signature=${getSignature(TOKEN, TS, NONCE, plus)}&timestamp=${TS}&nonce=${NONCE}&echostr=${plus}`);
    if (plus.includes('+')) expect(unescaped.get('echostr')).toContain(' ');
    expect(wecom().verifyUrl(unescaped)).toBe('8374562108');

    const other = encrypt(AES_KEY, '8374562108', 'wwSOMEOTHERCORP');
    const q = new URLSearchParams({ msg_signature: getSignature(TOKEN, TS, NONCE, other), timestamp: TS, nonce: NONCE, echostr: other });
    expect(rejected(() => wecom().verifyUrl(q), 'receiver').status).toBe(403);
    const stale = new URLSearchParams({ msg_signature: getSignature(TOKEN, '1699990000', NONCE, echostr), timestamp: '1699990000', nonce: NONCE, echostr });
    rejected(() => wecom().verifyUrl(stale), 'timestamp');
    rejected(() => wecom().verifyUrl(new URLSearchParams({ msg_signature: sig, timestamp: TS, nonce: NONCE })), 'malformed');
  });
});

describe('POST: accepted', () => {
  it('plain mode: the message with all leaves as strings, CDATA unwrapped, nested elements as objects', () => {
    const { query, body } = plainRequest(textMsg());
    const opened = mp().open(query, body);
    expect(opened.encrypted).toBe(false);
    expect(opened.message).toEqual({
      ToUserName: 'gh_0123456789ab',
      FromUserName: 'oLVPpjqs9BhvzwPj5A-vTYAX3GLc',
      CreateTime: '1700000000',
      MsgType: 'text',
      Content: '你好，营业吗？',
      MsgId: BIG_MSGID,
    });

    const event =
      '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[o_1]]></FromUserName><CreateTime>1700000000</CreateTime>' +
      '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[scancode_waitmsg]]></Event><EventKey><![CDATA[007]]></EventKey>' +
      '<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[1]]></ScanResult></ScanCodeInfo>' +
      '<SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum></item></PicList></SendPicsInfo>' +
      '<AgentID></AgentID><Note>a &amp; b &lt; c &#20320;&#x597D;</Note></xml>';
    const m = mp().open(plainRequest(event).query, Buffer.from(event)).message;
    expect(m.EventKey).toBe('007');
    expect(m.ScanCodeInfo).toEqual({ ScanType: 'qrcode', ScanResult: '1' });
    expect(m.SendPicsInfo).toEqual({ Count: '1', PicList: { item: [{ PicMd5Sum: '1b5f7c23b5bf75682a53e7b6d163e185' }] } });
    expect(m.AgentID).toBe('');
    expect(m.Note).toBe('a & b < c 你好');
  });

  it('MP safe mode: decrypted with the AppID checked', () => {
    const { query, body } = safeRequest(textMsg('安全模式'));
    const opened = mp().open(query, body);
    expect(opened).toEqual({ encrypted: true, message: expect.objectContaining({ Content: '安全模式', MsgId: BIG_MSGID }) });
  });

  it('WeCom app callback: decrypted with the corp id checked', () => {
    const plaintext =
      `<xml><ToUserName><![CDATA[${CORPID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime>` +
      '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[batch_job_result]]></Event>' +
      '<BatchJob><JobId><![CDATA[S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4]]></JobId><JobType><![CDATA[sync_user]]></JobType><ErrCode>0</ErrCode><ErrMsg><![CDATA[ok]]></ErrMsg></BatchJob></xml>';
    const { query, body } = safeRequest(plaintext, { platform: 'wecom' });
    const opened = wecom().open(query, body);
    expect(opened.encrypted).toBe(true);
    expect(opened.message.BatchJob).toEqual({ JobId: 'S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4', JobType: 'sync_user', ErrCode: '0', ErrMsg: 'ok' });
  });

  it('compat mode: the encrypted part wins, and a typed "<Encrypt>" in a plaintext field cannot shadow it', () => {
    const outer = (enc: string) =>
      `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oLVPpjqs9BhvzwPj5A-vTYAX3GLc]]></FromUserName>` +
      `<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
      `<Content><![CDATA[<Encrypt>AAAA</Encrypt> plaintext copy]]></Content><!-- <Encrypt>BBBB</Encrypt> -->` +
      `<MsgId>${BIG_MSGID}</MsgId><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`;
    const { query, body } = safeRequest(textMsg('<Encrypt>AAAA</Encrypt> encrypted copy'), { outer });
    const opened = mp().open(query, body);
    expect(opened.encrypted).toBe(true);
    expect(opened.message.Content).toBe('<Encrypt>AAAA</Encrypt> encrypted copy');
  });

  it('timestamps just inside the window pass', () => {
    for (const ts of [String(NOW_MS / 1000 - 300), String(NOW_MS / 1000 + 300)]) {
      expect(mp().open(plainRequest(textMsg(), { ts }).query, plainRequest(textMsg(), { ts }).body).message.MsgId).toBe(BIG_MSGID);
    }
  });
});

describe('POST: rejected, in the right order', () => {
  it('bad signature and wrong token → signature (403), body never parsed', () => {
    const { query, body } = plainRequest(textMsg(), { sig: sha1('nope') });
    expect(rejected(() => mp().open(query, body), 'signature').status).toBe(403);
    const other = plainRequest(textMsg(), { token: 'someoneElsesToken' });
    rejected(() => mp().open(other.query, other.body), 'signature');
    const safe = safeRequest(textMsg(), { token: 'someoneElsesToken' });
    rejected(() => mp().open(safe.query, safe.body), 'signature');
    rejected(() => wecom().open(safeRequest(textMsg(), { platform: 'wecom', token: 'x1' }).query, safeRequest(textMsg(), { platform: 'wecom' }).body), 'signature');
    const noSig = new URLSearchParams({ timestamp: TS, nonce: NONCE });
    rejected(() => mp().open(noSig, body), 'signature');
    expect(parseSpy).not.toHaveBeenCalled();
  });

  it('a malformed body with a bad signature fails as signature, with a good one as malformed', () => {
    const junk = '<xml><a>1</xml><<<<!DOCTYPE';
    rejected(() => mp().open(plainRequest(junk, { sig: sha1('forged') }).query, Buffer.from(junk)), 'signature');
    expect(parseSpy).not.toHaveBeenCalled();
    const e = rejected(() => mp().open(plainRequest(junk).query, Buffer.from(junk)), 'malformed');
    expect(e.status).toBe(400);
    expect(parseSpy).toHaveBeenCalledTimes(1);

    // safe mode: the signature covers the Encrypt text; without a usable one, only a body signed over ""
    // can get as far as "malformed"
    const noEncrypt = Buffer.from('<xml><ToUserName>gh_x</ToUserName></xml>');
    const q = safeRequest(textMsg()).query;
    rejected(() => mp().open(q, noEncrypt), 'signature');
    q.set('msg_signature', getSignature(TOKEN, TS, NONCE, ''));
    rejected(() => mp().open(q, noEncrypt), 'malformed');
    // an encrypted plaintext that is not XML
    const bad = safeRequest('<xml><Content>unclosed</xml>');
    rejected(() => mp().open(bad.query, bad.body), 'malformed');
  });

  it('stale or future timestamps → timestamp (403), after the signature', () => {
    for (const ts of [String(NOW_MS / 1000 - 301), String(NOW_MS / 1000 + 301), '1', '99999999999']) {
      const { query, body } = plainRequest(textMsg(), { ts });
      expect(rejected(() => mp().open(query, body), 'timestamp').status).toBe(403);
      const safe = safeRequest(textMsg(), { ts });
      rejected(() => mp().open(safe.query, safe.body), 'timestamp');
    }
    rejected(() => mp().open(plainRequest(textMsg(), { ts: 'soon' }).query, Buffer.from(textMsg())), 'timestamp');
    // a forged stale request is a signature failure first
    rejected(() => mp().open(plainRequest(textMsg(), { ts: '1', sig: sha1('x') }).query, Buffer.from(textMsg())), 'signature');
    expect(mp({ windowS: 10 }).open(plainRequest(textMsg(), { ts: String(NOW_MS / 1000 - 10) }).query, Buffer.from(textMsg())).encrypted).toBe(false);
    expect(parseSpy).toHaveBeenCalledTimes(1);
  });

  it('tampered ciphertext → signature when unsigned, decrypt when (re)signed', () => {
    const flip = (enc: string) => {
      const i = 40; // inside the message bytes
      return enc.slice(0, i) + (enc[i] === 'A' ? 'B' : 'A') + enc.slice(i + 1);
    };
    const unsigned = safeRequest(textMsg(), { alter: flip, sign: 'original' });
    rejected(() => mp().open(unsigned.query, unsigned.body), 'signature');
    const resigned = safeRequest(textMsg(), { alter: flip });
    expect(rejected(() => mp().open(resigned.query, resigned.body), 'decrypt').status).toBe(400);
    // truncated (not whole 32-byte blocks), and not base64 at all
    const short = safeRequest(textMsg(), { alter: (e) => e.slice(0, -8) });
    rejected(() => mp().open(short.query, short.body), 'decrypt');
    const notB64 = safeRequest(textMsg(), { alter: (e) => `${e.slice(0, 20)}.${e.slice(21)}` });
    rejected(() => mp().open(notB64.query, notB64.body), 'signature'); // not base64 → no usable Encrypt → signed over ""
    // a wrong AES key
    const wrongKey = mp({ aesKey: 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut' });
    const ok = safeRequest(textMsg());
    rejected(() => wrongKey.open(ok.query, ok.body), 'decrypt');
    expect(parseSpy).not.toHaveBeenCalled();
  });

  it('a message encrypted for another AppID / corp → receiver (403)', () => {
    const { query, body } = safeRequest(textMsg(), { id: 'wxFFFFFFFFFFFFFFFF' });
    expect(rejected(() => mp().open(query, body), 'receiver').status).toBe(403);
    const w = safeRequest(textMsg(), { platform: 'wecom', id: 'wwOTHERCORP' });
    rejected(() => wecom().open(w.query, w.body), 'receiver');
    // 智能机器人: receive id "" — a message for a corp is not one for the robot
    rejected(() => wecom({ receiveId: '' }).open(safeRequest(textMsg(), { platform: 'wecom' }).query, safeRequest(textMsg(), { platform: 'wecom' }).body), 'receiver');
    expect(wecom({ receiveId: '' }).open(safeRequest(textMsg(), { platform: 'wecom', id: '' }).query, safeRequest(textMsg(), { platform: 'wecom', id: '' }).body).encrypted).toBe(true);
    expect(parseSpy).toHaveBeenCalledTimes(1);
  });

  it('a 5 MB body → too-large (413) before anything else', () => {
    const huge = Buffer.alloc(5 * 1024 * 1024, 'a');
    const e = rejected(() => mp().open(new URLSearchParams(), huge), 'too-large');
    expect(e.status).toBe(413);
    rejected(() => mp().open(plainRequest('x').query, huge), 'too-large');
    rejected(() => wecom().open(new URLSearchParams({ msg_signature: 'bad' }), huge), 'too-large');
    rejected(() => mp({ maxBodyBytes: 100 }).open(plainRequest(textMsg()).query, Buffer.from(textMsg())), 'too-large');
    expect(parseSpy).not.toHaveBeenCalled();
  });

  it('encrypt_type=aes without an AES key → decrypt (400), but only once authenticated', () => {
    const noKey = mp({ aesKey: undefined });
    const { query, body } = safeRequest(textMsg());
    expect(rejected(() => noKey.open(query, body), 'decrypt').status).toBe(400);
    query.set('signature', sha1('forged'));
    rejected(() => noKey.open(query, body), 'signature');
    const odd = plainRequest(textMsg()).query;
    odd.set('encrypt_type', 'rsa');
    rejected(() => mp().open(odd, Buffer.from(textMsg())), 'malformed');
    expect(parseSpy).not.toHaveBeenCalled();
  });

  it('refuses XML bombs and prototype keys even when signed', () => {
    const bomb = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Content>&b;&b;&b;</Content></xml>';
    rejected(() => mp().open(plainRequest(bomb).query, Buffer.from(bomb)), 'malformed');
    const proto = '<xml><__proto__><polluted>yes</polluted></__proto__></xml>';
    rejected(() => mp().open(plainRequest(proto).query, Buffer.from(proto)), 'malformed');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('finds <Encrypt> whatever precedes it (CDATA, comments, unclosed tags)', () => {
    const noise = '<![CDATA[x]]><!-- c -->'.repeat(2800);
    expect(findEncrypt(`<xml>${noise}<Encrypt>QUJD</Encrypt></xml>`)).toBe('QUJD');
    expect(findEncrypt(`<xml>${'<Encrypt>'.repeat(7000)}`)).toBeUndefined();
    expect(findEncrypt('<xml><Encrypt>  <![CDATA[QUJD]]>\n</Encrypt></xml>')).toBe('QUJD');
    expect(findEncrypt('<xml><Encrypt><![CDATA[QU<JD]]></Encrypt></xml>')).toBeUndefined();
    expect(findEncrypt(Buffer.from('<xml><C><![CDATA[你好<Encrypt>X</Encrypt>]]></C><Encrypt>QUJD</Encrypt></xml>'))).toBe('QUJD');
  });
});

describe('seal', () => {
  it('encrypts and signs the reply; @wecom/crypto decrypts it to the reply for our receive id', () => {
    const v = mp();
    const reply = buildReply({ ToUserName: 'gh_0123456789ab', FromUserName: 'o_user' }, { type: 'text', content: '收到 ]]> ok' }, NOW_MS);
    const sealed = v.seal(reply, true);
    const env = parseXml(sealed);
    expect(Object.keys(env)).toEqual(['Encrypt', 'MsgSignature', 'TimeStamp', 'Nonce']);
    expect(env.TimeStamp).toBe(TS);
    expect(env.MsgSignature).toBe(getSignature(TOKEN, env.TimeStamp, env.Nonce, env.Encrypt));
    expect(decrypt(AES_KEY, env.Encrypt)).toMatchObject({ message: reply, id: APPID });
    // the verifier accepts its own envelope, as the platform would
    const q = new URLSearchParams({ msg_signature: env.MsgSignature, timestamp: env.TimeStamp, nonce: env.Nonce });
    expect(v.openCiphertext(q, env.Encrypt)).toBe(reply);
    // fresh nonce each time
    expect(parseXml(v.seal(reply, true)).Nonce).not.toBe(env.Nonce);
  });

  it('plain replies, empty replies and "success" go out as they are', () => {
    const reply = '<xml><Content>x</Content></xml>';
    expect(mp().seal(reply, false)).toBe(reply);
    expect(mp().seal('', true)).toBe('');
    expect(mp().seal('success', true)).toBe('success');
  });
});

describe('reply XML', () => {
  it('swaps the addresses, uses seconds, and round-trips "]]>" and Chinese through the parser', () => {
    const content = '价格 ]]> 见 <a href="x">链接</a> &amp; ]]]]> 末尾]]';
    const xml = buildReply({ ToUserName: 'gh_acct', FromUserName: 'o_follower' }, { type: 'text', content }, NOW_MS + 999);
    const back = parseXml(xml);
    expect(back).toEqual({ ToUserName: 'o_follower', FromUserName: 'gh_acct', CreateTime: TS, MsgType: 'text', Content: content });
    // characters XML forbids are dropped rather than breaking the document
    expect(parseXml(buildReply({ ToUserName: 'a', FromUserName: 'b' }, { type: 'text', content: 'a\u0001b\u0000c' })).Content).toBe('abc');
  });

  it('builds news, image and video replies', () => {
    const to = { ToUserName: 'gh_acct', FromUserName: 'o_follower' };
    const news = parseXml(buildReply(to, { type: 'news', articles: [{ title: '标题', description: '摘要', picurl: 'https://p/1.jpg', url: 'https://a/1?x=1&y=2' }] }));
    expect(news).toMatchObject({ MsgType: 'news', ArticleCount: '1', Articles: { item: [{ Title: '标题', Description: '摘要', PicUrl: 'https://p/1.jpg', Url: 'https://a/1?x=1&y=2' }] } });
    expect(parseXml(buildReply(to, { type: 'image', mediaId: 'MEDIA_1' })).Image).toEqual({ MediaId: 'MEDIA_1' });
    expect(parseXml(buildReply(to, { type: 'video', mediaId: 'M', title: 'T' })).Video).toEqual({ MediaId: 'M', Title: 'T' });
    expect(parseXml(buildReply(to, { type: 'transfer_customer_service' })).MsgType).toBe('transfer_customer_service');
    expect(() => buildReply(to, { type: 'news', articles: [] })).toThrow();
  });
});

describe('dedupe', () => {
  it('a retry while the first attempt runs gets the same reply, and the work runs once', async () => {
    const d = new CallbackDedupe();
    let release!: (s: string) => void;
    const work = vi.fn(() => new Promise<string>((r) => (release = r)));
    const msg = parseXml(textMsg());
    const first = d.run(dedupeKey(msg), work);
    const retry = d.run(dedupeKey(parseXml(textMsg())), work);
    expect(retry).toBe(first);
    release('<xml>reply</xml>');
    expect(await retry).toBe('<xml>reply</xml>');
    expect(await d.run(dedupeKey(msg), work)).toBe('<xml>reply</xml>');
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('forgets failures, so a retry after a crash runs again', async () => {
    const d = new CallbackDedupe();
    let n = 0;
    const work = () => (++n === 1 ? Promise.reject(new Error('crashed')) : Promise.resolve('ok'));
    await expect(d.run('k', work)).rejects.toThrow('crashed');
    expect(await d.run('k', work)).toBe('ok');
    expect(n).toBe(2);
    // a synchronous throw counts as a failure too
    await expect(
      d.run('s', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(d.has('s')).toBe(false);
  });

  it('evicts by TTL and by size', async () => {
    let now = 0;
    const d = new CallbackDedupe({ ttlMs: 1000, maxEntries: 3, now: () => now });
    const work = vi.fn(async () => 'r');
    await d.run('a', work);
    now = 999;
    await d.run('a', work);
    expect(work).toHaveBeenCalledTimes(1);
    now = 1000;
    await d.run('a', work); // expired: runs again
    expect(work).toHaveBeenCalledTimes(2);
    for (const k of ['b', 'c', 'd']) await d.run(k, work);
    expect(d.size).toBe(3);
    expect(d.has('a')).toBe(false); // oldest dropped
    expect(d.has('d')).toBe(true);
    now = 5000;
    await d.run('e', work);
    expect(d.size).toBe(1);
  });

  it('keys: MsgId per account; events by sender + time + content', () => {
    expect(dedupeKey({ ToUserName: 'gh_a', MsgId: '1' })).not.toBe(dedupeKey({ ToUserName: 'gh_b', MsgId: '1' }));
    expect(dedupeKey({ ToUserName: 'gh_a', MsgID: '9', Event: 'MASSSENDJOBFINISH' })).toBe(dedupeKey({ ToUserName: 'gh_a', MsgID: '9', Event: 'MASSSENDJOBFINISH' }));
    const ev = (user: string) => ({ ToUserName: CORPID, FromUserName: 'sys', CreateTime: '1700000000', MsgType: 'event', Event: 'change_contact', ChangeType: 'create_user', UserID: user });
    expect(dedupeKey(ev('lina'))).toBe(dedupeKey(ev('lina')));
    expect(dedupeKey(ev('lina'))).not.toBe(dedupeKey(ev('wang')));
    expect(dedupeKey({ MsgType: 'event' })).toBeUndefined();
  });

  it('replyWithin answers "" when the reply is late, and the reply itself when on time', async () => {
    expect(await replyWithin(new Promise<string>(() => {}), 20)).toBe('');
    expect(await replyWithin(Promise.resolve('fast'), 1000)).toBe('fast');
  });
});

describe('secrets', () => {
  it('no rejection, error JSON or stack carries the token or the AES key', () => {
    const errors: unknown[] = [];
    const grab = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        errors.push(e);
      }
    };
    const junk = Buffer.from('<xml>');
    grab(() => mp().open(plainRequest(textMsg(), { sig: sha1('x') }).query, Buffer.from(textMsg())));
    grab(() => mp().open(plainRequest(textMsg(), { ts: '1' }).query, Buffer.from(textMsg())));
    grab(() => mp().open(plainRequest('<xml>').query, junk));
    grab(() => mp().open(safeRequest(textMsg(), { id: 'other' }).query, safeRequest(textMsg(), { id: 'other' }).body));
    grab(() => mp().open(safeRequest(textMsg(), { alter: (e) => e.slice(0, -8) }).query, safeRequest(textMsg(), { alter: (e) => e.slice(0, -8) }).body));
    grab(() => mp({ aesKey: undefined }).open(safeRequest(textMsg()).query, safeRequest(textMsg()).body));
    grab(() => mp().open(new URLSearchParams(), Buffer.alloc(70_000)));
    grab(() => mp().open(new URLSearchParams(), junk));
    grab(() => new CallbackVerifier({ token: TOKEN, aesKey: `${AES_KEY}!`, receiveId: APPID, platform: 'mp' }));
    grab(() => new CallbackVerifier({ token: TOKEN, receiveId: CORPID, platform: 'wecom' }));
    grab(() => mp({ aesKey: undefined }).sealParts('x'));
    expect(errors).toHaveLength(11);
    for (const e of errors) {
      expect(e).toBeInstanceOf(WxopsError);
      const w = e as WxopsError;
      const all = [String(w), w.message, w.stack ?? '', JSON.stringify(w), w.text.zh, w.text.en].join('\n');
      expect(all).not.toContain(TOKEN);
      expect(all).not.toContain(AES_KEY);
      expect(all).not.toContain(AES_KEY.slice(0, 20));
    }
    // nor does the verifier itself, logged or serialised
    const v = mp();
    for (const shown of [JSON.stringify(v), inspect(v, { depth: 5, showHidden: true })]) {
      expect(shown).not.toContain(TOKEN);
      expect(shown).not.toContain(AES_KEY);
    }
    const json = JSON.parse(JSON.stringify(errors[0]));
    expect(json).toMatchObject({ reason: 'signature', status: 403, code: 'CALLBACK_SIGNATURE' });
  });
});
