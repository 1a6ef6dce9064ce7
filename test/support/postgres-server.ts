import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

/**
 * A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temporary directory, `postgres`
 * listening on loopback only, trust authentication for the one local user, removed on stop. Uses the
 * machine's PostgreSQL binaries (Debian's `postgresql` package; `.ci/run` installs it when absent).
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
 */
export interface ThrowawayPostgres {
  /** A URL for `database` on this server (default `postgres`). */
  url(database?: string): string;
  port: number;
  /** A fresh, empty database; its URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

export function postgresBinDir(): string {
  const fromEnv = process.env.WXOPS_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions[0]) return join(root, versions[0], 'bin');
  const probe = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (probe.status === 0 && existsSync(join(probe.stdout.trim(), 'initdb'))) return probe.stdout.trim();
  throw new Error('PostgreSQL server binaries not found: install Debian\'s "postgresql" package (.ci/run does) or set WXOPS_PG_BIN');
}

export async function startThrowawayPostgres(opts: { fsync?: boolean } = {}): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'wxops-pg-'));
  // As root, both programs run as the postgres user (spawned with its uid, so signals reach them directly).
  let user: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (uid.status !== 0) throw new Error('running as root needs the "postgres" system user (Debian\'s postgresql package creates it)');
    user = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    chownSync(dir, user.uid, user.gid);
  }
  const data = join(dir, 'data');
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'wxops', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { encoding: 'utf8', cwd: dir, ...user });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);

  const port = await freePort();
  const settings = ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'max_connections=200', '-c', 'shared_buffers=64MB'];
  if (opts.fsync === false) settings.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const server: ChildProcess = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), ...settings], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...user });
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));

  const url = (database = 'postgres') => `postgres://wxops@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url() });
    try {
      await c.connect();
      await c.end();
      break;
    } catch {
      await c.end().catch(() => undefined);
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`postgres did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    port,
    url,
    createDatabase: (prefix) => createDatabase(url(), prefix),
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        // SIGINT: "fast shutdown" — ends sessions, no waiting for clients.
        server.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (server.exitCode === null) server.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh, empty database on the server that `adminUrl` reaches; its URL. */
export async function createDatabase(adminUrl: string, prefix = 'wxops_test'): Promise<string> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return adminUrl.replace(/\/[^/]*$/, `/${name}`);
}
