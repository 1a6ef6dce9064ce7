import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderAsync } from '@resvg/resvg-js';
import type { BarSeriesOption, LineSeriesOption } from 'echarts/charts';
import type { GraphicComponentOption, GridComponentOption, LegendComponentOption, TitleComponentOption } from 'echarts/components';
import type * as EChartsCore from 'echarts/core';
import type { Lang } from '../core/i18n.js';

/**
 * The digest's trend chart, drawn without a browser: Apache ECharts lays the chart out and writes it as
 * SVG (its server-side renderer needs no DOM), and resvg rasterises the SVG to PNG.
 *
 * Fonts: CI and the servers have no CJK fonts, so the glyphs come from the npm package
 * `@fontsource-variable/noto-sans-sc` (Noto Sans SC, SIL OFL 1.1, ~5 MB): Google Fonts' variable font
 * cut into ~100 WOFF2 slices by Unicode range. resvg reads only TTF/OTF, so for each chart the slices
 * holding its characters are decompressed (wawoff2), cut down to just those characters and pinned to
 * the Regular weight (harfbuzz's hb-subset, through `subset-font`; the font's own default weight is
 * Thin), then handed to resvg. System fonts are never loaded, so the PNG is the same on every machine.
 *
 * Only one weight is used: resvg's per-character fallback across font files ignores weight, so a bold
 * title drawn from several slices would come out in mixed weights. The title is set a size up, dark, with
 * a hairline outline instead.
 */

export interface TrendSeries {
  /** Shown in the legend, e.g. 新增客户. */
  name: string;
  /** One value per day (same length as `days`), each ≥ 0; null where there is no figure for the day. */
  values: (number | null)[];
  /** The unit of the values (人, 分钟, …): series with another unit than the first go on a second y-axis. At most two units. */
  unit?: string;
  /** Line (default) or bar. */
  type?: 'line' | 'bar';
}

export interface TrendChartInput {
  title: string;
  subtitle?: string;
  /** The x-axis labels, oldest first: 'MM-DD', usually 7 of them. */
  days: string[];
  /** 1 to 4 series. */
  series: TrendSeries[];
  /** Language of the chart's own words (notes, "no data", number abbreviations). Default zh. */
  lang?: Lang;
  /**
   * The last day is still in progress (today): its values are drawn hollow / dashed / faded and a note
   * says so. Omit, or pass null for that day, to leave it out instead.
   */
  lastDayPartial?: boolean;
  /** Logical size in px (default 900 × 500); the PNG is `scale` times that (default 2). */
  width?: number;
  height?: number;
  scale?: number;
}

/** Okabe–Ito colours: told apart with the common colour-vision deficiencies, and on white. */
export const CHART_PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7'] as const;
const SYMBOLS = ['circle', 'diamond', 'triangle', 'rect'] as const;
const DASHES: (number[] | 'solid')[] = ['solid', [8, 4], 'solid', [2, 3]];

const MAX_SERIES = CHART_PALETTE.length;
const MAX_DAYS = 31;
const TEXT = '#1f2329';
const MUTED = '#646a73';
const FAINT = '#86909c';
const GRID_LINE = '#e5e6eb';
/** The family asked for in the SVG. The actual face is mapped in as resvg's sans-serif (see rasterizeSvg). */
const FONT_FAMILY = "'Noto Sans SC', sans-serif";

const require = createRequire(import.meta.url);

/**
 * ECharts' prebuilt bundle (all charts and both renderers registered): loading it takes ~0.15 s, where
 * the ES module tree (`echarts/core` + parts) takes ~0.7 s. Loaded on first use.
 */
let echartsModule: typeof EChartsCore | undefined;
function echarts(): typeof EChartsCore {
  return (echartsModule ??= require('echarts') as typeof EChartsCore);
}

type Option = EChartsCore.ComposeOption<LineSeriesOption | BarSeriesOption | GridComponentOption | LegendComponentOption | TitleComponentOption | GraphicComponentOption>;

/** The chart as an SVG document (text as text, in the Noto Sans SC family), `width` × `height` px. */
export function renderTrendSvg(input: TrendChartInput): string {
  const { width, height } = checkInput(input);
  const chart = echarts().init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption(chartOption(input, height));
    return stableIds(chart.renderToSVGString());
  } finally {
    chart.dispose();
  }
}

