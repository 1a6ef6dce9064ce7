import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { formatTime, t, type Text } from '../src/core/i18n.js';
import type { Plan } from '../src/core/plan.js';
import { message } from '../src/core/result.js';
import { checkMenu, diffMenus, menuLines, parseMenuFile } from '../src/mp/menu.js';
import type { Menu } from '../src/platform/mp/types.js';

/** Menus are small; a bigger file is not a menu. */
const MAX_MENU_FILE_BYTES = 256 * 1024;
const VERSIONS = 'mp-menu-versions';

export interface MenuVersion {
  version: number;
  menu: Menu;
  applied_at: string;
  applied_by: string;
  source: string;
}

const fileArg = arg(z.string().min(1), t('菜单文件（.yaml / .yml / .json，平台 menu/create 的格式）', 'menu file (.yaml / .yml / .json, in the platform’s menu/create shape)'), {
  placeholder: 'file',
  complete: 'file',
});

async function linkedAppids(ctx: CommandContext): Promise<Set<string>> {
  const linked = await (await ctx.mp()).linkedMiniPrograms();
  return new Set(linked.filter((m) => m.status === 1).map((m) => m.appid));
}

/** Reads and checks a menu file; any problem is bad input listing every problem, and nothing is sent. */
async function readMenuFile(ctx: CommandContext, file: string): Promise<{ menu: Menu; warnings: Text[] }> {
  const path = resolvePath(file);
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch {
    throw new InputError('FILE_NOT_FOUND', t('读不到文件 {f}。', 'Cannot read the file {f}.', { f: file }));
  }
  if (raw.length > MAX_MENU_FILE_BYTES) {
    throw new InputError('MENU_FILE_TOO_LARGE', t('{f} 有 {n} 字节，不像是菜单文件（最多 {m} 字节）。', '{f} is {n} bytes, too big for a menu file (at most {m}).', { f: file, n: raw.length, m: MAX_MENU_FILE_BYTES }));
  }
  const parsed = await parseMenuFile(raw.toString('utf8').replace(/^\uFEFF/, ''), file);
  if (parsed.error) throw new InputError('MENU_FILE_INVALID', parsed.error);
  const checked = checkMenu(parsed.menu, await linkedAppids(ctx), parsed.lines);
  if (!checked.menu) {
    throw new InputError(
      'MENU_INVALID',
      {
        zh: `${file} 有 ${checked.problems.length} 个问题，没有提交：\n${checked.problems.map((p) => `- ${p.zh}`).join('\n')}`,
        en: `${file} has ${checked.problems.length} problem(s); nothing was sent:\n${checked.problems.map((p) => `- ${p.en}`).join('\n')}`,
      },
      { problems: checked.problems.map((p) => p.en) },
    );
  }
  return { menu: checked.menu, warnings: checked.warnings };
}

async function versions(ctx: CommandContext): Promise<MenuVersion[]> {
  return (await (await ctx.store()).list<MenuVersion>(VERSIONS)).sort((a, b) => a.version - b.version);
}

function menuPlan(summary: Text, live: Menu | undefined, next: Menu, warnings: Text[]): Plan {
  const diff = diffMenus(live, next);
  if (!diff.changed) throw new InputError('MENU_UNCHANGED', t('线上菜单已经是这样了，无需提交。', 'The live menu is already exactly this; nothing to apply.'));
  return {
    summary,
    notes: [...warnings, t('与线上菜单的差异（+ 新增，- 删除）：', 'Changes against the live menu (+ added, - removed):'), ...diff.lines.map((l) => ({ zh: l, en: l }))],
    steps: [{ api: 'menu/create', method: 'POST', secret: 'mp', body: next, describe: t('提交新菜单（{n} 个一级菜单）', 'publish the menu ({n} top-level buttons)', { n: next.button.length }) }],
  };
}

/** Keeps what was live before wxops first changed it, then every applied menu, so any of them can come back. */
async function recordVersion(ctx: CommandContext, before: Menu | undefined, applied: Menu, source: string): Promise<number> {
  const store = await ctx.store();
  const list = await versions(ctx);
  let next = (list.at(-1)?.version ?? 0) + 1;
  // Version numbers are taken with create, so two instances applying at once never share one.
  const add = async (v: Omit<MenuVersion, 'version'>): Promise<number> => {
    while (!(await store.create<MenuVersion>(VERSIONS, String(next), { ...v, version: next }))) next++;
    return next++;
  };
  if (list.length === 0 && before) await add({ menu: before, applied_at: new Date(0).toISOString(), applied_by: '-', source: 'live before wxops' });
  return add({ menu: applied, applied_at: ctx.now().toISOString(), applied_by: ctx.actor.userid, source });
}

