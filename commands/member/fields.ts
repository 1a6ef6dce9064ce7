import { z } from 'zod';

/**
 * Field rules for WeCom members (wecom.md §2.2), shared by `member add/update` and the bulk import so
 * that a value accepted in one is accepted in the other. Limits the platform counts in bytes are
 * checked in UTF-8 bytes; limits it counts in characters are checked in code points.
 */
export const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');
export const charLength = (s: string): number => [...s].length;

export const USERID_RE = /^[A-Za-z0-9][A-Za-z0-9_@.-]*$/;
export const MOBILE_RE = /^(\+\d{1,4}[ -]?)?\d[\d-]{4,30}$/;
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const TELEPHONE_RE = /^[\d+,-]+$/;

export const userid = z
  .string()
  .min(1, { message: '帐号不能为空 / userid must not be empty' })
  .refine((s) => byteLength(s) <= 64, { message: '帐号最多 64 字节 / userid is at most 64 bytes' })
  .refine((s) => USERID_RE.test(s), {
    message:
      '帐号只能包含字母、数字和 _ - @ .，且以字母或数字开头 / userid may only contain letters, digits and _ - @ . and must start with a letter or digit',
  });

export const memberName = z
  .string()
  .min(1, { message: '姓名不能为空 / name must not be empty' })
  .refine((s) => charLength(s) <= 64, { message: '姓名最多 64 个字符 / name is at most 64 characters' });

export const alias = z
  .string()
  .refine((s) => charLength(s) >= 1 && charLength(s) <= 64, {
    message: '别名为 1–64 个字符 / alias is 1–64 characters',
  });

export const mobile = z
  .string()
  .refine((s) => s.length <= 32 && MOBILE_RE.test(s.trim()), {
    message: '手机号格式不正确 / mobile number is not valid',
  });

export const email = z
  .string()
  .refine((s) => byteLength(s) >= 6 && byteLength(s) <= 64 && EMAIL_RE.test(s), {
    message: '邮箱格式不正确（6–64 字节）/ email is not valid (6–64 bytes)',
  });

export const position = z
  .string()
  .refine((s) => charLength(s) <= 128, { message: '职务最多 128 个字符 / position is at most 128 characters' });

export const telephone = z
  .string()
  .refine((s) => byteLength(s) <= 32 && TELEPHONE_RE.test(s), {
    message: '座机只能包含数字、+、-、,，最多 32 字节 / telephone may only contain digits, + - , (at most 32 bytes)',
  });

export const address = z
  .string()
  .refine((s) => charLength(s) <= 128, { message: '地址最多 128 个字符 / address is at most 128 characters' });

/** Accepts 男/女/male/female/m/f/1/2 and yields the platform's "1" (male) / "2" (female). */
export const gender = z
  .string()
  .transform((s, ctx) => {
    const v = s.trim().toLowerCase();
    if (['1', '男', 'male', 'm'].includes(v)) return '1' as const;
    if (['2', '女', 'female', 'f'].includes(v)) return '2' as const;
    ctx.addIssue({ code: 'custom', message: '性别只能是 男 或 女 / gender must be 男 (male) or 女 (female)' });
    return z.NEVER;
  });

/** Normalises a mobile for duplicate detection: `+86 138-0000-0001` and `13800000001` are the same. */
export function normalizeMobile(m: string): string {
  const digits = m.replace(/[^\d+]/g, '');
  return digits.startsWith('+86') ? digits.slice(3) : digits.replace(/^\+/, '');
}
