/**
 * Inbound callbacks (ARCHITECTURE §7): verify → de-duplicate → handle → reply, for WeCom and MP alike.
 *
 *   const opened = verifier.open(query, body);                        // throws CallbackRejected (.status)
 *   const reply = dedupe.run(dedupeKey(opened.message), () => handle(opened.message));
 *   res.end(verifier.seal(await replyWithin(reply), opened.encrypted));
 */
export {
  CallbackRejected,
  CallbackVerifier,
  findEncrypt,
  type CallbackPlatform,
  type CallbackVerifierOptions,
  type OpenedCallback,
  type RejectReason,
  type SealedParts,
} from './verify.js';
export { buildReply, cdata, parseXml, XmlFormatError, type NewsArticle, type PassiveReply, type ReplyAddress } from './xml.js';
export { CallbackDedupe, DEDUPE_COLLECTION, dedupeKey, replyWithin, type DedupeOptions } from './dedupe.js';
export { readLimited, sendReply } from './body.js';
