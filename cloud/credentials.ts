import Credential, { CLIProfileCredentialsProvider } from '@alicloud/credentials';

/** An access key pair, with the STS token when the key is temporary (Function Compute roles). */
export interface EcsCredentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
}

/** Credentials as ports accept them: fixed, or a getter asked before every request (so STS keys refresh). */
export type CredentialSource = EcsCredentials | (() => EcsCredentials | Promise<EcsCredentials>);

/** Resolves a {@link CredentialSource} to the keys to sign the next request with. */
export async function resolveCredentials(source: CredentialSource): Promise<EcsCredentials> {
  return typeof source === 'function' ? await source() : source;
}

/**
 * The SDK-side credential object for an openapi-core `Config.credential`. openapi-core asks only
 * `getCredential()` before each request (client.js `doRequest`), so a getter source is consulted per
 * request and refreshed STS keys are used without rebuilding the client.
 */
export function toSdkCredential(source: CredentialSource): { getCredential(): Promise<Record<string, unknown>> } {
  return {
    async getCredential() {
      const c = await resolveCredentials(source);
      const sts = c.securityToken !== undefined && c.securityToken !== '';
      return {
        accessKeyId: c.accessKeyId,
        accessKeySecret: c.accessKeySecret,
        securityToken: sts ? c.securityToken : undefined,
        type: sts ? 'sts' : 'access_key',
        providerName: sts ? 'static_sts' : 'static_ak',
      };
    },
  };
}

/** The part of the FC 3.0 handler context this module reads (function-compute.md, "Handlers"). */
export interface FcContextLike {
  readonly credentials?: {
    readonly accessKeyId?: string;
    readonly accessKeySecret?: string;
    readonly securityToken?: string;
  };
}

/**
 * The STS credentials of the function's role, as Function Compute puts them into `context.credentials`.
 * Guarantees: all three values are non-empty strings, or it throws an Error that names the missing
 * field(s) - never their values - and says how to fix the deployment.
 */
export function fromFcContext(context: FcContextLike | undefined): EcsCredentials {
  const c = context?.credentials;
  const missing = (['accessKeyId', 'accessKeySecret', 'securityToken'] as const).filter((field) => {
    const value = c?.[field];
    return typeof value !== 'string' || value === '';
  });
  if (c === undefined || missing.length > 0) {
    throw new Error(
      `Function Compute context has no usable credentials (missing: ${missing.join(', ')}): ` +
        'give the function a role (s.yaml props.role) that trusts fc.aliyuncs.com',
    );
  }
  return {
    accessKeyId: c.accessKeyId as string,
    accessKeySecret: c.accessKeySecret as string,
    securityToken: c.securityToken as string,
  };
}

/**
 * For the CLI: Alibaba's default credential chain (env ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET /
 * ALIBABA_CLOUD_SECURITY_TOKEN, then the CLI profile ~/.aliyun/config.json, then the instance role...).
 * Returns a getter that asks the chain on every call; the chain caches and refreshes expiring STS keys
 * itself. Guarantees: the getter rejects with an Error naming the environment variables to set when no
 * source yields a key; secrets never appear in messages.
 */
export function fromDefaultChain(): () => Promise<EcsCredentials> {
  return chainGetter(
    () => new Credential(),
    (reason) =>
      `No Alibaba Cloud credentials found (${reason}): set ALIBABA_CLOUD_ACCESS_KEY_ID and ` +
      'ALIBABA_CLOUD_ACCESS_KEY_SECRET (plus ALIBABA_CLOUD_SECURITY_TOKEN for STS keys), or configure a profile with `aliyun configure`',
  );
}

/**
 * For the CLI's `--profile NAME`: the aliyun CLI profile NAME of ~/.aliyun/config.json, and nothing else
 * (no fallback to the environment, so the operator gets the account they named). Every profile mode the
 * aliyun CLI writes (AK, StsToken, RamRoleArn, EcsRamRole, ...) is resolved by @alicloud/credentials'
 * CLIProfileCredentialsProvider (providers/cli_profile.js `getCredentialsProvider`).
 */
export function fromCliProfile(profileName: string): () => Promise<EcsCredentials> {
  return chainGetter(
    () => new Credential(null, CLIProfileCredentialsProvider.builder().withProfileName(profileName).build()),
    (reason) => `aliyun CLI profile "${profileName}" gave no credentials (${reason}): list profiles with \`aliyun configure list\`, or create it with \`aliyun configure --profile ${profileName}\``,
  );
}

/** A getter over one credentials client, rebuilt after a failure; errors carry the reason's first line only. */
function chainGetter(build: () => Credential, explain: (reason: string) => string): () => Promise<EcsCredentials> {
  let credential: Credential | undefined;
  return async () => {
    try {
      credential ??= build();
      const model = await credential.getCredential();
      if (!model.accessKeyId || !model.accessKeySecret) throw new Error('the chain returned an empty key');
      return {
        accessKeyId: model.accessKeyId,
        accessKeySecret: model.accessKeySecret,
        ...(model.securityToken ? { securityToken: model.securityToken } : {}),
      };
    } catch (err) {
      credential = undefined;
      throw new Error(explain(safeReason(err)));
    }
  };
}

/**
 * The first line of a credentials error, without what must not be printed: the SDK's "parse aliyun cli
 * config ... failed: <content>" quotes the whole config file, keys included (providers/cli_profile.js
 * `getConfiguration`), so anything after "failed:" is dropped.
 */
export function safeReason(err: unknown): string {
  const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return first.replace(/\bfailed:.*$/, 'failed').slice(0, 200) || 'unknown';
}
