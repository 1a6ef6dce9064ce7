import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import { completions } from '../src/channels/completion.js';
import { LiveCompletionSource } from '../src/cli/repl.js';
import { Runtime } from '../src/core/runtime.js';
import { REPO, cleanEnv } from './support/sandbox.js';

function repl(input: string[], dataDir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO, 'bin/wxops.js'), 'repl'], { cwd: REPO, env: cleanEnv({ WXOPS_DATA_DIR: dataDir }) });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
    child.stdin.end(input.join('\n') + '\n');
  });
}

describe('wxops repl', () => {
  it('says it is the sandbox, survives every kind of bad input and leaves on exit', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wxops-repl-'));
    try {
      const { code, out } = await repl(
        ['dept add "未闭合', 'membr list', 'member add 坏帐号 --name x --dept 1', '', '　', 'dept add 交互部', 'dept list', '成员 查看 wangfang', 'exit'],
        dataDir,
      );
      expect(code).toBe(0);
      expect(out).toContain('沙箱模式');
      expect(out).toContain('引号没有闭合');
      expect(out).toContain('member list');
      expect(out).toContain('<userid>');
      expect(out).toContain('已创建部门');
      expect(out).toContain('交互部');
      expect(out).toContain('王芳');
      expect(out).toContain('再见');
      expect(readFileSync(join(dataDir, 'repl_history'), 'utf8')).toContain('dept add 交互部');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('leaves at the end of input (Ctrl-D)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wxops-repl-'));
    try {
      const { code, out } = await repl(['help'], dataDir);
      expect(code).toBe(0);
      expect(out).toContain('dept list');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('tab completion', () => {
  let runtime: Runtime;
  let source: LiveCompletionSource;
  beforeAll(() => {
    runtime = new Runtime(cleanEnv({ WXOPS_DATA_DIR: mkdtempSync(join(tmpdir(), 'wxops-complete-')) }), REPO);
    source = new LiveCompletionSource(createRegistry(), runtime);
  });
  afterAll(async () => {
    await runtime.close();
    rmSync(runtime.dataDir, { recursive: true, force: true });
  });

  it('completes command words in English and Chinese', async () => {
    expect((await completions('mem', source))[0]).toEqual(['member ']);
    expect((await completions('member a', source))[0]).toEqual(['add ']);
    expect((await completions('成员 ', source))[0]).toContain('添加 ');
  });

  it('completes option names and department, member and tag values', async () => {
    expect((await completions('member add x --d', source))[0]).toEqual(expect.arrayContaining(['--dept ', '--dry-run ']));
    expect((await completions('member add x --dept 销售', source))[0]).toEqual(expect.arrayContaining(['销售部 ', '销售部/华东区 ']));
    expect((await completions('member get wang', source))[0]).toContain('wangfang ');
    const tags = (await completions('tag members ', source))[0];
    expect(tags.length).toBeGreaterThan(0);
  });
});
