import type { AnyCommand } from '../src/core/command.js';
import { Registry } from '../src/core/registry.js';
import { deptCommands } from './dept.js';
import { help } from './help.js';
import { memberCommands } from './member/index.js';
import { tagCommands } from './tag.js';

/** Every command wxops knows; one module per group (ARCHITECTURE §4). */
export const allCommands: AnyCommand[] = [...deptCommands, ...memberCommands, ...tagCommands, help];

export function createRegistry(): Registry {
  return new Registry(allCommands);
}
