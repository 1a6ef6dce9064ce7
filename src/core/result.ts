import type { Text } from './i18n.js';
import type { Plan } from './plan.js';

/**
 * A command returns one result: `data` in the platform's own field names (what `--json` prints) and a
 * `view` that says how a human should see it. Each channel has a renderer for views; commands never
 * format for a channel themselves.
 */
export interface Column {
  key: string;
  title: Text;
  align?: 'left' | 'right';
}

export interface TreeNode {
  label: string;
  note?: string;
  children: TreeNode[];
}

export type View =
  | { type: 'table'; columns: Column[]; rows: Record<string, unknown>[]; caption?: Text; footer?: Text }
  | { type: 'tree'; roots: TreeNode[]; caption?: Text; footer?: Text }
  | { type: 'fields'; fields: { label: Text; value: string }[]; caption?: Text }
  | { type: 'message'; text: Text; tone?: 'success' | 'info' | 'warning' }
  | { type: 'plan'; plan: Plan; dryRun: boolean }
  | { type: 'sections'; sections: View[] };

export interface CommandResult {
  data: unknown;
  view: View;
}

export const message = (text: Text, data: unknown = {}, tone: 'success' | 'info' | 'warning' = 'success'): CommandResult => ({
  data,
  view: { type: 'message', text, tone },
});
