/**
 * loadSYaml: Serverless Devs references resolve as `s` resolves them, and every s.yaml the local runtime
 * cannot run is refused with an error naming the file path of the value at fault.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSYaml, parseSchedule, SYamlError, type MnsQueueTrigger } from '../../local/fc';
import { fixtureDir, fixtureQueues, fixtureYaml } from './helpers';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const defaults = ['region: cn-hangzhou', 'functionName: fn', 'runtime: nodejs20', 'handler: index.handler'];

/** Writes an s.yaml with one fc3 resource `fn` whose props are the defaults overridden by `props` (YAML). */
function sYaml(props: string, extraTop = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-fc-syaml-'));
  dirs.push(dir);
  const file = join(dir, 's.yaml');
  writeFileSync(
    file,
    `edition: 3.0.0
name: t
${extraTop}
resources:
  fn:
    component: fc3
    props:
${[...defaults.filter((d) => !props.includes(`${d.split(':')[0]!}:`)), ...props.split('\n')]
  .map((l) => `      ${l}`)
  .join('\n')}
`,
  );
  return file;
}

const recorderCode = `code: ${join(fixtureDir, 'recorder')}`;

function mnsTrigger(queue: string, dlq?: string): string {
  return `triggers:
  - triggerName: q
    triggerType: eventbridge
    triggerConfig:
      eventSourceConfig:
        eventSourceType: MNS
        eventSourceParameters:
          sourceMNSParameters:
            QueueName: ${queue}
      runOptions:
        errorsTolerance: ALL
${dlq === undefined ? '' : `        deadLetterQueue:\n          Arn: acs:mns:cn-hangzhou:123:/queues/${dlq}`}`;
}

async function refusal(promise: Promise<unknown>): Promise<SYamlError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SYamlError);
    return err as SYamlError;
  }
  throw new Error('expected loadSYaml to refuse the file');
}

describe('loadSYaml: references', () => {
  it('resolves ${vars.*} (objects included, nested), ${env(...)} with defaults and vars overrides', async () => {
    // Act
    const model = await loadSYaml(fixtureYaml, { accountId: '42' }, { queues: fixtureQueues, env: {} });
    // Assess
    const recorder = model.functions.find((f) => f.functionName === 'recorder')!;
    expect(recorder.region).toBe('cn-hangzhou'); // env('LOCAL_FC_TEST_REGION', 'cn-hangzhou') default
    expect(recorder.memorySize).toBe(128);
    expect(recorder.timeout).toBe(10);
    expect(recorder.environmentVariables).toEqual({ STAGE: 'test' });
    const failer = model.functions.find((f) => f.functionName === 'failer')!;
    expect((failer.triggers[0] as MnsQueueTrigger).deadLetterQueue).toBe('fc-dead');
    expect(failer.props['triggers']).toMatchObject([
      { triggerConfig: { runOptions: { deadLetterQueue: { Arn: 'acs:mns:cn-hangzhou:42:/queues/fc-dead' } } } },
    ]);
    expect(model.functions.map((f) => f.functionName)).toEqual(['recorder', 'failer', 'web', 'sleeper', 'env-a', 'env-b', 'web-signed']);
  });

  it('takes ${env(...)} and ${env.NAME} from the environment, and a whole-value reference keeps its type', async () => {
    const file = sYaml(
      `${recorderCode}
memorySize: \${vars.sizes.big}
environmentVariables: \${vars.envs}`,
      `vars:
  sizes: { big: 256 }
  envs:
    FROM_ENV: \${env('LOCAL_FC_X')}
    DOTTED: pre-\${env.LOCAL_FC_Y}-post`,
    );
    const model = await loadSYaml(file, {}, { env: { LOCAL_FC_X: 'x-value', LOCAL_FC_Y: 'y' } });
    expect(model.functions[0]!.memorySize).toBe(256);
    expect(model.functions[0]!.environmentVariables).toEqual({ FROM_ENV: 'x-value', DOTTED: 'pre-y-post' });
  });

  it('refuses an unresolved ${vars.*} and names where it is', async () => {
    const file = sYaml(`${recorderCode}\nenvironmentVariables:\n  QUEUE: \${vars.queues.missing}`, 'vars:\n  queues: {}');
    const err = await refusal(loadSYaml(file));
    expect(err.at).toBe('resources.fn.props.environmentVariables.QUEUE');
    expect(err.message).toContain('vars has no "queues.missing"');
  });

  it('refuses ${env(NAME)} without a default when NAME is not set', async () => {
    const file = sYaml(`${recorderCode}\nenvironmentVariables:\n  K: \${env('LOCAL_FC_UNSET')}`);
    const err = await refusal(loadSYaml(file, {}, { env: {} }));
    expect(err.message).toContain('LOCAL_FC_UNSET is not set');
  });
});

