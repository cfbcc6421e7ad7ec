import { createHash } from 'node:crypto';
import TableStore from 'tablestore';
import { decodeRow } from '../../local/tablestore/plainbuffer';
import { otsRequestSignature } from '../../local/tablestore';
import {
  createTable,
  errorCodeOf,
  EXPECT_NOT_EXIST,
  getAttrs,
  IGNORE,
  Long,
  type OtsFixture,
  rawOtsRequest,
  rejectionOf,
  startOtsFixture,
} from './helpers';

describe('Local Tablestore: wire protocol and authentication', () => {
  let f: OtsFixture;
  beforeAll(async () => {
    f = await startOtsFixture();
    await createTable(f.client, 'wire');
  });
  afterAll(() => f.close());

  it('computes the request signature of the reference test vector (§2)', () => {
    // Act
    const sig = otsRequestSignature('sk', 'ListTable', {
      'x-ots-accesskeyid': 'ak',
      'x-ots-apiversion': '2015-12-31',
      'x-ots-contentmd5': '1B2M2Y8AsgTpgAmY7PhCfg==',
      'x-ots-date': '2024-01-01T00:00:00.000Z',
      'x-ots-instancename': 'inst',
    });
    // Assess
    expect(sig).toBe('Hw2J66JfKcyEN+VDJAh2XxAvmmI=');
  });

  it('refuses a wrong secret with OTSAuthFailed "Signature mismatch." (403)', async () => {
    // Act
    const err = await rejectionOf(f.clientWith({ accessKeySecret: `${f.root.accessKeySecret}x` }).listTable({}));
    // Assess
    expect([err.status, err.code, err.message]).toEqual([403, 'OTSAuthFailed', 'Signature mismatch.']);
  });

  it('refuses an unknown AccessKeyId (403 OTSAuthFailed)', async () => {
    // Act
    const err = await rejectionOf(f.clientWith({ accessKeyId: 'LTAInobody' }).listTable({}));
    // Assess
    expect([err.status, err.code]).toEqual([403, 'OTSAuthFailed']);
  });

  it('accepts an STS key with its token, and refuses it without or with a wrong x-ots-ststoken', async () => {
    // Prepare
    const sts = f.keyring.mintSts();
    // Act
    const ok = await f.clientWith(sts).listTable({});
    const missing = await rejectionOf(f.clientWith({ accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret }).listTable({}));
    const wrong = await rejectionOf(f.clientWith({ ...sts, securityToken: `${sts.securityToken}x` }).listTable({}));
    // Assess
    expect(ok.tableNames).toContain('wire');
    expect([missing.status, missing.code]).toEqual([403, 'OTSAuthFailed']);
    expect([wrong.status, wrong.code]).toEqual([403, 'OTSAuthFailed']);
  });

  it('refuses a body whose MD5 does not match x-ots-contentmd5 (403 OTSAuthFailed)', async () => {
    // Act
    const res = await rawOtsRequest(f.ots.endpoint, 'ListTable', f.root, { body: Buffer.from([]), md5: 'AAAAAAAAAAAAAAAAAAAAAA==' });
    // Assess
    expect(res.status).toBe(403);
    expect(errorCodeOf(res.body)).toEqual({ code: 'OTSAuthFailed', message: 'Mismatch between MD5 value of request body and x-ots-contentmd5 in header.' });
  });

  it('answers a GET with 405 OTSMethodNotAllowed', async () => {
    // Act
    const res = await rawOtsRequest(f.ots.endpoint, 'ListTable', f.root, { method: 'GET' });
    // Assess
    expect(res.status).toBe(405);
    expect(errorCodeOf(res.body).code).toBe('OTSMethodNotAllowed');
  });

  it.each(['x-ots-date', 'x-ots-signature', 'x-ots-accesskeyid', 'x-ots-contentmd5'])('answers 400 OTSParameterInvalid when %s is missing', async (header) => {
    // Act
    const res = await rawOtsRequest(f.ots.endpoint, 'ListTable', f.root, { omit: header });
    // Assess
    expect(res.status).toBe(400);
    expect(errorCodeOf(res.body)).toEqual({ code: 'OTSParameterInvalid', message: `Missing header: ${header}.` });
  });

  it('refuses an x-ots-date more than 15 minutes off (403 OTSAuthFailed)', async () => {
    // Act
    const date = new Date(Date.now() - 16 * 60_000).toISOString();
    const res = await rawOtsRequest(f.ots.endpoint, 'ListTable', f.root, { date });
    // Assess
    expect(res.status).toBe(403);
    expect(errorCodeOf(res.body)).toEqual({ code: 'OTSAuthFailed', message: `Mismatch between system time and x-ots-date: ${date}.` });
  });

  it('refuses a request for another instance (403 OTSAuthFailed, a guess)', async () => {
    // Act
    const err = await rejectionOf(f.clientWith({ instancename: 'other-instance' }).listTable({}));
    // Assess
    expect([err.status, err.code]).toEqual([403, 'OTSAuthFailed']);
    expect(err.message).toContain('other-instance');
  });

  it('answers 413 OTSRequestBodyTooLarge for a body over the limit', async () => {
    // Act
    const res = await rawOtsRequest(f.ots.endpoint, 'PutRow', f.root, { body: Buffer.alloc(5 * 1024 * 1024, 1) });
    // Assess
    expect(res.status).toBe(413);
    expect(errorCodeOf(res.body).code).toBe('OTSRequestBodyTooLarge');
  });

  it('answers an unparseable protobuf body with 400 OTSParameterInvalid', async () => {
    // Act
    const res = await rawOtsRequest(f.ots.endpoint, 'PutRow', f.root, { body: Buffer.from([0xff, 0xff, 0xff]) });
    // Assess
    expect(res.status).toBe(400);
    expect(errorCodeOf(res.body).code).toBe('OTSParameterInvalid');
  });

  it('sends x-ots-requestid, x-ots-date, x-ots-contentmd5 and x-ots-contenttype on answers', async () => {
    // Act
    const res = await rawOtsRequest(f.ots.endpoint, 'ListTable', f.root);
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['x-ots-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-ots-contenttype']).toBe('protocol buffer');
    expect(typeof res.headers['x-ots-date']).toBe('string');
    expect(res.headers['x-ots-contentmd5']).toBe(createHash('md5').update(res.body).digest('base64'));
    expect(String(res.headers['authorization'])).toMatch(new RegExp(`^OTS ${f.root.accessKeyId}:`));
  });
});

