import type { Eni, Instance, InstanceTypeInfo, InvocationResult, Tags } from './model';

/**
 * The narrow view of ECS the workflow needs. Implemented over the real SDK in cloud/ecs.ts and in memory
 * for unit tests. Every method throws {@link import('./errors').CloudError} on failure; "not found" on a
 * describe is `undefined`, not an error. Writes are asynchronous on ECS: they return when accepted.
 */
export interface EcsPort {
  describeEni(eniId: string): Promise<Eni | undefined>;
  /** ENIs matching every given filter (ids, owner instance, tags), all pages. */
  describeEnis(filter: { eniIds?: readonly string[]; instanceId?: string; tags?: Tags }): Promise<Eni[]>;
  describeInstance(instanceId: string): Promise<Instance | undefined>;
  /** Instances by id (missing ids are simply absent), all pages. */
  describeInstances(instanceIds: readonly string[]): Promise<Instance[]>;
  describeInstanceType(instanceTypeId: string): Promise<InstanceTypeInfo | undefined>;

  attachEni(args: { eniId: string; instanceId: string }): Promise<void>;
  detachEni(args: { eniId: string; instanceId: string }): Promise<void>;
  stopInstance(args: {
    instanceId: string;
    forceStop: boolean;
    stoppedMode: 'KeepCharging' | 'StopCharging';
  }): Promise<void>;
  startInstance(instanceId: string): Promise<void>;
  rebootInstance(args: { instanceId: string; forceStop: boolean }): Promise<void>;

  /** Whether the Cloud Assistant client on the instance is online. */
  cloudAssistantOnline(instanceId: string): Promise<boolean>;
  /** RunCommand with a base64 shell script; `clientToken` makes a repeated call return the same invocation. */
  runShellScript(args: {
    instanceId: string;
    scriptBase64: string;
    timeoutSeconds: number;
    clientToken: string;
    name: string;
  }): Promise<{ invokeId: string }>;
  describeInvocation(args: { invokeId: string; instanceId: string }): Promise<InvocationResult | undefined>;

  /**
   * The same port, whose writes (attach, detach, stop, start, reboot, run) call `guard` before every
   * retry: a retry is sent after a backoff, long after the step checked that it may write, and by then
   * another delivery may have taken the operation over. Whatever `guard` throws stops the retry and is
   * thrown as-is. A port that never retries may leave this out.
   */
  withWriteGuard?(guard: (() => Promise<void>) | undefined): EcsPort;
}

/** Sending to a queue. Queue names are the deployed names; bodies are UTF-8 text (encoded by the port). */
export interface QueuePort {
  send(queueName: string, body: string, options?: { delaySeconds?: number }): Promise<{ messageId: string }>;
}

/**
 * Publishing to a topic (MNS topic: every subscription gets a copy; DESIGN.md, "Outcomes on an MNS topic").
 * Bodies are UTF-8 text (encoded by the port as the queue port encodes them).
 */
export interface TopicPort {
  publish(topicName: string, body: string, options?: { tag?: string }): Promise<{ messageId: string }>;
}

/**
 * A topic with one queue subscribed with SIMPLIFIED format: what MNS does for the events queue, in
 * memory (in-process runs and tests that hold their own queue port).
 */
export function topicDeliveringTo(queue: QueuePort, queueName: string): TopicPort {
  return { publish: (_topic, body) => queue.send(queueName, body) };
}

/**
 * One HTTP POST (the notifier's sends). Resolves with any status; rejects only when no answer came
 * (connection refused, reset, timeout). URLs and headers may hold secrets: implementations never log them.
 */
export interface HttpPort {
  post(url: string, headers: Readonly<Record<string, string>>, body: string, options: { timeoutMs: number }): Promise<{ status: number; body: string }>;
}

/** Time, injected so tests skip it instead of sleeping through it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
