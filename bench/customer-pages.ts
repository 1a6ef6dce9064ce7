import { Agent, request } from '../src/platform/undici-slim.js';
import { BATCH_LIMIT, batchMemberLists } from '../src/platform/wecom/customers.js';

/**
 * Every customer page of the simulator, read by the barest client: undici with keep-alive, one request
 * after another on each of `chains` cursor chains, each answer read and dropped after its next_cursor is
 * found. Nothing is parsed, written, hashed or retried.
 *
 * Two uses: it warms the simulator before the backup benchmark, and it is that benchmark's transport
 * floor — the same calls the backup's critical path makes (a token, the follow-user list, then the pages,
 * with the member lists CustomerApi.forEachRawPage uses: batchMemberLists), so what the backup takes
 * beyond it is the backup's own work, and what the floor takes beyond the lower bound is the machine's
 * (two processes on the same cores, the loopback, the timers).
 */
export async function readCustomerPages(env: Record<string, string>, chains: number): Promise<{ pages: number }> {
  const agent = new Agent({ connections: 32 });
  try {
    const base = `${env.WXOPS_WECOM_BASE_URL}/cgi-bin`;
    const get = async (path: string) => {
      const res = await request(`${base}/${path}`, { dispatcher: agent, method: 'GET' });
      return (await res.body.json()) as Record<string, any>;
    };
    const token = (await get(`gettoken?corpid=${env.WXOPS_CORP_ID}&corpsecret=${env.WXOPS_CUSTOMER_SECRET}`)).access_token as string;
    const follow = (await get(`externalcontact/get_follow_user_list?access_token=${token}`)).follow_user as string[];
    const queue = batchMemberLists(follow, chains);
    let pages = 0;
    const chain = async () => {
      for (let list = queue.shift(); list; list = queue.shift()) {
        let cursor = '';
        do {
          const res = await request(`${base}/externalcontact/batch/get_by_user?access_token=${token}`, {
            dispatcher: agent,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ userid_list: list, cursor, limit: BATCH_LIMIT }),
          });
          cursor = nextCursor(Buffer.from(await res.body.arrayBuffer()));
          pages++;
        } while (cursor);
      }
    };
    await Promise.all(Array.from({ length: chains }, chain));
    return { pages };
  } finally {
    await agent.close();
  }
}

const KEY = Buffer.from('"next_cursor":"');

/**
 * The simulator's answers end with the cursor, `…],"next_cursor":"<base64url>"}`: found from the end, so
 * the page itself is never scanned. (A real client cannot assume this; the floor may.)
 */
function nextCursor(answer: Buffer): string {
  const at = answer.lastIndexOf(KEY);
  if (at < 0) throw new Error(`a customer page without next_cursor: ${answer.subarray(0, 200).toString()}`);
  const from = at + KEY.length;
  return answer.toString('latin1', from, answer.indexOf(0x22, from));
}
