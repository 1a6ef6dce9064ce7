import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { redactingLogger, type Logger } from '../platform/redact.js';

/**
 * The operator's log: JSON lines in `$WXOPS_DATA_DIR/logs/wxops.log` (pino), level from
 * `WXOPS_LOG_LEVEL` (default info). Everything goes through the redacting wrapper, so a secret or
 * token cannot reach the file whatever a caller passes. Stack traces live here, never in replies.
 */
export async function createFileLogger(dataDir: string, level = 'info'): Promise<Logger> {
  const { pino } = await import('pino');
  const dir = join(dataDir, 'logs');
  mkdirSync(dir, { recursive: true });
  // Synchronous writes: `wxops run` exits right after its command and must not lose the last lines.
  const log = pino({ level, base: { pid: process.pid } }, pino.destination({ dest: join(dir, 'wxops.log'), sync: true, mkdir: true }));
  return redactingLogger(log as unknown as Logger);
}
