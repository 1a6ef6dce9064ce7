import { z } from 'zod';
import { arg, defineCommand, flag, type AnyCommand, type ParamSpec } from '../src/core/command.js';
import { InputError } from '../src/core/errors.js';
import { t, type Lang } from '../src/core/i18n.js';
import { flagName, usageLine } from '../src/core/registry.js';
import type { View } from '../src/core/result.js';

/** Help is generated from the declarations, never written by hand (ARCHITECTURE §1). */
const GROUP_TITLES: Record<string, { zh: string; en: string }> = {
  dept: { zh: '部门', en: 'Departments' },
  member: { zh: '成员', en: 'Members' },
  tag: { zh: '通讯录标签', en: 'Contact tags' },
  customer: { zh: '客户', en: 'Customers' },
  ctag: { zh: '客户标签', en: 'Customer tags' },
  welcome: { zh: '欢迎语', en: 'Welcome messages' },
  quickreply: { zh: '快捷回复', en: 'Quick replies' },
  contactway: { zh: '联系我', en: 'Contact ways' },
  assign: { zh: '客户分配', en: 'Assignment' },
  menu: { zh: '公众号菜单', en: 'Official Account menu' },
  autoreply: { zh: '公众号自动回复', en: 'Auto-replies' },
  follower: { zh: '公众号关注者', en: 'Followers' },
  mptag: { zh: '关注者标签', en: 'Follower tags' },
  push: { zh: '群发', en: 'Pushes' },
  miniprogram: { zh: '小程序', en: 'Mini programs' },
  stats: { zh: '统计', en: 'Statistics' },
  digest: { zh: '运营日报', en: 'Daily digest' },
  backup: { zh: '备份', en: 'Backups' },
  approval: { zh: '审批', en: 'Approvals' },
  audit: { zh: '审计', en: 'Audit' },
  policy: { zh: '权限策略', en: 'Policy' },
  help: { zh: '帮助', en: 'Help' },
};

type Access = 'yes' | 'maybe' | 'no';

export const help = defineCommand({
  name: 'help',
  alias: '帮助',
  summary: t('列出命令，或查看某个命令的用法', 'List the commands, or show how to use one'),
  examples: ['help', 'help member add', '帮助 成员 添加'],
  params: {
    command: arg(z.array(z.string()).optional(), t('命令（可选）', 'command (optional)'), { many: true, required: false, placeholder: 'command', complete: 'command' }),
    all: flag(z.boolean(), t('也列出你无权执行的命令（带标记）', 'also list the commands you may not run (marked)')),
  },
  action: 'help',
  usesPlatform: false,
  mutates: false,
  async run(ctx, a) {
    const words = a.command ?? [];
    // What the asking member may run decides what help shows (ARCHITECTURE §5: least privilege).
    const dir = await ctx.directory();
    const me = dir.actor(ctx.actor.userid);
    const access = (c: AnyCommand): Access => dir.policy.mayRun(me, c.action);
    if (words.length === 0) return overview(ctx.registry.commands, ctx.lang, access, a.all);
    const routed = ctx.registry.route(words);
    if (routed && routed.rest.length === 0) return detail(routed.command, ctx.lang, access(routed.command));
    const group = ctx.registry.group(words[0]!);
    if (group.length && words.length === 1) return overview(group, ctx.lang, access, a.all);
    const suggestions = ctx.registry.suggest(words);
    throw new InputError(
      'UNKNOWN_COMMAND',
      {
        zh: `没有 “${words.join(' ')}” 这个命令。${suggestions.length ? `你是不是想查：${suggestions.join(' / ')}？` : '输入 help 查看全部命令。'}`,
        en: `There is no command “${words.join(' ')}”. ${suggestions.length ? `Did you mean: ${suggestions.join(' / ')}?` : 'Type `help` for the list.'}`,
      },
      { suggestions },
    );
  },
});

