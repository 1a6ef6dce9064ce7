import type { AnyCommand, Completion, ParamSpec } from '../core/command.js';
import type { Registry } from '../core/registry.js';
import { flagName } from '../core/registry.js';
import { tokenize } from '../core/tokenizer.js';

/** Where completion candidates come from; the REPL backs this with the live company. */
export interface CompletionSource {
  registry: Registry;
  departments(): Promise<string[]>;
  members(): Promise<string[]>;
  tagNames(): Promise<string[]>;
}

/**
 * Tab completion for a partly typed line: command words (English or Chinese), option names of the
 * command, and values — department names and paths, member userids, tag names — where the declaration
 * says a parameter takes one.
 */
export async function completions(line: string, source: CompletionSource): Promise<[string[], string]> {
  let words: string[];
  try {
    words = tokenize(line);
  } catch {
    return [[], line];
  }
  const endsWithSpace = /\s$/.test(line) || line === '';
  const current = endsWithSpace ? '' : (words.pop() ?? '');
  const routed = source.registry.route(words);

  if (!routed) {
    // Still typing the command words: offer the next word of every command that matches so far.
    const prefix = words.join(' ');
    const next = new Set<string>();
    for (const c of source.registry.commands) {
      for (const name of [c.name, c.alias]) {
        const parts = name.split(' ');
        if (parts.slice(0, words.length).join(' ') !== prefix) continue;
        const w = parts[words.length];
        if (w && w.startsWith(current)) next.add(w);
      }
    }
    return [[...next].sort().map((w) => `${w} `), current];
  }

  const { command, rest } = routed;
  const previous = rest[rest.length - 1];
  const optionParam = previous?.startsWith('--') ? paramFor(command, previous) : undefined;
  if (optionParam && optionParam.kind === 'option') return [await values(optionParam.complete, current, source), current];
  if (current.startsWith('-')) {
    const flags = (Object.entries(command.params) as [string, ParamSpec][]).filter(([, p]) => p.kind !== 'arg').map(([k]) => `--${flagName(k)}`);
    if (command.mutates) flags.push('--dry-run');
    return [flags.filter((f) => f.startsWith(current)).map((f) => `${f} `), current];
  }
  const positional = (Object.values(command.params) as ParamSpec[]).filter((p) => p.kind === 'arg');
  const index = rest.filter((w, i) => !w.startsWith('-') && !(rest[i - 1]?.startsWith('--') && paramFor(command, rest[i - 1]!)?.kind === 'option')).length;
  const param = positional[Math.min(index, positional.length - 1)];
  return [await values(param?.complete, current, source), current];
}

function paramFor(command: AnyCommand, flag: string): ParamSpec | undefined {
  const entry = (Object.entries(command.params) as [string, ParamSpec][]).find(([k]) => `--${flagName(k)}` === flag);
  return entry?.[1];
}

async function values(kind: Completion | undefined, current: string, source: CompletionSource): Promise<string[]> {
  let all: string[] = [];
  if (kind === 'dept') all = await source.departments();
  else if (kind === 'member') all = await source.members();
  else if (kind === 'tag') all = await source.tagNames();
  else if (kind === 'command') all = source.registry.commands.map((c) => c.name.split(' ')[0]!);
  return [...new Set(all)]
    .filter((v) => v.startsWith(current))
    .sort()
    .map((v) => (/\s/.test(v) ? `"${v}" ` : `${v} `));
}
