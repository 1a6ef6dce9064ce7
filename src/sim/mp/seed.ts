import type { MpArticle, MpButton, MpFollowEvent, MpFollower, MpMaterial, MpMiniProgram, MpState } from './types.js';
import { appidFor, idFor, openidFor, prng } from './util.js';

/**
 * The demo company's Official Account (shared/demo-company.md): a menu with 3 top-level buttons (one
 * opens the linked mini program 示例商城), 240 followers of whom 225 still follow, tags 潜在客户 and
 * VIP客户, four published articles, and the follow history behind the statistics.
 *
 * The seed is deterministic and its times are relative ("3 days ago"): the first request pins them to
 * the simulated clock's day (`anchorMp`), so the last 60 days of statistics exist whenever the
 * simulator is started, and stay consistent as simulated days pass.
 */
export const SHOP_APPID = appidFor('示例商城');
export const MEMBER_APPID = appidFor('示例会员中心');
export const TAG_PROSPECT = 100;
export const TAG_VIP = 101;
export const STAR_TAG = 2;
export const SEEDED_FOLLOWERS = 240;

const DAY = 86_400_000;

/** subscribe_scene → datacube user_source (mp.md §4, §8). */
export const SCENE_SOURCE: Record<string, number> = {
  ADD_SCENE_SEARCH: 1,
  ADD_SCENE_PROFILE_CARD: 17,
  ADD_SCENE_QR_CODE: 30,
  ADD_SCENE_PROFILE_LINK: 57,
  ADD_SCENE_WECHAT_ADVERTISEMENT: 100,
  ADD_SCENE_REPRINT: 161,
  ADD_SCENE_CHANNELS: 200,
  ADD_SCENE_LIVESTREAM: 201,
  ADD_SCENE_OTHERS: 0,
};
const SCENES: [string, number][] = [
  ['ADD_SCENE_QR_CODE', 0.3],
  ['ADD_SCENE_SEARCH', 0.25],
  ['ADD_SCENE_PROFILE_LINK', 0.15],
  ['ADD_SCENE_PROFILE_CARD', 0.1],
  ['ADD_SCENE_REPRINT', 0.05],
  ['ADD_SCENE_WECHAT_ADVERTISEMENT', 0.05],
  ['ADD_SCENE_CHANNELS', 0.05],
  ['ADD_SCENE_OTHERS', 0.05],
];
const QR_SCENES = ['store_shanghai', 'expo_2026', 'brochure'];

const MENU: MpButton[] = [
  {
    name: '产品',
    sub_button: [
      { type: 'click', name: '产品价格', key: 'PRICE_LIST' },
      { type: 'view', name: '产品介绍', url: 'https://www.example.com/products' },
      { type: 'view', name: '客户案例', url: 'https://www.example.com/cases' },
    ],
  },
  { type: 'miniprogram', name: '商城', url: 'https://www.example.com/shop', appid: SHOP_APPID, pagepath: 'pages/index/index' },
  {
    name: '服务',
    sub_button: [
      { type: 'click', name: '联系我们', key: 'CONTACT_US' },
      { type: 'click', name: '常见问题', key: 'FAQ' },
      { type: 'view', name: '服务网点', url: 'https://www.example.com/service' },
    ],
  },
];

const ARTICLES: [string, number][] = [
  ['春季新品发布：示例智能办公套件', 3],
  ['客户案例｜华东区制造企业的数字化转型', 10],
  ['示例商城会员日：满减活动说明', 24],
  ['2026 年产品价格调整公告', 41],
];

