import type { MpRoute } from './router.js';

/**
 * get_current_autoreply_info (mp.md §6.1): the auto-replies set up in the console. There is no API to
 * change them, so they are a fixed part of the demo account: a follow greeting, a default reply, and
 * keyword rules of each kind (text, image, news) — the media ones are what a client cannot import.
 * (With a server URL enabled the console's replies stop answering; the API still shows them.)
 */
const DAY_S = 86_400;

export const autoreplyRoutes: Record<string, MpRoute> = {
  get_current_autoreply_info: {
    method: 'GET',
    bare: true,
    handler(req) {
      const created = (daysAgo: number) => Math.floor((req.mp.anchored_at ?? req.now) / 1000) - daysAgo * DAY_S + 36_000;
      const image = req.mp.materials.find((m) => m.type === 'image');
      const article = req.mp.articles[0];
      return {
        is_add_friend_reply_open: 1,
        is_autoreply_open: 1,
        add_friend_autoreply_info: { type: 'text', content: '感谢关注示例科技！回复“价格”获取最新价格表，回复“客服”联系我们。' },
        message_default_autoreply_info: { type: 'text', content: '您好，留言已收到，我们会在工作时间尽快回复。' },
        keyword_autoreply_info: {
          list: [
            {
              rule_name: '价格',
              create_time: created(120),
              reply_mode: 'reply_all',
              keyword_list_info: [{ type: 'text', match_mode: 'contain', content: '价格' }],
              reply_list_info: [{ type: 'text', content: '最新价格表：https://www.example.com/prices' }],
            },
            {
              rule_name: '客服',
              create_time: created(90),
              reply_mode: 'reply_all',
              keyword_list_info: [
                { type: 'text', match_mode: 'equal', content: '客服' },
                { type: 'text', match_mode: 'equal', content: '人工' },
              ],
              reply_list_info: [{ type: 'text', content: '客服电话 400-000-0000（工作日 9:00-18:00）' }],
            },
            {
              rule_name: '品牌海报',
              create_time: created(60),
              reply_mode: 'random_one',
              keyword_list_info: [{ type: 'text', match_mode: 'equal', content: '海报' }],
              reply_list_info: [{ type: 'img', content: image?.media_id ?? '' }],
            },
            {
              rule_name: '新品',
              create_time: created(3),
              reply_mode: 'reply_all',
              keyword_list_info: [{ type: 'text', match_mode: 'contain', content: '新品' }],
              reply_list_info: [
                {
                  type: 'news',
                  news_info: {
                    list: [
                      {
                        title: article?.title ?? '',
                        author: '示例科技',
                        digest: '示例智能办公套件正式发布。',
                        show_cover: 1,
                        cover_url: 'https://mmbiz.qpic.cn/mmbiz_jpg/demo/0',
                        content_url: article?.url ?? '',
                        source_url: 'https://www.example.com/products',
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      };
    },
  },
};
