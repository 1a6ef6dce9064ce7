import { describe, expect, it } from 'vitest';
import { OrgTree } from '../src/core/org.js';

const org = new OrgTree(
  [
    { id: 1, name: '示例科技有限公司', parentid: 0 },
    { id: 2, name: '销售部', parentid: 1, department_leader: ['lina'] },
    { id: 3, name: '华东区', parentid: 2 },
    { id: 4, name: '华南区', parentid: 2 },
    { id: 5, name: '市场部', parentid: 1 },
    { id: 8, name: '华东区', parentid: 5 },
  ],
  [
    { userid: 'lina', department: 2 },
    { userid: 'wangfang', department: 3 },
    { userid: 'wangfang', department: 4 },
  ],
);

describe('organisation tree', () => {
  it('resolves ids, names and paths', () => {
    expect(org.resolve('3').id).toBe(3);
    expect(org.resolve('销售部/华东区').id).toBe(3);
    expect(org.resolve('示例科技有限公司/销售部/华南区').id).toBe(4);
    expect(org.resolve('市场部/华东区').id).toBe(8);
    expect(org.resolve('华南区').id).toBe(4);
  });

  it('lists every candidate with its path and id when a name is ambiguous', () => {
    let err: any;
    try {
      org.resolve('华东区');
    } catch (e) {
      err = e;
    }
    expect(err.code).toBe('AMBIGUOUS_DEPARTMENT');
    expect(err.text.zh).toContain('销售部/华东区（id 3）、市场部/华东区（id 8）');
    expect(err.text.en).toContain('销售部/华东区 (id 3), 市场部/华东区 (id 8)');
  });

  it('suggests close names for unknown departments', () => {
    expect(() => org.resolve('华东')).toThrow(/华东区/);
    expect(() => org.resolve('99')).toThrow(/99/);
  });

  it('counts distinct members over a subtree and derives managed departments', () => {
    expect(org.totalMemberCount(2)).toBe(2);
    expect(org.managedBy('lina').sort()).toEqual([2, 3, 4]);
    expect(org.isWithin(3, 2)).toBe(true);
    expect(org.isWithin(8, 2)).toBe(false);
  });
});
