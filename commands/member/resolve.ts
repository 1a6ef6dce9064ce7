import { distance } from 'fastest-levenshtein';
import { InputError } from '../../src/core/errors.js';
import { t } from '../../src/core/i18n.js';
import type { OrgTree } from '../../src/core/org.js';

/** All userids of the company (from the membership pairs), original spelling. */
export function allUserIds(org: OrgTree): string[] {
  return [...new Set(org.all.flatMap((d) => org.directMemberIds(d.id)))];
}

/** Finds a member by userid, case-insensitively as the platform does; unknown ones get suggestions. */
export function resolveMember(org: OrgTree, typed: string): { userid: string; departments: number[] } {
  const wanted = typed.toLowerCase();
  const departments = org.all.filter((d) => org.directMemberIds(d.id).some((u) => u.toLowerCase() === wanted)).map((d) => d.id);
  if (departments.length) {
    const userid = org.directMemberIds(departments[0]!).find((u) => u.toLowerCase() === wanted)!;
    return { userid, departments };
  }
  const close = allUserIds(org)
    .map((u) => ({ u, d: distance(u.toLowerCase(), wanted) }))
    .filter((x) => x.d <= Math.max(1, Math.floor(wanted.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.u);
  const hint = close.length
    ? t('你是不是想写：{s}？', 'Did you mean: {s}?', { s: close.join('、') })
    : t('用 member list 查看成员。', 'Use `member list` to see the members.');
  throw new InputError('UNKNOWN_MEMBER', { zh: `找不到帐号为 ${typed} 的成员。${hint.zh}`, en: `There is no member with userid ${typed}. ${hint.en}` }, { suggestions: close });
}

export function memberExists(org: OrgTree, userid: string): boolean {
  const wanted = userid.toLowerCase();
  return org.all.some((d) => org.directMemberIds(d.id).some((u) => u.toLowerCase() === wanted));
}
