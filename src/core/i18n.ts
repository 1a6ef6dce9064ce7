/**
 * User-facing text is carried as a zh/en pair and localised at the edge (reply rendering), so the
 * same error or result can be shown to a zh-CN user in the REPL and an English user in Slack.
 */
export type Lang = 'zh' | 'en';

export interface Text {
  zh: string;
  en: string;
}

/**
 * Build a bilingual text; `{name}` placeholders are filled from `params` in both languages. A param that
 * is itself a `Text` goes in in the matching language.
 */
export function t(zh: string, en: string, params?: Record<string, unknown>): Text {
  if (!params) return { zh, en };
  return { zh: fill(zh, params, 'zh'), en: fill(en, params, 'en') };
}

function isText(v: unknown): v is Text {
  return typeof v === 'object' && v !== null && typeof (v as Text).zh === 'string' && typeof (v as Text).en === 'string';
}

function fill(template: string, params: Record<string, unknown>, lang: Lang): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    if (!(key in params)) return whole;
    const v = params[key];
    return isText(v) ? v[lang] : String(v);
  });
}

export function currentLang(env: NodeJS.ProcessEnv = process.env): Lang {
  const v = (env.WXOPS_LANG ?? '').toLowerCase();
  return v.startsWith('en') ? 'en' : 'zh';
}

export function localize(text: Text | string, lang: Lang = currentLang()): string {
  return typeof text === 'string' ? text : text[lang];
}

/** Times as people here read them: local (WXOPS_TZ, default Asia/Shanghai), minutes, no "T" or "Z". */
export function formatTime(iso: string | Date, env: NodeJS.ProcessEnv = process.env): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: env.WXOPS_TZ || 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}
