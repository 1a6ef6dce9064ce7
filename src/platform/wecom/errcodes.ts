import { t, type Text } from '../../core/i18n.js';

/**
 * What each WeCom errcode means for the person who typed the command: one sentence naming what to
 * fix (wecom.md §1.3, §2.3, §3, §9). Unknown codes get a generic sentence with the code.
 */
const TABLE: Record<number, Text> = {
  [-1]: t('企业微信系统繁忙，已自动重试仍未成功，请稍后再试。', 'WeCom is busy and automatic retries did not help; try again shortly.'),
  40001: t('Secret 无效：请检查 WXOPS_CORP_ID 和对应的 Secret 是否属于同一企业、同一应用。', 'The secret is not valid: check that WXOPS_CORP_ID and the secret belong to the same corp and app.'),
  40003: t('成员帐号无效或不存在。', 'The userid is invalid or does not exist.'),
  40013: t('企业 ID 无效：请检查 WXOPS_CORP_ID。', 'The corp id is invalid: check WXOPS_CORP_ID.'),
  40014: t('access_token 无效，重新获取后仍失败：请检查 Secret 配置。', 'The access token stayed invalid after a refresh: check the configured secret.'),
  40031: t('成员或部门列表无效（不能同时为空）。', 'The member or department list is invalid (they cannot both be empty).'),
  40032: t('一次提交的成员太多。', 'Too many members in one call.'),
  40068: t('标签不存在。', 'The tag does not exist.'),
  40070: t('给出的成员和部门全部无效（不存在或不在通讯录范围内）。', 'Every member and department given is invalid (unknown or outside the contacts scope).'),
  40071: t('标签名已存在，请换一个名称。', 'That tag name already exists; choose another.'),
  40072: t('标签名长度不合法（1–32 个字符）。', 'The tag name length is invalid (1–32 characters).'),
  41001: t('缺少 access_token（客户端错误，请报告此问题）。', 'The access token is missing (a client bug; please report it).'),
  42001: t('access_token 已过期，重新获取后仍失败：请检查 Secret 配置。', 'The access token stayed expired after a refresh: check the configured secret.'),
  45009: t('接口调用超过频率限制，等待后仍未恢复，请稍后再试。', 'The API call frequency limit was hit and waiting did not help; try again later.'),
  45033: t('接口并发调用超过限制，请稍后再试。', 'Too many concurrent calls to this API; try again shortly.'),
  48002: t('此操作需要通讯录同步 Secret：请设置 WXOPS_CONTACTS_SECRET，并在管理后台开启“API 编辑通讯录”。', 'This call needs the contacts-sync secret: set WXOPS_CONTACTS_SECRET and enable API editing of contacts in the admin console.'),
  60001: t('部门名称长度不合法（1–32 个字符）。', 'The department name length is invalid (1–32 characters).'),
  60003: t('部门不存在：用 dept list 查看现有部门。', 'The department does not exist: see `dept list`.'),
  60004: t('上级部门不存在：用 dept list 查看现有部门。', 'The parent department does not exist: see `dept list`.'),
  60005: t('部门下还有成员，不能删除：请先移走成员。', 'The department still has members and cannot be removed: move them first.'),
  60006: t('部门下还有子部门，不能删除：请先删除或移走子部门。', 'The department still has sub-departments and cannot be removed: remove or move them first.'),
  60007: t('根部门不能删除。', 'The root department cannot be removed.'),
  60008: t('同一上级下已有同名部门，或部门 id 已被使用。', 'A sibling department already has that name, or the department id is taken.'),
  60009: t('部门名称包含不允许的字符（\\ : * ? " < > |）。', 'The department name contains a forbidden character (\\ : * ? " < > |).'),
  60010: t('不能把部门移到它自己的下级部门下（会形成循环）。', 'A department cannot be moved under its own sub-department (that would make a cycle).'),
  60011: t('当前应用无权操作该成员、部门或标签：请检查通讯录同步的权限范围。', 'The app may not act on this member, department or tag: check the contacts-sync permission scope.'),
  60020: t('服务器 IP 不在企业可信 IP 列表中：请在管理后台添加本机出口 IP。', "This server's IP is not in the corp's trusted IP list: add it in the admin console."),
  60102: t('成员帐号已存在（帐号不区分大小写）。', 'The userid already exists (userids are case-insensitive).'),
  60103: t('手机号格式不正确。', 'The mobile number is not valid.'),
  60104: t('手机号已被企业内其他成员使用。', 'The mobile number is already used by another member.'),
  60105: t('邮箱格式不正确。', 'The email address is not valid.'),
  60106: t('邮箱已被企业内其他成员使用。', 'The email address is already used by another member.'),
  60111: t('成员帐号不存在：用 member list 查看成员。', 'There is no member with that userid: see `member list`.'),
  60112: t('成员姓名不合法（1–64 个字符）。', 'The member name is invalid (1–64 characters).'),
  60123: t('部门 id 无效：用 dept list 查看现有部门。', 'The department id is invalid: see `dept list`.'),
  60124: t('上级部门 id 无效。', 'The parent department id is invalid.'),
  60127: t('缺少部门：请用 --dept 指定成员所在部门。', 'The department is missing: give it with --dept.'),
  60129: t('手机号和邮箱至少要填一个。', 'Give at least one of mobile and email.'),
  81002: t('部门层级不能超过 15 级。', 'Departments cannot be nested more than 15 levels deep.'),
  301005: t('不能删除企业的创建者。', "The corp's creator cannot be removed."),
};

export function describeErrcode(code: number, api: string, platformMessage: string): Text {
  const known = TABLE[code];
  if (known) return known;
  return t('企业微信接口 {api} 返回错误 {code}（{msg}）。', 'The WeCom API {api} answered with error {code} ({msg}).', {
    api,
    code,
    msg: shortMessage(platformMessage),
  });
}

/** Drops the `, hint: [...], from ip: ..., more info at ...` tail the platform appends. */
export function shortMessage(errmsg: string): string {
  return errmsg.replace(/,?\s*hint:.*$/i, '').replace(/,?\s*rid:.*$/i, '').trim();
}
