import { Command, CommanderError, Option } from 'commander';
import { distance } from 'fastest-levenshtein';
import type { z } from 'zod';
import type { AnyCommand, ParamSpec } from './command.js';
import { InputError } from './errors.js';
import { t, type Lang, type Text } from './i18n.js';

/**
 * Finds the command a line of words names (English words or the Chinese alias) and turns the rest
 * of the words into validated arguments. commander does the option syntax (`--dept x`, `--dept=x`,
 * `-r`, unknown options); zod does the values. Both are built from the one declaration.
 */
export interface ParsedCommand {
  command: AnyCommand;
  args: Record<string, unknown>;
  dryRun: boolean;
  help: boolean;
}

const DRY_RUN = '--dry-run';

export class Registry {
  private readonly byWords = new Map<string, AnyCommand>();
  readonly commands: AnyCommand[] = [];

  constructor(commands: AnyCommand[]) {
    for (const c of commands) this.add(c);
  }

  add(command: AnyCommand): void {
    for (const words of [command.name, command.alias]) {
      const key = words.trim();
      if (this.byWords.has(key)) throw new Error(`duplicate command words: ${key}`);
      this.byWords.set(key, command);
    }
    this.commands.push(command);
  }

  /** Every policy action the commands declare. */
  actions(): string[] {
    return [...new Set(this.commands.map((c) => c.action))];
  }

  /** Longest prefix of `tokens` that names a command (at most three words). */
  route(tokens: string[]): { command: AnyCommand; rest: string[] } | undefined {
    for (let n = Math.min(3, tokens.length); n >= 1; n--) {
      const command = this.byWords.get(tokens.slice(0, n).join(' '));
      if (command) return { command, rest: tokens.slice(n) };
    }
    return undefined;
  }

  /** Commands whose words start with the given group word (`member`, `成员`). */
  group(word: string): AnyCommand[] {
    return this.commands.filter((c) => c.name.split(' ')[0] === word || c.alias.split(' ')[0] === word);
  }

  /** Up to three known command lines closest to what was typed, for "did you mean". */
  suggest(tokens: string[]): string[] {
    const typed2 = tokens.slice(0, 2).join(' ');
    const typed1 = tokens[0] ?? '';
    const scored: { words: string; score: number }[] = [];
    for (const words of this.byWords.keys()) {
      const n = words.split(' ').length;
      const typed = n === 1 ? typed1 : typed2;
      const d = distance(typed.toLowerCase(), words.toLowerCase());
      const limit = Math.max(2, Math.floor(words.length / 3));
      if (d <= limit) scored.push({ words, score: d });
    }
    const inGroup = this.group(typed1).map((c) => (/[\u4e00-\u9fff]/.test(typed1) ? c.alias : c.name));
    const ordered = [...new Set([...scored.sort((a, b) => a.score - b.score).map((s) => s.words), ...inGroup])];
    return ordered.slice(0, 3);
  }

  parse(tokens: string[], lang: Lang): ParsedCommand {
    if (tokens.length === 0) {
      throw new InputError('EMPTY_COMMAND', t('请输入命令，输入 help 查看可用命令。', 'Type a command; `help` lists them.'));
    }
    const routed = this.route(tokens);
    if (!routed) throw this.unknown(tokens);
    const { command } = routed;
    let rest = routed.rest;
    const help = rest.includes('--help') || rest.includes('-h');
    if (help) return { command, args: {}, dryRun: false, help: true };
    const dryRun = rest.includes(DRY_RUN);
    if (dryRun) {
      if (!command.mutates) {
        throw new InputError(
          'DRY_RUN_NOT_APPLICABLE',
          t('{cmd} 不修改任何数据，不需要 --dry-run。', '{cmd} changes nothing, so --dry-run does not apply.', { cmd: command.name }),
        );
      }
      rest = rest.filter((w) => w !== DRY_RUN);
    }
    const raw = runCommander(command, rest, lang);
    return { command, args: validate(command, raw, lang), dryRun, help: false };
  }

  private unknown(tokens: string[]): InputError {
    const suggestions = this.suggest(tokens);
    const typed = tokens.slice(0, 2).join(' ');
    const hint = suggestions.length
      ? t('你是不是想输入：{s}？', 'Did you mean: {s}?', { s: suggestions.join(' / ') })
      : t('输入 help 查看可用命令。', 'Type `help` to see the commands.');
    return new InputError(
      'UNKNOWN_COMMAND',
      { zh: `没有 “${typed}” 这个命令。${hint.zh}`, en: `There is no command “${typed}”. ${hint.en}` },
      { suggestions },
    );
  }
}