export function seedMp(): MpState {
  const rand = prng(20261126);
  const drafts = Array.from({ length: SEEDED_FOLLOWERS }, () => {
    // Most followers are older than the 60 days of statistics; the rest arrived during them.
    const recent = rand() < 0.33;
    const ageMs = recent ? Math.floor(1 + rand() * 60) * DAY - Math.floor(rand() * DAY) : Math.floor(61 + rand() * 900) * DAY;
    let pick = rand();
    let scene = SCENES[SCENES.length - 1]![0];
    for (const [s, w] of SCENES) {
      if (pick < w) {
        scene = s;
        break;
      }
      pick -= w;
    }
    return { at: -ageMs, scene, r: rand() };
  });
  drafts.sort((a, b) => a.at - b.at);
  const followers: MpFollower[] = [];
  const log: MpFollowEvent[] = [];
  drafts.forEach((d, i) => {
    const openid = openidFor(i);
    const qr = d.scene === 'ADD_SCENE_QR_CODE';
    const tags: number[] = [];
    if (i % 5 === 1) tags.push(TAG_PROSPECT);
    if (i % 13 === 2) tags.push(TAG_VIP);
    if (i % 19 === 3) tags.push(STAR_TAG);
    const gone = i % 16 === 7;
    followers.push({
      openid,
      subscribe: gone ? 0 : 1,
      subscribe_time_s: Math.floor(d.at / 1000),
      subscribe_scene: d.scene,
      qr_scene: qr ? 1000 + (i % 3) : 0,
      qr_scene_str: qr ? QR_SCENES[i % 3]! : '',
      language: 'zh_CN',
      remark: '',
      tagid_list: gone ? [] : tags,
      last_interaction: i >= 1 && i <= 3 ? -2 * 3600_000 : null,
      cs_sent: 0,
      mass_month: '',
      mass_count: 0,
    });
    log.push({ openid, at: d.at, kind: 'subscribe', source: SCENE_SOURCE[d.scene] ?? 0 });
    if (gone) {
      // Unfollowed during the statistics window (or at once, for followers who came within it).
      const from = Math.max(d.at, -59 * DAY);
      log.push({ openid, at: Math.floor(from + (0 - from) * d.r * 0.95), kind: 'unsubscribe', source: 0 });
    }
  });
  log.sort((a, b) => a.at - b.at);
  const articles: MpArticle[] = ARTICLES.map(([title, daysAgo], i) => ({
    title,
    media_id: idFor('mp-draft', i, 43),
    article_id: idFor('mp-article', i, 44),
    msg_data_id: 2247483650 - (ARTICLES.length - i) * 2,
    url: `https://mp.weixin.qq.com/s/${idFor('mp-article-url', i, 22)}`,
    published_at: -daysAgo * DAY + 10 * 3600_000,
  }));
  const materials: MpMaterial[] = [
    { media_id: idFor('mp-material', 1, 43), type: 'image', name: '品牌海报.jpg' },
    { media_id: idFor('mp-material', 2, 43), type: 'image', name: '客服二维码.png' },
    { media_id: idFor('mp-material', 3, 43), type: 'voice', name: '欢迎语音.mp3' },
    { media_id: idFor('mp-material', 4, 43), type: 'video', name: '产品演示.mp4' },
  ];
  const miniprograms: MpMiniProgram[] = [
    { appid: SHOP_APPID, nickname: '示例商城', username: 'gh_7c1e2a3b4d5f', status: 1 },
    { appid: MEMBER_APPID, nickname: '示例会员中心', username: 'gh_3e5f7a9b1c2d', status: null },
  ];
  return {
    anchored_at: null,
    admin_openid: followers[0]!.openid,
    followers,
    follow_log: log,
    next_follower_seq: SEEDED_FOLLOWERS,
    tags: [
      { id: TAG_PROSPECT, name: '潜在客户' },
      { id: TAG_VIP, name: 'VIP客户' },
    ],
    next_tag_id: 102,
    menu: { button: structuredClone(MENU), menuid: 405162031 },
    next_menuid: 405162032,
    articles,
    materials,
    miniprograms,
    mass_jobs: [],
    next_msg_id: 1000000101,
    next_msg_data_id: 2247483650,
    next_message_seq: 1,
    outbox: [],
    days: {},
    quota: { day: '', used: {} },
    clear_quota: { month: '', count: 0 },
  };
}

/** Pins the seed's relative times to `startMs` (midnight of the simulated day the account first answered). */
export function anchorMp(mp: MpState, startMs: number): void {
  if (mp.anchored_at !== null) return;
  for (const f of mp.followers) {
    f.subscribe_time_s += Math.floor(startMs / 1000);
    if (f.last_interaction !== null) f.last_interaction += startMs;
  }
  for (const e of mp.follow_log) e.at += startMs;
  for (const a of mp.articles) a.published_at += startMs;
  mp.anchored_at = startMs;
}
