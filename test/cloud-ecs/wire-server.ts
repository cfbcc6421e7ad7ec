import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** Decoded query parameters. */
  readonly query: Record<string, string>;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export interface WireServer {
  /** host:port, without scheme, as the SDK wants it. */
  readonly endpoint: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server that records what the real SDK sends and answers with whatever the test's
 * handler writes. Used to pin down wire details and the SDK's failure modes (empty bodies, dropped
 * sockets) that a faithful emulator does not produce on purpose.
 */
export async function startWireServer(
  handler: (req: SeenRequest, res: ServerResponse, raw: IncomingMessage) => void,
): Promise<WireServer> {
  const requests: SeenRequest[] = [];
  const server = createServer({ maxHeaderSize: 256 * 1024 }, (raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    raw.on('end', () => {
      const url = new URL(raw.url ?? '/', 'http://local');
      const seen: SeenRequest = {
        method: raw.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: raw.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(seen);
      handler(seen, res, raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

const pct = (v: string) =>
  encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * Checks an ACS3-HMAC-SHA256 signature the way sdk-wire.md ("Verifying V3 on the server") describes,
 * independently of the SDK's code. Returns the access key id that signed, or throws.
 */
export function verifyAcs3(req: SeenRequest, secretOf: (accessKeyId: string) => string): string {
  const auth = String(req.headers['authorization'] ?? '');
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)$/.exec(auth);
  if (m === null) throw new Error(`not an ACS3 authorization header: ${auth.slice(0, 40)}`);
  const [, keyId, signedHeaders, signature] = m as unknown as [string, string, string, string];
  const canonicalQuery = Object.keys(req.query)
    .sort()
    .map((k) => `${k}=${pct(req.query[k]!)}`)
    .join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim()}\n`).join('');
  const canonical = [req.method, req.path, canonicalQuery, canonicalHeaders, signedHeaders, sha256(req.body)].join('\n');
  const expected = createHmac('sha256', secretOf(keyId))
    .update(`ACS3-HMAC-SHA256\n${sha256(canonical)}`)
    .digest('hex');
  if (expected !== signature) throw new Error('signature mismatch');
  return keyId;
}
