import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAudit } from './audit.js';
import { benchCallback } from './callback.js';
import { benchCustomers, customersSimulator } from './customers.js';
import { benchColdStart } from './cold-start.js';
import { benchImport } from './import.js';
import { benchPipeline } from './pipeline.js';
import { benchPolicy, policyWorker } from './policy.js';

/** `npm run bench`: every performance target, measured side by side with its peer in one run. */
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const only = process.argv[2];

if (only === 'policy-worker') {
  await policyWorker(process.argv[3] as 'wxops' | 'cedar' | 'casbin', Number(process.argv[4]));
  process.exit(0);
}

if (only === 'audit-pg-worker') {
  await (await import('./audit-pg.js')).auditPgWorker(process.argv[3]!);
  process.exit(0);
}

if (only === 'customers-sim') {
  await customersSimulator(process.argv[3]!);
  process.exit(0);
}

console.log(`wxops bench — node ${process.version}, ${new Date().toISOString()}`);
if (!only || only === 'cold') benchColdStart(repo);
if (!only || only === 'pipeline') await benchPipeline();
if (!only || only === 'import') await benchImport();
if (!only || only === 'policy') await benchPolicy(fileURLToPath(import.meta.url));
if (!only || only === 'audit') await benchAudit();
if (!only || only === 'audit-pg') await (await import('./audit-pg.js')).benchAuditPg(fileURLToPath(import.meta.url));
if (!only || only === 'callback') await benchCallback();
if (!only || only === 'customers') await benchCustomers(fileURLToPath(import.meta.url));
if (!only || only === 'backup') await (await import('./backup.js')).benchBackup(fileURLToPath(import.meta.url));
if (!only || only === 'restore') await (await import('./restore.js')).benchRestore(fileURLToPath(import.meta.url));
