import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * The XML of platform callbacks (wecom.md §8, mp.md §6): one flat `<xml>` element whose children are the
 * message fields, a few of them nested (ScanCodeInfo, SendPicsInfo, BatchJob, ArticleUrlResult …).
 *
 * - Every leaf value stays a string: MsgId is a 64-bit number that a JS number would round, and
 *   "0001" style keys must keep their zeros. CDATA is unwrapped as is (never trimmed, never decoded);
 *   plain text is trimmed and its character references decoded.
 * - Elements named `item` / `Item` are always arrays (they are list entries wherever they occur:
 *   PicList, ResultList, Articles, ExtAttr …), so a one-element list does not change shape.
 * - A repeated field becomes an array (fast-xml-parser's rule); the platforms never repeat one.
 * - DOCTYPE is refused outright: no platform sends one, and entity declarations are how XML bombs work.
 */

/** The body is not the XML we expect. The message never quotes the input. */
export class XmlFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlFormatError';
  }
}

/** `&#38;`, `&#x26;` and the five XML entities; anything else is left as written. */
const REFERENCE = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE, (whole, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name) return NAMED[name] ?? whole;
    const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
    // Only characters XML allows; a reference to NUL or a lone surrogate stays as written.
    const ok = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    return ok ? String.fromCodePoint(cp) : whole;
  });
}

/**
 * fast-xml-parser 5 decodes numeric references only together with its HTML entity table; this small
 * decoder does exactly XML's set. DOCTYPE is refused before parsing, so no declared entities ever arrive.
 */
const xmlEntities = {
  setExternalEntities() {},
  addInputEntities() {},
  reset() {},
  setXmlVersion() {},
  decode: decodeReferences,
};

const LIST_ENTRIES = new Set(['item', 'Item']);

/** Built once: parsing is on the hot path of every callback. */
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  entityDecoder: xmlEntities,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => LIST_ENTRIES.has(name),
});

const DOCTYPE = /<!(?:DOCTYPE|ENTITY)/i;

/**
 * Parses a callback body into the fields of its `<xml>` root. Throws XmlFormatError when the text is not
 * well-formed, declares a DOCTYPE, or has another root. `<xml></xml>` gives `{}`.
 */
export function parseXml(text: string): Record<string, any> {
  if (DOCTYPE.test(text)) throw new XmlFormatError('DOCTYPE is not allowed');
  // The parser itself is lenient (an unclosed tag parses); the validator is strict and ~4x cheaper.
  let valid = false;
  try {
    valid = XMLValidator.validate(text) === true;
  } catch {
    valid = false;
  }
  if (!valid) throw new XmlFormatError('not well-formed XML');
  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch {
    // e.g. a tag named __proto__: fast-xml-parser refuses it. Its message may quote the input.
    throw new XmlFormatError('XML the parser refuses');
  }
  if (!doc || typeof doc !== 'object') throw new XmlFormatError('no root element');
  const keys = Object.keys(doc);
  if (keys.length !== 1 || keys[0] !== 'xml') throw new XmlFormatError('the root element is not <xml>');
  const root = (doc as { xml: unknown }).xml;
  if (root === '') return {};
  if (!root || typeof root !== 'object' || Array.isArray(root)) throw new XmlFormatError('the <xml> root holds no fields');
  return root as Record<string, any>;
}

// ---------------------------------------------------------------------------------------------------
// Passive replies (mp.md §6.4; WeCom apps use the same shapes for text/image/voice/video/news)

/** Characters XML 1.0 does not allow anywhere, not even in CDATA. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A CDATA section holding `value` exactly. `]]>` would end the section early, so it is split across two
 * sections (`]]` + `>`); characters XML forbids are dropped, as no parser would accept them.
 */
export function cdata(value: string): string {
  const clean = value.replace(NOT_XML, '');
  return `<![CDATA[${clean.split(']]>').join(']]]]><![CDATA[>')}]]>`;
}

export interface NewsArticle {
  title: string;
  description?: string;
  picurl?: string;
  url: string;
}

export type PassiveReply =
  | { type: 'text'; content: string }
  | { type: 'image'; mediaId: string }
  | { type: 'voice'; mediaId: string }
  | { type: 'video'; mediaId: string; title?: string; description?: string }
  | { type: 'music'; thumbMediaId: string; title?: string; description?: string; musicUrl?: string; hqMusicUrl?: string }
  /** MP shows only the first article nowadays; WeCom apps show up to 8. */
  | { type: 'news'; articles: NewsArticle[] }
  /** MP only: hands the conversation to customer service (optionally one agent). */
  | { type: 'transfer_customer_service'; kfAccount?: string };

/** The two address fields of the message being answered. */
export interface ReplyAddress {
  ToUserName: string;
  FromUserName: string;
}

const field = (name: string, value: string | undefined) => (value === undefined ? '' : `<${name}>${cdata(value)}</${name}>`);

/**
 * The passive reply XML to an incoming message. Pass the INCOMING message (or its two address fields):
 * this function swaps them, so the reply goes to the sender (`ToUserName` = the incoming `FromUserName`)
 * and comes from the account or corp. `nowMs` gives CreateTime (seconds). Seal the result with
 * `CallbackVerifier.seal` before writing it out.
 */
export function buildReply(incoming: ReplyAddress, reply: PassiveReply, nowMs: number = Date.now()): string {
  const head =
    `<xml><ToUserName>${cdata(String(incoming.FromUserName))}</ToUserName>` +
    `<FromUserName>${cdata(String(incoming.ToUserName))}</FromUserName>` +
    `<CreateTime>${Math.floor(nowMs / 1000)}</CreateTime>` +
    `<MsgType>${cdata(reply.type)}</MsgType>`;
  return `${head}${replyBody(reply)}</xml>`;
}

function replyBody(reply: PassiveReply): string {
  switch (reply.type) {
    case 'text':
      return field('Content', reply.content);
    case 'image':
      return `<Image>${field('MediaId', reply.mediaId)}</Image>`;
    case 'voice':
      return `<Voice>${field('MediaId', reply.mediaId)}</Voice>`;
    case 'video':
      return `<Video>${field('MediaId', reply.mediaId)}${field('Title', reply.title)}${field('Description', reply.description)}</Video>`;
    case 'music':
      return (
        `<Music>${field('Title', reply.title)}${field('Description', reply.description)}${field('MusicUrl', reply.musicUrl)}` +
        `${field('HQMusicUrl', reply.hqMusicUrl)}${field('ThumbMediaId', reply.thumbMediaId)}</Music>`
      );
    case 'news': {
      if (reply.articles.length === 0) throw new RangeError('a news reply needs at least one article');
      const items = reply.articles
        .map((a) => `<item>${field('Title', a.title)}${field('Description', a.description)}${field('PicUrl', a.picurl)}${field('Url', a.url)}</item>`)
        .join('');
      return `<ArticleCount>${reply.articles.length}</ArticleCount><Articles>${items}</Articles>`;
    }
    case 'transfer_customer_service':
      return reply.kfAccount === undefined ? '' : `<TransInfo>${field('KfAccount', reply.kfAccount)}</TransInfo>`;
  }
}
