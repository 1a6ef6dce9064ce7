import { t, type Text } from '../../core/i18n.js';

/**
 * What each WeCom errcode means for the person who typed the command: one sentence naming what to
 * fix (wecom.md §1.3, §2.3, §3, §9). Unknown codes get a generic sentence with the code.
 */
const TABLE: Record<number, Text> = {
  [-1]: t('企业微信系统繁忙，自动重试后仍未成功：请稍后再试。', 'WeCom is busy and automatic retries did not help: try again in a little while.'),
  40001: t('Secret 或 access_token 无效：请检查 WXOPS_CORP_ID 与所用 Secret 是否属于同一企业、同一应用。', 'The secret or access token is not valid: check that WXOPS_CORP_ID and the secret used belong to the same corp and app.'),
  40003: t('成员帐号无效或不存在：请检查 userid（字母、数字、_ - @ .），可用 member list 查看成员。', 'The userid is invalid or does not exist: check it (letters, digits, _ - @ .), or see `member list`.'),
  40013: t('企业 ID 无效：请检查 WXOPS_CORP_ID。', 'The corp id is not valid: check WXOPS_CORP_ID.'),
  40014: t('access_token 无效，重新获取后仍失败：请检查所用 Secret 是否正确、是否已被重置。', 'The access token stayed invalid after a refresh: check that the secret used is right and has not been reset.'),
  40031: t('成员或部门列表无效：请至少给出一个有效的成员或部门。', 'The member or department list is invalid: give at least one valid member or department.'),
  40032: t('一次提交的成员太多：请分批提交（每次最多 1000 个，批量删除最多 200 个）。', 'Too many members in one call: send them in batches (at most 1000, or 200 for batch delete).'),
  40068: t('标签不存在：用 tag list 查看现有标签。', 'The tag does not exist: see `tag list`.'),
  40070: t('给出的成员和部门全部无效（不存在或不在通讯录权限范围内）：请检查名单。', 'Every member and department given is invalid (unknown or outside the contacts scope): check the list.'),
  40071: t('标签名已存在：请换一个名称。', 'That tag name already exists: choose another.'),
  40072: t('标签名长度不合法：请用 1–32 个字符。', 'The tag name length is invalid: use 1–32 characters.'),
  40091: t('Secret 无效（可能属于其他企业）：请检查所设置的 Secret。', 'The secret is not valid (it may belong to another corp): check the configured secret.'),
  41001: t('请求缺少 access_token：这是 wxops 的问题，请报告。', 'The request lacked an access token: this is a wxops bug, please report it.'),
  41002: t('缺少企业 ID：请设置 WXOPS_CORP_ID。', 'The corp id is missing: set WXOPS_CORP_ID.'),
  41004: t('缺少 Secret：请设置对应的 WXOPS_*_SECRET。', 'The secret is missing: set the matching WXOPS_*_SECRET.'),
  42001: t('access_token 已过期，重新获取后仍失败：请检查所用 Secret 是否正确、是否已被重置。', 'The access token stayed expired after a refresh: check that the secret used is right and has not been reset.'),
  45009: t('接口调用超过频率限制，等待一个周期后仍未恢复：请稍后（至少一分钟后）再试。', 'The API frequency limit was hit and waiting one window did not help: try again in a minute or more.'),
  45033: t('接口并发调用超过限制，退避重试后仍失败：请稍后再试，或调低并发数。', 'Too many concurrent calls to this API even after backing off: try again shortly, or lower the concurrency.'),
  48002: t('此操作需要通讯录同步 Secret：请设置 WXOPS_CONTACTS_SECRET，并在管理后台开启“API 编辑通讯录”。', 'This call needs the contacts-sync secret: set WXOPS_CONTACTS_SECRET and enable API editing of contacts in the admin console.'),
  60001: t('部门名称长度不合法：请用 1–32 个字符。', 'The department name length is invalid: use 1–32 characters.'),
  60003: t('部门不存在：用 dept list 查看现有部门。', 'The department does not exist: see `dept list`.'),
  60004: t('上级部门不存在：用 dept list 查看现有部门。', 'The parent department does not exist: see `dept list`.'),
  60005: t('部门下还有成员，不能删除：请先移走这些成员。', 'The department still has members and cannot be removed: move them out first.'),
  60006: t('部门下还有子部门，不能删除：请先删除或移走子部门。', 'The department still has sub-departments and cannot be removed: remove or move them first.'),
  60007: t('根部门不能删除。', 'The root department cannot be removed; pick another department.'),
  60008: t('同一上级下已有同名部门，或部门 id 已被占用：请换一个名称或 id。', 'A sibling department already has that name, or the department id is taken: choose another name or id.'),
  60009: t('部门名称包含不允许的字符：请去掉 \\ : * ? " < > | 这些字符。', 'The department name contains a forbidden character: remove any of \\ : * ? " < > |.'),
  60010: t('不能把部门移到它自己的下级部门下（会形成循环）：请选择别的上级部门。', 'A department cannot be moved under its own sub-department (that makes a cycle): choose another parent.'),
  60011: t('当前 Secret 无权操作该成员、部门或标签：请检查通讯录同步的权限范围，或换用 WXOPS_CONTACTS_SECRET。', 'The secret used may not act on this member, department or tag: check the contacts-sync scope, or use WXOPS_CONTACTS_SECRET.'),
  60020: t('服务器 IP 不在企业可信 IP 列表中：请在管理后台该应用的“企业可信IP”中添加本机出口 IP。', "This server's IP is not in the corp's trusted IP list: add it under the app's trusted IPs in the admin console."),
  60102: t('成员帐号已存在（帐号不区分大小写）：请换一个 userid，或先查看是否已经添加过。', 'The userid already exists (userids are case-insensitive): choose another, or check whether the member was already added.'),
  60103: t('手机号格式不正确：请填写有效的手机号（可带 +86）。', 'The mobile number is not valid: give a valid number (+86 allowed).'),
  60104: t('手机号已被企业内其他成员使用：请换一个手机号，或先查出使用它的成员。', 'The mobile number is already used by another member: use another, or find the member who has it.'),
  60105: t('邮箱格式不正确：请填写有效的邮箱地址。', 'The email address is not valid: give a valid address.'),
  60106: t('邮箱已被企业内其他成员使用：请换一个邮箱。', 'The email address is already used by another member: use another.'),
  60110: t('成员所属部门太多：每人最多 100 个部门。', 'The member is in too many departments: at most 100 per member.'),
  60111: t('成员帐号不存在：用 member list 查看成员。', 'There is no member with that userid: see `member list`.'),
  60112: t('成员姓名不合法：请用 1–64 个字符。', 'The member name is invalid: use 1–64 characters.'),
  60123: t('部门 id 无效：用 dept list 查看现有部门。', 'The department id is invalid: see `dept list`.'),
  60124: t('上级部门 id 无效：用 dept list 查看现有部门。', 'The parent department id is invalid: see `dept list`.'),
  60125: t('部门名称不合法：请换一个名称。', 'The department name is not allowed: choose another.'),
  60127: t('缺少部门：请用 --dept 指定成员所在部门。', 'The department is missing: give it with --dept.'),
  60129: t('手机号和邮箱至少要填一个：请加上 --mobile 或 --email。', 'Give at least one of mobile and email: add --mobile or --email.'),
  81001: t('该部门下的节点（部门加成员）超过 30000 个：请拆分到其他部门。', 'The department has more than 30,000 nodes (departments plus members): split it up.'),
  81002: t('部门层级不能超过 15 级：请选择层级更浅的上级部门。', 'Departments cannot be nested more than 15 levels deep: choose a shallower parent.'),
  81011: t('当前应用无权修改该标签（标签属于创建它的应用）：请用创建该标签的应用的 Secret。', "The app may not change this tag (tags belong to the app that created them): use that app's secret."),
  81014: t('一次提交的成员或部门太多：每次最多 1000 个成员、100 个部门。', 'Too many members or departments in one call: at most 1000 members and 100 departments.'),
  301002: t('access_token 属于另一个应用：请检查 WXOPS_AGENT_ID 与 WXOPS_APP_SECRET 是否属于同一应用。', 'The access token belongs to another app: check that WXOPS_AGENT_ID and WXOPS_APP_SECRET are of the same app.'),
  301005: t('不能删除企业的创建者。', "The corp's creator cannot be removed; transfer the creator role first."),
  301036: t('不允许修改该成员的帐号（只有系统生成的帐号能改一次）。', "This member's userid cannot be changed (only system-generated userids can be changed, once)."),
};