function overview(all: AnyCommand[], lang: Lang, access: (c: AnyCommand) => Access, showAll: boolean): { data: unknown; view: View } {
  const commands = showAll ? all : all.filter((c) => access(c) !== 'no');
  const hidden = all.length - commands.length;
  const mark = (c: AnyCommand) => (access(c) === 'no' ? (lang === 'zh' ? '（无权限）' : ' (not allowed)') : access(c) === 'maybe' ? (lang === 'zh' ? '（限管辖范围）' : ' (within your scope)') : '');
  const groups = new Map<string, AnyCommand[]>();
  for (const c of commands) {
    const g = c.name.split(' ')[0]!;
    (groups.get(g) ?? groups.set(g, []).get(g)!).push(c);
  }
  const sections: View[] = [];
  for (const [g, list] of groups) {
    sections.push({
      type: 'table',
      caption: t('{zh}（{g}）', '{en} ({g})', { zh: GROUP_TITLES[g]?.zh ?? g, en: GROUP_TITLES[g]?.en ?? g, g }),
      columns: [
        { key: 'usage', title: t('命令', 'command') },
        { key: 'alias', title: t('中文', 'Chinese') },
        { key: 'summary', title: t('说明', 'what it does') },
      ],
      rows: list.map((c) => ({ usage: c.name, alias: c.alias, summary: c.summary[lang] + mark(c) })),
    });
  }
  sections.push({
    type: 'message',
    tone: 'info',
    text: hidden
      ? t('输入 help <命令> 查看用法。修改类命令都可以加 --dry-run 只看计划。另有 {n} 个命令你无权执行，help --all 可查看。', 'Type help <command> for its usage. Commands that change something accept --dry-run. {n} more commands are not allowed for you: help --all lists them.', { n: hidden })
      : t('输入 help <命令> 查看用法，如 help member add。修改类命令都可以加 --dry-run 只看计划。', 'Type help <command> for its usage, e.g. help member add. Every command that changes something accepts --dry-run to show the plan only.'),
  });
  return {
    data: { commands: commands.map((c) => ({ name: c.name, alias: c.alias, summary: c.summary[lang], action: c.action, mutates: c.mutates, allowed: access(c) !== 'no' })), hidden },
    view: { type: 'sections', sections },
  };
}

function detail(c: AnyCommand, lang: Lang, access: Access): { data: unknown; view: View } {
  const usage = usageLine(c, lang);
  const params = (Object.entries(c.params) as [string, ParamSpec][]).map(([key, p]) => ({
    param: p.kind === 'arg' ? `<${p.placeholder ?? key}>` : `--${flagName(key)}${p.kind === 'option' ? ` <${p.placeholder ?? key}>` : ''}${p.short ? `, -${p.short}` : ''}`,
    required: p.required ? (lang === 'zh' ? '必填' : 'required') : '',
    description: p.description[lang] + (p.many ? (lang === 'zh' ? '（可多个）' : ' (repeatable)') : ''),
  }));
  if (c.mutates) params.push({ param: '--dry-run', required: '', description: lang === 'zh' ? '只显示计划，不执行' : 'show the plan, change nothing' });
  const sections: View[] = [
    {
      type: 'fields',
      caption: t('{name}（{alias}）', '{name} ({alias})', { name: c.name, alias: c.alias }),
      fields: [
        { label: t('说明', 'what'), value: (c.details ?? c.summary)[lang] },
        { label: t('用法', 'usage'), value: usage },
        { label: t('权限动作', 'policy action'), value: c.action + (access === 'no' ? (lang === 'zh' ? '（你无权执行）' : ' (you may not run it)') : access === 'maybe' ? (lang === 'zh' ? '（限你管辖的范围）' : ' (within your scope)') : '') },
        ...(c.examples?.length ? [{ label: t('示例', 'examples'), value: c.examples.join('\n') }] : []),
      ],
    },
  ];
  if (params.length) {
    sections.push({
      type: 'table',
      columns: [
        { key: 'param', title: t('参数', 'parameter') },
        { key: 'required', title: t('', '') },
        { key: 'description', title: t('说明', 'description') },
      ],
      rows: params,
    });
  }
  return { data: { name: c.name, alias: c.alias, usage, action: c.action, mutates: c.mutates, allowed: access !== 'no', summary: c.summary[lang], params }, view: { type: 'sections', sections } };
}
