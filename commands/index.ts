import type { AnyCommand } from '../src/core/command.js';
import { Registry } from '../src/core/registry.js';
import { deptCommands } from './dept.js';
import { help } from './help.js';
import { memberCommands } from './member/index.js';
import { tagCommands } from './tag.js';
import { approvalCommands } from './approval.js';
import { auditCommands } from './audit.js';
import { policyCommands } from './policy.js';
import { menuCommands } from './menu.js';
import { autoreplyCommands } from './autoreply.js';
import { followerCommands } from './follower.js';
import { mptagCommands } from './mptag.js';
import { pushCommands } from './push.js';
import { miniprogramCommands } from './miniprogram.js';
import { statsCommands } from './stats.js';
import { customerCommands } from './customer/index.js';
import { ctagCommands } from './ctag.js';
import { welcomeCommands } from './welcome.js';
import { quickreplyCommands } from './quickreply.js';
import { contactwayCommands } from './contactway.js';
import { assignCommands } from './assign.js';
import { digestCommands } from './digest.js';
import { backupCommands } from './backup/index.js';

/** Every command wxops knows; one module per group (ARCHITECTURE §4). */
export const allCommands: AnyCommand[] = [
  ...deptCommands,
  ...memberCommands,
  ...tagCommands,
  ...customerCommands,
  ...ctagCommands,
  ...welcomeCommands,
  ...quickreplyCommands,
  ...contactwayCommands,
  ...assignCommands,
  ...menuCommands,
  ...autoreplyCommands,
  ...followerCommands,
  ...mptagCommands,
  ...pushCommands,
  ...miniprogramCommands,
  ...statsCommands,
  ...digestCommands,
  ...backupCommands,
  ...approvalCommands,
  ...auditCommands,
  ...policyCommands,
  help,
];

export function createRegistry(): Registry {
  return new Registry(allCommands);
}
