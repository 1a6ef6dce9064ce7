/**
 * Keyword matching for auto-replies. Rules are tried in order and the first that matches answers, as in
 * the account console. Matching folds width and case (NFKC + lower case), so “ＶＩＰ” finds “vip”.
 *
 * The compiled form answers in time proportional to the message, not to the number of rules: exact
 * keywords are one map lookup, and every "contains" keyword is found in one pass over the text with an
 * Aho–Corasick automaton; the lowest rule index among the hits wins.
 */
export interface KeywordRule {
  keyword: string;
  match: 'exact' | 'contains';
}

/** Whether NFKC could change this UTF-16 code unit: full-width forms, ideographic space, compatibility ideographs, ligatures, circled numbers, Latin-1. */
function needsNfkc(c: number): boolean {
  return (
    (c >= 0xff00 && c <= 0xffef) ||
    c === 0x3000 ||
    (c >= 0x00a0 && c <= 0x00ff) ||
    (c >= 0x2000 && c <= 0x206f) ||
    (c >= 0x2460 && c <= 0x24ff) ||
    (c >= 0x3200 && c <= 0x33ff) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfb00 && c <= 0xfb4f) ||
    (c >= 0xfe30 && c <= 0xfe6f) ||
    (c >= 0xd800 && c <= 0xdfff)
  );
}

/**
 * NFKC, lower case, trimmed. One scan decides what is needed: most messages are plain Chinese and
 * need nothing, and normalising every message would cost more than matching it.
 */
export function fold(text: string): string {
  let nfkc = false;
  let lower = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c >= 0x41 && c <= 0x5a) lower = true;
    } else if (needsNfkc(c)) {
      nfkc = true;
      break;
    } else if (c >= 0x0100 && c <= 0x04ff) {
      lower = true;
    }
  }
  let s = text;
  if (nfkc) s = s.normalize('NFKC');
  if (nfkc || lower) s = s.toLowerCase();
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  return first <= 0x20 || last <= 0x20 || first === 0x3000 || last === 0x3000 || first === 0xa0 || last === 0xa0 ? s.trim() : s;
}

/** Code units fit in 16 bits, so a (state, unit) edge is one small integer key. */
const UNITS = 0x10000;

export class KeywordMatcher {
  /** Trie edges while building: key state × 65536 + code unit → next state. */
  private readonly edges = new Map<number, number>();
  /** The root's edges as a direct table (0 = stay at the root): most characters of a message are read at the root. */
  private readonly root = new Int32Array(UNITS);
  private fail: Int32Array = new Int32Array(1);
  /** Each state's children, packed (CSR): `first[s]..first[s + 1]` index `units` and `targets`. A state has few children, so a scan beats a hash. */
  private first: Int32Array = new Int32Array(2);
  private units: Uint16Array = new Uint16Array(0);
  private targets: Int32Array = new Int32Array(0);
  private depth: Int32Array = new Int32Array(1);
  /** Per state: the lowest "contains" rule index among keywords ending here or anywhere down its fail chain. */
  private best: Float64Array = new Float64Array([Infinity]);
  /** Per state: the "exact" rule whose whole keyword is the path from the root to here. */
  private exactAt: Float64Array = new Float64Array([Infinity]);
  private states = 1;

  constructor(rules: readonly KeywordRule[]) {
    const ends: [number, number, boolean][] = [];
    rules.forEach((rule, index) => {
      const key = fold(rule.keyword);
      if (key) ends.push([this.insert(key), index, rule.match === 'exact']);
    });
    this.fail = new Int32Array(this.states);
    this.best = new Float64Array(this.states).fill(Infinity);
    this.exactAt = new Float64Array(this.states).fill(Infinity);
    for (const [state, index, exact] of ends) {
      const table = exact ? this.exactAt : this.best;
      if (index < table[state]!) table[state] = index;
    }
    this.link();
  }

