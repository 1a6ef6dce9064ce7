/**
 * 客户联系 (external contacts, wecom.md §4–5): the part of the simulated company kept in
 * `state.customers`. Times named `*_at` are ms of the simulated clock; `createtime`, `create_time` and
 * `takeover_time` are Unix seconds as the API answers them.
 */
export interface CustomerState {
  version: 1;
  /** Members enabled for 客户联系 (follow users), as their contacts userids. */
  follow_users: string[];
  /** Members who left the company (离职) while following customers: their customers are unassigned. */
  departed: SimDeparted[];
  customers: SimCustomer[];
  /** One row per (customer, member) relation. */
  relations: SimRelation[];
  tag_groups: SimTagGroup[];
  contact_ways: SimContactWay[];
  welcome_codes: SimWelcomeCode[];
  transfers: SimTransfer[];
  /** What customers received (welcome messages, transfer notices), for tests and `/_sim/customers/outbox`. */
  outbox: SimOutboxEntry[];
  /** Activity the simulator itself saw, per Beijing date and member (behaviour data adds it). */
  activity: Record<string, Record<string, SimActivity>>;
  /** Beijing midnight (ms) of the day the 60-day behaviour history ends; set on first use. */
  behavior_anchor: number | null;
  next_relation_seq: number;
  next_customer_seq: number;
  next_tag_seq: number;
  next_way_seq: number;
}

export interface SimDeparted {
  userid: string;
  name: string;
  at: number;
}

export interface SimCustomer {
  external_userid: string;
  name: string;
  /** 1 WeChat user, 2 WeCom user of another corp. */
  type: 1 | 2;
  gender: 0 | 1 | 2;
  corp_name?: string;
  corp_full_name?: string;
  position?: string;
  created_at: number;
}

export interface SimRelation {
  /** Increasing per relation: per-member lists are in seq order, so cursors resume by seq. */
  seq: number;
  userid: string;
  external_userid: string;
  createtime: number;
  add_way: number;
  oper_userid: string;
  /** Corp tag ids. */
  tags: string[];
  remark?: string;
  description?: string;
  remark_mobiles?: string[];
  remark_corp_name?: string;
  state?: string;
  /** The member and the customer have chatted: no welcome message any more (41051). */
  chat_started?: boolean;
}

export interface SimCorpTag {
  id: string;
  name: string;
  create_time: number;
  order: number;
  /** The secret kind that created it: a self-built app may change only its own tags (81011). */
  owner: string;
}

export interface SimTagGroup {
  group_id: string;
  group_name: string;
  create_time: number;
  order: number;
  owner: string;
  tag: SimCorpTag[];
}

export interface SimContactWay {
  config_id: string;
  type: 1 | 2;
  scene: 1 | 2;
  style?: number;
  remark: string;
  skip_verify: boolean;
  state: string;
  user: string[];
  party: number[];
  is_temp: boolean;
  /** Seconds (temporary ways only). */
  expires_in?: number;
  chat_expires_in?: number;
  unionid?: string;
  conclusions?: Record<string, unknown>;
  created_at: number;
  /** Round robin over the members of a multi-member way. */
  next_pick: number;
}

export interface SimWelcomeCode {
  code: string;
  userid: string;
  external_userid: string;
  issued_at: number;
  used: boolean;
}

export interface SimTransfer {
  kind: 'onjob' | 'resigned';
  handover_userid: string;
  takeover_userid: string;
  external_userid: string;
  started_at: number;
  /** 1 done, 2 waiting (wecom.md §4.5). */
  status: 1 | 2;
  takeover_time?: number;
  message?: string;
}

export interface SimOutboxEntry {
  external_userid: string;
  userid: string;
  at: number;
  via: 'welcome' | 'transfer';
  msgtype: string;
  content?: string;
  payload?: Record<string, unknown>;
}

export interface SimActivity {
  new_apply: number;
  new_contact: number;
  chats: number;
  messages: number;
}