describe('loadSYaml: refusals', () => {
  it('refuses a handler file that does not exist', async () => {
    const err = await refusal(loadSYaml(sYaml(`code: ${fixtureDir}`)));
    expect(err.at).toBe('resources.fn.props.handler');
    expect(err.message).toContain('index.js, which does not exist');
  });

  it('refuses a handler export that does not exist (checked in a worker)', async () => {
    const err = await refusal(loadSYaml(sYaml(`code: ${join(fixtureDir, 'bad-export')}`)));
    expect(err.at).toBe('resources.fn.props.handler');
    expect(err.message).toContain('does not export a function named "handler"');
  });

  it('checks exports with the runtime environment too, so a module that needs it at load is not refused', async () => {
    // Prepare: a handler that refuses to load without a variable the runtime (not s.yaml) provides.
    const code = mkdtempSync(join(tmpdir(), 'local-fc-needs-env-'));
    dirs.push(code);
    writeFileSync(join(code, 'index.js'), "if (!process.env.FROM_RUNTIME) throw new Error('FROM_RUNTIME is unset');\nexports.handler = async () => 'ok';\n");
    const file = sYaml(`code: ${code}`);
    // Act
    const without = await refusal(loadSYaml(file));
    const model = await loadSYaml(file, {}, { runtimeEnv: { FROM_RUNTIME: 'yes' } });
    // Assess
    expect(without.message).toMatch(/loading .*index\.js failed: .*FROM_RUNTIME is unset/);
    expect(model.functions[0]!.functionName).toBe('fn');
  });

  it('refuses a missing code directory', async () => {
    const err = await refusal(loadSYaml(sYaml('code: ./not-built-yet')));
    expect(err.at).toBe('resources.fn.props.code');
  });

  it('refuses an unknown trigger type, listing what fc3 accepts', async () => {
    const err = await refusal(loadSYaml(sYaml(`${recorderCode}\ntriggers:\n  - triggerName: t\n    triggerType: mns_queue\n    triggerConfig: {}`)));
    expect(err.at).toBe('resources.fn.props.triggers[0].triggerType');
    expect(err.message).toContain('"mns_queue" is not a trigger type fc3 accepts');
  });

  it('refuses an fc3 trigger type the local runtime does not run', async () => {
    const err = await refusal(loadSYaml(sYaml(`${recorderCode}\ntriggers:\n  - triggerName: t\n    triggerType: oss\n    triggerConfig: {}`)));
    expect(err.message).toContain('"oss" is not supported by the local runtime');
  });

  it('refuses a trigger on a queue that is not declared, and a dead-letter queue that is not', async () => {
    const undeclared = await refusal(loadSYaml(sYaml(`${recorderCode}\n${mnsTrigger('nope')}`), {}, { queues: ['a', 'b'] }));
    expect(undeclared.at).toBe('resources.fn.props.triggers[0].triggerConfig.eventSourceConfig.eventSourceParameters.sourceMNSParameters.QueueName');
    expect(undeclared.message).toContain('queue "nope" is not declared');
    const dlq = await refusal(loadSYaml(sYaml(`${recorderCode}\n${mnsTrigger('a', 'gone')}`), {}, { queues: ['a', 'b'] }));
    expect(dlq.at).toBe('resources.fn.props.triggers[0].triggerConfig.runOptions.deadLetterQueue.Arn');
    await expect(loadSYaml(sYaml(`${recorderCode}\n${mnsTrigger('a', 'b')}`), {}, { queues: ['a', 'b'] })).resolves.toBeDefined();
  });

  it('refuses a runtime other than nodejs20 and a bad cron expression', async () => {
    const runtime = await refusal(loadSYaml(sYaml(`${recorderCode}\nruntime: nodejs22`)));
    expect(runtime.at).toBe('resources.fn.props.runtime');
    expect(runtime.message).toMatch(/nodejs20/);
    const cron = await refusal(loadSYaml(sYaml(`${recorderCode}\ntriggers:\n  - triggerName: t\n    triggerType: timer\n    triggerConfig:\n      cronExpression: '*/5 * * * *'`)));
    expect(cron.at).toBe('resources.fn.props.triggers[0].triggerConfig.cronExpression');
    expect(cron.message).toContain('has 5 fields');
  });
});

describe('Timer schedules', () => {
  it('computes the next fire time of 6-field UTC cron and @every', () => {
    const at = Date.parse('2024-03-01T10:02:30Z');
    expect(new Date(parseSchedule('0 */5 * * * *').next(at)).toISOString()).toBe('2024-03-01T10:05:00.000Z');
    expect(new Date(parseSchedule('30 0 2 * * MON').next(at)).toISOString()).toBe('2024-03-04T02:00:30.000Z');
    const every = parseSchedule('@every 1h30m');
    expect(every.next(at, at)).toBe(at + 90 * 60_000);
    expect(every.next(at + 91 * 60_000, at)).toBe(at + 180 * 60_000);
    expect(() => parseSchedule('@every 5x')).toThrow(/not a duration/);
  });
});
