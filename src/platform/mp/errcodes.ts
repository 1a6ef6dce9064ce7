import { t, type Text } from '../../core/i18n.js';

/**
 * What each Official Account errcode means for the person who typed the command (mp.md §1.3, §2.6, §3,
 * §5, §7, §8, §10): one sentence naming what to fix. Unknown codes get a generic sentence with the code.
 */
const TABLE: Record<number, Text> = {
  [-1]: t('公众号平台系统繁忙，自动重试后仍未成功：请稍后再试。', 'The Official Account platform is busy and automatic retries did not help: try again in a little while.'),
  40001: t('公众号 AppSecret 或 access_token 无效：请检查 WXOPS_MP_APPID 与 WXOPS_MP_SECRET 是否匹配、Secret 是否已重置。', 'The Official Account secret or token is not valid: check that WXOPS_MP_APPID and WXOPS_MP_SECRET match and the secret was not reset.'),
  40002: t('grant_type 不正确：这是 wxops 的问题，请报告。', 'The grant_type was wrong: this is a wxops bug, please report it.'),
  40003: t('openid 无效，或该用户不是本公众号的关注者：用 follower list 查看关注者。', 'The openid is invalid or not a follower of this account: see `follower list`.'),
  40007: t('素材 media_id 无效：请确认它是本公众号的永久素材或草稿。', 'The media_id is not valid: make sure it is a permanent material or draft of this account.'),
  40013: t('AppID 无效：请检查 WXOPS_MP_APPID。', 'The AppID is not valid: check WXOPS_MP_APPID.'),
  40014: t('access_token 无效，重新获取后仍失败：请检查 WXOPS_MP_SECRET。', 'The access token stayed invalid after a refresh: check WXOPS_MP_SECRET.'),
  40016: t('菜单一级按钮数量不对：需要 1–3 个。', 'The menu must have 1–3 top-level buttons.'),
  40017: t('菜单按钮类型不支持。', 'A menu button has an unsupported type.'),
  40018: t('一级菜单名称为空或超过 16 字节（约 5 个汉字）。', 'A top-level menu name is empty or longer than 16 bytes (about 5 Chinese characters).'),
  40019: t('菜单按钮的 key 为空或超过 128 字节。', 'A menu button key is empty or longer than 128 bytes.'),
  40020: t('菜单按钮的网址为空或超过 1024 字节。', 'A menu button URL is empty or longer than 1024 bytes.'),
  40023: t('子菜单数量不对：每个一级菜单下 1–5 个。', 'Each top-level button takes 1–5 sub-buttons.'),
  40024: t('子菜单按钮类型不支持。', 'A sub-button has an unsupported type.'),
  40025: t('子菜单名称为空或超过 60 字节（约 20 个汉字）。', 'A sub-button name is empty or longer than 60 bytes (about 20 Chinese characters).'),
  40026: t('子菜单的 key 为空或超过 128 字节。', 'A sub-button key is empty or longer than 128 bytes.'),
  40027: t('子菜单的网址为空或超过 1024 字节。', 'A sub-button URL is empty or longer than 1024 bytes.'),
  40032: t('一次给出的 openid 数量不对（每次 1–50 个）。', 'The number of openids in one call is wrong (1–50 per call).'),
  40054: t('子菜单网址必须以 http:// 或 https:// 开头。', 'A sub-button URL must start with http:// or https://.'),
  40055: t('菜单网址必须以 http:// 或 https:// 开头。', 'A menu URL must start with http:// or https://.'),
  40164: t('本机出口 IP 不在公众号的 IP 白名单中：请在公众号后台“基本配置 → IP白名单”中添加。', "This server's IP is not in the account's IP whitelist: add it under Basic Configuration → IP whitelist."),
  40165: t('小程序页面路径无效：请检查 pagepath。', 'The mini program page path is not valid: check pagepath.'),
  85005: t('小程序没有关联本公众号：先关联（miniprogram list 查看已关联的）。', 'The mini program is not linked to this account: link it first (see `miniprogram list`).'),
  40166: t('小程序 AppID 无效或未关联本公众号：先在公众号后台关联小程序（miniprogram list 查看已关联的）。', 'The mini program AppID is invalid or not linked to this account: link it first (see `miniprogram list`).'),
  41001: t('请求缺少 access_token：这是 wxops 的问题，请报告。', 'The request lacked an access token: this is a wxops bug, please report it.'),
  42001: t('access_token 已过期，重新获取后仍失败：请检查 WXOPS_MP_SECRET。', 'The access token stayed expired after a refresh: check WXOPS_MP_SECRET.'),
  43004: t('该用户没有关注公众号。', 'That user does not follow the account.'),
  45002: t('内容太长：请缩短后再试（文本消息约 2048 字节以内）。', 'The content is too long: shorten it (text messages up to about 2048 bytes).'),
  45009: t('该接口今天的调用次数已用完：明天再试，或在公众号后台“接口权限”中清零额度。', "This API's daily quota is used up: try again tomorrow, or reset the quota in the account console."),
  45011: t('接口调用太频繁，等待一分钟后仍受限：请稍后再试。', 'The per-minute API limit was hit and waiting did not help: try again shortly.'),
  45015: t('该用户 48 小时内没有与公众号互动（或已取消关注），不能再发客服消息。', 'The follower has not interacted in the last 48 hours (or unfollowed): customer-service messages are no longer allowed.'),
  45047: t('对该用户的客服消息已达 20 条上限，需等用户再次互动。', 'The 20-message limit for this follower was reached: wait until they interact again.'),
  45056: t('标签太多：一个公众号最多 100 个标签。', 'Too many tags: an account has at most 100.'),
  45057: t('该标签下关注者超过 10 万，不能直接删除：请先取消标记。', 'The tag has over 100,000 followers and cannot be deleted: untag them first.'),
  45058: t('系统标签（id 0、1、2）不能修改或删除。', 'System tags (ids 0, 1, 2) cannot be changed or deleted.'),
  45059: t('该关注者已有 20 个标签，不能再加。', 'That follower already has 20 tags.'),
  45065: t('相同 clientmsgid 的群发已经提交过。', 'A mass send with the same clientmsgid was already submitted.'),
  45157: t('标签名无效或已存在：请换一个名称。', 'The tag name is invalid or already taken: choose another.'),
  45158: t('标签名超过 30 字节（约 10 个汉字）。', 'The tag name is longer than 30 bytes (about 10 Chinese characters).'),
  45159: t('标签不存在：用 mptag list 查看现有标签。', 'The tag does not exist: see `mptag list`.'),
  46003: t('公众号还没有通过接口设置的菜单。', 'The account has no menu set through the API yet.'),
  46004: t('用户不存在。', 'The user does not exist.'),
  47001: t('请求数据格式错误：这是 wxops 的问题，请报告。', 'The request data was malformed: this is a wxops bug, please report it.'),
  48001: t('公众号没有此接口权限（未认证或类型不支持）：请在公众号后台查看“接口权限”。', 'The account lacks permission for this API (unverified, or the wrong account type): check Interface Permissions in the console.'),
  48002: t('该用户拒收公众号消息。', 'The follower refuses messages from the account.'),
  61500: t('日期格式错误：应为 YYYY-MM-DD。', 'Bad date format: use YYYY-MM-DD.'),
  61501: t('日期范围不对：统计数据最晚到昨天，且每个接口有最大跨度。', 'Date range not allowed: statistics end yesterday at the latest and each report has a maximum span.'),
};

export function describeMpErrcode(code: number, api: string, platformMessage: string): Text {
  const known = TABLE[code];
  if (known) return known;
  return t('公众号接口 {api} 返回错误 {code}（{msg}）：请对照公众号全局返回码说明检查请求。', 'The Official Account API {api} answered with error {code} ({msg}): look the code up in the platform error code reference.', {
    api,
    code,
    msg: shortMpMessage(platformMessage) || '-',
  });
}

/** Drops the ` rid: …` / ` hint: [...]` tail the platform appends; keeps the text. */
export function shortMpMessage(errmsg: string): string {
  return errmsg.replace(/,?\s*(rid|hint):.*$/is, '').trim();
}
