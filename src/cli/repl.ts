import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import { createRegistry } from '../../commands/index.js';
import { renderOutcome } from '../channels/render-text.js';
import { completions, type CompletionSource } from '../channels/completion.js';
import type { ProgressUpdate } from '../core/context.js';
import { WxopsError } from '../core/errors.js';
import { localize } from '../core/i18n.js';
import type { OrgTree } from '../core/org.js';
import { Session } from '../core/pipeline.js';
import { Runtime } from '../core/runtime.js';

const HISTORY_LIMIT = 1000;
const EXIT_WORDS = new Set(['exit', 'quit', '退出', '.exit']);

/**
 * The interactive shell. It never exits on an error: every line goes through the same pipeline as
 * `wxops run`, and whatever goes wrong is printed as one sentence. Ctrl-C cancels the running command
 * (or clears the line); `exit` or Ctrl-D leaves.
 */
export async function startRepl(opts: { as?: string }): Promise<number> {
  const runtime = new Runtime();
  const zh = runtime.lang === 'zh';
  const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  const c = pc.createColors(color);
  const registry = createRegistry();
  let session: Session;
  try {
    session = new Session({ runtime, registry, channel: 'repl', actor: opts.as, onProgress: (u) => bar.update(u) });
  } catch (err) {
    if (err instanceof WxopsError) {
      process.stderr.write(`${c.red(localize(err.text, runtime.lang))}\n`);
      return 2;
    }
    throw err;
  }

  const bar = new ProgressBar(zh, Boolean(process.stderr.isTTY));
  process.stdout.write(banner(runtime, session.actorId, c) + '\n');

  const historyFile = join(runtime.dataDir, 'repl_history');
  mkdirSync(runtime.dataDir, { recursive: true });
  const source = new LiveCompletionSource(registry, runtime);
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: Boolean(process.stdin.isTTY),
    history: loadHistory(historyFile),
    historySize: HISTORY_LIMIT,
    removeHistoryDuplicates: true,
    prompt: c.cyan(runtime.mode === 'sandbox' ? (zh ? 'wxops(沙箱)> ' : 'wxops(sandbox)> ') : 'wxops> '),
    completer: (line: string, cb: (err: null, result: [string[], string]) => void) => {
      completions(line, source).then(
        (r) => cb(null, r),
        () => cb(null, [[], line]),
      );
    },
  });

  let running: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (running) {
      running.abort();
      process.stdout.write(`\n${c.yellow(zh ? '已请求取消当前命令。' : 'Cancelling the running command.')}\n`);
    } else {
      rl.write(null, { ctrl: true, name: 'u' });
      process.stdout.write('\n');
      rl.prompt();
    }
  });

  const lines = rl[Symbol.asyncIterator]();
  rl.prompt();
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    const line = next.value.trim();
    if (!line) {
      rl.prompt();
      continue;
    }
    if (EXIT_WORDS.has(line)) break;
    appendHistory(historyFile, line);
    running = new AbortController();
    try {
      const outcome = await session.execute(line, running.signal);
      bar.stop();
      process.stdout.write(`${renderOutcome(outcome, { lang: runtime.lang, color })}\n`);
      if (outcome.ok && outcome.result) source.invalidate();
    } catch (err) {
      // The pipeline turns every error into an outcome; this is the last guard that keeps the REPL alive.
      bar.stop();
      process.stdout.write(`${c.red(`✗ ${(err as Error).message}`)}\n`);
    } finally {
      running = undefined;
    }
    rl.prompt();
  }
  rl.close();
  process.stdout.write(zh ? '再见。\n' : 'Bye.\n');
  await runtime.close();
  return 0;
}

function banner(runtime: Runtime, actor: string, c: ReturnType<typeof pc.createColors>): string {
  const zh = runtime.lang === 'zh';
  if (runtime.mode === 'sandbox') {
    return [
      c.bold(c.yellow(zh ? '⚑ 沙箱模式：连接的是本地模拟的企业微信和公众号（示例科技有限公司），不会影响任何真实数据。' : '⚑ Sandbox mode: talking to a local simulated WeCom and Official Account (示例科技有限公司); no real data is touched.')),
      zh
        ? `当前身份：${actor}。输入 help 查看命令，Tab 补全，exit 或 Ctrl-D 退出。数据目录：${runtime.dataDir}`
        : `Acting as ${actor}. Type help for the commands, Tab to complete, exit or Ctrl-D to leave. Data: ${runtime.dataDir}`,
    ].join('\n');
  }
  return zh ? `wxops 正式环境，当前身份：${actor}。输入 help 查看命令。` : `wxops live mode, acting as ${actor}. Type help for the commands.`;
}

function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_LIMIT).reverse();
  } catch {
    return [];
  }
}

function appendHistory(file: string, line: string): void {
  try {
    appendFileSync(file, `${line.replace(/\n/g, ' ')}\n`);
  } catch {
    /* history is a convenience; a read-only data dir must not break the REPL */
  }
}

/** Completion data from the live company, fetched once and refreshed after a command changed something. */
export class LiveCompletionSource implements CompletionSource {
  private org?: Promise<OrgTree>;
  private tags?: Promise<string[]>;

  constructor(
    readonly registry: ReturnType<typeof createRegistry>,
    private readonly runtime: Runtime,
  ) {}

  invalidate(): void {
    this.org = undefined;
    this.tags = undefined;
  }

  private loadOrg(): Promise<OrgTree> {
    this.org ??= (async () => {
      const contacts = await this.runtime.contacts();
      const { OrgTree } = await import('../core/org.js');
      const [d, m] = await Promise.all([contacts.listDepartments(), contacts.listUserIds()]);
      return new OrgTree(d, m);
    })();
    return this.org;
  }

  async departments(): Promise<string[]> {
    const org = await this.loadOrg();
    return [...new Set(org.all.flatMap((d) => [d.name, org.path(d.id)]))];
  }

  async members(): Promise<string[]> {
    const org = await this.loadOrg();
    return [...new Set(org.all.flatMap((d) => org.directMemberIds(d.id)))];
  }

  async tagNames(): Promise<string[]> {
    this.tags ??= this.runtime.contacts().then((c) => c.listTags().then((tags) => tags.map((x) => x.tagname)));
    return this.tags;
  }
}

/** A progress bar on stderr in a terminal; nothing when piped (the result table still reports every row). */
class ProgressBar {
  private bar?: cliProgress.SingleBar;

  constructor(
    private readonly zh: boolean,
    private readonly enabled: boolean,
  ) {}

  update(u: ProgressUpdate): void {
    if (!this.enabled || u.total < 5) return;
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar(
        { format: `${this.zh ? '进度' : 'progress'} [{bar}] {value}/{total} {percentage}%`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(u.total, u.done);
    }
    this.bar.update(u.done);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

export type { Interface };
