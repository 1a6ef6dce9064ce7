import type { Notification, Notifier } from '../approval/service.js';
import type { Lang } from '../core/i18n.js';
import type { Logger } from '../platform/redact.js';
import type { GroupRobot } from './webhook.js';

/**
 * Approval notifications go to the chat the request came from (ARCHITECTURE §3): each channel that is
 * running registers its notifier; requests from the REPL or a script — or from a channel whose send
 * fails — are kept by the fallback (the store) and logged, never lost.
 */
export class ChannelNotifier implements Notifier {
  constructor(
    private readonly byChannel: Partial<Record<string, Notifier>>,
    private readonly fallback: Notifier,
    private readonly logger: Logger,
  ) {}

  async notify(n: Notification): Promise<void> {
    await this.fallback.notify(n);
    const channel = this.byChannel[n.channel];
    if (!channel) return;
    try {
      await channel.notify(n);
    } catch (err) {
      this.logger.warn({ channel: n.channel, request: n.requestId, error: (err as Error).message }, 'approval notification not delivered; it is kept in the store');
    }
  }
}

/** WeCom: the ops group's robot posts the request and @-mentions the approvers (WeCom userids). */
export class GroupRobotNotifier implements Notifier {
  constructor(
    private readonly robot: GroupRobot,
    private readonly lang: Lang,
  ) {}

  async notify(n: Notification): Promise<void> {
    await this.robot.markdown(n.text[this.lang], n.to);
  }
}