export interface ErrcodeContext {
  /** The env var holding the secret the call used (named in gettoken errors). */
  secretEnv?: string;
}

/**
 * One sentence naming what to fix for `code` returned by `api`. Some codes depend on the API (48002: which
 * secret is needed) or on the platform's message (60020: the caller's IP). Unknown codes get a generic
 * sentence with the code and the platform's short message (its `hint … from ip … more info` tail removed).
 */
export function describeErrcode(code: number, api: string, platformMessage: string, ctx: ErrcodeContext = {}): Text {
  if (api === 'gettoken') {
    const v = ctx.secretEnv ?? 'Secret';
    if (code === 40001 || code === 40091 || code === 41004) {
      return t(
        '{v} 无效：请核对它是否与 WXOPS_CORP_ID 属于同一企业，并且是该应用当前的 Secret（重置过 Secret 后要更新配置）。',
        '{v} is not valid: check that it belongs to the corp in WXOPS_CORP_ID and is the current secret of that app (update it after a reset).',
        { v },
      );
    }
    if (code === 40013 || code === 41002) return t('企业 ID 无效：请检查 WXOPS_CORP_ID（形如 ww 开头的一串字母数字）。', 'The corp id is not valid: check WXOPS_CORP_ID (it looks like ww followed by letters and digits).');
  }
  if (code === 48002) {
    if (/^externalcontact\//.test(api)) {
      return t(
        '此操作需要客户联系权限：请设置 WXOPS_CUSTOMER_SECRET，或在“客户联系 → 可调用接口的应用”中加入本应用。',
        'This call needs customer-contact access: set WXOPS_CUSTOMER_SECRET, or add the app under Customer Contact → apps allowed to call the API.',
      );
    }
    if (!/^(user|department|tag|batch|export)\//.test(api)) {
      return t('当前 Secret 无权调用接口 {api}：请在管理后台为该应用开通此接口权限。', 'The secret used may not call {api}: grant the app that API in the admin console.', { api });
    }
  }
  if (code === 60020) {
    const ip = /from ip:\s*([0-9a-fA-F.:]+)/i.exec(platformMessage)?.[1];
    if (ip) {
      return t('本机出口 IP {ip} 不在企业可信 IP 列表中：请在管理后台该应用的“企业可信IP”中添加它。', "This server's IP {ip} is not in the corp's trusted IP list: add it under the app's trusted IPs in the admin console.", { ip });
    }
  }
  const known = TABLE[code];
  if (known) return known;
  return t('企业微信接口 {api} 返回错误 {code}（{msg}）：请对照企业微信全局错误码说明检查请求。', 'The WeCom API {api} answered with error {code} ({msg}): look the code up in the WeCom error code reference.', {
    api,
    code,
    msg: shortMessage(platformMessage) || '-',
  });
}

/** Drops the `, hint: [...], from ip: ..., more info at ...` tail the platform appends; keeps the text. */
export function shortMessage(errmsg: string): string {
  return errmsg
    .replace(/,?\s*hint:.*$/is, '')
    .replace(/,?\s*from ip:.*$/is, '')
    .replace(/,?\s*more info at.*$/is, '')
    .replace(/,?\s*rid:.*$/is, '')
    .trim();
}
