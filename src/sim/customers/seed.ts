import { prng } from '../random.js';
import type { SimUser } from '../state.js';
import type { CustomerState, SimCustomer, SimRelation, SimTagGroup } from './state.js';
import { externalUseridFor, seconds, tagIdFor, DAY_MS } from './util.js';

/**
 * The demo company's customers (shared/demo-company.md): corp tag groups 客户等级 and 地区; wangfang and
 * zhouqiang follow at least 5 customers each, liuyang at least 3, two customers are followed by both
 * wangfang and zhouqiang; the other members spread over the rest. Every named member and most generated
 * ones are follow users; generated members 3 (active), 7 (disabled) and 11 (not activated) are not, so
 * "a member not enabled for 客户联系" exists. Deterministic: same ids and names on every machine.
 *
 * With a scale (benchmarks), that many extra members each follow an even share of that many customers,
 * one relation per customer and about 3 % with a second owner.
 */
export interface ScaleOption {
  members: number;
  customers: number;
}

/** Generated members (index among the generated ones) left out of 客户联系. */
export const NOT_FOLLOWING = [3, 7, 11];

const SURNAMES = ['陈', '林', '黄', '郑', '吴', '蔡', '许', '谢', '曾', '彭', '邓', '宋', '冯', '韩', '唐', '萧', '程', '袁', '潘', '于', '董', '叶', '苏', '魏'];
const GIVEN = ['建国', '小红', '雨桐', '子涵', '浩然', '梓萱', '宇轩', '思远', '婉清', '俊杰', '嘉怡', '文博', '欣怡', '天宇', '佳琪', '志明', '春梅', '国栋', '晓燕', '明辉'];
const COMPANIES: [string, string][] = [
  ['华信贸易', '上海华信贸易有限公司'],
  ['南粤物流', '广州南粤物流股份有限公司'],
  ['北辰软件', '北京北辰软件技术有限公司'],
  ['东方电器', '苏州东方电器有限公司'],
  ['鹏程建材', '深圳鹏程建材有限公司'],
  ['恒远医疗', '杭州恒远医疗器械有限公司'],
];
const POSITIONS = ['采购经理', '总经理', '运营总监', '行政主管', '技术负责人'];
const STATES = ['website', 'expo2025', 'wechat-ad'];

export function emptyCustomers(): CustomerState {
  return {
    version: 1,
    follow_users: [],
    departed: [],
    customers: [],
    relations: [],
    tag_groups: [],
    contact_ways: [],
    welcome_codes: [],
    transfers: [],
    outbox: [],
    activity: {},
    behavior_anchor: null,
    next_relation_seq: 1,
    next_customer_seq: 1,
    next_tag_seq: 1,
    next_way_seq: 1,
  };
}

function seedTags(cs: CustomerState, at: number): Record<string, string> {
  const ids: Record<string, string> = {};
  const groups: [string, string[]][] = [
    ['客户等级', ['高潜力客户', '已成交客户', '潜在客户']],
    ['地区', ['华东', '华南', '华北']],
  ];
  groups.forEach(([name, tags], gi) => {
    const group: SimTagGroup = { group_id: tagIdFor(cs.next_tag_seq++), group_name: name, create_time: at, order: groups.length - gi, owner: 'customer', tag: [] };
    tags.forEach((t, ti) => {
      const id = tagIdFor(cs.next_tag_seq++);
      ids[t] = id;
      group.tag.push({ id, name: t, create_time: at, order: tags.length - ti, owner: 'customer' });
    });
    cs.tag_groups.push(group);
  });
  return ids;
}

/** One customer: mostly WeChat users (type 1), every fifth a WeCom user of another company (type 2). */
export function customerFor(seq: number, at: number, taken: { has(id: string): boolean; add(id: string): unknown }): SimCustomer {
  let id = externalUseridFor(seq);
  for (let salt = 1; taken.has(id); salt++) id = externalUseridFor(seq, salt);
  taken.add(id);
  const name = SURNAMES[(seq * 7) % SURNAMES.length]! + GIVEN[(seq * 13 + Math.floor(seq / SURNAMES.length)) % GIVEN.length]!;
  const gender: 0 | 1 | 2 = seq % 7 === 0 ? 0 : seq % 2 ? 1 : 2;
  if (seq % 5 === 0) {
    const [corp, full] = COMPANIES[seq % COMPANIES.length]!;
    return { external_userid: id, name, type: 2, gender, corp_name: corp, corp_full_name: full, position: POSITIONS[seq % POSITIONS.length]!, created_at: at };
  }
  return { external_userid: id, name, type: 1, gender, created_at: at };
}

