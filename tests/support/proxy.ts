// A TCP stand-in for a server: one that starts late, or one that accepts and never answers.
import net from 'net';

export interface Stand {
  port: number;
  close(): Promise<void>;
}

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
}

/** Forwards 127.0.0.1:`port` to `target`'s host and port once `delayMs` have passed. */
export async function lateProxy(target: string, port: number, delayMs: number): Promise<Stand> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort || 5432), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  const started = new Promise<void>((resolve) => setTimeout(() => listen(server, port).then(resolve), delayMs));
  return {
    port,
    close: async () => {
      await started;
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Accepts connections and never says a word: a TCP hang. */
export async function silentServer(port: number): Promise<Stand> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
  await listen(server, port);
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
