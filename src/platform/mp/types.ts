/** Official Account wire shapes (mp.md), with the platform's own field names. */
export interface MenuButton {
  type?: string;
  name: string;
  key?: string;
  url?: string;
  appid?: string;
  pagepath?: string;
  media_id?: string;
  article_id?: string;
  sub_button?: MenuButton[];
}

export interface Menu {
  button: MenuButton[];
}

export interface MpTag {
  id: number;
  name: string;
  count: number;
}

export interface Follower {
  subscribe: number;
  openid: string;
  language?: string;
  subscribe_time?: number;
  unionid?: string;
  remark?: string;
  groupid?: number;
  tagid_list?: number[];
  subscribe_scene?: string;
  qr_scene?: number;
  qr_scene_str?: string;
}

export interface LinkedMiniProgram {
  appid: string;
  nickname: string;
  /** 1 linked, 2 waiting for the mini program's admin, 3 refused, 12 waiting for the account's admin. */
  status: number;
  username?: string;
}

export type MassStatus = 'SEND_SUCCESS' | 'SENDING' | 'SEND_FAIL' | 'DELETE';

/** What `get_current_autoreply_info` returns (mp.md §6.1). */
export interface CurrentAutoreply {
  is_add_friend_reply_open?: number;
  is_autoreply_open?: number;
  add_friend_autoreply_info?: { type: string; content: string };
  message_default_autoreply_info?: { type: string; content: string };
  keyword_autoreply_info?: {
    list: {
      rule_name: string;
      reply_mode?: string;
      keyword_list_info: { type: string; match_mode: 'contain' | 'equal'; content: string }[];
      reply_list_info: { type: string; content?: string; news_info?: { list: { title: string; digest?: string; cover_url?: string; content_url: string }[] } }[];
    }[];
  };
}
