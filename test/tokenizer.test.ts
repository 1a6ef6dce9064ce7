import { describe, expect, it } from 'vitest';
import { tokenize } from '../src/core/tokenizer.js';
import { InputError } from '../src/core/errors.js';

describe('tokenizer', () => {
  it('splits on spaces and keeps quoted words together', () => {
    expect(tokenize('dept add "示例 商城" --parent 销售部')).toEqual(['dept', 'add', '示例 商城', '--parent', '销售部']);
    expect(tokenize("member update u1 --position 'Team Lead'")).toEqual(['member', 'update', 'u1', '--position', 'Team Lead']);
  });

  it('folds full-width spaces and curly quotes as Chinese keyboards type them', () => {
    expect(tokenize('部门　添加　“华北 区”')).toEqual(['部门', '添加', '华北 区']);
    expect(tokenize('tag add ‘新 员工’')).toEqual(['tag', 'add', '新 员工']);
    expect(tokenize('dept add 「市场 二部」')).toEqual(['dept', 'add', '市场 二部']);
    expect(tokenize('dept list\u2005\u00a0')).toEqual(['dept', 'list']);
  });

  it('accepts a straight quote closing a curly one (mixed input methods)', () => {
    expect(tokenize('dept add “华北 区"')).toEqual(['dept', 'add', '华北 区']);
  });

  it('keeps empty quoted strings and escaped quotes', () => {
    expect(tokenize('member update u1 --alias ""')).toEqual(['member', 'update', 'u1', '--alias', '']);
    expect(tokenize('dept add "a \\"b\\" c"')).toEqual(['dept', 'add', 'a "b" c']);
  });

  it('rejects unbalanced quotes with the position', () => {
    expect(() => tokenize('dept add "华北')).toThrow(InputError);
    try {
      tokenize('dept add "华北');
    } catch (err) {
      expect((err as InputError).code).toBe('UNBALANCED_QUOTES');
      expect((err as InputError).text.zh).toContain('第 10 个字符');
    }
    expect(() => tokenize('dept add 华北”')).toThrow(/closing quote/);
  });

  it('strips the bot mention, but not @ inside userids', () => {
    expect(tokenize('@wxops dept list', { mentions: ['wxops'] })).toEqual(['dept', 'list']);
    expect(tokenize('@运维助手\u2005member get a@b.c', { mentions: ['运维助手'] })).toEqual(['member', 'get', 'a@b.c']);
    expect(tokenize('@someone dept list', { mentions: ['wxops'] })).toEqual(['@someone', 'dept', 'list']);
    expect(tokenize('@机器人 help', { stripLeadingMentions: true })).toEqual(['help']);
  });

  it('never evaluates anything', () => {
    expect(tokenize('dept add $(rm -rf /) `x` ;')).toEqual(['dept', 'add', '$(rm', '-rf', '/)', '`x`', ';']);
  });
});