/** Extra members for a scale run: spread over the departments below the root, all active. */
export function scaleMembers(count: number, now: number): SimUser[] {
  const out: SimUser[] = [];
  for (let i = 0; i < count; i++) {
    const userid = `emp${String(i + 1).padStart(5, '0')}`;
    const dept = 2 + (i % 6);
    out.push({
      userid,
      name: `${SURNAMES[i % SURNAMES.length]}${GIVEN[(i * 3) % GIVEN.length]}${i + 1}`,
      department: [dept],
      order: [0],
      is_leader_in_dept: [0],
      position: '客户经理',
      mobile: `139${String(i + 1).padStart(8, '0')}`,
      gender: i % 2 ? '2' : '1',
      email: `${userid}@example.com`,
      alias: '',
      telephone: '',
      address: '',
      status: 1,
      main_department: dept,
      direct_leader: [],
      created_at: now + 1000 + i,
    });
  }
  return out;
}

/**
 * `named`: the demo people (first 8 users), `generated`: the demo's generated members, `scaled`: extra
 * members of a scale run.
 */
export function seedCustomers(named: SimUser[], generated: SimUser[], scaled: SimUser[], now: number, scaleCustomers = 0): CustomerState {
  const cs = emptyCustomers();
  const rand = prng(20261201);
  const at = seconds(now - 90 * DAY_MS);
  const tags = seedTags(cs, at);
  const taken = new Set<string>();
  const level = [tags['高潜力客户']!, tags['已成交客户']!, tags['潜在客户']!];
  const region: Record<string, string> = { wangfang: tags['华东']!, zhouqiang: tags['华南']!, lina: tags['华北']! };

  for (const u of named) cs.follow_users.push(u.userid);
  generated.forEach((u, i) => {
    if (!NOT_FOLLOWING.includes(i)) cs.follow_users.push(u.userid);
  });
  for (const u of scaled) cs.follow_users.push(u.userid);

  const newCustomer = (): SimCustomer => {
    const c = customerFor(cs.next_customer_seq++, now - Math.floor(rand() * 60) * DAY_MS, taken);
    cs.customers.push(c);
    return c;
  };
  const relate = (userid: string, c: SimCustomer): void => {
    const k = cs.next_relation_seq;
    const tagIds: string[] = [];
    if (rand() < 0.6) tagIds.push(level[Math.floor(rand() * level.length)]!);
    const r = region[userid];
    if (r && rand() < 0.7) tagIds.push(r);
    const scanned = rand() < 0.5;
    const rel: SimRelation = {
      seq: cs.next_relation_seq++,
      userid,
      external_userid: c.external_userid,
      createtime: seconds(c.created_at) + (k % 3600),
      add_way: scanned ? 1 : [2, 3, 5, 6][k % 4]!,
      oper_userid: scanned || k % 2 ? c.external_userid : userid,
      tags: tagIds,
    };
    if (scanned && k % 3 === 0) rel.state = STATES[k % STATES.length]!;
    if (c.type === 2) {
      rel.remark = `${c.name}-${c.corp_name}`;
      rel.remark_corp_name = c.corp_name;
    }
    if (k % 4 === 0) rel.remark_mobiles = [`1390021${String(1000 + k).slice(-4)}`];
    if (k % 6 === 0) rel.description = '电话沟通过产品报价';
    cs.relations.push(rel);
  };

  // Followed by both wangfang and zhouqiang.
  for (let i = 0; i < 2; i++) {
    const c = newCustomer();
    relate('wangfang', c);
    relate('zhouqiang', c);
  }
  const counts: [string, number][] = [
    ['wangfang', 6],
    ['zhouqiang', 5],
    ['liuyang', 4],
    ['lina', 3],
    ['chenjing', 2],
    ['zhangwei', 1],
    ['sunli', 1],
    ['zhaolei', 1],
  ];
  for (const [userid, n] of counts) for (let i = 0; i < n; i++) relate(userid, newCustomer());
  generated.forEach((u, i) => {
    if (NOT_FOLLOWING.includes(i)) return;
    const n = Math.floor(rand() * 4);
    for (let k = 0; k < n; k++) relate(u.userid, newCustomer());
  });

  // Scale: customer i belongs to member i mod M; every 32nd also to the next member.
  if (scaled.length > 0 && scaleCustomers > 0) {
    const m = scaled.length;
    const base = now - 30 * DAY_MS;
    for (let i = 0; i < scaleCustomers; i++) {
      const c = customerFor(cs.next_customer_seq++, base + (i % 2880) * 900_000, taken);
      cs.customers.push(c);
      const owners = i % 32 === 5 && m > 1 ? [scaled[i % m]!, scaled[(i + 1) % m]!] : [scaled[i % m]!];
      for (const owner of owners) {
        cs.relations.push({
          seq: cs.next_relation_seq++,
          userid: owner.userid,
          external_userid: c.external_userid,
          createtime: seconds(c.created_at),
          add_way: 1,
          oper_userid: c.external_userid,
          tags: [],
        });
      }
    }
  }
  return cs;
}