/** The chart as PNG (`width·scale` × `height·scale` px, white background) — ~100 KB, well under the robot's 2 MB. */
export async function renderTrendChart(input: TrendChartInput): Promise<Buffer> {
  const svg = renderTrendSvg(input);
  return rasterizeSvg(svg, { scale: input.scale ?? 2 });
}

/** Rasterise an SVG whose text is drawn in Noto Sans SC (any family falls back to it) to PNG. */
export async function rasterizeSvg(svg: string, opts: { scale?: number } = {}): Promise<Buffer> {
  const scale = opts.scale ?? 2;
  if (!(scale > 0 && scale <= 8)) throw new RangeError(`scale must be in (0, 8], got ${scale}`);
  const fonts = await fontsFor(svgText(svg));
  // resvg-js 2.6's native binding takes fonts only as files (its wasm build takes buffers, but is 2–3×
  // slower), so the few small cut-down fonts go to a private temporary folder for the render.
  const dir = await mkdtemp(join(tmpdir(), 'wxops-chart-'));
  try {
    const fontFiles = await Promise.all(
      fonts.map(async (font, i) => {
        const file = join(dir, `${i}.ttf`);
        await writeFile(file, font);
        return file;
      }),
    );
    const family = fonts.length ? familyName(fonts[0]!) : undefined;
    const image = await renderAsync(svg, {
      font: {
        loadSystemFonts: false,
        fontFiles,
        ...(family ? { defaultFontFamily: family, sansSerifFamily: family, serifFamily: family, monospaceFamily: family } : {}),
      },
      fitTo: { mode: 'zoom', value: scale },
      background: '#ffffff',
      shapeRendering: 2,
      textRendering: 1,
      logLevel: 'off',
    });
    return image.asPng();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The characters of `text` the bundled font has no glyph for (Greek, emoji, a few dozen rare hanzi): resvg leaves them out. */
export function missingGlyphs(text: string): string[] {
  const cov = coverage();
  return [...new Set(text)].filter((ch) => !/\s/.test(ch) && !cov.has(ch.codePointAt(0)!));
}

// ---------------------------------------------------------------------------------------------------
// The chart

/**
 * zrender numbers its instances and CSS classes process-wide; renumber them in order of appearance so
 * the same chart gives the same SVG whatever was drawn before it.
 */
function stableIds(svg: string): string {
  const seen = new Map<string, string>();
  return svg.replace(/\bzr\d*-(cls-|c)?(\d+)\b/g, (id, kind: string | undefined) => {
    let fresh = seen.get(id);
    if (!fresh) {
      fresh = `zr-${kind ?? ''}${seen.size}`;
      seen.set(id, fresh);
    }
    return fresh;
  });
}

function checkInput(input: TrendChartInput): { width: number; height: number } {
  const width = input.width ?? 900;
  const height = input.height ?? 500;
  if (!(width >= 300 && width <= 4000 && height >= 200 && height <= 4000)) throw new RangeError(`chart size ${width}×${height} is out of range`);
  const n = input.days.length;
  if (n < 1 || n > MAX_DAYS) throw new RangeError(`a trend chart needs 1 to ${MAX_DAYS} days, got ${n}`);
  if (input.series.length < 1 || input.series.length > MAX_SERIES) throw new RangeError(`a trend chart takes 1 to ${MAX_SERIES} series, got ${input.series.length}`);
  for (const s of input.series) {
    if (s.values.length !== n) throw new RangeError(`series "${s.name}" has ${s.values.length} values for ${n} days`);
    for (const v of s.values) {
      if (v !== null && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`series "${s.name}" has the value ${v}; values are numbers ≥ 0, or null for no data`);
    }
  }
  const units = new Set(input.series.map((s) => s.unit ?? ''));
  if (units.size > 2) throw new RangeError(`a trend chart has at most two y-axes, but the series have ${units.size} units: ${[...units].join(', ')}`);
  return { width, height };
}

function chartOption(input: TrendChartInput, height: number): Option {
  const lang = input.lang ?? 'zh';
  const x = (zh: string, en: string) => (lang === 'zh' ? zh : en);
  const n = input.days.length;
  const partial = input.lastDayPartial === true;
  const units = [...new Set(input.series.map((s) => s.unit ?? ''))];
  const axisOf = (s: TrendSeries) => units.indexOf(s.unit ?? '');
  const hasGaps = input.series.some((s) => s.values.some((v, i) => v === null && !(partial && i === n - 1)));
  const emptyDay = input.days.map((_, i) => input.series.every((s) => s.values[i] === null));

  const notes: string[] = [];
  if (partial) notes.push(x(`* ${input.days[n - 1]} 为今天，数据尚不完整（空心点、虚线、浅色柱）`, `* ${input.days[n - 1]} is today, figures so far (hollow point, dashed line, faded bar)`));
  if (hasGaps) notes.push(x('折线断开处、缺柱处：当天无数据', 'A break in a line or a missing bar: no figure for that day'));

  const series: (LineSeriesOption | BarSeriesOption)[] = [];
  input.series.forEach((s, i) => {
    const color = CHART_PALETTE[i]!;
    const yAxisIndex = axisOf(s);
    if (s.type === 'bar') {
      series.push({
        type: 'bar',
        name: s.name,
        yAxisIndex,
        silent: true,
        emphasis: { disabled: true },
        color,
        barMaxWidth: 26,
        barGap: '15%',
        itemStyle: { borderRadius: [2, 2, 0, 0] },
        z: 2,
        data: s.values.map((v, d) =>
          partial && d === n - 1 && v !== null
            ? { value: v, itemStyle: { color: `${color}55`, borderColor: color, borderWidth: 1.5, borderType: 'dashed' as const } }
            : v,
        ),
      });
      return;
    }
    const nth = input.series.slice(0, i).filter((o) => o.type !== 'bar').length;
    const symbol = SYMBOLS[nth]!;
    const line: LineSeriesOption = {
      type: 'line',
      name: s.name,
      yAxisIndex,
      silent: true,
      emphasis: { disabled: true },
      color,
      symbol,
      symbolSize: symbol === 'circle' || symbol === 'rect' ? 7 : 9,
      showAllSymbol: true,
      connectNulls: false,
      lineStyle: { width: 2.5, type: DASHES[nth]! },
      itemStyle: { color, borderColor: '#ffffff', borderWidth: 1 },
      z: 3,
      data: s.values.map((v, d) => (partial && d === n - 1 ? null : v)),
    };
    series.push(line);
    const last = s.values[n - 1];
    if (partial && last !== null && last !== undefined) {
      // The day in progress: a dashed stretch to a hollow point. Same name, so it shares the legend entry.
      series.push({
        type: 'line',
        name: s.name,
        yAxisIndex,
        silent: true,
        emphasis: { disabled: true },
        color,
        symbol,
        symbolSize: line.symbolSize,
        showAllSymbol: true,
        connectNulls: false,
        lineStyle: { color, width: 2, type: [4, 4] },
        itemStyle: { color: '#ffffff', borderColor: color, borderWidth: 2 },
        z: 3,
        data: s.values.map((v, d) => (d === n - 1 ? v : d === n - 2 ? { value: v, symbol: 'none' } : null)),
      });
    }
  });

  const top = input.subtitle ? 72 : 56;
  const footer = notes.length ? 20 + 16 * notes.length : 16;
  const format = (v: number) => axisNumber(v, lang);
  const integerAxis = (k: number) => input.series.every((s) => axisOf(s) !== k || s.values.every((v) => v === null || Number.isInteger(v)));
  const axisColour = (k: number) => {
    const on = input.series.flatMap((s, i) => (axisOf(s) === k ? [i] : []));
    return units.length > 1 && on.length === 1 ? CHART_PALETTE[on[0]!]! : MUTED;
  };
  const yAxis = units.map((unit, k) => ({
    type: 'value' as const,
    position: k === 0 ? ('left' as const) : ('right' as const),
    min: 0,
    minInterval: integerAxis(k) ? 1 : undefined,
    alignTicks: k > 0 ? true : undefined,
    name: unit || undefined,
    nameGap: 14,
    // An axis that carries one series takes its colour, so a reader can tell which side it is read on.
    nameTextStyle: { color: axisColour(k), fontSize: 12, align: k === 0 ? ('right' as const) : ('left' as const), padding: k === 0 ? [0, 6, 0, 0] : [0, 0, 0, 6] },
    axisLine: { show: false },
    axisTick: { show: false },
    axisLabel: { color: MUTED, fontSize: 12, formatter: format },
    splitLine: { show: k === 0, lineStyle: { color: GRID_LINE, type: 'dashed' as const } },
  }));

  return {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: FONT_FAMILY },
    title: {
      text: input.title,
      subtext: input.subtitle ?? '',
      left: 22,
      top: 16,
      itemGap: 6,
      textStyle: { color: TEXT, fontSize: 20, fontWeight: 'normal', textBorderColor: TEXT, textBorderWidth: 0.5 },
      subtextStyle: { color: MUTED, fontSize: 12 },
    },
    legend: {
      top,
      selectedMode: false,
      left: 20,
      itemGap: 22,
      itemWidth: 22,
      itemHeight: 11,
      textStyle: { color: TEXT, fontSize: 13 },
      data: input.series.map((s) => ({ name: s.name, icon: s.type === 'bar' ? 'roundRect' : undefined })),
    },
    grid: {
      top: top + 52,
      bottom: footer + (emptyDay.some(Boolean) ? 42 : 26),
      left: 58,
      right: units.length > 1 ? 58 : 28,
    },
    xAxis: {
      type: 'category',
      boundaryGap: true,
      data: input.days.map((d, i) => (partial && i === n - 1 ? `${d}*` : emptyDay[i] ? `${d}\n${x('无数据', 'no data')}` : d)),
      axisLine: { lineStyle: { color: '#c9cdd4' } },
      axisTick: { alignWithLabel: true, lineStyle: { color: '#c9cdd4' } },
      axisLabel: { color: MUTED, fontSize: 12, interval: 0, lineHeight: 16 },
    },
    yAxis,
    series,
    graphic: notes.map((text, i) => ({
      type: 'text' as const,
      left: 22,
      top: height - footer + 4 + 16 * i,
      silent: true,
      style: { text, fill: FAINT, fontSize: 11, fontFamily: FONT_FAMILY },
    })),
  };
}

/** Axis numbers: 12000 → 1.2万 (zh) / 12k (en). */
function axisNumber(v: number, lang: Lang): string {
  const round = (x: number) => String(Number(x.toFixed(2)));
  if (lang === 'zh' && v >= 10_000) return `${round(v / 10_000)}万`;
  if (lang === 'en' && v >= 1_000) return `${round(v / 1_000)}k`;
  return round(v);
}

// ---------------------------------------------------------------------------------------------------
// Fonts

const FONT_PACKAGE = '@fontsource-variable/noto-sans-sc';
const REGULAR = 400;

interface Wawoff2 {
  decompress(woff2: Uint8Array): Promise<Uint8Array>;
}
type SubsetFont = (font: Buffer, text: string, opts: { targetFormat: 'truetype'; variationAxes: Record<string, number> }) => Promise<Buffer>;

let coverageMap: Map<number, string> | undefined;
/** Code point → the slice of the font that has it ('latin', '[23]', …), from the package's unicode.json. */
function coverage(): Map<number, string> {
  if (coverageMap) return coverageMap;
  const ranges = require(`${FONT_PACKAGE}/unicode.json`) as Record<string, string>;
  // Latin first, so ASCII comes from one slice whichever others overlap it.
  const keys = Object.keys(ranges).sort((a, b) => rank(a) - rank(b));
  const map = new Map<number, string>();
  for (const key of keys) {
    for (const part of ranges[key]!.split(',')) {
      const m = /^\s*U\+([0-9a-f]+)(?:-([0-9a-f]+))?\s*$/i.exec(part);
      if (!m) continue;
      const from = parseInt(m[1]!, 16);
      const to = m[2] ? parseInt(m[2], 16) : from;
      for (let cp = from; cp <= to; cp++) if (!map.has(cp)) map.set(cp, key);
    }
  }
  coverageMap = map;
  return map;
}

function rank(key: string): number {
  if (key === 'latin') return 0;
  if (key === 'latin-ext') return 1;
  const m = /^\[(\d+)\]$/.exec(key);
  return m ? 10 + Number(m[1]) : 5;
}

/** Decompressed slices (TTF), kept: the same few slices serve every digest. */
const sliceCache = new Map<string, Promise<Buffer>>();
/** Cut-down, weight-pinned fonts, by slice and characters. */
const subsetCache = new Map<string, Promise<Buffer>>();
const SUBSET_CACHE_MAX = 256;

function slice(key: string): Promise<Buffer> {
  let p = sliceCache.get(key);
  if (!p) {
    p = (async () => {
      const id = key.replace(/^\[(\d+)\]$/, '$1');
      const file = require.resolve(`${FONT_PACKAGE}/files/noto-sans-sc-${id}-wght-normal.woff2`);
      return decompressWoff2(await readFile(file));
    })();
    p.catch(() => sliceCache.delete(key));
    sliceCache.set(key, p);
  }
  return p;
}

let woff2Queue: Promise<unknown> = Promise.resolve();
/**
 * WOFF2 → TTF. wawoff2 hands back a view into its wasm heap that the next call overwrites, so calls
 * are run one at a time and the result is copied out before the next starts.
 */
function decompressWoff2(woff2: Uint8Array): Promise<Buffer> {
  const run = woff2Queue.then(async () => {
    const wawoff2 = require('wawoff2') as Wawoff2;
    return Buffer.from(await wawoff2.decompress(woff2));
  });
  woff2Queue = run.catch(() => undefined);
  return run;
}

function subset(sliceKey: string, chars: string): Promise<Buffer> {
  const key = `${sliceKey}\u0000${chars}`;
  let p = subsetCache.get(key);
  if (p) {
    subsetCache.delete(key);
    subsetCache.set(key, p);
    return p;
  }
  p = (async () => {
    const subsetFont = require('subset-font') as SubsetFont;
    return subsetFont(await slice(sliceKey), chars, { targetFormat: 'truetype', variationAxes: { wght: REGULAR } });
  })();
  p.catch(() => subsetCache.delete(key));
  subsetCache.set(key, p);
  while (subsetCache.size > SUBSET_CACHE_MAX) subsetCache.delete(subsetCache.keys().next().value!);
  return p;
}

/** One small TTF per slice that the text touches, holding just the text's characters; Latin first. */
async function fontsFor(text: string): Promise<Buffer[]> {
  const cov = coverage();
  const bySlice = new Map<string, Set<string>>();
  // The Latin slice always comes first (it is resvg's base face); digits and a space keep it non-empty.
  bySlice.set('latin', new Set(' 0123456789'));
  for (const ch of new Set(text)) {
    const id = cov.get(ch.codePointAt(0)!);
    if (id === undefined) continue;
    if (!bySlice.has(id)) bySlice.set(id, new Set());
    bySlice.get(id)!.add(ch);
  }
  const keys = [...bySlice.keys()].sort((a, b) => rank(a) - rank(b));
  return Promise.all(keys.map((key) => subset(key, [...bySlice.get(key)!].sort().join(''))));
}

/** The text content of an SVG's <text>/<tspan> elements, entities decoded. */
function svgText(svg: string): string {
  let out = '';
  for (const m of svg.matchAll(/<(text|tspan)\b[^>]*>([^<]*)/g)) out += decodeEntities(m[2]!);
  return out;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const k = e.toLowerCase();
    if (k === 'amp') return '&';
    if (k === 'lt') return '<';
    if (k === 'gt') return '>';
    if (k === 'quot') return '"';
    if (k === 'apos') return "'";
    const cp = k.startsWith('#x') ? parseInt(k.slice(2), 16) : parseInt(k.slice(1), 10);
    return Number.isFinite(cp) && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
  });
}

/** The family a font file declares (name ID 16, else 1; Windows platform), as fontdb will see it. */
function familyName(font: Buffer): string | undefined {
  const tables = font.readUInt16BE(4);
  for (let i = 0; i < tables; i++) {
    const rec = 12 + 16 * i;
    if (font.toString('latin1', rec, rec + 4) !== 'name') continue;
    const base = font.readUInt32BE(rec + 8);
    const count = font.readUInt16BE(base + 2);
    const strings = base + font.readUInt16BE(base + 4);
    const found = new Map<number, string>();
    for (let r = 0; r < count; r++) {
      const at = base + 6 + 12 * r;
      if (font.readUInt16BE(at) !== 3) continue;
      const nameId = font.readUInt16BE(at + 6);
      if (nameId !== 1 && nameId !== 16) continue;
      const len = font.readUInt16BE(at + 8);
      const off = strings + font.readUInt16BE(at + 10);
      let s = '';
      for (let j = 0; j + 1 < len; j += 2) s += String.fromCharCode(font.readUInt16BE(off + j));
      found.set(nameId, s);
    }
    return found.get(16) ?? found.get(1);
  }
  return undefined;
}
