import type { Node as YamlNode } from 'yaml';
import { t, type Text } from '../core/i18n.js';
import type { Menu, MenuButton } from '../platform/mp/types.js';
import { bytes } from './reply.js';

/**
 * Menu files are the platform's own `menu/create` shape (mp.md §2) in YAML or JSON, so an exported menu
 * can be edited and applied back. Checking here mirrors the platform's limits — names counted in UTF-8
 * bytes — so a bad file is refused with every problem listed before anything is sent.
 */
export const MENU_LIMITS = { top: 3, sub: 5, topNameBytes: 16, subNameBytes: 60, keyBytes: 128, urlBytes: 1024 } as const;

/** Button types the API accepts, and the field each needs besides `name` (mp.md §2.3). */
const REQUIRED: Record<string, (keyof MenuButton)[]> = {
  click: ['key'],
  view: ['url'],
  miniprogram: ['url', 'appid', 'pagepath'],
  scancode_push: ['key'],
  scancode_waitmsg: ['key'],
  pic_sysphoto: ['key'],
  pic_photo_or_album: ['key'],
  pic_weixin: ['key'],
  location_select: ['key'],
  media_id: ['media_id'],
  view_limited: ['media_id'],
  article_id: ['article_id'],
  article_view_limited: ['article_id'],
};
export const MENU_BUTTON_TYPES = Object.keys(REQUIRED);
const FIELDS = new Set(['type', 'name', 'key', 'url', 'appid', 'pagepath', 'media_id', 'article_id', 'sub_button']);

export interface MenuFile {
  menu: Menu;
  /** Line of each button in the file, keyed `i` or `i.j` (0-based), for messages. */
  lines: Map<string, number>;
}

export async function parseMenuFile(text: string, file: string): Promise<{ menu?: unknown; lines: Map<string, number>; error?: Text }> {
  // YAML is loaded when a menu file is read, not on every start.
  const { LineCounter, parseDocument, isMap, isSeq } = await import('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? 0;
    return {
      lines: new Map(),
      error: t('{f} 第 {l} 行不是有效的 YAML/JSON：{m}', '{f} line {l} is not valid YAML/JSON: {m}', { f: file, l: line, m: e.message.split('\n')[0] }),
    };
  }
  const lines = new Map<string, number>();
  const buttons = doc.get('button', true) as YamlNode | undefined;
  if (isSeq(buttons)) {
    buttons.items.forEach((b, i) => {
      if (!isMap(b)) return;
      if (b.range) lines.set(String(i), lineCounter.linePos(b.range[0]).line);
      const subs = b.get('sub_button', true) as YamlNode | undefined;
      if (isSeq(subs)) {
        subs.items.forEach((sb, j) => {
          if ((sb as YamlNode).range) lines.set(`${i}.${j}`, lineCounter.linePos((sb as YamlNode).range![0]).line);
        });
      }
    });
  }
  return { menu: doc.toJS(), lines };
}

/**
 * Every problem with a menu, each naming the button ("第 2 个一级菜单“服务”的第 3 个子菜单") and
 * its line in the file when known. `linked` is the set of mini program AppIDs linked to the account.
 */
