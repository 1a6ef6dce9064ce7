import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encrypt, getSignature } from '@wecom/crypto';
import { Autoreplies, saveAutoreply, type KeywordReply } from '../src/mp/autoreply.js';
import { MpCallback } from '../src/mp/callback.js';
import { EventCounters } from '../src/mp/counters.js';
import { KeywordMatcher, NaiveMatcher } from '../src/mp/matcher.js';
import { CallbackVerifier } from '../src/platform/callback/index.js';
import { silentLogger } from '../src/platform/redact.js';
import { LowdbStore } from '../src/store/lowdb-store.js';
import { fmtMs, line, percentile } from './stats.js';

/**
 * Official Account callback handling (issue 5): verify the signature, decrypt (safe mode), parse the XML,
 * match among 1,000 keyword rules, build and encrypt the reply — per message, on one core. And the
 * matching alone: the compiled matcher against the obvious loop over the rules, on the same messages.
 */
const RULES = 1000;
const MESSAGES = 20_000;
const TOKEN = 'BenchToken2026';
const AES_KEY = 'BenchAesKey0123456789abcdefghijklmnopqrstuv';
const APPID = 'wx0123456789abcdef';

const WORDS = ['产品', '价格', '发票', '退货', '物流', '会员', '优惠', '活动', '门店', '客服', '售后', '保修', '积分', '充值', '预约', '地址', '电话', '营业', '招聘', '合作'];

function rules(): KeywordReply[] {
  const out: KeywordReply[] = [];
  for (let i = 0; i < RULES; i++) {
    const keyword = `${WORDS[i % WORDS.length]}${WORDS[Math.floor(i / WORDS.length) % WORDS.length]}${i}`;
    out.push({ keyword, match: i % 2 ? 'contains' : 'exact', reply: { type: 'text', content: `回复 ${i}` } });
  }
  out.push({ keyword: '产品价格', match: 'exact', reply: { type: 'text', content: '价格表见 https://shop.example.com/prices' } });
  return out;
}

/** What followers send: mostly words that match late rules or none at all — the naive loop's worst case. */
function texts(all: KeywordReply[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const r = all[(i * 7919) % all.length]!;
    switch (i % 4) {
      case 0:
        out.push(r.keyword);
        break;
      case 1:
        out.push(`你好，请问${r.keyword}怎么弄？`);
        break;
      case 2:
        out.push(`请问你们周末几点${WORDS[i % WORDS.length]}开门，谢谢`);
        break;
      default:
        out.push('产品价格');
    }
  }
  return out;
}

function safeRequest(text: string, i: number, now: number): { query: URLSearchParams; body: string } {
  const xml = `<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oBench${String(i % 500).padStart(22, '0')}]]></FromUserName><CreateTime>${Math.floor(now / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${text}]]></Content><MsgId>${7_000_000_000_000_000_000n + BigInt(i)}</MsgId></xml>`;
  const enc = encrypt(AES_KEY, xml, APPID);
  const timestamp = String(Math.floor(now / 1000));
  const nonce = `n${i}`;
  const query = new URLSearchParams({ signature: getSignature(TOKEN, timestamp, nonce, ''), timestamp, nonce, openid: 'x', encrypt_type: 'aes', msg_signature: getSignature(TOKEN, timestamp, nonce, enc) });
  return { query, body: `<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>` };
}

export async function benchCallback(): Promise<void> {
  console.log(`\nOfficial Account callback: verify + decrypt + parse + match among ${RULES} keyword rules + encrypted reply (${MESSAGES} messages, one core)`);
  const dir = mkdtempSync(join(tmpdir(), 'wxops-bench-callback-'));
  try {
    const store = new LowdbStore(dir);
    const all = rules();
    await saveAutoreply(store, { keywords: all, clicks: {}, default: { type: 'text', content: '您好，我们会尽快回复。' } });
    const handler = new MpCallback({
      verifier: new CallbackVerifier({ platform: 'mp', token: TOKEN, aesKey: AES_KEY, receiveId: APPID }),
      store,
      counters: new EventCounters(store),
      logger: silentLogger,
    });
    const msgs = texts(all);
    const now = Date.now();
    const requests = msgs.map((m, i) => safeRequest(m, i, now));
    for (let i = 0; i < 500; i++) await handler.handle(requests[i]!.query, requests[i]!.body); // warm up (new MsgIds below)
    const fresh = msgs.map((m, i) => safeRequest(m, i + MESSAGES, now));
    const times: number[] = [];
    let answered = 0;
    const started = performance.now();
    for (const r of fresh) {
      const t0 = performance.now();
      const reply = await handler.handle(r.query, r.body);
      times.push(performance.now() - t0);
      if (reply.startsWith('<xml><Encrypt>')) answered++;
    }
    const elapsed = performance.now() - started;
    times.sort((a, b) => a - b);
    line('p50 per message', fmtMs(percentile(times, 50)));
    line('p99 per message', fmtMs(percentile(times, 99)), 'p99 < 2 ms', percentile(times, 99) < 2);
    line('messages per second (sequential, one core)', `${Math.round((MESSAGES / elapsed) * 1000).toLocaleString('en-US')}/s`);
    line('messages answered with an encrypted reply', `${answered} of ${MESSAGES}`);

    // Matching alone, same rules and messages: compiled vs the loop over every rule.
    const compiled = new KeywordMatcher(all);
    const naive = new NaiveMatcher(all);
    let disagree = 0;
    for (const m of msgs) if (compiled.match(m) !== naive.match(m)) disagree++;
    const time = (f: (s: string) => number): number => {
      let sink = 0;
      const rounds = 5;
      const t0 = performance.now();
      for (let k = 0; k < rounds; k++) for (const m of msgs) sink += f(m);
      if (sink === 42) console.log('');
      return ((performance.now() - t0) / (rounds * msgs.length)) * 1000;
    };
    time((s) => compiled.match(s));
    time((s) => naive.match(s));
    const c = time((s) => compiled.match(s));
    const n = time((s) => naive.match(s));
    line('match, compiled (Aho–Corasick automaton)', `${(c * 1000).toFixed(0)} ns per message`);
    line('match, naive loop over 1,000 rules', `${(n * 1000).toFixed(0)} ns per message`);
    line('compiled vs naive', `${(n / c).toFixed(1)}× faster`, '≥ 20×', n / c >= 20);
    line('matchers agree', `${msgs.length - disagree} of ${msgs.length} messages`, 'all', disagree === 0);
    // The same rules through the Autoreplies wrapper the callback uses: the first rule wins.
    const sample = new Autoreplies({ keywords: all, clicks: {} }).text('产品价格');
    if (!sample.reply) throw new Error('bench rules do not answer 产品价格');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
