import { createHash } from 'node:crypto';
import * as $Ecs from '@alicloud/ecs20140526';
import { $OpenApiUtil, OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { NonceCache, signRpcV2, verifyAcs3 } from '../../local/acs3';
import { Keyring } from '../../local/credentials';
import { type LocalEcs, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, rawRequest, rawV2Call, rejection, scenarioPath } from './helpers';

describe('Local ECS: signatures, credentials, parameters and unknown actions', () => {
  const { keyring, root } = Keyring.generate();
  let ecs: LocalEcs;
  const describeEni = () => new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, networkInterfaceId: ['eni-service'] });

  beforeAll(async () => {
    ecs = await startLocalEcs({ scenario: scenarioPath('two-node-failover'), keyring, timeScale: 0.001 });
  });
  afterAll(() => ecs.close());

  it.each([
    ['V3', false],
    ['V2', true],
  ])('a wrong secret (%s) is SignatureDoesNotMatch 400 and an unknown key is InvalidAccessKeyId.NotFound 404', async (_n, v2) => {
    const wrong = await rejection(ecsClient(ecs.endpoint, { ...root, accessKeySecret: `${root.accessKeySecret}x` }, v2).describeNetworkInterfaces(describeEni()));
    expect([wrong.code, wrong.statusCode, wrong.name]).toEqual(['SignatureDoesNotMatch', 400, 'ClientError']);
    const unknown = await rejection(ecsClient(ecs.endpoint, { accessKeyId: 'LTAInobody', accessKeySecret: 'whatever' }, v2).describeNetworkInterfaces(describeEni()));
    expect([unknown.code, unknown.statusCode]).toEqual(['InvalidAccessKeyId.NotFound', 404]);
  });

  it('every error is the JSON body {RequestId, HostId, Code, Message, Recommend}', async () => {
    const err = await rejection(ecsClient(ecs.endpoint, { ...root, accessKeySecret: 'nope' }).describeNetworkInterfaces(describeEni()));
    expect(Object.keys(err.data ?? {}).sort()).toEqual(['Code', 'HostId', 'Message', 'Recommend', 'RequestId']);
    expect(err.data).toMatchObject({ Code: 'SignatureDoesNotMatch', HostId: 'ecs.cn-hangzhou.aliyuncs.com', Message: 'Specified signature is not matched with our calculation.' });
  });

  it.each([
    ['V3', false],
    ['V2', true],
  ])('STS keys (%s) work only with their token: mismatched, missing and expired tokens get the InvalidSecurityToken codes', async (_n, v2) => {
    const sts = keyring.mintSts();
    const ok = await ecsClient(ecs.endpoint, sts, v2).describeNetworkInterfaces(describeEni());
    expect(ok.body?.networkInterfaceSets?.networkInterfaceSet?.[0]?.networkInterfaceId).toBe('eni-service');

    const mismatch = await rejection(ecsClient(ecs.endpoint, { ...sts, securityToken: 'forged' }, v2).describeNetworkInterfaces(describeEni()));
    expect([mismatch.code, mismatch.statusCode]).toEqual(['InvalidSecurityToken.MismatchWithAccessKey', 400]);
    const missing = await rejection(
      ecsClient(ecs.endpoint, { accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret }, v2).describeNetworkInterfaces(describeEni()),
    );
    expect([missing.code, missing.statusCode]).toEqual(['InvalidSecurityToken.Malformed', 400]);
    const expired = keyring.mintSts(-1000);
    const late = await rejection(ecsClient(ecs.endpoint, expired, v2).describeNetworkInterfaces(describeEni()));
    expect([late.code, late.statusCode]).toEqual(['InvalidSecurityToken.Expired', 400]);
  });

  it('a V2 request with a timestamp 16 minutes old is InvalidTimeStamp.Expired; a malformed one is InvalidTimeStamp.Format', async () => {
    const params = { Action: 'DescribeInstanceStatus', RegionId: Region };
    const fresh = await rawV2Call(ecs.port, root, params);
    expect(fresh.status).toBe(200);
    const stale = new Date(Date.now() - 16 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const old = await rawV2Call(ecs.port, root, params, { Timestamp: stale });
    expect([old.status, old.body?.Code]).toEqual([400, 'InvalidTimeStamp.Expired']);
    const bad = await rawV2Call(ecs.port, root, params, { Timestamp: 'yesterday' });
    expect([bad.status, bad.body?.Code]).toEqual([400, 'InvalidTimeStamp.Format']);
  });

  it('a replayed V2 request (same nonce) is SignatureNonceUsed; a parameter changed after signing is SignatureDoesNotMatch', async () => {
    const params = { Action: 'DescribeInstanceStatus', RegionId: Region };
    const nonce = `replay-${Date.now()}`;
    const first = await rawV2Call(ecs.port, root, params, { SignatureNonce: nonce });
    expect(first.status).toBe(200);
    const replay = await rawV2Call(ecs.port, root, params, { SignatureNonce: nonce });
    expect([replay.status, replay.body?.Code]).toEqual([400, 'SignatureNonceUsed']);

    const signedQuery = signRpcV2(
      {
        ...params,
        Format: 'json',
        Version: '2014-05-26',
        Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        SignatureNonce: `tamper-${Date.now()}`,
        SignatureMethod: 'HMAC-SHA1',
        SignatureVersion: '1.0',
        AccessKeyId: root.accessKeyId,
      },
      root.accessKeySecret,
    );
    const tampered = await rawRequest(ecs.port, 'POST', `/?${new URLSearchParams({ ...signedQuery, RegionId: 'cn-beijing' }).toString()}`);
    expect([tampered.status, tampered.body?.Code]).toEqual([400, 'SignatureDoesNotMatch']);
  });

  it('missing required parameters are MissingParameter 400 naming the parameter', async () => {
    const client = ecsClient(ecs.endpoint, root);
    const attach = await rejection(client.attachNetworkInterface(new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service' })));
    expect([attach.code, attach.statusCode]).toEqual(['MissingParameter', 400]);
    expect(attach.message).toMatch(/"InstanceId"/);
    const region = await rejection(client.describeNetworkInterfaces(new $Ecs.DescribeNetworkInterfacesRequest({})));
    expect([region.code, region.message.includes('"RegionId"')]).toEqual(['MissingParameter', true]);
    const run = await rejection(client.runCommand(new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', instanceId: ['i-primary'] })));
    expect([run.code, run.message.includes('"CommandContent"')]).toEqual(['MissingParameter', true]);
    const stop = await rejection(client.stopInstance(new $Ecs.StopInstanceRequest({})));
    expect([stop.code, stop.statusCode]).toEqual(['MissingParameter', 400]);
  });

  it.each([
    ['V3', false],
    ['V2', true],
  ])('an action the local ECS does not serve (%s) is InvalidApi.NotFound 404', async (_n, v2) => {
    const client = ecsClient(ecs.endpoint, root, v2);
    const params = new $OpenApiUtil.Params({
      action: 'DescribeDisks',
      version: '2014-05-26',
      protocol: 'HTTP',
      pathname: '/',
      method: 'POST',
      authType: 'AK',
      style: 'RPC',
      reqBodyType: 'formData',
      bodyType: 'json',
    });
    const err = await rejection(
      client.callApi(params, new $OpenApiUtil.OpenApiRequest({ query: { RegionId: Region } }), new $dara.RuntimeOptions({})),
    );
    expect([err.code, err.statusCode]).toEqual(['InvalidApi.NotFound', 404]);
  });
});

describe('verifyAcs3 (shared with the local Function Compute runtime for ROA-style requests)', () => {
  const { keyring, root } = Keyring.generate();

  /** Signs a request exactly as openapi-core does (its own getAuthorization). */
  function signed(overrides: { date?: string; nonce?: string; body?: string } = {}) {
    const body = overrides.body ?? '{"hello":"world"}';
    const headers: Record<string, string> = {
      host: '127.0.0.1:9999',
      'x-acs-action': 'InvokeFunction',
      'x-acs-version': '2023-03-30',
      'x-acs-date': overrides.date ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'x-acs-signature-nonce': overrides.nonce ?? `n-${Math.random()}`,
      'x-acs-content-sha256': createHash('sha256').update(body).digest('hex'),
      'content-type': 'application/json',
    };
    const request = { method: 'POST', pathname: '/2023-03-30/functions/bind-validate/invocations', query: { qualifier: 'LATEST' }, headers };
    headers.authorization = OpenApiUtil.getAuthorization(request as never, 'ACS3-HMAC-SHA256', headers['x-acs-content-sha256'] as string, root.accessKeyId, root.accessKeySecret);
    return { method: 'POST', path: request.pathname, query: request.query, headers, body: Buffer.from(body) };
  }

  it('accepts the SDK signature once and refuses a replay, a stale date, a changed body and an unsigned x-acs header', () => {
    const nonces = new NonceCache();
    const req = signed();
    expect(verifyAcs3(req, { keyring, nonces })).toMatchObject({ ok: true, signatureVersion: 'v3' });
    expect(verifyAcs3(req, { keyring, nonces })).toMatchObject({ ok: false, code: 'SignatureNonceUsed', status: 400 });

    const stale = signed({ date: new Date(Date.now() - 20 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    expect(verifyAcs3(stale, { keyring, nonces })).toMatchObject({ ok: false, code: 'InvalidTimeStamp.Expired' });

    const tampered = signed();
    expect(verifyAcs3({ ...tampered, body: Buffer.from('{"hello":"mallory"}') }, { keyring, nonces })).toMatchObject({
      ok: false,
      code: 'SignatureDoesNotMatch',
    });
    const sneaky = signed();
    expect(verifyAcs3({ ...sneaky, headers: { ...sneaky.headers, 'x-acs-extra': '1' } }, { keyring, nonces })).toMatchObject({
      ok: false,
      code: 'IncompleteSignature',
    });
    const otherPath = signed();
    expect(verifyAcs3({ ...otherPath, path: '/2023-03-30/functions/other/invocations' }, { keyring, nonces })).toMatchObject({
      ok: false,
      code: 'SignatureDoesNotMatch',
    });
  });
});
