import { prng } from './random.js';
import type { SimDepartment, SimState, SimTag, SimUser } from './state.js';
import { seedMp } from './mp/seed.js';
import { scaleMembers, seedCustomers, type ScaleOption } from './customers/seed.js';

/**
 * The demo company of shared/demo-company.md, generated deterministically (same company on every
 * machine, so examples and tests can name people). Keep the named departments and people exactly.
 */
export const DEMO_CORP_ID = 'ww5a1b2c3d4e5f6a7b';

const DEPARTMENTS: [number, string, number][] = [
  [1, '示例科技有限公司', 0],
  [2, '销售部', 1],
  [3, '华东区', 2],
  [4, '华南区', 2],
  [5, '市场部', 1],
  [6, '财务部', 1],
  [7, '技术部', 1],
];

const PEOPLE: [string, string, number, boolean, string, string][] = [
  // userid, name, department, leader, gender, position
  ['zhangwei', '张伟', 7, true, '1', '技术总监'],
  ['sunli', '孙丽', 7, false, '2', '运维主管'],
  ['lina', '李娜', 2, true, '2', '销售总监'],
  ['wangfang', '王芳', 3, false, '2', '销售代表'],
  ['zhouqiang', '周强', 4, false, '1', '销售代表'],
  ['liuyang', '刘洋', 5, false, '1', '内容运营'],
  ['chenjing', '陈静', 5, true, '2', '市场经理'],
  ['zhaolei', '赵磊', 6, true, '1', '财务总监'],
];

const SURNAMES: [string, string][] = [
  ['王', 'wang'], ['李', 'li'], ['张', 'zhang'], ['刘', 'liu'], ['陈', 'chen'], ['杨', 'yang'], ['黄', 'huang'], ['赵', 'zhao'],
  ['吴', 'wu'], ['周', 'zhou'], ['徐', 'xu'], ['孙', 'sun'], ['马', 'ma'], ['朱', 'zhu'], ['胡', 'hu'], ['郭', 'guo'],
  ['何', 'he'], ['高', 'gao'], ['林', 'lin'], ['罗', 'luo'],
];
const GIVEN: [string, string][] = [
  ['明', 'ming'], ['华', 'hua'], ['军', 'jun'], ['敏', 'min'], ['静', 'jing'], ['磊', 'lei'], ['洋', 'yang'], ['艳', 'yan'],
  ['勇', 'yong'], ['杰', 'jie'], ['娟', 'juan'], ['涛', 'tao'], ['超', 'chao'], ['秀英', 'xiuying'], ['桂英', 'guiying'],
  ['建华', 'jianhua'], ['志强', 'zhiqiang'], ['海燕', 'haiyan'], ['晓东', 'xiaodong'], ['丽娟', 'lijuan'],
];
const POSITIONS: Record<number, string[]> = {
  2: ['销售代表', '客户经理'],
  3: ['销售代表', '大客户经理'],
  4: ['销售代表', '渠道经理'],
  5: ['市场专员', '设计师', '内容运营'],
  6: ['会计', '出纳'],
  7: ['工程师', '测试工程师', '产品经理'],
};

export const GENERATED_MEMBERS = 52;


function user(userid: string, name: string, dept: number, leader: boolean, gender: string, position: string, mobile: string, status: number, at: number): SimUser {
  return {
    userid,
    name,
    department: [dept],
    order: [0],
    is_leader_in_dept: [leader ? 1 : 0],
    position,
    mobile,
    gender,
    email: `${userid}@example.com`,
    alias: '',
    telephone: '',
    address: '',
    status,
    main_department: dept,
    direct_leader: [],
    created_at: at,
  };
}

/** `scale` (benchmarks) adds that many members, all following an even share of that many customers. */
export function seedCompany(now = Date.UTC(2026, 0, 5), scale?: ScaleOption): SimState {
  const rand = prng(20261125);
  const departments: SimDepartment[] = DEPARTMENTS.map(([id, name, parentid]) => ({ id, name, parentid, order: 100000000 - id * 1000 }));
  const users: SimUser[] = PEOPLE.map(([id, name, dept, leader, gender, position], i) =>
    user(id, name, dept, leader, gender, position, `1380013800${i + 1}`, 1, now + i),
  );
  const taken = new Set(users.map((u) => u.userid));
  for (let i = 0; i < GENERATED_MEMBERS; i++) {
    const [sn, sp] = SURNAMES[Math.floor(rand() * SURNAMES.length)]!;
    const [gn, gp] = GIVEN[Math.floor(rand() * GIVEN.length)]!;
    let userid = `${sp}${gp}`;
    for (let n = 2; taken.has(userid); n++) userid = `${sp}${gp}${n}`;
    taken.add(userid);
    const dept = 2 + (i % 6);
    const positions = POSITIONS[dept]!;
    // One disabled and one not yet activated member, so lists show every status.
    const status = i === 7 ? 2 : i === 11 ? 4 : 1;
    users.push(user(userid, sn + gn, dept, false, rand() < 0.5 ? '1' : '2', positions[i % positions.length]!, `137${String(10000000 + i * 7919).slice(-8)}`, status, now + 100 + i));
  }
  const generated = users.slice(PEOPLE.length);
  const scaled = scale && scale.members > 0 ? scaleMembers(scale.members, now) : [];
  users.push(...scaled);
  const tags: SimTag[] = [
    { tagid: 1, tagname: '管理层', userlist: ['zhangwei', 'sunli', 'lina', 'chenjing', 'zhaolei'], partylist: [], owner: 'contacts' },
    { tagid: 2, tagname: '销售团队', userlist: [], partylist: [2], owner: 'contacts' },
    { tagid: 3, tagname: '新员工', userlist: generated.slice(-4).map((u) => u.userid), partylist: [], owner: 'contacts' },
  ];
  return {
    version: 1,
    corp_id: DEMO_CORP_ID,
    creator: 'zhangwei',
    departments,
    users,
    tags,
    next_department_id: 8,
    next_tag_id: 4,
    mp: seedMp(),
    customers: seedCustomers(users.slice(0, PEOPLE.length), generated, scaled, now, scale?.customers ?? 0),
  };
}
