import { PlatformError } from '../core/errors.js';
import { t } from '../core/i18n.js';
import { LOCAL_ERRCODES } from './retry.js';

/**
 * Cursor loops (user/list_id, groupchat/list, follower lists …) stop on an empty or absent cursor and
 * fail on a repeated one, instead of spinning forever on a platform bug (wecom.md §10.2).
 */
export interface Page<T> {
  items: T[];
  /** The cursor for the next page; empty or absent when this was the last page. */
  next?: string | null;
}

export interface PaginateOptions {
  /** The API path, named in the error for a repeated cursor. */
  api?: string;
  /** Stop with an error after this many pages (a guard against a platform that never ends). Default 100 000. */
  maxPages?: number;
}

/** Every item of every page, in order. */
export async function paginate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, opts: PaginateOptions = {}): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages(fetchPage, opts)) all.push(...page);
  return all;
}

/** The pages one by one, for callers that stream (backups, exports). */
export async function* pages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, opts: PaginateOptions = {}): AsyncGenerator<T[]> {
  const api = opts.api ?? 'cursor';
  const maxPages = opts.maxPages ?? 100_000;
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let n = 1; ; n++) {
    const page = await fetchPage(cursor);
    yield page.items ?? [];
    const next = page.next ?? '';
    if (next === '') return;
    if (seen.has(next) || next === cursor) {
      throw new PlatformError(
        api,
        LOCAL_ERRCODES.repeatedCursor,
        'repeated cursor',
        t(
          '接口 {api} 返回了重复的分页游标，已停止读取以免死循环：请稍后重试，若持续出现请报告此问题。',
          'The API {api} returned a cursor it had returned before; reading stopped to avoid looping: try again later, and report it if it persists.',
          { api },
        ),
      );
    }
    if (n >= maxPages) {
      throw new PlatformError(api, LOCAL_ERRCODES.repeatedCursor, 'too many pages', t('接口 {api} 的分页超过 {n} 页，已停止读取。', 'The API {api} returned more than {n} pages; reading stopped.', { api, n: maxPages }));
    }
    seen.add(next);
    cursor = next;
  }
}
