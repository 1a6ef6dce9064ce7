/**
 * The Official Account's part of the simulator state (`state.mp`), persisted with the company.
 * Times are ms of the simulated clock unless a name says `_s` (unix seconds, as the API shows them).
 */

/** A menu button as `menu/create` takes it and `menu/get` gives it back (mp.md §2.3). */
export interface MpButton {
  type?: string;
  name: string;
  key?: string;
  url?: string;
  media_id?: string;
  article_id?: string;
  appid?: string;
  pagepath?: string;
  sub_button?: MpButton[];
}

export interface MpMenu {
  button: MpButton[];
  menuid: number;
}

export interface MpFollower {
  openid: string;
  subscribe: 0 | 1;
  /** The latest follow. */
  subscribe_time_s: number;
  subscribe_scene: string;
  qr_scene: number;
  qr_scene_str: string;
  language: string;
  remark: string;
  tagid_list: number[];
  /** The last interaction that opens the 48 h customer-service window (mp.md §7), and sends since. */
  last_interaction: number | null;
  cs_sent: number;
  /** Mass messages received in `mass_month` (YYYY-MM, Beijing): a service account reaches each follower 4 times a month. */
  mass_month: string;
  mass_count: number;
}

/** Every follow and unfollow, so follower statistics are computed from what happened. */
export interface MpFollowEvent {
  openid: string;
  at: number;
  kind: 'subscribe' | 'unsubscribe';
  /** datacube `user_source` of a follow. */
  source: number;
}

export interface MpTag {
  id: number;
  name: string;
}

/** A published article that was also mass-sent (datacube article rows name it by msg_data_id). */
export interface MpArticle {
  title: string;
  media_id: string;
  article_id: string;
  msg_data_id: number;
  url: string;
  published_at: number;
}

/** Permanent material (images, voice, video) usable by menu `media_id` buttons and mass sends. */
export interface MpMaterial {
  media_id: string;
  type: 'image' | 'voice' | 'video';
  name: string;
}

export interface MpMiniProgram {
  appid: string;
  nickname: string;
  username: string;
  /** wxamplinkget status: 1 linked, 2 waiting for the mini program's admin, 3 refused, 12 waiting for our admin; null = not linked. */
  status: 1 | 2 | 3 | 12 | null;
}

export interface MpMassJob {
  msg_id: number;
  msg_data_id?: number;
  kind: 'sendall' | 'send';
  msgtype: string;
  /** The message as sent (`{content}`, `{media_id}` …). */
  payload: Record<string, unknown>;
  to_all: boolean;
  tag_id?: number;
  targets: string[];
  submitted_at: number;
  status: 'SENDING' | 'SEND_SUCCESS' | 'SEND_FAIL' | 'DELETE';
  clientmsgid?: string;
  result?: { total: number; filter: number; sent: number; error: number };
}

/** What a follower received: a passive reply, a customer-service message, a mass message or a preview. */
export interface MpOutboxEntry {
  openid: string;
  at: number;
  via: 'passive' | 'custom' | 'mass' | 'preview';
  msgtype: string;
  content?: string;
  msg_id?: number;
  deleted?: boolean;
  message: Record<string, unknown>;
}

/** Per Beijing day, from the day the account came alive in this simulator: what datacube reports. */
export interface MpDay {
  callback_count: number;
  fail_count: number;
  total_time_cost: number;
  max_time_cost: number;
  /** By datacube msg_type (1 text …): who sent and how many. */
  upstream: Record<string, { users: string[]; count: number }>;
}

export interface MpState {
  /** Seed times are relative until the first request pins them to the simulated clock (seed.ts). */
  anchored_at: number | null;
  admin_openid: string;
  followers: MpFollower[];
  follow_log: MpFollowEvent[];
  next_follower_seq: number;
  tags: MpTag[];
  next_tag_id: number;
  menu: MpMenu | null;
  next_menuid: number;
  articles: MpArticle[];
  materials: MpMaterial[];
  miniprograms: MpMiniProgram[];
  mass_jobs: MpMassJob[];
  next_msg_id: number;
  next_msg_data_id: number;
  next_message_seq: number;
  outbox: MpOutboxEntry[];
  days: Record<string, MpDay>;
  quota: { day: string; used: Record<string, number> };
  clear_quota: { month: string; count: number };
}
