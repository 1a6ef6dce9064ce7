import type { z } from 'zod';
import type { Text } from './i18n.js';
import type { CommandResult } from './result.js';
import type { Plan } from './plan.js';
import type { CommandContext } from './context.js';

/**
 * A command is one declaration (ARCHITECTURE §3): its words, its parameters (each one a zod schema,
 * from which the parser, usage and help are built), its policy action, how to find the resource the
 * policy judges, and plan/run. Adding a command means adding a declaration to `commands/`, nothing else.
 */
export type ParamKind = 'arg' | 'option' | 'flag';
export type Completion = 'dept' | 'member' | 'tag' | 'command' | 'file';

export interface ParamSpec<S extends z.ZodType = z.ZodType> {
  kind: ParamKind;
  schema: S;
  description: Text;
  /** Positional args: consumes the rest of the words. Options: may be given several times. */
  many?: boolean;
  required?: boolean;
  /** Placeholder in usage lines, e.g. `dept` in `--dept <dept>`. */
  placeholder?: string;
  complete?: Completion;
  /** One-letter short flag, e.g. `r` for `-r`. */
  short?: string;
}

export type Params = Record<string, ParamSpec>;
export type ArgsOf<P extends Params> = { [K in keyof P]: z.output<P[K]['schema']> };

/** What the policy engine may read about the thing a command acts on (ARCHITECTURE §5). */
export type Resource = Record<string, unknown>;

export interface CommandSpec<P extends Params = Params> {
  /** Canonical English words, e.g. `member add`. */
  name: string;
  /** Chinese alias words, e.g. `成员 添加`. */
  alias: string;
  summary: Text;
  /** Longer help shown by `help <command>`. */
  details?: Text;
  examples?: string[];
  params: P;
  /** Policy action, e.g. `member.add`. */
  action: string;
  /** The `resource.*` attributes `resolve` provides, which policy conditions may read (checked by `policy lint`). */
  attributes?: string[];
  mutates: boolean;
  /**
   * `true`: running it only reads (the platform, the store, files) and changes nothing — no platform
   * write, no record, no file, no message (a cached token or snapshot aside). Its decision is then audited
   * together with its result, in one append before the reply, instead of ahead of running it: a decision
   * goes on the log before anything can change, and a read changes nothing. Leave it out when unsure.
   */
  readOnly?: boolean;
  /**
   * `false`: the command only advises (help), so it may answer from a recent snapshot of the departments
   * instead of the platform; what it lists is still decided live when run.
   */
  usesPlatform?: boolean;
  resolve?(ctx: CommandContext, args: ArgsOf<P>): Promise<Resource>;
  plan?(ctx: CommandContext, args: ArgsOf<P>, resource: Resource): Promise<Plan>;
  run(ctx: CommandContext, args: ArgsOf<P>, plan: Plan | undefined, resource: Resource): Promise<CommandResult>;
}

export type AnyCommand = CommandSpec<any>;

export function defineCommand<P extends Params>(spec: CommandSpec<P>): CommandSpec<P> {
  return spec;
}

export function arg<S extends z.ZodType>(schema: S, description: Text, more: Partial<ParamSpec<S>> = {}): ParamSpec<S> {
  return { kind: 'arg', schema, description, required: true, ...more };
}

export function option<S extends z.ZodType>(schema: S, description: Text, more: Partial<ParamSpec<S>> = {}): ParamSpec<S> {
  return { kind: 'option', schema, description, ...more };
}

export function flag<S extends z.ZodType>(schema: S, description: Text, more: Partial<ParamSpec<S>> = {}): ParamSpec<S> {
  return { kind: 'flag', schema, description, ...more };
}