export const menuShow = defineCommand({
  name: 'menu show',
  alias: '菜单 查看',
  summary: t('查看公众号当前菜单', 'Show the Official Account menu'),
  params: {},
  action: 'menu.show',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const menu = await (await ctx.mp()).getMenu();
    if (!menu) return message(t('公众号还没有菜单。用 menu apply <文件> 设置。', 'The account has no menu yet. Set one with `menu apply <file>`.'), { menu: null }, 'info');
    return {
      data: { menu },
      view: { type: 'tree', roots: treeOf(menu), caption: t('公众号菜单（menuid {id}）', 'Official Account menu (menuid {id})', { id: menu.menuid ?? '-' }) },
    };
  },
});

function treeOf(menu: Menu) {
  const lines = menuLines(menu);
  const roots: { label: string; children: { label: string; children: [] }[] }[] = [];
  for (const line of lines) {
    if (/^\d+ /.test(line)) roots.push({ label: line, children: [] });
    else roots.at(-1)?.children.push({ label: line, children: [] });
  }
  return roots;
}

export const menuExport = defineCommand({
  name: 'menu export',
  alias: '菜单 导出',
  summary: t('把当前菜单导出为可编辑的 YAML/JSON 文件', 'Export the current menu as an editable YAML/JSON file'),
  details: t('导出的文件就是 menu/create 的格式：修改后用 menu plan 检查、menu apply 提交。', 'The file is in the menu/create shape: edit it, check it with `menu plan`, publish it with `menu apply`.'),
  examples: ['menu export menu.yaml', 'menu export menu.json'],
  params: { file: fileArg },
  action: 'menu.export',
  mutates: false,
  async run(ctx, a) {
    const menu = await (await ctx.mp()).getMenu();
    if (!menu) throw new InputError('NO_MENU', t('公众号还没有菜单，没有可导出的内容。', 'The account has no menu to export.'));
    const shape: Menu = { button: menu.button };
    const path = resolvePath(a.file);
    const json = extname(path).toLowerCase() === '.json';
    mkdirSync(dirname(path), { recursive: true });
    const { stringify } = await import('yaml');
    writeFileSync(path, json ? `${JSON.stringify(shape, null, 2)}\n` : `# 公众号菜单 / Official Account menu — edit, then: wxops run "menu plan ${a.file}"\n${stringify(shape)}`);
    return message(t('已导出菜单到 {f}。', 'Exported the menu to {f}.', { f: a.file }), { file: path, menu: shape });
  },
});

export const menuPlanCommand = defineCommand({
  name: 'menu plan',
  alias: '菜单 预览',
  summary: t('检查菜单文件并显示与线上菜单的差异（不提交）', 'Check a menu file and show its differences from the live menu (sends nothing)'),
  examples: ['menu plan menu.yaml'],
  params: { file: fileArg },
  action: 'menu.plan',
  mutates: false,
  async run(ctx, a) {
    const { menu, warnings } = await readMenuFile(ctx, a.file);
    const live = await (await ctx.mp()).getMenu();
    const diff = diffMenus(live, menu);
    const lines = diff.changed ? diff.lines : menuLines(menu).map((l) => `  ${l}`);
    return {
      data: { menu, changed: diff.changed, diff: diff.lines, warnings: warnings.map((w) => w.en) },
      view: {
        type: 'sections',
        sections: [
          {
            type: 'message',
            tone: diff.changed ? 'info' : 'success',
            text: diff.changed
              ? t('{f} 检查通过。与线上菜单的差异（+ 新增，- 删除）：', '{f} is valid. Changes against the live menu (+ added, - removed):', { f: a.file })
              : t('{f} 检查通过，与线上菜单相同。', '{f} is valid and identical to the live menu.', { f: a.file }),
          },
          ...warnings.map((w) => ({ type: 'message' as const, tone: 'warning' as const, text: w })),
          {
            type: 'table',
            columns: [
              { key: 'change', title: t('', '') },
              { key: 'button', title: t('按钮', 'button') },
            ],
            rows: lines.map((l) => ({ change: l.slice(0, 1).trim(), button: l.slice(2) })),
          },
        ],
      },
    };
  },
});