export function checkMenu(input: unknown, linked: ReadonlySet<string>, lines: Map<string, number> = new Map()): { menu?: Menu; problems: Text[]; warnings: Text[] } {
  const problems: Text[] = [];
  const warnings: Text[] = [];
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    return { problems: [t('菜单文件的顶层必须是带 button 列表的对象。', 'The menu file must be an object with a `button` list at the top.')], warnings };
  }
  const root = input as Record<string, unknown>;
  if (!('button' in root) && root.menu && typeof root.menu === 'object') {
    return {
      problems: [
        t(
          '这是 menu/get 的返回格式（button 在 menu 下面）；平台会拒绝它（40016）。请把 button 列表放在顶层，或用 menu export 导出可直接修改的文件。',
          'This is the shape menu/get answers (`button` under `menu`); the platform refuses it (40016). Put the `button` list at the top, or use `menu export` for a file you can edit and apply.',
        ),
      ],
      warnings,
    };
  }
  const extraTop = Object.keys(root).filter((k) => k !== 'button');
  if (extraTop.length) warnings.push(t('忽略顶层的 {k}（只读取 button）。', 'Ignored {k} at the top (only `button` is read).', { k: extraTop.join(', ') }));
  const top = root.button;
  if (!Array.isArray(top) || top.length < 1 || top.length > MENU_LIMITS.top) {
    problems.push(
      t('一级菜单需要 1–{n} 个，这里有 {m} 个。', 'A menu has 1–{n} top-level buttons; this one has {m}.', { n: MENU_LIMITS.top, m: Array.isArray(top) ? top.length : 0 }),
    );
    if (!Array.isArray(top)) return { problems, warnings };
  }
  const keys = new Map<string, string>();
  top.forEach((b, i) => {
    const where = place(i, undefined, b, lines);
    if (!b || typeof b !== 'object' || Array.isArray(b)) {
      push(problems, t('{w}：必须是一个按钮（带 name 的对象）。', '{w}: must be a button (an object with a name).'), where);
      return;
    }
    const button = b as Record<string, unknown>;
    checkName(button.name, MENU_LIMITS.topNameBytes, where, problems);
    unknownFields(button, where, problems);
    // menu/get answers `sub_button: []` on every leaf button: with a type, an empty list means none.
    if (Array.isArray(button.sub_button) && button.sub_button.length === 0 && button.type !== undefined) delete button.sub_button;
    if ('sub_button' in button) {
      const subs = button.sub_button;
      if (!Array.isArray(subs) || subs.length < 1 || subs.length > MENU_LIMITS.sub) {
        push(
          problems,
          t('{w}：子菜单需要 1–{n} 个，这里有 {m} 个。', '{w}: a button has 1–{n} sub-buttons; this one has {m}.', { n: MENU_LIMITS.sub, m: Array.isArray(subs) ? subs.length : 0 }),
          where,
        );
      }
      if (button.type !== undefined) push(warnings, t('{w}：有子菜单的按钮不需要 type，平台会忽略它。', '{w}: a button with sub-buttons needs no type; the platform ignores it.'), where);
      if (Array.isArray(subs)) {
        subs.forEach((s, j) => {
          const subWhere = place(i, j, s, lines, button.name);
          if (!s || typeof s !== 'object' || Array.isArray(s)) {
            push(problems, t('{w}：必须是一个按钮（带 name 的对象）。', '{w}: must be a button (an object with a name).'), subWhere);
            return;
          }
          const sub = s as Record<string, unknown>;
          if (Array.isArray(sub.sub_button) && sub.sub_button.length === 0) delete sub.sub_button;
          checkName(sub.name, MENU_LIMITS.subNameBytes, subWhere, problems);
          unknownFields(sub, subWhere, problems);
          if ('sub_button' in sub) push(problems, t('{w}：菜单最多两级，子菜单下不能再有 sub_button。', '{w}: menus have two levels; a sub-button cannot have sub_button.'), subWhere);
          checkAction(sub, subWhere, linked, keys, problems, warnings);
        });
      }
    } else {
      checkAction(button, where, linked, keys, problems, warnings);
    }
  });
  return problems.length ? { problems, warnings } : { menu: normalise(top as MenuButton[]), problems, warnings };
}

/** Where a button is, in both languages; it fills `{w}` in a message. */
type Where = Text;

