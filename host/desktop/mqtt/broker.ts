// The embedded broker `npm start` uses so it needs nothing installed: aedes (MQTT 3.1.1) behind
// TLS on loopback, optionally requiring client certificates (and then keeping each client to the
// topics its certificate's name allows: ./acl.ts) and a username / password.
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { Aedes, type Client } from "aedes";
import { identityOf, mayPublish, maySubscribe, type Identity } from "./acl.js";

export interface BrokerOptions {
  port?: number;
  host?: string;
  ca: string;
  cert: string;
  key: string;
  /** Require a client certificate signed by `ca`; its common name decides what the client may do (./acl.ts). */
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
  if (o.requireClientCert) guard(aedes);
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

/** The certificate's common name of a client, or null. */
function commonName(client: Client | null): string | null {
  const conn = client?.conn as unknown as Partial<TLSSocket> | undefined;
  const cn = conn?.getPeerCertificate?.()?.subject?.CN;
  return typeof cn === "string" && cn.length > 0 ? cn : null;
}

/** Topic rules by certificate, and client ids bound to the certificate that first used them. */
function guard(aedes: Aedes): void {
  const owners = new Map<string, string>(); // client id -> common name
  const who = (client: Client | null): Identity | null => {
    const cn = commonName(client);
    return cn ? identityOf(cn) : null;
  };
  aedes.authenticate = (client, _user, _pass, done) => {
    const cn = commonName(client);
    const owner = owners.get(client.id);
    if (!cn || (owner !== undefined && owner !== cn)) {
      // 2: identifier rejected. The client id belongs to another certificate (its session too).
      done(Object.assign(new Error(`client id ${client.id} belongs to another certificate`), { returnCode: 2 }), false);
      return;
    }
    owners.set(client.id, cn);
    done(null, true);
  };
  aedes.authorizePublish = (client, packet, done) => {
    const id = who(client);
    done(id && mayPublish(id, packet.topic) ? null : new Error(`not allowed to publish on ${packet.topic}`));
  };
  aedes.authorizeSubscribe = (client, sub, done) => {
    const id = who(client);
    done(null, id && maySubscribe(id, sub.topic) ? sub : null); // refused: SUBACK 0x80
  };
}
