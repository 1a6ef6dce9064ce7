import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHART_PALETTE, missingGlyphs, rasterizeSvg, renderTrendChart, renderTrendSvg, type TrendChartInput } from '../src/jobs/chart.js';

/** The README's example: the digest's customer-contact trend for the 7 days to 06-14. */
const example: TrendChartInput = {
  title: '近 7 天客户联系',
  subtitle: '示例科技 · 2025-06-08 至 06-14',
  days: ['06-08', '06-09', '06-10', '06-11', '06-12', '06-13', '06-14'],
  series: [
    { name: '新增客户', unit: '人', type: 'bar', values: [32, 41, 28, 55, 47, 38, 44] },
    { name: '流失客户', unit: '人', type: 'bar', values: [5, 3, 8, 4, 6, 2, 3] },
    { name: '平均回复时长(分钟)', unit: '分钟', values: [12.5, 9.8, 15.2, 11, 8.4, 10.1, 9.2] },
  ],
};

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('trend chart', () => {
  it('renders the digest chart as a PNG of 1800 × 1000 px, well under the robot’s 2 MB', async () => {
    const png = await renderTrendChart(example);
    expect(pngSize(png)).toEqual({ width: 1800, height: 1000 });
    expect(png.length).toBeLessThan(2 * 1024 * 1024);
    expect(png.length).toBeGreaterThan(10_000); // a picture, not an empty canvas

    if (process.env.WXOPS_WRITE_EXAMPLES) {
      const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'examples', 'digest-chart.png');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, png);
    }
  });

  it('writes the Chinese title, series names and units into the SVG as text', () => {
    const svg = renderTrendSvg(example);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['近 7 天客户联系', '示例科技', '新增客户', '流失客户', '平均回复时长(分钟)', '>人<', '>分钟<', '06-08', '06-14']) {
      expect(svg).toContain(text);
    }
    for (const colour of CHART_PALETTE.slice(0, 3)) expect(svg).toContain(colour);
  });

  it('is deterministic: the same input gives the same SVG and the same PNG bytes', async () => {
    expect(renderTrendSvg(example)).toBe(renderTrendSvg(example));
    const a = await renderTrendChart(example);
    const b = await renderTrendChart(example);
    expect(a.equals(b)).toBe(true);
  });

  it('draws Chinese glyphs from the bundled font (different characters, different shapes — no tofu)', async () => {
    const one = (text: string) =>
      rasterizeSvg(`<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40"><text x="4" y="30" style="font-size:28px;font-family:'Noto Sans SC'">${text}</text></svg>`, { scale: 1 });
    const [ke, hu, blank] = await Promise.all([one('客'), one('户'), one('')]);
    expect(ke.equals(blank)).toBe(false);
    expect(hu.equals(blank)).toBe(false);
    expect(ke.equals(hu)).toBe(false);
    expect(missingGlyphs(JSON.stringify(example))).toEqual([]);
    expect(missingGlyphs('运营日报 聊天数 新增关注 回复率 ％（）：，。')).toEqual([]);
  });

  it('renders a chart with missing days and notes the gaps', async () => {
    const input: TrendChartInput = {
      title: '近 7 天运营趋势',
      days: example.days,
      series: [
        { name: '新增客户', values: [32, 41, null, 55, 47, 38, null] },
        { name: '聊天数', values: [320, 410, 280, null, 470, 380, null] },
        { name: '新增关注', values: [null, null, null, null, null, null, null] },
      ],
    };
    const svg = renderTrendSvg(input);
    expect(svg).toContain('当天无数据');
    expect(svg).toContain('无数据'); // 06-14 has no figure at all
    const png = await renderTrendChart(input);
    expect(pngSize(png)).toEqual({ width: 1800, height: 1000 });
  });

  it('draws an unfinished last day differently and says so', async () => {
    const svg = renderTrendSvg({ ...example, lastDayPartial: true });
    expect(svg).toContain('06-14*');
    expect(svg).toContain('数据尚不完整');
    expect(svg).toContain('stroke-dasharray');
    const png = await renderTrendChart({ ...example, lastDayPartial: true });
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  });

  it('speaks English when asked, and shortens large numbers', () => {
    const svg = renderTrendSvg({
      title: 'Customer contact, last 7 days',
      days: example.days,
      lang: 'en',
      series: [{ name: 'Chats', values: [1200, 3400, null, 5600, 4100, 2900, 3300] }],
    });
    expect(svg).toContain('no figure for that day');
    expect(svg).toMatch(/>\dk</);
  });

  it('takes any size and scale', async () => {
    const png = await renderTrendChart({ ...example, width: 600, height: 400, scale: 1.5 });
    expect(pngSize(png)).toEqual({ width: 900, height: 600 });
  });

  it('escapes markup in labels', async () => {
    const svg = renderTrendSvg({ ...example, title: '<新增> & "流失"', subtitle: undefined });
    expect(svg).not.toContain('<新增>');
    const png = await renderTrendChart({ ...example, title: '<新增> & "流失"' });
    expect(pngSize(png).width).toBe(1800);
  });

  it('rejects input it cannot draw honestly', () => {
    const series = example.series;
    expect(() => renderTrendSvg({ ...example, series: [{ name: 'x', values: [1, 2, 3] }] })).toThrow(RangeError);
    expect(() => renderTrendSvg({ ...example, series: [{ name: 'x', values: [1, 2, 3, 4, 5, 6, -1] }] })).toThrow(/≥ 0/);
    expect(() => renderTrendSvg({ ...example, series: [{ name: 'x', values: [1, 2, 3, 4, 5, 6, Number.NaN] }] })).toThrow(RangeError);
    expect(() => renderTrendSvg({ ...example, series: [] })).toThrow(RangeError);
    expect(() => renderTrendSvg({ ...example, series: [...series, ...series] })).toThrow(/1 to 4 series/);
    expect(() => renderTrendSvg({ ...example, series: [...series, { name: '回复率', unit: '%', values: [1, 2, 3, 4, 5, 6, 7] }] })).toThrow(/two y-axes/);
    expect(() => renderTrendSvg({ ...example, days: [] })).toThrow(RangeError);
  });
});
