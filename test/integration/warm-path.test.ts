/**
 * How the failover functions meet a failover (issue 16), through the deployed shape: with warm instances
 * (s.yaml vars.warmInstances: 1) their initializers ran at deploy and primed the clients - the ECS client
 * with one DescribeInstances each, before any event - and no invocation of the failover starts an
 * instance; without them (0), no function calls ECS for its start, and the steps that wait on the cloud
 * warm their successors ahead, so verify-bound's and configure-guest-routes' wake-ups meet started
 * instances (workflow/warm-ahead.ts).
 */
import type { InvocationRecord } from '../../local/fc';
import type { LocalCloud } from '../../local/cloud';
import { alarmFields, entryCloud, postAlarm, scenarioFile } from './helpers';

const FailoverFunctions = ['on-alarm', 'validate', 'attach', 'verify-bound', 'configure-guest-routes'].map((f) => `eni-failover-${f}`);

async function failover(warmInstances: number): Promise<{ before: string[]; ledgerBefore: string[]; records: InvocationRecord[]; warmed: string[]; outcome: string }> {
  // x0.25: the detach (0.5 s) and the attach (0.75 s) outlast an instance start here, as they do in the cloud
  // (2 s, 3 s); at the suite's x0.01 a wake-up would come while its warm-ahead instance still starts.
  const cloud: LocalCloud = await entryCloud(scenarioFile('two-node-failover'), { ecsEvents: false, vars: { warmInstances }, timeScale: 0.25 });
  try {
    const before = cloud.ecs.control.calls().map((c) => `${c.action}${c.code ? ` ${c.code}` : ''}`);
    const ledgerBefore = cloud.tablestore.control.calls().filter((c) => /Row$/.test(c.operation)).map((c) => `${c.operation} ${c.code ?? 'ok'}`);
    const records: InvocationRecord[] = [];
    /** Functions that answered a warm-ahead message (`[{kind: 'warmed'}]`), in order. */
    const warmed: string[] = [];
    cloud.fc!.events.on('invocation', (r: InvocationRecord, result: { body?: Buffer }) => {
      records.push(r);
      if (/^\[\{"messageId":"[^"]*","kind":"warmed"\}\]$/.test(result.body?.toString() ?? '')) warmed.push(r.function.replace('eni-failover-', ''));
    });
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const res = await postAlarm(cloud, alarmFields());
    expect(res.status).toBe(202);
    const operationId = res.body.operationIds[0] as string;
    const mns = cloud.mnsQueues();
    for (const until = Date.now() + 60_000; Date.now() < until; ) {
      for (const m of await mns.receive(cloud.queues.events, { waitSeconds: 1, max: 16 })) {
        const e = JSON.parse(m.body) as { operationId: string; outcome: string };
        if (e.operationId === operationId) return { before, ledgerBefore, records, warmed, outcome: e.outcome };
      }
    }
    throw new Error('no outcome within 60 s');
  } finally {
    await cloud.close();
  }
}

describe('the failover functions at a failover', () => {
  test('warm instances: primed at deploy (one DescribeInstances per failover function), no cold start on the way', async () => {
    const { before, ledgerBefore, records, warmed, outcome } = await failover(1);
    expect(warmed).toEqual([]);
    expect(outcome).toBe('succeeded');
    // The ledger's priming writes were refused (rows that do not exist): nothing was written at deploy.
    expect(new Set(ledgerBefore)).toEqual(new Set(['GetRow ok', 'UpdateRow OTSConditionCheckFail']));
    // on-alarm, on-ecs-event and the five steps (stop-if-required is kept warm too), one each.
    expect(before).toEqual(Array(7).fill('DescribeInstances'));
    const onPath = records.filter((r) => FailoverFunctions.includes(r.function));
    expect(onPath.map((r) => r.function)).toEqual(expect.arrayContaining(FailoverFunctions));
    expect(onPath.filter((r) => r.coldStart !== undefined).map((r) => r.function)).toEqual([]);
  });

  test('no warm instances: no ECS call before the alarm; on-alarm warms attach, attach and verify-bound warm their successors, whose wake-ups meet started instances', async () => {
    const { before, ledgerBefore, records, warmed, outcome } = await failover(0);
    expect(outcome).toBe('succeeded');
    expect(before).toEqual([]);
    expect(ledgerBefore).toEqual([]);
    // The warm-ahead invocations started the instances; the deliveries of the operation found them started.
    for (const fn of ['verify-bound', 'configure-guest-routes']) {
      const all = records.filter((r) => r.function === `eni-failover-${fn}`);
      expect(all[0]!.coldStart).toBeDefined();
      expect(all.slice(1).every((r) => r.coldStart === undefined)).toBe(true);
      expect(all.length).toBeGreaterThanOrEqual(2);
    }
    // Each of the three got one warm-ahead, attach's from on-alarm (whether its instance was up by the time
    // the operation's wake-up came depends on this machine's load: not asserted).
    expect([...warmed].sort()).toEqual(['attach', 'configure-guest-routes', 'verify-bound']);
    // The functions nobody warms start on their first event, as before.
    for (const fn of ['on-alarm', 'validate']) expect(records.find((r) => r.function === `eni-failover-${fn}`)!.coldStart).toBeDefined();
  });
});
