import type { HttpPort } from '../workflow/ports';

/**
 * The notifier's HTTP port over Node's fetch (undici): a POST with the given headers and body, an answer
 * of any status resolved (the caller judges it), a missing answer rejected with a message that names no
 * URL. Redirects are not followed: a robot URL that redirects is misconfigured, and following it would
 * send the signed body (and its token) somewhere else.
 */
export const fetchHttp: HttpPort = {
  async post(url, headers, body, options) {
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new Error(`POST failed: ${why}`);
    }
    // A robot answers a few hundred bytes; more is not read into memory.
    const text = (await res.text()).slice(0, 65_536);
    return { status: res.status, body: text };
  },
};
