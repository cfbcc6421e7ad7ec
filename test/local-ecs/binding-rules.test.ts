import * as $Ecs from '@alicloud/ecs20140526';
import { Keyring } from '../../local/credentials';
import { InstanceTypesBindOnlyWhenStopped, type LocalEcs, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, pollUntil, rejection, scenarioPath } from './helpers';

/** Each prerequisite of "Bind a secondary ENI" answered with its real wire code, one scenario per rule. */
describe('Local ECS: binding rules of the seed document', () => {
  const { keyring, root } = Keyring.generate();
  const servers: LocalEcs[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  async function start(name: string) {
    const ecs = await startLocalEcs({ scenario: scenarioPath(name), keyring, timeScale: 0.001 });
    servers.push(ecs);
    return { ecs, client: ecsClient(ecs.endpoint, root) };
  }
  const attach = (eniId: string, instanceId: string) =>
    new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: eniId, instanceId });
  const detach = (eniId: string, instanceId: string) =>
    new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: eniId, instanceId });
  const eniStatus = async (client: ReturnType<typeof ecsClient>, eniId: string) =>
    (await client.describeNetworkInterfaceAttribute(new $Ecs.DescribeNetworkInterfaceAttributeRequest({ regionId: Region, networkInterfaceId: eniId })))
      .body?.status;

  it('exports exactly the 28 Stopped-only instance types of the seed document', () => {
    expect(InstanceTypesBindOnlyWhenStopped.size).toBe(28);
    expect(InstanceTypesBindOnlyWhenStopped.has('ecs.t6-c1m1.large')).toBe(true);
    expect(InstanceTypesBindOnlyWhenStopped.has('ecs.t5-lc2m1.nano')).toBe(true);
    expect(InstanceTypesBindOnlyWhenStopped.has('ecs.t6-c1m1.xlarge')).toBe(false);
  });

  it('a Stopped-only type refuses an ENI while Running (InvalidOperation.InvalidEcsState 400) and accepts it while Stopped', async () => {
    const { client } = await start('rule-stopped-only-type');
    const err = await rejection(client.attachNetworkInterface(attach('eni-spare', 'i-burst')));
    expect([err.code, err.statusCode]).toEqual(['InvalidOperation.InvalidEcsState', 400]);
    expect(err.message).toMatch(/only while Stopped/);

    await client.attachNetworkInterface(attach('eni-spare', 'i-burst-stopped'));
    await pollUntil(() => eniStatus(client, 'eni-spare'), (s) => s === 'InUse');
  });

  it('an instance Running since before 2018-04-01 must be restarted first; after RebootInstance the attach succeeds', async () => {
    const { client } = await start('rule-pre-2018-instance');
    const err = await rejection(client.attachNetworkInterface(attach('eni-spare', 'i-veteran')));
    expect([err.code, err.statusCode]).toEqual(['InvalidOperation.InvalidEcsState', 400]);
    expect(err.message).toMatch(/before 2018-04-01; restart it/);

    await client.rebootInstance(new $Ecs.RebootInstanceRequest({ instanceId: 'i-veteran' }));
    const describe = async () =>
      (await client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: '["i-veteran"]' }))).body?.instances?.instance?.[0];
    await pollUntil(async () => (await describe())?.status, (s) => s === 'Running' && true, 5000, 2);
    await pollUntil(async () => (await describe())?.startTime, (t) => t !== undefined && t > '2018-04-01');
    await client.attachNetworkInterface(attach('eni-spare', 'i-veteran'));
    await pollUntil(() => eniStatus(client, 'eni-spare'), (s) => s === 'InUse');
  });

  it('an ENI in another zone is InvalidOperation.AvailabilityZoneMismatch 403', async () => {
    const { client } = await start('rule-other-zone');
    const err = await rejection(client.attachNetworkInterface(attach('eni-zone-i', 'i-standby')));
    expect([err.code, err.statusCode]).toEqual(['InvalidOperation.AvailabilityZoneMismatch', 403]);
    expect(await eniStatus(client, 'eni-zone-i')).toBe('Available');
  });

  it('an ENI in another VPC is InvalidOperation.VpcMismatch 403', async () => {
    const { client } = await start('rule-other-vpc');
    const err = await rejection(client.attachNetworkInterface(attach('eni-other-vpc', 'i-standby')));
    expect([err.code, err.statusCode]).toEqual(['InvalidOperation.VpcMismatch', 403]);
  });

  it('a full instance (EniQuantity counts the primary ENI) is EniPerInstanceLimitExceeded 403', async () => {
    const { client } = await start('rule-quota-full');
    const err = await rejection(client.attachNetworkInterface(attach('eni-spare', 'i-full')));
    expect([err.code, err.statusCode]).toEqual(['EniPerInstanceLimitExceeded', 403]);
  });

  it('an ENI bound to another instance is InvalidOperation.InvalidEniState 400, for attach and for a detach naming the wrong instance', async () => {
    const { client } = await start('rule-eni-bound-elsewhere');
    const a = await rejection(client.attachNetworkInterface(attach('eni-service', 'i-standby')));
    expect([a.code, a.statusCode]).toEqual(['InvalidOperation.InvalidEniState', 400]);
    const d = await rejection(client.detachNetworkInterface(detach('eni-service', 'i-standby')));
    expect([d.code, d.statusCode]).toEqual(['InvalidOperation.InvalidEniState', 400]);
    expect(await eniStatus(client, 'eni-service')).toBe('InUse');
  });

  it('a non-I/O-optimized instance is refused with InvalidOperation.InvalidEcsState 400', async () => {
    const { client } = await start('rule-not-io-optimized');
    const err = await rejection(client.attachNetworkInterface(attach('eni-spare', 'i-legacy')));
    expect([err.code, err.statusCode]).toEqual(['InvalidOperation.InvalidEcsState', 400]);
    expect(err.message).toMatch(/not I\/O optimized/);
  });

  it('primary ENIs cannot be attached (InvalidEniType 403) nor detached (DetachPrimaryEniNotAllowed 400); unknown ids are NotFound 404', async () => {
    const { client } = await start('two-node-failover');
    const attachPrimary = await rejection(client.attachNetworkInterface(attach('eni-primary0', 'i-standby')));
    expect([attachPrimary.code, attachPrimary.statusCode]).toEqual(['InvalidOperation.InvalidEniType', 403]);
    const detachPrimary = await rejection(client.detachNetworkInterface(detach('eni-primary0', 'i-primary')));
    expect([detachPrimary.code, detachPrimary.statusCode]).toEqual(['InvalidOperation.DetachPrimaryEniNotAllowed', 400]);
    const noEni = await rejection(client.attachNetworkInterface(attach('eni-nope', 'i-standby')));
    expect([noEni.code, noEni.statusCode]).toEqual(['InvalidEniId.NotFound', 404]);
    const noInstance = await rejection(client.attachNetworkInterface(attach('eni-service', 'i-nope')));
    expect([noInstance.code, noInstance.statusCode]).toEqual(['InvalidEcsId.NotFound', 404]);
  });

  it('an instance that is Stopping is InvalidOperation.InvalidEcsState; detaching an Available ENI is InvalidEniState', async () => {
    const { ecs, client } = await start('two-node-failover');
    ecs.control.setInstanceStatus({ instanceId: 'i-standby', status: 'Stopping' });
    await client.detachNetworkInterface(detach('eni-service', 'i-primary'));
    await pollUntil(() => eniStatus(client, 'eni-service'), (s) => s === 'Available');
    const err = await rejection(client.attachNetworkInterface(attach('eni-service', 'i-standby')));
    expect([err.code, err.statusCode]).toEqual(['InvalidOperation.InvalidEcsState', 400]);
    const again = await rejection(client.detachNetworkInterface(detach('eni-service', 'i-primary')));
    expect([again.code, again.statusCode]).toEqual(['InvalidOperation.InvalidEniState', 400]);
  });
});
