import { describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import { InputError } from '../src/core/errors.js';
import { tokenize } from '../src/core/tokenizer.js';

const registry = createRegistry();
const parse = (line: string) => registry.parse(tokenize(line), 'zh');
const fails = (line: string): InputError => {
  try {
    parse(line);
  } catch (err) {
    return err as InputError;
  }
  throw new Error(`expected ${line} to fail`);
};

describe('command registry and parser', () => {
  it('routes English words and the Chinese alias to the same declaration', () => {
    expect(parse('member add u1 --name 张三 --dept 1 --mobile 13800000009').command.name).toBe('member add');
    expect(parse('成员 添加 u1 --name 张三 --dept 1 --mobile 13800000009').command.name).toBe('member add');
  });

  it('collects repeated options and --opt=value', () => {
    const p = parse('member add u1 --name=张三 --dept 销售部 --dept 市场部 --email a@example.com');
    expect(p.args).toMatchObject({ userid: 'u1', name: '张三', dept: ['销售部', '市场部'], email: 'a@example.com' });
  });

  it('recognises --dry-run on mutating commands only', () => {
    expect(parse('dept add 华北区 --dry-run').dryRun).toBe(true);
    expect(fails('dept list --dry-run').code).toBe('DRY_RUN_NOT_APPLICABLE');
  });

  it('suggests close commands for unknown words', () => {
    const err = fails('membr add x');
    expect(err.code).toBe('UNKNOWN_COMMAND');
    expect(err.category).toBe('input');
    expect(err.text.zh).toContain('member add');
    expect(fails('dept lst').text.en).toContain('dept list');
  });

  it('names the field and the rule for invalid values, with the usage line', () => {
    const err = fails('member add 张三 --name x --dept 1');
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.text.zh).toContain('<userid>');
    expect(err.text.en).toContain('Usage: member add <userid>');
    expect(fails(`member add ${'a'.repeat(65)} --name x --dept 1 --mobile 13800000000`).text.en).toContain('64 bytes');
    expect(fails('member add u1 --name x --dept 1 --mobile abc').text.en).toContain('mobile');
    expect(fails('member add u1 --name x --dept 1 --email nope').text.en).toContain('email');
    expect(fails(`member add u1 --name ${'名'.repeat(65)} --dept 1 --email a@example.com`).text.en).toContain('64 characters');
    expect(fails('member add u1 --name x --dept 1 --gender 未知').text.zh).toContain('性别');
  });

  it('reports missing required values and unknown options', () => {
    expect(fails('member add u1 --dept 1').text.en).toContain('--name is missing');
    expect(fails('dept list --verbose').code).toBe('UNKNOWN_OPTION');
    expect(fails('member add u1 --name').code).toBe('MISSING_OPTION_VALUE');
    expect(fails('dept remove a b').code).toBe('TOO_MANY_ARGUMENTS');
  });

  it('validates department names by the platform rules', () => {
    expect(fails('dept add "a:b"').text.en).toContain('cannot contain');
    expect(fails(`dept add ${'部'.repeat(33)}`).text.en).toContain('1–32');
  });
});