describe('Local Tablestore: control API', () => {
  let f: OtsFixture;
  beforeAll(async () => {
    f = await startOtsFixture();
    await createTable(f.client, 'ctl');
  });
  afterAll(() => f.close());

  it('loseAnswerNext: the write is applied but the client sees a network error', async () => {
    // Prepare
    f.ots.control.loseAnswerNext({ operation: 'PutRow' });
    // Act
    const err = await rejectionOf(f.client.putRow({ tableName: 'ctl', primaryKey: [{ id: 'lost' }], attributeColumns: [{ v: 'applied' }], condition: EXPECT_NOT_EXIST }));
    const retry = await rejectionOf(f.client.putRow({ tableName: 'ctl', primaryKey: [{ id: 'lost' }], attributeColumns: [{ v: 'again' }], condition: EXPECT_NOT_EXIST }));
    // Assess
    expect(err.status).toBe('NetworkingError');
    expect(await getAttrs(f.client, 'ctl', 'lost')).toEqual({ v: 'applied' });
    expect(retry.code).toBe('OTSConditionCheckFail'); // the retry of an applied write sees the row
    expect(f.ots.control.calls().find((c) => c.operation === 'PutRow' && c.answerLost)).toMatchObject({ table: 'ctl', primaryKey: { id: 'lost' }, status: 200 });
  });

  it('failNext answers the injected error to the matching call only, and changes nothing', async () => {
    // Prepare
    f.ots.control.failNext({ operation: 'PutRow', table: 'ctl', code: 'OTSServerBusy', status: 503, count: 1 });
    // Act
    const list = await f.client.listTable({});
    const err = await rejectionOf(f.client.putRow({ tableName: 'ctl', primaryKey: [{ id: 'busy' }], attributeColumns: [{ v: 'x' }], condition: IGNORE }));
    await f.client.putRow({ tableName: 'ctl', primaryKey: [{ id: 'busy2' }], attributeColumns: [{ v: 'y' }], condition: IGNORE });
    // Assess
    expect(list.tableNames).toEqual(['ctl']);
    expect([err.status, err.code]).toEqual([503, 'OTSServerBusy']);
    expect(await getAttrs(f.client, 'ctl', 'busy')).toBeUndefined();
    expect(await getAttrs(f.client, 'ctl', 'busy2')).toEqual({ v: 'y' });
  });

  it('setUnavailable(true) answers every call 503 OTSServerUnavailable until turned off', async () => {
    // Prepare
    f.ots.control.setUnavailable(true);
    // Act
    const err = await rejectionOf(f.client.putRow({ tableName: 'ctl', primaryKey: [{ id: 'down' }], attributeColumns: [{ v: 'x' }], condition: IGNORE }));
    f.ots.control.setUnavailable(false);
    const rows = await getAttrs(f.client, 'ctl', 'down');
    // Assess
    expect([err.status, err.code]).toEqual([503, 'OTSServerUnavailable']);
    expect(rows).toBeUndefined();
  });

  it('calls() records operation, table, primary key, status and code', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'ctl', primaryKey: [{ id: 'rec' }], attributeColumns: [{ v: 'x' }], condition: IGNORE });
    await rejectionOf(f.client.putRow({ tableName: 'ctl', primaryKey: [{ id: 'rec' }], attributeColumns: [{ v: 'x' }], condition: EXPECT_NOT_EXIST }));
    // Act
    const calls = f.ots.control.calls().filter((c) => c.primaryKey?.['id'] === 'rec');
    // Assess
    expect(calls.map((c) => [c.operation, c.table, c.status, c.code])).toEqual([
      ['PutRow', 'ctl', 200, undefined],
      ['PutRow', 'ctl', 403, 'OTSConditionCheckFail'],
    ]);
  });

  it('serves the control API as JSON at /_local/<method>', async () => {
    // Act
    const post = async (method: string, body?: unknown) => {
      const res = await fetch(`${f.ots.endpoint}/_local/${method}`, { method: 'POST', body: body === undefined ? '' : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as unknown };
    };
    const rows = await post('rows', { table: 'ctl' });
    await post('failNext', { operation: 'ListTable', code: 'OTSTimeout', status: 503 });
    const err = await rejectionOf(f.client.listTable({}));
    // Assess
    expect(rows.status).toBe(200);
    expect(rows.json).toEqual(expect.arrayContaining([expect.objectContaining({ primaryKey: { id: 'rec' } })]));
    expect([err.status, err.code]).toEqual([503, 'OTSTimeout']);
  });

  it('reset() drops tables, rows, calls and pending faults', async () => {
    // Prepare
    f.ots.control.failNext({ code: 'OTSServerBusy', count: 5 });
    // Act
    f.ots.control.reset();
    const list = await f.client.listTable({});
    // Assess
    expect(list.tableNames).toEqual([]);
    expect(f.ots.control.calls()).toHaveLength(1);
  });
});

