// The embedded broker `npm start` uses so it needs nothing installed: aedes (MQTT 3.1.1) behind
// TLS on loopback, optionally requiring client certificates and a username / password.
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { Aedes } from "aedes";

export interface BrokerOptions {
  port?: number;
  host?: string;
  ca: string;
  cert: string;
  key: string;
  /** Require a client certificate signed by `ca`. */
  requireClientCert?: boolean;
  /** Accept only this username and password. */
  credentials?: { username: string; password: string };
}

export interface RunningBroker {
  port: number;
  url: string;
  aedes: Aedes;
  /** Stops accepting connections (an outage for new clients; those connected stay), or starts again on the same port. */
  listening(on: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startBroker(o: BrokerOptions): Promise<RunningBroker> {
  const aedes = await Aedes.createBroker();
  if (o.credentials) {
    const { username, password } = o.credentials;
    aedes.authenticate = (_client, user, pass, done) => {
      const ok = user === username && pass !== undefined && Buffer.from(pass).toString() === password;
      done(ok ? null : Object.assign(new Error("bad username or password"), { returnCode: 4 }), ok);
    };
  }
  const server: Server = createServer(
    { ca: o.ca, cert: o.cert, key: o.key, requestCert: !!o.requireClientCert, rejectUnauthorized: !!o.requireClientCert, minVersion: "TLSv1.2" },
    (socket: TLSSocket) => aedes.handle(socket),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `mqtts://localhost:${port}`,
    aedes,
    async listening(on: boolean) {
      if (on === server.listening) return;
      if (!on) {
        server.close(); // its callback waits for the connections still open: not for this
        return;
      }
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, o.host ?? "127.0.0.1", () => { server.off("error", reject); resolve(); });
      });
    },
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
