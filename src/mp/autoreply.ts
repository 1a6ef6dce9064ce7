import { t, type Text } from '../core/i18n.js';
import type { Store } from '../store/store.js';
import { KeywordMatcher } from './matcher.js';
import { describeReply, type Reply } from './reply.js';

/**
 * The account's auto-replies, which the API cannot set (mp.md §6.1): wxops keeps them and answers
 * followers itself from the message callback.
 */
export interface KeywordReply {
  keyword: string;
  match: 'exact' | 'contains';
  reply: Reply;
  created_by?: string;
  created_at?: string;
}

export interface AutoreplyConfig {
  subscribe?: Reply;
  default?: Reply;
  /** In order: the first rule that matches answers. */
  keywords: KeywordReply[];
  /** Menu CLICK keys bound to a reply. */
  clicks: Record<string, Reply>;
}

const COLLECTION = 'mp';
const ID = 'autoreply';

export async function loadAutoreply(store: Store): Promise<AutoreplyConfig> {
  const saved = await store.get<AutoreplyConfig>(COLLECTION, ID);
  return { keywords: [], clicks: {}, ...saved };
}

export async function saveAutoreply(store: Store, cfg: AutoreplyConfig): Promise<void> {
  await store.update<AutoreplyConfig>(COLLECTION, ID, () => cfg);
}

/**
 * Changes the rules in one atomic step: `fn` gets the rules as stored now (an edit made on another
 * instance at the same moment is not lost) and may throw to change nothing. Returns what was stored.
 */
export async function updateAutoreply(store: Store, fn: (cfg: AutoreplyConfig) => AutoreplyConfig): Promise<AutoreplyConfig> {
  const stored = await store.update<AutoreplyConfig>(COLLECTION, ID, (saved) => fn({ keywords: [], clicks: {}, ...saved }));
  return stored!;
}

/** What answered a message, for `autoreply test` and the audit of callbacks. */
export interface Answer {
  reply?: Reply;
  rule: Text;
}

/** A config with its keywords compiled; build once per change, answer many times. */
export class Autoreplies {
  private readonly matcher: KeywordMatcher;

  constructor(readonly config: AutoreplyConfig) {
    this.matcher = new KeywordMatcher(config.keywords);
  }

  /** The reply to a follower's text: the first matching keyword rule, else the default reply. */
  text(content: string): Answer {
    const i = this.matcher.match(content);
    if (i >= 0) {
      const k = this.config.keywords[i]!;
      return {
        reply: k.reply,
        rule: t('关键词 “{k}”（{mz}，第 {n} 条）', 'keyword “{k}” ({me}, rule {n})', {
          k: k.keyword,
          mz: k.match === 'exact' ? '全匹配' : '包含',
          me: k.match,
          n: i + 1,
        }),
      };
    }
    if (this.config.default) return { reply: this.config.default, rule: t('默认回复', 'the default reply') };
    return { rule: t('没有匹配的规则，也没有默认回复（不回复）', 'no rule matches and there is no default reply (no answer)') };
  }

  subscribe(): Answer {
    return this.config.subscribe
      ? { reply: this.config.subscribe, rule: t('关注回复', 'the subscribe reply') }
      : { rule: t('没有设置关注回复（不回复）', 'no subscribe reply is set (no answer)') };
  }

  click(key: string): Answer {
    const reply = this.config.clicks[key];
    return reply ? { reply, rule: t('菜单按钮 {k}', 'menu key {k}', { k: key }) } : { rule: t('菜单按钮 {k} 没有绑定回复', 'menu key {k} has no reply bound', { k: key }) };
  }
}

export function describeAnswer(a: Answer): Text {
  if (!a.reply) return a.rule;
  const r = describeReply(a.reply);
  return { zh: `${a.rule.zh} → ${r.zh}`, en: `${a.rule.en} → ${r.en}` };
}
