/**
 * User-facing text is carried as a zh/en pair and localised at the edge (reply rendering), so the
 * same error or result can be shown to a zh-CN user in the REPL and an English user in Slack.
 */
export type Lang = 'zh' | 'en';

export interface Text {
  zh: string;
  en: string;
}

/** Build a bilingual text; `{name}` placeholders are filled from `params` in both languages. */
export function t(zh: string, en: string, params?: Record<string, unknown>): Text {
  if (!params) return { zh, en };
  return { zh: fill(zh, params), en: fill(en, params) };
}

function fill(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in params ? String(params[key]) : whole,
  );
}

export function currentLang(env: NodeJS.ProcessEnv = process.env): Lang {
  const v = (env.WXOPS_LANG ?? '').toLowerCase();
  return v.startsWith('en') ? 'en' : 'zh';
}

export function localize(text: Text | string, lang: Lang = currentLang()): string {
  return typeof text === 'string' ? text : text[lang];
}
