import type { Authority } from './authority';
import type { LedgerPort } from './ledger';
import { MemoryLedger } from './memory-ledger';
import type { BindRequest, OperationEvent } from './messages';
import { parseWake, startOperation } from './operation';
import { defaultQueueNames } from './pipeline';
import { topicDeliveringTo, type Clock, type EcsPort, type QueuePort } from './ports';
import { runDelivery, type RunReport, type RunnerDeps } from './runner';
import type { StepContext } from './step';

/**
 * Runs a whole operation in this process: the same steps, the same runner and the same ledger rules as the
 * deployed functions, with an in-memory queue in place of MNS (and, unless one is given, an in-memory
 * ledger). Used by the CLI's `bind` (an operator at a terminal) and by tests. Guarantees: the outcome is
 * the one recorded in the ledger; an operation that already ended there is not run again (its recorded
 * outcome is returned).
 */
export async function runInProcess(
  request: BindRequest,
  deps: Omit<RunnerDeps, 'queue' | 'topic' | 'queues' | 'ledger'> & { ledger?: LedgerPort; group?: string; onReport?: (report: RunReport, step: string) => void },
): Promise<OperationEvent> {
  const ledger = deps.ledger ?? new MemoryLedger();
  const queues = defaultQueueNames('mem-');
  const pending: { queue: string; body: string; visibleAt: number }[] = [];
  const queue: QueuePort = {
    async send(queueName, body, options) {
      pending.push({ queue: queueName, body, visibleAt: deps.clock.now() + (options?.delaySeconds ?? 0) * 1000 * (deps.timeScale ?? 1) });
      return { messageId: `mem-${pending.length}` };
    },
  };
  const runner: RunnerDeps = { ...deps, ledger, queue, topic: topicDeliveringTo(queue, queues.events), queues };
  const started = await startOperation(request, { ledger, queue, queues, now: deps.clock.now(), ...(deps.group ? { group: deps.group } : {}) });
  if (started.record.outcome !== undefined) return started.record.outcome;
  for (;;) {
    const sent = pending.filter((m) => m.queue !== queues.events && m.queue !== queues.deadLetter).sort((a, b) => a.visibleAt - b.visibleAt)[0];
    if (sent === undefined) {
      const record = await ledger.get(started.operationId);
      if (record?.outcome !== undefined) return record.outcome;
      throw new Error(`in-process: operation ${started.operationId} is ${record?.status ?? 'missing'} and nothing is queued for it`);
    }
    pending.splice(pending.indexOf(sent), 1);
    const wait = sent.visibleAt - deps.clock.now();
    if (wait > 0) await deps.clock.sleep(wait);
    const wake = parseWake(sent.body);
    if (!wake.ok) throw new Error(`in-process: a step produced an invalid wake-up: ${wake.error}`);
    const report = await runDelivery(wake.value, runner);
    deps.onReport?.(report, wake.value.step);
    if (report.kind === 'ended' || report.kind === 'republished') return report.event;
  }
}

/**
 * A step context that may read but never write (ledger or cloud): for `bind --dry-run`. A step that
 * tries to write gets an error naming the write.
 */
export function readOnlyContext(deps: { ecs: EcsPort; clock: Clock; guestScript: string; authority: Authority; timeScale?: number }): StepContext {
  return {
    ecs: deps.ecs,
    clock: deps.clock,
    guestScript: deps.guestScript,
    timeScale: deps.timeScale ?? 1,
    authority: deps.authority,
    ledger: new MemoryLedger(),
    async remember() {
      throw new Error('dry run: nothing is recorded');
    },
    async beforeWrite(write) {
      throw new Error(`dry run: ${write.kind} of ${write.instanceId} is not made`);
    },
  };
}