function place(i: number, j: number | undefined, b: unknown, lines: Map<string, number>, parentName?: unknown): Where {
  const name = b && typeof b === 'object' && typeof (b as MenuButton).name === 'string' ? (b as MenuButton).name : '';
  const line = lines.get(j === undefined ? String(i) : `${i}.${j}`);
  const at = line ? { zh: `（第 ${line} 行）`, en: ` (line ${line})` } : { zh: '', en: '' };
  const zh =
    j === undefined
      ? `第 ${i + 1} 个一级菜单${name ? `“${name}”` : ''}${at.zh}`
      : `一级菜单${typeof parentName === 'string' ? `“${parentName}”` : ` ${i + 1}`}的第 ${j + 1} 个子菜单${name ? `“${name}”` : ''}${at.zh}`;
  const en =
    j === undefined
      ? `top-level button ${i + 1}${name ? ` “${name}”` : ''}${at.en}`
      : `sub-button ${j + 1}${name ? ` “${name}”` : ''} of ${typeof parentName === 'string' ? `“${parentName}”` : `button ${i + 1}`}${at.en}`;
  return { zh, en };
}

function push(list: Text[], text: Text, where: Where): void {
  list.push(t(text.zh, text.en, { w: where }));
}

function checkName(name: unknown, maxBytes: number, where: Where, problems: Text[]): void {
  if (typeof name !== 'string' || name.trim() === '') {
    push(problems, t('{w}：缺少名称（name）。', '{w}: the name is missing.'), where);
    return;
  }
  const n = bytes(name);
  if (n > maxBytes) {
    push(
      problems,
      t('{w}：名称“{n}”有 {b} 字节，最多 {m} 字节（一个汉字 3 字节）。', '{w}: the name “{n}” is {b} bytes; at most {m} bytes (a Chinese character is 3).', { n: name, b: n, m: maxBytes }),
      where,
    );
  }
}

function unknownFields(b: Record<string, unknown>, where: Where, problems: Text[]): void {
  const unknown = Object.keys(b).filter((k) => !FIELDS.has(k));
  if (unknown.length) {
    push(
      problems,
      t('{w}：不认识的字段 {k}（可用：type、name、key、url、appid、pagepath、media_id、article_id、sub_button）。', '{w}: unknown field {k} (known: type, name, key, url, appid, pagepath, media_id, article_id, sub_button).', {
        k: unknown.join(', '),
      }),
      where,
    );
  }
}

function checkAction(b: Record<string, unknown>, where: Where, linked: ReadonlySet<string>, keys: Map<string, string>, problems: Text[], warnings: Text[]): void {
  const type = b.type;
  if (typeof type !== 'string' || !(type in REQUIRED)) {
    push(
      problems,
      type === undefined
        ? t('{w}：缺少 type（可用：{ts}）。', '{w}: the type is missing (one of {ts}).', { ts: MENU_BUTTON_TYPES.join(', ') })
        : t('{w}：不支持的类型 {x}（可用：{ts}）。', '{w}: unsupported type {x} (one of {ts}).', { x: String(type), ts: MENU_BUTTON_TYPES.join(', ') }),
      where,
    );
    return;
  }
  for (const field of REQUIRED[type]!) {
    const v = b[field];
    if (typeof v !== 'string' || v.trim() === '') push(problems, t('{w}：{x} 类型的按钮必须有 {f}。', '{w}: a {x} button needs {f}.', { x: type, f: field }), where);
  }
  if (typeof b.key === 'string') {
    if (bytes(b.key) > MENU_LIMITS.keyBytes) push(problems, t('{w}：key 最多 {m} 字节。', '{w}: the key is at most {m} bytes.', { m: MENU_LIMITS.keyBytes }), where);
    const other = keys.get(b.key);
    if (other !== undefined) push(warnings, t('{w}：key {k} 与“{o}”重复，点击统计会合在一起。', '{w}: the key {k} is also used by “{o}”; their clicks are counted together.', { k: b.key, o: other }), where);
    else keys.set(b.key, String(b.name ?? ''));
  }
  if (typeof b.url === 'string' && b.url !== '') {
    if (!/^https?:\/\/\S+$/i.test(b.url)) push(problems, t('{w}：网址必须以 http:// 或 https:// 开头：{u}', '{w}: the URL must start with http:// or https://: {u}', { u: b.url }), where);
    if (bytes(b.url) > MENU_LIMITS.urlBytes) push(problems, t('{w}：网址最多 {m} 字节。', '{w}: the URL is at most {m} bytes.', { m: MENU_LIMITS.urlBytes }), where);
  }
  if (type === 'miniprogram' && typeof b.appid === 'string' && b.appid !== '' && !linked.has(b.appid)) {
    push(
      problems,
      t('{w}：小程序 {a} 没有关联到本公众号（已关联：{l}）。先关联，再用于菜单。', '{w}: the mini program {a} is not linked to this account (linked: {l}). Link it first.', {
        a: b.appid,
        l: [...linked].join(', ') || '—',
      }),
      where,
    );
  }
}