describe('Local Tablestore: PlainBuffer decoder', () => {
  it('reads PutRow, PK-only and DeleteRow buffers as the SDK reader does', () => {
    // Prepare
    const pk = [{ id: 'a' }, { n: Long.fromNumber(7) }];
    const buffers = [
      TableStore.PlainBufferBuilder.serializeForPutRow(pk, [{ s: 'x', timestamp: 1700000000000 }, { i: Long.fromNumber(-3) }, { d: 1.25 }, { b: true }]),
      TableStore.PlainBufferBuilder.serializePrimaryKey(pk),
      TableStore.PlainBufferBuilder.serializeForDeleteRow(pk),
    ];
    for (const buffer of buffers) {
      // Act
      const sdk = new TableStore.PlainBufferCodedInputStream(new TableStore.PlainBufferInputStream({ buffer, offset: 0, limit: buffer.length })).readRow();
      const ours = decodeRow(buffer);
      // Assess
      expect(ours.primaryKey.map((c) => [c.name, String(c.value.type === 'INTEGER' || c.value.type === 'STRING' ? c.value.value : '')])).toEqual(
        sdk.primaryKey.map((c) => [c.name, typeof c.value === 'string' ? c.value : (c.value as TableStore.Int64LE).toString()]),
      );
      expect(ours.cells.map((c) => c.name)).toEqual(sdk.attributes.map((a) => a.columnName));
    }
    expect(decodeRow(buffers[2] as Buffer).deleteMarker).toBe(true);
  });

  it('reads UpdateRow op bytes and timestamps the SDK reader cannot', () => {
    // Prepare
    const buffer = TableStore.PlainBufferBuilder.serializeForUpdateRow(
      [{ id: 'a' }],
      [{ PUT: [{ p: 'v' }] }, { DELETE: [{ d: 1700000000000 }] }, { DELETE_ALL: ['all'] }, { INCREMENT: [{ n: Long.fromNumber(2) }] }],
    );
    // Act
    const row = decodeRow(buffer);
    // Assess
    expect(row.cells.map((c) => [c.name, c.op ?? 'PUT', c.timestamp ?? null])).toEqual([
      ['p', 'PUT', null],
      ['d', 3, 1700000000000],
      ['all', 1, null],
      ['n', 4, null],
    ]);
  });
});
