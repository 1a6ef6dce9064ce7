import { PlatformError } from '../../core/errors.js';
import { t } from '../../core/i18n.js';

/**
 * Cursor loops stop on an empty or absent cursor and fail on a repeated one, instead of spinning
 * forever on a platform bug (wecom.md §10.2).
 */
export async function collectPages<T>(api: string, fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const all: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    all.push(...page.items);
    if (!page.next) return all;
    if (seen.has(page.next)) {
      throw new PlatformError(api, -5, 'repeated cursor', t('接口 {api} 返回了重复的分页游标，已停止读取以免死循环。', 'The API {api} returned a cursor it had returned before; reading stopped to avoid looping.', { api }));
    }
    seen.add(page.next);
    cursor = page.next;
  }
}
