import { newOperation, parseOperationMessage, type BindRequest, type OperationEvent } from './messages';
import { defaultQueueNames } from './pipeline';
import type { QueuePort } from './ports';
import { runStep, type RunReport, type RunnerDeps } from './runner';

/**
 * Runs a whole operation in this process: the same steps and the same runner as the deployed functions,
 * with an in-memory queue in place of MNS. Used by the CLI's `bind` (an operator at a terminal) and by tests.
 */
export async function runInProcess(
  request: BindRequest,
  deps: Omit<RunnerDeps, 'queue' | 'queues'> & { onReport?: (report: RunReport, step: string) => void },
): Promise<OperationEvent> {
  const queues = defaultQueueNames('mem-');
  const pending: { queue: string; body: string; visibleAt: number }[] = [];
  const queue: QueuePort = {
    async send(queueName, body, options) {
      pending.push({ queue: queueName, body, visibleAt: deps.clock.now() + (options?.delaySeconds ?? 0) * 1000 * (deps.timeScale ?? 1) });
      return { messageId: `mem-${pending.length}` };
    },
  };
  let message = newOperation(request, deps.clock.now());
  for (;;) {
    const report = await runStep(message, { ...deps, queue, queues });
    deps.onReport?.(report, message.step);
    if (report.kind === 'ended') return report.event;
    // The runner sent exactly one message on: the next step's, or its own step's with a delay.
    const sent = pending.filter((m) => m.queue !== queues.events && m.queue !== queues.deadLetter).pop();
    pending.length = 0;
    if (sent === undefined) throw new Error('in-process: the step handed nothing on');
    const wait = sent.visibleAt - deps.clock.now();
    if (wait > 0) await deps.clock.sleep(wait);
    const parsed = parseOperationMessage(sent.body);
    if (!parsed.ok) throw new Error(`in-process: a step produced an invalid message: ${parsed.error}`);
    message = parsed.value;
  }
}
