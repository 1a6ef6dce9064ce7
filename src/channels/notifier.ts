import type { PolicyEngine } from '../policy/engine.js';

/**
 * The reverse of `PolicyEngine.identity`: which chat account (a Slack user id, a wechaty contact id)
 * a WeCom userid is mapped to in policies/identities.yaml, so a channel can @-mention approvers where
 * the request was made. The one place that reads the identities this way round.
 */
export type MappedChannel = 'slack' | 'wechaty';

export function chatIdFor(policy: PolicyEngine, channel: MappedChannel, userid: string): string | undefined {
  const wanted = userid.toLowerCase();
  const map = policy.set.identities[channel] ?? {};
  for (const [chatId, mapped] of Object.entries(map)) if (mapped.toLowerCase() === wanted) return chatId;
  return undefined;
}

/** Each userid of `to` with the chat account it maps to (undefined when unmapped), in order. */
export function chatIdsFor(policy: PolicyEngine, channel: MappedChannel, to: string[]): { userid: string; chatId?: string }[] {
  return to.map((userid) => ({ userid, chatId: chatIdFor(policy, channel, userid) }));
}

/**
 * Splits a notification text at its `@userid` mentions (the approval service writes approvers as
 * `@lina`): the segments between them and, for each mention, the userid. A channel turns the userids
 * into its own mentions and joins the segments back; a userid not in `to` is left as text.
 */
export function splitMentions(text: string, to: string[]): { segments: string[]; userids: string[] } {
  const names = [...new Set(to)].filter(Boolean).sort((a, b) => b.length - a.length);
  if (!names.length) return { segments: [text], userids: [] };
  const pattern = new RegExp(`@(${names.map(escapeRegExp).join('|')})(?![\\w.@-])`, 'g');
  const segments: string[] = [];
  const userids: string[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    segments.push(text.slice(last, m.index));
    userids.push(m[1]!);
    last = m.index! + m[0].length;
  }
  segments.push(text.slice(last));
  return { segments, userids };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
