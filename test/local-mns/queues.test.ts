import { type MnsFixture, rejectionOf, startMnsFixture, statusOf } from './helpers';

describe('Local MNS: queue API through the real @alicloud/mns client', () => {
  let f: MnsFixture;

  beforeAll(async () => {
    f = await startMnsFixture();
  });
  afterAll(async () => {
    await f.mns.close();
  });

  it('creates a queue (201 + Location), repeats it idempotently (204), and refuses other attributes (409)', async () => {
    // Act
    const created = await f.client.createQueue('q-create', { VisibilityTimeout: 60 });
    const again = await f.client.createQueue('q-create', { VisibilityTimeout: 60 });
    const conflict = await rejectionOf(f.client.createQueue('q-create', { VisibilityTimeout: 61 }));
    // Assess
    expect(created.code).toBe(201);
    expect(created.headers.location).toBe(`${f.mns.endpoint}/queues/q-create`);
    expect(again.code).toBe(204);
    expect(conflict.name).toBe('MNSQueueAlreadyExistError');
    expect(statusOf(conflict)).toBe(409);
  });

  it('reports attributes with defaults and message counts, and overrides them with metaoverride', async () => {
    // Prepare
    await f.client.createQueue('q-attrs', { DelaySeconds: 5 });
    await f.client.sendMessage('q-attrs', { MessageBody: 'YQ==' });
    // Act
    const set = await f.client.setQueueAttributes('q-attrs', { VisibilityTimeout: 90, PollingWaitSeconds: 20 });
    const attrs = await f.client.getQueueAttributes('q-attrs');
    // Assess
    expect(set.code).toBe(204);
    expect(attrs.body).toMatchObject({
      QueueName: 'q-attrs',
      VisibilityTimeout: '90',
      DelaySeconds: '5',
      MaximumMessageSize: '65536',
      MessageRetentionPeriod: '345600',
      PollingWaitSeconds: '20',
      ActiveMessages: '0',
      InactiveMessages: '0',
      DelayMessages: '1',
    });
  });

  it('refuses attribute values out of range with InvalidArgument', async () => {
    // Act
    const errors = await Promise.all([
      rejectionOf(f.client.createQueue('q-bad-1', { VisibilityTimeout: 0 })),
      rejectionOf(f.client.createQueue('q-bad-2', { DelaySeconds: 604801 })),
      rejectionOf(f.client.createQueue('q-bad-3', { MaximumMessageSize: 1023 })),
      rejectionOf(f.client.createQueue('q-bad-4', { MessageRetentionPeriod: 59 })),
      rejectionOf(f.client.createQueue('q-bad-5', { PollingWaitSeconds: 31 })),
    ]);
    // Assess
    for (const err of errors) expect(err.name).toBe('MNSInvalidArgumentError');
    expect(f.mns.queues.list().filter((n) => n.startsWith('q-bad'))).toEqual([]);
  });

  it('refuses invalid queue names with InvalidQueueName / QueueNameLengthError', async () => {
    // Act
    const invalid = await rejectionOf(f.client.createQueue('-starts-with-dash'));
    const tooLong = await rejectionOf(f.client.createQueue('a'.repeat(257)));
    // Assess
    expect(invalid.name).toBe('MNSInvalidQueueNameError');
    expect(tooLong.name).toBe('MNSQueueNameLengthErrorError');
  });

  it('keeps a dead-letter policy as a DlqPolicy attribute and refuses a target that does not exist', async () => {
    // Prepare
    await f.client.createQueue('q-dead');
    // Act
    await f.client.createQueue('q-src', { DlqPolicy: { Enabled: true, DeadLetterTargetQueue: 'q-dead', MaxReceiveCount: 3 } });
    const attrs = await f.client.getQueueAttributes('q-src');
    const missing = await rejectionOf(
      f.client.createQueue('q-src-2', { DlqPolicy: { Enabled: true, DeadLetterTargetQueue: 'q-none', MaxReceiveCount: 3 } }),
    );
    const self = await rejectionOf(
      f.client.createQueue('q-self', { DlqPolicy: { Enabled: true, DeadLetterTargetQueue: 'q-self', MaxReceiveCount: 3 } }),
    );
    // Assess
    expect(attrs.body?.DlqPolicy).toEqual([{ Enabled: 'true', DeadLetterTargetQueue: 'q-dead', MaxReceiveCount: '3' }]);
    expect(missing.name).toBe('MNSInvalidArgumentError');
    expect(self.name).toBe('MNSInvalidArgumentError');
  });

  it('lists queues by prefix and deletes a queue (then QueueNotExist)', async () => {
    // Prepare
    await f.client.createQueue('list-a');
    await f.client.createQueue('list-b');
    await f.client.createQueue('other-c');
    // Act
    const listed = await f.client.listQueue(undefined, 1000, 'list-');
    const deleted = await f.client.deleteQueue('list-a');
    const gone = await rejectionOf(f.client.getQueueAttributes('list-a'));
    // Assess
    expect((listed.body ?? []).map((q) => q.QueueURL)).toEqual([`${f.mns.endpoint}/queues/list-a`, `${f.mns.endpoint}/queues/list-b`]);
    expect(deleted.code).toBe(204);
    expect(gone.name).toBe('MNSQueueNotExistError');
  });
});
