/** The policy language (docs/policy.md): what the loader produces and the engine compiles. */
export type Condition =
  | { equals: unknown }
  | { in: unknown }
  | { within: unknown }
  | { matches: string }
  | { not: Condition };

export const OPERATORS = ['equals', 'in', 'within', 'matches', 'not'] as const;

export interface Role {
  name: string;
  description?: string;
  /** Explicit WeCom userids; "*" is every member of the company. */
  members: string[];
  /** `department-leaders`: leaders of a department hold the role over its subtree. */
  derived?: 'department-leaders';
  /** Explicit department admins: userid → departments (id or path) they manage, with their subtrees. */
  manages: Record<string, (string | number)[]>;
  inherits: string[];
  source: Source;
}

export interface Rule {
  id: string;
  description?: string;
  effect: 'permit' | 'forbid';
  roles: string[];
  actions: string[];
  /** Every clause must hold; a clause maps an attribute to a condition. */
  when: Record<string, Condition>[];
  source: Source;
}

export interface ApprovalStep {
  role: string;
  /** Whose department the approver must manage: the affected resource's, or the requester's. */
  of?: 'resource' | 'requester';
}

export interface ApprovalChain {
  id: string;
  description?: string;
  actions: string[];
  steps: ApprovalStep[];
  expiresMs: number;
  source: Source;
}

export type Channel = 'slack' | 'wechaty' | 'wecom';

export interface PolicySet {
  roles: Record<string, Role>;
  rules: Rule[];
  approvals: ApprovalChain[];
  /** Chat identities → WeCom userids, per channel. */
  identities: Record<Channel, Record<string, string>>;
  files: string[];
}

export interface Source {
  file: string;
  line: number;
}

export function matchesAction(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return action.startsWith(pattern.slice(0, -1));
  return pattern === action;
}