export function usageLine(command: AnyCommand, _lang: Lang = 'zh'): string {
  const parts = [command.name];
  for (const [key, p] of Object.entries(command.params) as [string, ParamSpec][]) {
    const ph = p.placeholder ?? key;
    if (p.kind === 'arg') parts.push(p.required ? `<${ph}${p.many ? '…' : ''}>` : `[${ph}${p.many ? '…' : ''}]`);
    else if (p.kind === 'option') parts.push(p.required ? `--${flagName(key)} <${ph}>` : `[--${flagName(key)} <${ph}>]`);
    else parts.push(`[--${flagName(key)}]`);
  }
  if (command.mutates) parts.push('[--dry-run]');
  return parts.join(' ');
}

export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function runCommander(command: AnyCommand, words: string[], lang: Lang): Record<string, unknown> {
  const program = new Command(command.name)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .helpOption(false)
    .allowExcessArguments(false);
  const positional: string[] = [];
  for (const [key, p] of Object.entries(command.params) as [string, ParamSpec][]) {
    if (p.kind === 'arg') {
      positional.push(key);
      // zod reports missing values in the user's language; commander only splits the words.
      program.argument(p.many ? `[${key}...]` : `[${key}]`);
    } else {
      const long = `--${flagName(key)}`;
      const flags = `${p.short ? `-${p.short}, ` : ''}${long}${p.kind === 'option' ? ` <${p.placeholder ?? key}>` : ''}`;
      const opt = new Option(flags);
      if (p.kind === 'option' && p.many) opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
      program.addOption(opt);
    }
  }
  let values: unknown[] = [];
  program.action((...a: unknown[]) => {
    values = a;
  });
  try {
    program.parse(words, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw commanderToInput(err, command, lang);
    throw err;
  }
  const raw: Record<string, unknown> = { ...program.opts() };
  positional.forEach((key, i) => {
    const v = values[i];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) raw[key] = v;
  });
  return raw;
}

function commanderToInput(err: CommanderError, command: AnyCommand, lang: Lang): InputError {
  const usage = usageLine(command, lang);
  const m = /'([^']+)'/.exec(err.message);
  const what = m?.[1] ?? '';
  switch (err.code) {
    case 'commander.unknownOption':
      return new InputError(
        'UNKNOWN_OPTION',
        t('{cmd} 没有选项 {opt}。用法：{usage}', '{cmd} has no option {opt}. Usage: {usage}', { cmd: command.name, opt: what, usage }),
      );
    case 'commander.optionMissingArgument':
      return new InputError(
        'MISSING_OPTION_VALUE',
        t('选项 {opt} 需要一个值。用法：{usage}', 'The option {opt} needs a value. Usage: {usage}', {
          opt: what.split(/[ ,]/).find((s) => s.startsWith('--')) ?? what,
          usage,
        }),
      );
    case 'commander.excessArguments':
      return new InputError(
        'TOO_MANY_ARGUMENTS',
        t('{cmd} 的参数太多（含空格的值请加引号）。用法：{usage}', 'Too many arguments for {cmd} (quote values that contain spaces). Usage: {usage}', {
          cmd: command.name,
          usage,
        }),
      );
    default:
      return new InputError('BAD_ARGUMENTS', t('{msg}。用法：{usage}', '{msg}. Usage: {usage}', { msg: err.message.replace(/^error: /, ''), usage }));
  }
}

function validate(command: AnyCommand, raw: Record<string, unknown>, lang: Lang): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const problems: Text[] = [];
  for (const [key, p] of Object.entries(command.params) as [string, ParamSpec][]) {
    const label = p.kind === 'arg' ? `<${p.placeholder ?? key}>` : `--${flagName(key)}`;
    let value = raw[key];
    if (value === undefined) {
      if (p.required) {
        problems.push({ zh: `缺少 ${label}（${p.description.zh}）`, en: `${label} is missing (${p.description.en})` });
        continue;
      }
      if (p.kind === 'flag') value = false;
    }
    const r = (p.schema as z.ZodType).safeParse(value);
    if (r.success) {
      if (r.data !== undefined) out[key] = r.data;
    } else {
      const issue = r.error.issues[0];
      problems.push(issueText(label, issue?.message ?? 'invalid'));
    }
  }
  if (problems.length) {
    const usage = usageLine(command, lang);
    throw new InputError(
      'INVALID_ARGUMENT',
      {
        zh: `${problems.map((p) => p.zh).join('；')}。用法：${usage}`,
        en: `${problems.map((p) => p.en).join('; ')}. Usage: ${usage}`,
      },
      { problems },
    );
  }
  return out;
}

/** Field rules carry "中文 / English" messages; split them so each language shows one sentence. */
function issueText(label: string, message: string): Text {
  const [zh, en] = message.includes(' / ') ? message.split(' / ', 2) : [message, message];
  return { zh: `${label}：${zh}`, en: `${label}: ${en}` };
}
