import { ExitCode } from '../../cli/usage';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { cliCloud, dropCliCloud, runCliCaptured as cli } from '../helpers/cli';

/**
 * The CLI against the local cloud: real ECS and MNS SDK requests over loopback, signed with the keys the
 * local cloud generated and read from the `--local-file` JSON, as an operator would run it.
 */


describe('CLI: bind and status against the local cloud (in-process workflow)', () => {
  let cloud: LocalCloud;
  let dir: string;
  let local: string[];
  beforeAll(async () => void ({ cloud, dir, local } = await cliCloud(() => startLocalCloud({ timeScale: 0.01, functions: false }), 'cli-local-')));
  afterAll(() => dropCliCloud({ cloud, dir }));
  beforeEach(() => cloud.ecs.control.reset());
  const holder = () => cloud.ecs.control.state().enis.find((e) => e.eniId === 'eni-service');

  it('status shows the group, who holds the ENI, member health, and exits 0 when healthy', async () => {
    const { code, stdout } = await cli(['status', '--json', ...local], dir);
    expect(code).toBe(ExitCode.Succeeded);
    const report = JSON.parse(stdout);
    expect(report.groups[0]).toMatchObject({
      group: 'web',
      enis: [{ eniId: 'eni-service', status: 'InUse', instanceId: 'i-primary' }],
      members: [
        { priority: 1, instanceId: 'i-primary', status: 'Running', cloudAssistant: 'online', holds: ['eni-service'] },
        { priority: 2, instanceId: 'i-standby', status: 'Running', cloudAssistant: 'online', holds: [] },
      ],
      verdict: [{ eniId: 'eni-service', verdict: 'healthy' }],
    });
  });

  it('status exits 4 and names the repair when the holder is Stopped', async () => {
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const { code, stdout } = await cli(['status', ...local], dir);
    expect(code).toBe(ExitCode.Failed);
    expect(stdout).toMatch(/repair: eni-service is on i-primary, which is Stopped or gone; bind to i-standby/);
  });

  it('bind --dry-run prints the plan and changes nothing', async () => {
    const { code, stdout } = await cli(['bind', '--eni', 'eni-service', '--instance', 'i-standby', '--from', 'i-primary', '--dry-run', ...local], dir);
    expect(code).toBe(ExitCode.Succeeded);
    expect(stdout).toMatch(/^  plan: detach from i-primary, then attach to i-standby/m);
    expect(holder()).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
    expect(cloud.ecs.control.calls().map((c) => c.action).filter((a) => !a.startsWith('Describe'))).toEqual([]);
  });

  it('bind --dry-run exits 4 with the reason when the bind would fail', async () => {
    const { code, stdout } = await cli(['bind', '--eni', 'eni-service', '--instance', 'i-standby', '--dry-run', '--json', ...local], dir);
    expect(code).toBe(ExitCode.Failed);
    expect(JSON.parse(stdout)).toMatchObject({ result: 'failed', reason: 'EniBoundElsewhere' });
  });

  it('bind moves the ENI to the standby, one line per step, and exits 0', async () => {
    const { code, stdout } = await cli(['bind', '--eni', 'eni-service', '--instance', 'i-standby', '--from', 'i-primary', ...local], dir);
    expect({ code, stdout }).toMatchObject({ code: ExitCode.Succeeded });
    for (const step of ['validate', 'attach', 'verify-bound', 'configure-guest-routes']) expect(stdout).toMatch(new RegExp(`s (->|\\.\\.|ok) ${step}`));
    expect(stdout).toMatch(/^succeeded in .* API calls/m);
    expect(holder()).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });

  it('history lists the bind from the ledger and status --operation shows its steps and API calls', async () => {
    const bound = await cli(['bind', '--eni', 'eni-service', '--instance', 'i-standby', '--from', 'i-primary', '--json', ...local], dir);
    const event = JSON.parse(bound.stdout);
    const list = await cli(['history', '--eni', 'eni-service', '--since', '1h', '--json', ...local], dir);
    expect(list.code).toBe(ExitCode.Succeeded);
    expect(JSON.parse(list.stdout)[0]).toMatchObject({ operationId: event.operationId, status: 'succeeded', eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', origin: { kind: 'cli' } });
    const one = await cli(['status', '--operation', event.operationId, ...local], dir);
    expect(one.code).toBe(ExitCode.Succeeded);
    expect(one.stdout).toMatch(new RegExp(`^operation ${event.operationId}  succeeded  group web`, 'm'));
    expect(one.stdout).toMatch(/attach +next +asked ECS to attach eni-service to i-standby/);
    expect(one.stdout).toMatch(/configure-guest-routes +succeeded +guest configured/);
    // ... and the waits each delivery met before it moved on (after the detach, while the guest command ran).
    expect(one.stdout).toMatch(/^ +waited: asked ECS to detach eni-service from i-primary$/m);
    expect(one.stdout).toMatch(/^ +waited: running the guest script on i-standby \(t-/m);
  });

  it('an interrupted bind run again configures the guest: "already bound" is no reason to skip it', async () => {
    // Prepare: the first run dies after the attach, before its guest command (RunCommand refused).
    cloud.ecs.control.injectFault({ action: 'RunCommand', count: 1, code: 'Forbidden.RAM', status: 403 });
    const first = await cli(['bind', '--eni', 'eni-service', '--instance', 'i-standby', '--from', 'i-primary', '--json', ...local], dir);
    expect(JSON.parse(first.stdout)).toMatchObject({ outcome: 'failed', step: 'configure-guest-routes' });
    expect(holder()).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    // Act: the operator runs it again.
    const again = await cli(['bind', '--eni', 'eni-service', '--instance', 'i-standby', '--json', ...local], dir);
    // Assess: nothing moved, and this time the guest ran and confirmed the ENI.
    expect(again.code).toBe(ExitCode.Succeeded);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'succeeded', guest: { device: expect.any(String), mac: expect.any(String) } });
    const writes = cloud.ecs.control.calls().filter((c) => !/^Describe/.test(c.action) && c.code === undefined).map((c) => c.action);
    expect(writes).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
  });

  it('history and status --operation say how to configure a ledger when there is none', async () => {
    const bare = await cli(['history', '--region', 'cn-hangzhou', '--endpoint', 'http://127.0.0.1:9'], dir);
    expect(bare.code).toBe(ExitCode.Usage);
    expect(bare.stderr).toMatch(/no operation ledger configured: pass --ots-instance/);
    const bad = await cli(['history', '--since', 'yesterday-ish', ...local], dir);
    expect(bad).toMatchObject({ code: ExitCode.Usage, stderr: expect.stringMatching(/--since must be a duration/) });
  });

  it('bind --json prints the outcome event and exits 4 when the target does not exist', async () => {
    const { code, stdout } = await cli(['bind', '--eni', 'eni-service', '--instance', 'i-nothere', '--json', ...local], dir);
    expect(code).toBe(ExitCode.Failed);
    expect(JSON.parse(stdout)).toMatchObject({ kind: 'eni-failover.outcome', outcome: 'failed', reason: 'InstanceNotFound' });
  });

  it.each([
    [['bind', '--instance', 'i-standby'], /--eni is required/],
    [['bind', '--eni', 'eni-service', '--instance', 'standby'], /--instance: must look like i-/],
    [['bind', '--eni', 'eni-service', '--instance', 'i-standby', '--deadline', '5'], /--deadline/],
    [['bind', '--bogus'], /Unknown option '--bogus'/],
    [['submit', '--eni', 'eni-service', '--instance', 'i-standby', '--wait', '--timeout', 'abc'], /--timeout must be a positive number of seconds, not "abc"/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('exits 2 with a hint on bad usage: %j', async (args, message) => {
    const { code, stderr } = await cli([...args, ...local], dir);
    expect(code).toBe(ExitCode.Usage);
    expect(stderr).toMatch(message);
  });

  it('a bad --timeout is refused before the request is sent: nothing reaches the requests queue', async () => {
    const { code } = await cli(['submit', '--eni', 'eni-service', '--instance', 'i-standby', '--from', 'i-primary', '--wait', '--timeout', 'abc', ...local], dir);
    expect(code).toBe(ExitCode.Usage);
    expect(cloud.mns.queues.counts('eni-failover-requests')?.total).toBe(0);
  });

  it('says how to start the local cloud when the file is missing', async () => {
    const { code, stderr } = await cli(['status', '--local'], dir);
    expect(code).toBe(ExitCode.Usage);
    expect(stderr).toMatch(/no local cloud file at .*cloud\.json: start the local cloud with `eni-failover local up`/);
  });
});

describe('CLI: submit to the deployed workflow (s.yaml functions on the local cloud)', () => {
  let cloud: LocalCloud;
  let dir: string;
  let local: string[];
  beforeAll(async () => void ({ cloud, dir, local } = await cliCloud(() => startLocalCloud({ timeScale: 0.01 }), 'cli-submit-')));
  afterAll(() => dropCliCloud({ cloud, dir }));

  it('submit --wait sends the request to the requests queue and follows the operation to its outcome', async () => {
    const { code, stdout } = await cli(['submit', '--eni', 'eni-service', '--instance', 'i-standby', '--from', 'i-primary', '--wait', '--timeout', '20', '--json', ...local], dir);
    expect({ code, out: JSON.parse(stdout) }).toMatchObject({ code: ExitCode.Succeeded, out: { kind: 'eni-failover.outcome', outcome: 'succeeded', request: { eniId: 'eni-service', instanceId: 'i-standby' } } });
    expect(cloud.ecs.control.state().enis.find((e) => e.eniId === 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });

  it('submit --via fc shows the refusal of an unmanaged ENI and exits 4', async () => {
    const { code, stdout } = await cli(['submit', '--eni', 'eni-loose', '--instance', 'i-standby', '--via', 'fc', ...local], dir);
    expect(code).toBe(ExitCode.Failed);
    expect(stdout).toMatch(/rejected: refused: eni-loose is in no failover group/);
  });

  it('submit --wait through the queue reports the dead-lettered refusal with its reason and exits 4, without waiting out --timeout', async () => {
    // Act: an ENI in no group, sent to the requests queue; on-request refuses it onto the dead-letter queue.
    const started = Date.now();
    const { code, stdout } = await cli(['submit', '--eni', 'eni-loose', '--instance', 'i-standby', '--wait', '--timeout', '60', ...local], dir);
    // Assess: the reason, exit 4, long before the 60 s; the dead letter stays for whoever processes them.
    expect(code).toBe(ExitCode.Failed);
    expect(stdout).toMatch(/^rejected: refused: eni-loose is in no failover group/m);
    expect(Date.now() - started).toBeLessThan(30_000);
    // (The --via fc test before this one left its own refusal there, under a cli- message id.)
    const letters = cloud.mns.queues.peekBodies(cloud.queues.deadLetter).map((b) => JSON.parse(Buffer.from(b, 'base64').toString()) as { kind?: string; messageId?: string });
    expect(letters.filter((l) => l.kind === 'eni-failover.rejected' && !l.messageId?.startsWith('cli-'))).toHaveLength(1);
  }, 45_000);
});
