import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError, RuntimeFailure } from '../src/core/errors.js';
import { t } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { composeDigest, digestChart, DigestRangeError, sendDigest, type Digest } from '../src/jobs/digest.js';

/** The daily digest: preview it (markdown and chart), or post it to the ops group now. */
const dateParam = option(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: '日期格式为 YYYY-MM-DD / a date is YYYY-MM-DD' }).optional(), t('哪一天（默认昨天）', 'which day (default yesterday)'), { placeholder: 'YYYY-MM-DD' });

async function compose(ctx: CommandContext, date?: string): Promise<Digest> {
  try {
    return await composeDigest({ customers: ctx.customers, mp: ctx.mp, platform: ctx.platform, org: ctx.org, store: ctx.store, now: ctx.now }, date);
  } catch (err) {
    if (err instanceof DigestRangeError) throw new InputError('DIGEST_DATE', err.text);
    throw err;
  }
}

export const digestPreview = defineCommand({
  name: 'digest preview',
  alias: '日报 预览',
  summary: t('预览运营日报（文字和趋势图）', 'Preview the daily digest (text and trend chart)'),
  examples: ['digest preview', 'digest preview --date 2026-11-20 --png 日报.png'],
  params: { date: dateParam, png: option(z.string().optional(), t('趋势图存到这个文件（默认在数据目录的 digest/ 下）', 'save the chart here (default: digest/ in the data directory)'), { placeholder: 'file', complete: 'file' }) },
  action: 'digest.preview',
  mutates: false,
  async run(ctx, a) {
    const d = await compose(ctx, a.date);
    const file = resolvePath(a.png ?? join(ctx.dataDir, 'digest', `digest-${d.date}.png`));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, await digestChart(d));
    return {
      data: { ...d.data, markdown: d.markdown[ctx.lang], chart: file },
      view: {
        type: 'sections',
        sections: [
          { type: 'message', tone: 'info', text: d.markdown },
          { type: 'message', tone: 'success', text: t('趋势图：{f}', 'Trend chart: {f}', { f: file }) },
        ],
      },
    };
  },
});

export const digestSend = defineCommand({
  name: 'digest send',
  alias: '日报 发送',
  summary: t('现在把运营日报发到运维群', 'Post the daily digest to the ops group now'),
  params: { date: dateParam },
  action: 'digest.send',
  mutates: true,
  async plan(ctx, a) {
    const { robot } = await ctx.platform();
    if (!robot) throw new RuntimeFailure('NO_WEBHOOK', t('没有配置群机器人：请设置 WXOPS_WEBHOOK_KEY。', 'No group robot is configured: set WXOPS_WEBHOOK_KEY.'));
    const d = await compose(ctx, a.date);
    return { summary: t('把 {d} 的运营日报发到运维群（文字 + 趋势图）', 'Post the digest for {d} to the ops group (text + chart)', { d: d.date }), steps: [] };
  },
  async run(ctx, a) {
    const { robot } = await ctx.platform();
    const d = await compose(ctx, a.date);
    await sendDigest(d, robot!, ctx.lang);
    return message(t('已把 {d} 的运营日报发到运维群。', 'Posted the digest for {d} to the ops group.', { d: d.date }), { date: d.date });
  },
});

export const digestCommands: CommandSpec<any>[] = [digestPreview, digestSend];