/** Field order as the platform writes it, without the empty `sub_button` lists menu/get adds, so files and diffs are stable. */
export function normalise(buttons: MenuButton[]): Menu {
  const order: (keyof MenuButton)[] = ['type', 'name', 'key', 'url', 'appid', 'pagepath', 'media_id', 'article_id'];
  const one = (b: MenuButton): MenuButton => {
    const out: Record<string, unknown> = {};
    if (b.sub_button?.length) {
      out.name = b.name;
      out.sub_button = b.sub_button.map(one);
      return out as unknown as MenuButton;
    }
    for (const k of order) if (b[k] !== undefined && b[k] !== '') out[k] = b[k];
    return out as unknown as MenuButton;
  };
  return { button: buttons.map(one) };
}

/** The menu as numbered lines: `1 产品`, `1.2 产品价格 · click PRICE_LIST`. */
export function menuLines(menu: Menu | undefined): string[] {
  if (!menu) return [];
  const out: string[] = [];
  const action = (b: MenuButton): string => {
    const target = b.key ?? b.url ?? b.media_id ?? b.article_id ?? '';
    const mini = b.type === 'miniprogram' ? ` ${b.appid} ${b.pagepath}` : '';
    return `${b.type} ${b.type === 'miniprogram' ? '' : target}${mini}`.replace(/\s+/g, ' ').trim();
  };
  menu.button.forEach((b, i) => {
    if (b.sub_button?.length) {
      out.push(`${i + 1} ${b.name}`);
      b.sub_button.forEach((s, j) => out.push(`${i + 1}.${j + 1} ${s.name} · ${action(s)}${s.type === 'miniprogram' ? ` (${s.url})` : ''}`));
    } else {
      out.push(`${i + 1} ${b.name} · ${action(b)}${b.type === 'miniprogram' ? ` (${b.url})` : ''}`);
    }
  });
  return out;
}

/** A line diff of two menus (`+` added, `-` removed, ` ` same), from the longest common subsequence. */
export function diffMenus(before: Menu | undefined, after: Menu): { lines: string[]; changed: boolean } {
  const a = menuLines(before);
  const b = menuLines(after);
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const lines: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      lines.push(`+ ${b[j]}`);
      j++;
    } else {
      lines.push(`- ${a[i]}`);
      i++;
    }
  }
  return { lines, changed: lines.some((l) => !l.startsWith('  ')) };
}

/** Every CLICK-like key and VIEW URL of a menu: what followers can press, and what is counted. */
export interface MenuTarget {
  name: string;
  parent?: string;
  type: string;
  key?: string;
  url?: string;
  appid?: string;
  pagepath?: string;
}

export function menuTargets(menu: Menu | undefined): MenuTarget[] {
  const out: MenuTarget[] = [];
  const one = (b: MenuButton, parent?: string): MenuTarget => ({ name: b.name, parent, type: b.type ?? '', key: b.key, url: b.url, appid: b.appid, pagepath: b.pagepath });
  for (const b of menu?.button ?? []) {
    if (b.sub_button?.length) for (const s of b.sub_button) out.push(one(s, b.name));
    else out.push(one(b));
  }
  return out;
}
