import type { Store } from '../store/store.js';
import { fold } from '../mp/matcher.js';

/** The team's answers to common questions (快捷回复), found by keyword from the REPL or the group chat. */
export const QUICKREPLIES = 'quickreplies';
export const MAX_ANSWER_BYTES = 4000;

export interface QuickReply {
  keyword: string;
  answer: string;
  created_by: string;
  created_at: string;
}

export async function allQuickReplies(store: Store): Promise<QuickReply[]> {
  return (await store.list<QuickReply>(QUICKREPLIES)).sort((a, b) => a.keyword.localeCompare(b.keyword, 'zh'));
}

export function quickReplyId(keyword: string): string {
  return fold(keyword);
}

/** Entries whose keyword or answer contains the words, keyword hits first. */
export function findQuickReplies(all: QuickReply[], words: string): QuickReply[] {
  const w = fold(words);
  const inKeyword = all.filter((q) => fold(q.keyword).includes(w) || w.includes(fold(q.keyword)));
  const inAnswer = all.filter((q) => !inKeyword.includes(q) && fold(q.answer).includes(w));
  return [...inKeyword, ...inAnswer];
}
