import { describe, expect, it } from 'vitest';
import { Autoreplies } from '../src/mp/autoreply.js';
import { fold, KeywordMatcher, NaiveMatcher, type KeywordRule } from '../src/mp/matcher.js';

/** The compiled matcher answers exactly like trying every rule in order, only faster. */
describe('keyword matching', () => {
  const rules: KeywordRule[] = [
    { keyword: '产品价格', match: 'exact' },
    { keyword: '价格', match: 'contains' },
    { keyword: 'VIP', match: 'contains' },
    { keyword: '发票', match: 'exact' },
    { keyword: '开发票', match: 'contains' },
    { keyword: 'abcab', match: 'contains' },
    { keyword: 'bca', match: 'contains' },
  ];
  const m = new KeywordMatcher(rules);

  it('the first rule in order wins, exact before a later contains and a contains before a later exact', () => {
    expect(m.match('产品价格')).toBe(0);
    expect(m.match('请问产品价格是多少')).toBe(1);
    expect(m.match('发票')).toBe(3);
    expect(m.match('我要开发票')).toBe(4);
    expect(m.match('你好')).toBe(-1);
  });

  it('folds case and full-width forms on both sides, and trims', () => {
    expect(fold('  ＶＩＰ会员　')).toBe('vip会员');
    expect(m.match('我是ｖｉｐ')).toBe(2);
    expect(m.match('我是vip')).toBe(2);
    expect(m.match('  产品价格 ')).toBe(0);
    expect(m.match('ÀBCAB')).toBe(new NaiveMatcher(rules).match('ÀBCAB'));
  });

  it('finds keywords that overlap and hide inside one another (fail links)', () => {
    expect(m.match('xxabcabxx')).toBe(5);
    expect(m.match('xxabcax')).toBe(6);
    expect(m.match('abcbca')).toBe(6);
  });

  it('agrees with the rule-by-rule loop on thousands of generated messages', () => {
    const words = ['产品', '价格', '发票', 'VIP', 'ab', 'ca', '会员', '优惠', 'Ｘ', 'x', '，', '？', '　', 'Ä'];
    const many: KeywordRule[] = Array.from({ length: 300 }, (_, i) => ({ keyword: `${words[i % 14]}${words[(i * 7) % 14]}${i % 3 ? '' : words[(i * 3) % 14]}`, match: i % 3 ? 'contains' : 'exact' }));
    const compiled = new KeywordMatcher(many);
    const naive = new NaiveMatcher(many);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      const text = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => words[Math.floor(rand() * 14)]).join(rand() < 0.2 ? ' ' : '');
      expect(compiled.match(text), text).toBe(naive.match(text));
    }
  });
});

describe('auto-replies', () => {
  const replies = new Autoreplies({
    keywords: [{ keyword: '产品价格', match: 'exact', reply: { type: 'link', text: '价格表', url: 'https://shop.example.com/prices' } }],
    clicks: { CONTACT_US: { type: 'text', content: '客服电话 400-000-0000' } },
    subscribe: { type: 'text', content: '欢迎关注' },
    default: { type: 'text', content: '您好，我们会尽快回复。' },
  });

  it('answers text by keyword, else the default; clicks by key; subscribes with the greeting', () => {
    expect(replies.text('产品价格').reply).toMatchObject({ type: 'link' });
    expect(replies.text('在吗').rule.en).toBe('the default reply');
    expect(replies.click('CONTACT_US').reply).toMatchObject({ content: '客服电话 400-000-0000' });
    expect(replies.click('FAQ').reply).toBeUndefined();
    expect(replies.subscribe().reply).toMatchObject({ content: '欢迎关注' });
  });
});
