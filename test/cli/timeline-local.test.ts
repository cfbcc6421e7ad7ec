import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { duration } from '../../cli/timeline';
import { ExitCode } from '../../cli/usage';
import type { LocalCloud } from '../../local/cloud';
import { cloudWith, ledgerOf, operationFor, runThroughQueues, scenarioFile } from '../integration/helpers';
import { allText, findAll, hasClass, parseXml } from '../helpers/xml';
import { cliCloud, dropCliCloud, runCliCaptured as cli } from '../helpers/cli';

/**
 * `eni-failover timeline` end to end: a failover through s.yaml's functions on the local cloud (the built
 * bundles, the queues, the local Tablestore ledger), then its picture drawn by the CLI from the ledger.
 */


describe('CLI: timeline of a failover on the local cloud', () => {
  let cloud: LocalCloud;
  let dir: string;
  let local: string[];
  beforeAll(async () => void ({ cloud, dir, local } = await cliCloud(() => cloudWith(scenarioFile('two-node-failover')), 'cli-timeline-')));
  afterAll(() => dropCliCloud({ cloud, dir }));

  it('draws one bar per step invocation the ledger recorded, ending at the outcome event', async () => {
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' }));
    expect(event.outcome).toBe('succeeded');

    const r = await cli(['timeline', event.operationId, '--out', 'failover.svg', ...local], dir);
    expect([r.code, r.stderr]).toEqual([ExitCode.Succeeded, '']);
    expect(r.stdout).toMatch(new RegExp(`^wrote failover\\.svg: succeeded in ${duration(event.durationMs)}, ${event.timeline.length} step invocations, ${event.apiCalls} ECS calls; cloud `));

    const record = (await ledgerOf(cloud).get(event.operationId))!;
    const svg = parseXml(readFileSync(join(dir, 'failover.svg'), 'utf8'));
    const bars = findAll(svg, hasClass('invocation'));
    expect(bars.map((b) => [b.attrs['data-step'], Number(b.attrs['data-ms'])])).toEqual(record.timeline.map((t) => [t.step, t.ms]));
    expect(bars.map((b) => b.attrs['data-step'])).toEqual(expect.arrayContaining(['validate', 'attach', 'verify-bound', 'configure-guest-routes']));
    expect(Number(findAll(svg, hasClass('total'))[0]!.attrs['data-ms'])).toBe(event.durationMs);
    expect(allText(svg)).toContain(`SUCCEEDED in ${duration(event.durationMs)}`);
    // The cloud's transitions come from the record's timestamps: the detach, the attach, the guest command.
    const cloudRows = findAll(svg, hasClass('cloud'));
    expect(cloudRows.map((g) => g.attrs['data-kind'])).toEqual(['detach', 'attach', 'guest']);
    for (const g of cloudRows) expect(Number(g.attrs['data-ms'])).toBeGreaterThan(0);
    const split = findAll(svg, hasClass('split'))[0]!;
    const parts = ['data-cloud-ms', 'data-policy-ms', 'data-overhead-ms'].map((a) => Number(split.attrs[a]));
    expect(Math.abs(parts.reduce((a, b) => a + b, 0) - event.durationMs)).toBeLessThanOrEqual(2);

    // --out - writes the same picture to stdout.
    const piped = await cli(['timeline', event.operationId, '--out', '-', ...local], dir);
    expect(piped.code).toBe(ExitCode.Succeeded);
    expect(piped.stdout).toBe(readFileSync(join(dir, 'failover.svg'), 'utf8'));
  });

  it('an operation the ledger does not know is exit 4, saying where to find one, and writes nothing', async () => {
    const r = await cli(['timeline', 'op-0000000000000000', ...local], dir);
    expect([r.code, r.stdout]).toEqual([ExitCode.Failed, '']);
    expect(r.stderr).toBe('eni-failover timeline: no operation op-0000000000000000 in the ledger (finished operations are kept 30 days); eni-failover history lists the recent ones\n');
    expect(() => readFileSync(join(dir, 'timeline-op-0000000000000000.svg'))).toThrow(/ENOENT/);
  });
});
