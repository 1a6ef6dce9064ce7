import { Command, CommanderError } from 'commander';

/**
 * The `wxops` executable: `run` (one command, exit codes for scripts), `repl` (interactive),
 * `sim` (the simulator standalone), `serve` (the service) and `db` (the shared database). Each sub-command's module is loaded only when it is used so that
 * `wxops run help` starts quickly.
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('wxops')
    .description('wxops — 企业微信 / 公众号 chat-ops assistant')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('run one command: exit 0 done, 1 failed, 2 bad input, 3 denied, 4 waiting for approval')
    .option('--as <userid>', 'act as this WeCom member (default: sandbox super admin, or WXOPS_ACTOR)')
    .option('--json', 'print exactly one JSON object')
    .argument('<command...>', 'the command line, e.g. "member list --dept 销售部"')
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (words: string[], opts: { as?: string; json?: boolean }) => {
      const { runOnce } = await import('./run.js');
      code = await runOnce(joinWords(cliOptionsAfter(words, opts)), opts);
    });

  // `wxops policy lint`, `wxops audit verify` …: the same commands as `wxops run "policy lint"`.
  for (const [group, description] of [
    ['policy', 'policy tools: show, lint, test, explain, who-can, unused'],
    ['audit', 'audit log: tail, search, verify'],
    ['approval', 'approval requests: list, show, approve, reject, cancel'],
  ] as const) {
    program
      .command(group)
      .description(`${description} (same as wxops run "${group} …")`)
      .option('--as <userid>', 'act as this WeCom member')
      .option('--json', 'print exactly one JSON object')
      .argument('[words...]')
      .passThroughOptions()
      .allowUnknownOption()
      .helpOption(false)
      .action(async (words: string[], opts: { as?: string; json?: boolean }) => {
        const { runOnce } = await import('./run.js');
        const rest = cliOptionsAfter(words, opts);
        code = await runOnce(joinWords([group, ...(rest.length ? rest : ['--help'])]), opts);
      });
  }

  program
    .command('repl')
    .description('interactive shell (sandbox by default)')
    .option('--as <userid>', 'act as this WeCom member')
    .action(async (opts: { as?: string }) => {
      const { startRepl } = await import('./repl.js');
      code = await startRepl(opts);
    });

  program
    .command('sim')
    .description('run the platform simulator standalone and print its URLs and demo credentials as one JSON line')
    .option('--port <port>', 'port on 127.0.0.1 (default: a free port)', (v) => Number(v))
    .option('--data <dir>', 'state directory (default: $WXOPS_DATA_DIR/sim or .wxops/sim)')
    .action(async (opts: { port?: number; data?: string }) => {
      const { runSimulatorProcess } = await import('../sim/main.js');
      const { resolve, join } = await import('node:path');
      const dataDir = resolve(opts.data ?? join(process.env.WXOPS_DATA_DIR || '.wxops', 'sim'));
      await runSimulatorProcess({ port: opts.port, dataDir });
    });

  program
    .command('serve')
    .description('run the service on 127.0.0.1: GET /healthz (chat channels and the scheduler mount here)')
    .option('--port <port>', 'port (default 8080)', (v) => Number(v))
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .action(async (opts: { port?: number; host?: string }) => {
      const { serve } = await import('./serve.js');
      code = await serve(opts);
    });

  const db = program.command('db').description('shared PostgreSQL state (WXOPS_DATABASE_URL): migrate, export, import');
  for (const [action, description] of [
    ['migrate', 'create or update the database schema (also done automatically at start)'],
    ['export', 'copy the database into a data directory (store.json and the audit log)'],
    ['import', 'copy a single-machine data directory into an empty database'],
  ] as const) {
    const sub = db.command(action).description(description).option('--json', 'print exactly one JSON object');
    if (action !== 'migrate') sub.option('--dir <dir>', 'the data directory (default: WXOPS_DATA_DIR or .wxops)');
    sub.action(async (opts: { dir?: string; json?: boolean }) => {
      const { runDb } = await import('./db.js');
      code = await runDb(action, opts);
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}

/**
 * `wxops audit verify --json`: wxops's own options typed after the command words (no command has options
 * of these names) are taken out of the command and applied, as if typed before it.
 */
function cliOptionsAfter(words: string[], opts: { as?: string; json?: boolean }): string[] {
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--json') opts.json = true;
    else if (w === '--as' && i + 1 < words.length) opts.as = words[++i];
    else if (w.startsWith('--as=')) opts.as = w.slice(5);
    else rest.push(w);
  }
  return rest;
}

/** `wxops run member add x --name "赵 六"` arrives split by the shell; put quotes back where needed. */
function joinWords(words: string[]): string {
  if (words.length === 1) return words[0]!;
  return words.map((w) => (/[\s"'“”]/.test(w) ? `"${w.replace(/(["\\])/g, '\\$1')}"` : w)).join(' ');
}
