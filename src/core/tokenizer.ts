import { InputError } from './errors.js';
import { t } from './i18n.js';

/**
 * Splits a command line the way a shell would, but never evaluates anything. Chat clients send
 * full-width spaces and curly quotes (“示例 商城”), WeChat puts U+2005 after an @mention, and the
 * WeCom robot prefixes the text with "@机器人": all of that is folded here so every channel hands the
 * parser the same words.
 */
const SPACE_LIKE = /[\u3000\u2000-\u200a\u202f\u205f\u00a0\t\r\n]/g;
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff]/g;
const OPENING: Record<string, string> = {
  '"': '"',
  "'": "'",
  '“': '”',
  '‘': '’',
  '「': '」',
  '『': '』',
  '＂': '＂',
  '＇': '＇',
};

export interface TokenizeOptions {
  /** Names the bot answers to; a leading `@name` for any of them is dropped. */
  mentions?: string[];
  /** Drop every leading @mention, whoever it names (chat channels where only the bot is mentioned). */
  stripLeadingMentions?: boolean;
}

export function normalizeSpaces(input: string): string {
  return input.replace(ZERO_WIDTH, '').replace(SPACE_LIKE, ' ');
}

export function tokenize(input: string, opts: TokenizeOptions = {}): string[] {
  const text = normalizeSpaces(input);
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quoteClose: string | null = null;
  let quoteStart = -1;

  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoteClose !== null) {
      if (ch === quoteClose || (quoteClose === '”' && ch === '"') || (quoteClose === '"' && ch === '”')) {
        quoteClose = null;
      } else if (ch === '\\' && (text[i + 1] === quoteClose || text[i + 1] === '\\')) {
        current += text[++i];
      } else {
        current += ch;
      }
      continue;
    }
    if (ch === ' ') {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
      continue;
    }
    const close = OPENING[ch];
    if (close !== undefined) {
      quoteClose = close;
      quoteStart = i;
      inToken = true;
      continue;
    }
    if (ch === '”' || ch === '’' || ch === '」' || ch === '』') {
      throw new InputError(
        'UNBALANCED_QUOTES',
        t('第 {pos} 个字符处的右引号 {q} 没有对应的左引号。', 'The closing quote {q} at character {pos} has no opening quote.', {
          pos: i + 1,
          q: ch,
        }),
      );
    }
    if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inToken = true;
      continue;
    }
    current += ch;
    inToken = true;
  }
  if (quoteClose !== null) {
    throw new InputError(
      'UNBALANCED_QUOTES',
      t('第 {pos} 个字符处的引号没有闭合：请补上 {q}。', 'The quote opened at character {pos} is never closed: add {q}.', {
        pos: quoteStart + 1,
        q: quoteClose,
      }),
    );
  }
  if (inToken) tokens.push(current);
  return stripMentions(tokens, opts);
}

function stripMentions(tokens: string[], opts: TokenizeOptions): string[] {
  const names = new Set((opts.mentions ?? []).map((m) => m.replace(/^@/, '').toLowerCase()));
  let start = 0;
  while (start < tokens.length && tokens[start]!.startsWith('@') && tokens[start]!.length > 1) {
    const name = tokens[start]!.slice(1).toLowerCase();
    if (!opts.stripLeadingMentions && !names.has(name)) break;
    start++;
  }
  return start === 0 ? tokens : tokens.slice(start);
}
