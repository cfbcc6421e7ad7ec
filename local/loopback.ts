import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Listens on 127.0.0.1 (an ephemeral port unless one is given) the way every local server here does:
 * keep-alive longer than the SDKs' idle sockets live (so a reused socket is not closed under a request),
 * and every open socket tracked in `sockets`, so close() can destroy them instead of waiting for clients.
 */
export async function listenOnLoopback(server: Server, sockets: Set<Socket>, port = 0): Promise<number> {
  server.keepAliveTimeout = 65_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