  /**
   * The index of the first rule that matches `text`, or -1 — in one pass and without building strings:
   * full-width ASCII, the ideographic space and ASCII capitals are folded on the way (what Chinese
   * keyboards produce); only text needing more (other compatibility forms, other scripts' capitals) is
   * folded as a string first. "Exact" holds when the whole trimmed text is a path from the root.
   */
  match(text: string, folded = false): number {
    const { best, depth, root } = this;
    let lo = 0;
    let hi = text.length;
    while (lo < hi && isSpace(text.charCodeAt(lo))) lo++;
    while (hi > lo && isSpace(text.charCodeAt(hi - 1))) hi--;
    let found = Infinity;
    let state = 0;
    let onPath = true;
    for (let i = lo; i < hi; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xff01 && c <= 0xff5e) c -= 0xfee0;
      else if (c === 0x3000) c = 0x20;
      if (c < 0x80) {
        if (c >= 0x41 && c <= 0x5a) c += 0x20;
      } else if (!folded && (needsNfkc(c) || (c >= 0x0100 && c <= 0x04ff))) {
        return this.match(fold(text), true);
      }
      state = state === 0 ? root[c]! : this.next(state, c);
      if (onPath && depth[state] !== i - lo + 1) onPath = false;
      const b = best[state]!;
      if (b < found) found = b;
    }
    if (onPath && hi > lo) {
      const e = this.exactAt[state]!;
      if (e < found) found = e;
    }
    return found === Infinity ? -1 : found;
  }

  /** The transition from a state other than the root: follow fail links until an edge fits. */
  private next(state: number, c: number): number {
    const { first, units, targets, fail } = this;
    for (let s = state; s !== 0; s = fail[s]!) {
      for (let k = first[s]!, end = first[s + 1]!; k < end; k++) if (units[k] === c) return targets[k]!;
    }
    return this.root[c]!;
  }

  private insert(key: string): number {
    let s = 0;
    for (let i = 0; i < key.length; i++) {
      const edge = s * UNITS + key.charCodeAt(i);
      let n = this.edges.get(edge);
      if (n === undefined) {
        n = this.states++;
        this.edges.set(edge, n);
        if (s === 0) this.root[key.charCodeAt(i)] = n;
      }
      s = n;
    }
    return s;
  }

  /** Breadth-first: each state's fail link points at the longest proper suffix that is also a prefix. */
  private link(): void {
    const children: number[][] = Array.from({ length: this.states }, () => []);
    for (const [edge, child] of this.edges) children[Math.floor(edge / UNITS)]!.push(edge % UNITS, child);
    this.first = new Int32Array(this.states + 1);
    this.units = new Uint16Array(this.edges.size);
    this.targets = new Int32Array(this.edges.size);
    this.depth = new Int32Array(this.states);
    let k = 0;
    children.forEach((list, s) => {
      this.first[s] = k;
      for (let j = 0; j < list.length; j += 2, k++) {
        this.units[k] = list[j]!;
        this.targets[k] = list[j + 1]!;
      }
    });
    this.first[this.states] = k;
    const queue: number[] = [];
    for (let j = 0; j < children[0]!.length; j += 2) {
      queue.push(children[0]![j + 1]!);
      this.depth[children[0]![j + 1]!] = 1;
    }
    for (let head = 0; head < queue.length; head++) {
      const s = queue[head]!;
      const list = children[s]!;
      for (let j = 0; j < list.length; j += 2) {
        const c = list[j]!;
        const child = list[j + 1]!;
        this.depth[child] = this.depth[s]! + 1;
        let f = this.fail[s]!;
        let target = this.edges.get(f * UNITS + c);
        while (target === undefined && f !== 0) {
          f = this.fail[f]!;
          target = this.edges.get(f * UNITS + c);
        }
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        this.best[child] = Math.min(this.best[child]!, this.best[this.fail[child]!]!);
        queue.push(child);
      }
    }
    this.edges.clear();
  }
}

/** What `String.prototype.trim` removes that the fast path can see (the rest goes the slow way). */
function isSpace(c: number): boolean {
  return c <= 0x20 || c === 0x3000;
}

/**
 * The obvious way — keywords folded once, then every rule tried in turn — kept as the reference the
 * compiled matcher is tested and benchmarked against.
 */
export class NaiveMatcher {
  private readonly rules: { key: string; exact: boolean }[];

  constructor(rules: readonly KeywordRule[]) {
    this.rules = rules.map((r) => ({ key: fold(r.keyword), exact: r.match === 'exact' }));
  }

  match(text: string): number {
    const folded = fold(text);
    for (let i = 0; i < this.rules.length; i++) {
      const { key, exact } = this.rules[i]!;
      if (key && (exact ? folded === key : folded.includes(key))) return i;
    }
    return -1;
  }
}