export const menuApply = defineCommand({
  name: 'menu apply',
  alias: '菜单 发布',
  summary: t('发布菜单文件（先校验，按策略审批）', 'Publish a menu file (checked first; approval per policy)'),
  details: t('每次发布的菜单都会保存为一个版本，可用 menu rollback 恢复。', 'Every published menu is kept as a version that `menu rollback` can restore.'),
  examples: ['menu apply menu.yaml --dry-run', 'menu apply menu.yaml'],
  params: { file: fileArg },
  action: 'menu.apply',
  attributes: ['file'],
  mutates: true,
  async resolve(_ctx, a) {
    // The file is read and checked in the plan, after the policy decided: a denied user learns nothing of it.
    return { file: a.file };
  },
  async plan(ctx, a) {
    const { menu, warnings } = await readMenuFile(ctx, a.file);
    const live = await (await ctx.mp()).getMenu();
    return menuPlan(t('发布菜单 {f}', 'Publish the menu {f}', { f: a.file }), live, menu, warnings);
  },
  async run(ctx, a, plan) {
    const before = await (await ctx.mp()).getMenu();
    await executePlan(ctx, plan!);
    const menu = plan!.steps[0]!.body as Menu;
    const version = await recordVersion(ctx, before, menu, a.file);
    return message(t('菜单已发布（版本 {v}）。关注者进入公众号时会看到新菜单（客户端最多 5 分钟后刷新）。', 'The menu is published (version {v}). Followers see it when they next open the account (clients refresh within 5 minutes).', { v: version }), {
      version,
      menu,
    });
  },
});

export const menuVersions = defineCommand({
  name: 'menu versions',
  alias: '菜单 版本',
  summary: t('列出发布过的菜单版本', 'List the published menu versions'),
  params: {},
  action: 'menu.show',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const list = await versions(ctx);
    return {
      data: { versions: list },
      view: {
        type: 'table',
        columns: [
          { key: 'version', title: t('版本', 'version'), align: 'right' },
          { key: 'applied_at', title: t('发布时间', 'published') },
          { key: 'applied_by', title: t('发布人', 'by') },
          { key: 'source', title: t('来源', 'source') },
          { key: 'buttons', title: t('按钮', 'buttons') },
        ],
        rows: list.map((v) => ({
          version: v.version,
          applied_at: v.source === 'live before wxops' ? '-' : formatTime(v.applied_at),
          applied_by: v.applied_by,
          source: v.source === 'live before wxops' ? (ctx.lang === 'zh' ? '使用 wxops 之前的菜单' : 'the menu before wxops') : v.source,
          buttons: v.menu.button.map((b) => b.name).join(' | '),
        })),
        footer: list.length ? undefined : t('还没有通过 wxops 发布过菜单。', 'No menu has been published through wxops yet.'),
      },
    };
  },
});

export const menuRollback = defineCommand({
  name: 'menu rollback',
  alias: '菜单 回滚',
  summary: t('恢复之前发布的菜单版本（默认上一个）', 'Restore an earlier menu version (the previous one by default)'),
  examples: ['menu rollback --dry-run', 'menu rollback --to 2'],
  params: {
    to: option(z.coerce.number().int().positive().optional(), t('要恢复的版本号（menu versions 查看）', 'the version to restore (see `menu versions`)'), { placeholder: 'version' }),
  },
  action: 'menu.rollback',
  attributes: ['version'],
  mutates: true,
  async resolve(_ctx, a) {
    return { version: a.to ?? 'previous' };
  },
  async plan(ctx, a) {
    const v = await target(ctx, a.to);
    const live = await (await ctx.mp()).getMenu();
    return menuPlan(t('恢复菜单版本 {v}', 'Restore menu version {v}', { v: v.version }), live, v.menu, []);
  },
  async run(ctx, a, plan) {
    const restored = (await target(ctx, a.to)).version;
    const before = await (await ctx.mp()).getMenu();
    await executePlan(ctx, plan!);
    const version = await recordVersion(ctx, before, plan!.steps[0]!.body as Menu, `rollback to ${restored}`);
    return message(t('已恢复菜单版本 {v}（记为版本 {n}）。', 'Restored menu version {v} (recorded as version {n}).', { v: restored, n: version }), { version, restored });
  },
});

async function target(ctx: CommandContext, to: number | undefined): Promise<MenuVersion> {
  const list = await versions(ctx);
  if (to !== undefined) {
    const found = list.find((v) => v.version === to);
    if (!found) throw new InputError('UNKNOWN_MENU_VERSION', t('没有菜单版本 {v}。用 menu versions 查看。', 'There is no menu version {v}. See `menu versions`.', { v: to }));
    return found;
  }
  if (list.length < 2) throw new InputError('NO_EARLIER_MENU', t('没有更早的菜单版本可以恢复。', 'There is no earlier menu version to restore.'));
  return list.at(-2)!;
}

export const menuCommands: CommandSpec<any>[] = [menuShow, menuExport, menuPlanCommand, menuApply, menuVersions, menuRollback];
