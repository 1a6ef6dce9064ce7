import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import { CONTACTS_READ, CONTACTS_WRITE, type ApiRequest, type ApiRoute } from '../router.js';
import { createUser, findUser, updateUser } from './users.js';

/**
 * media/upload and the async import `batch/syncuser` + `batch/getresult` (wecom.md §2.4, §6.4).
 * A job is started at submission and finishes JOB_DURATION_MS of simulated time later; its rows are
 * applied when it finishes, and its status goes 1 → 2 → 3 as the clock moves.
 *
 * Accepted CSV columns (header row required, in any order): 姓名, 帐号 (or 账号), 手机, 邮箱,
 * 所在部门 (department ids separated by ;), 职务, 性别 (男/女).
 */
export const JOB_DURATION_MS = 2000;
const MEDIA_TTL_MS = 3 * 24 * 3600_000;

interface Media {
  content: Buffer;
  filename: string;
  expiresAt: number;
}

interface Job {
  jobid: string;
  type: 'sync_user';
  startedAt: number;
  rows: Record<string, any>[];
  result?: { userid: string; errcode: number; errmsg: string }[];
}

const COLUMNS: Record<string, string> = {
  姓名: 'name',
  帐号: 'userid',
  账号: 'userid',
  手机: 'mobile',
  邮箱: 'email',
  所在部门: 'department',
  部门: 'department',
  职务: 'position',
  性别: 'gender',
};

function parseCsv(text: string): Record<string, any>[] {
  const lines = text.replace(/^\ufeff/, '').split(/\r?\n/).filter((l) => l.trim());
  if (lines.length < 2) throw new ApiError(40058);
  const header = lines[0]!.split(',').map((h) => COLUMNS[h.trim()]);
  return lines.slice(1).map((line) => {
    const row: Record<string, any> = {};
    line.split(',').forEach((cell, i) => {
      const key = header[i];
      if (!key || cell.trim() === '') return;
      if (key === 'department') row.department = cell.split(/[;；]/).map((d) => Number(d.trim()));
      else if (key === 'gender') row.gender = cell.trim() === '女' ? '2' : '1';
      else row[key] = cell.trim();
    });
    return row;
  });
}

export class BatchJobs {
  private readonly media = new Map<string, Media>();
  private readonly jobs = new Map<string, Job>();

  /** Finishes every job whose time has come (called before each request). */
  settle(req: ApiRequest): void {
    for (const job of this.jobs.values()) {
      if (job.result || req.now < job.startedAt + JOB_DURATION_MS) continue;
      job.result = job.rows.map((row) => {
        try {
          if (findUser(req.state, row.userid)) updateUser(req, row);
          else createUser(req, row);
          return { userid: String(row.userid ?? '').toLowerCase(), errcode: 0, errmsg: 'ok' };
        } catch (err) {
          const code = err instanceof ApiError ? err.errcode : -1;
          return { userid: String(row.userid ?? '').toLowerCase(), errcode: code, errmsg: err instanceof Error ? err.message : 'error' };
        }
      });
    }
  }

  routes(): Record<string, ApiRoute> {
    return {
      'media/upload': {
        method: 'POST',
        allow: ['contacts', 'app', 'customer'],
        handler: async (req) => {
          const type = req.query.get('type');
          if (!type || !['image', 'voice', 'video', 'file'].includes(type)) throw new ApiError(40004 as number);
          if (!req.contentType.startsWith('multipart/form-data')) throw new ApiError(41005 as number);
          const form = await new Response(new Uint8Array(req.raw), { headers: { 'content-type': req.contentType } }).formData();
          const file = form.get('media');
          if (!file || typeof file === 'string') throw new ApiError(41005 as number);
          const content = Buffer.from(await file.arrayBuffer());
          if (content.length <= 5) throw new ApiError(40006 as number);
          const media_id = `3${randomBytes(24).toString('base64url')}`;
          this.media.set(media_id, { content, filename: file.name, expiresAt: req.now + MEDIA_TTL_MS });
          return { type, media_id, created_at: String(Math.floor(req.now / 1000)) };
        },
      },
      'batch/syncuser': {
        method: 'POST',
        allow: CONTACTS_WRITE,
        handler: (req) => {
          const m = this.media.get(String(req.body.media_id ?? ''));
          if (!m || m.expiresAt < req.now) throw new ApiError(40007);
          const rows = parseCsv(m.content.toString('utf8'));
          const jobid = randomBytes(16).toString('hex');
          this.jobs.set(jobid, { jobid, type: 'sync_user', startedAt: req.now, rows });
          return { jobid };
        },
      },
      'batch/getresult': {
        method: 'GET',
        allow: CONTACTS_READ,
        handler: (req) => {
          const job = this.jobs.get(String(req.query.get('jobid') ?? ''));
          if (!job) throw new ApiError(40058);
          const elapsed = req.now - job.startedAt;
          const status = job.result ? 3 : elapsed <= 0 ? 1 : 2;
          const percentage = job.result ? 100 : Math.min(99, Math.floor((elapsed / JOB_DURATION_MS) * 100));
          return { status, type: job.type, total: job.rows.length, percentage, ...(job.result ? { result: job.result } : {}) };
        },
      },
    };
  }
}
