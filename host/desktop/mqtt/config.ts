// How the desktop host reaches a broker: a JSON file, environment variables and flags (in rising
// order of precedence), validated in one place. Only TLS: a plaintext URL is refused.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { z } from "zod";

export const Connection = z.strictObject({
  url: z.string().url().refine((u) => /^(mqtts|wss):\/\//.test(u), {
    message: "only TLS is allowed: use mqtts://host:8883 (or wss://host:8884/mqtt), never mqtt:// or ws://",
  }),
  deviceId: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "1..32 of A-Z a-z 0-9 _ -"),
  ca: z.string().optional().describe("CA certificate file (PEM or DER); the system's roots when absent"),
  cert: z.string().optional().describe("device certificate file (PEM or DER)"),
  key: z.string().optional().describe("device private key file (PEM or DER)"),
  username: z.string().optional(),
  password: z.string().optional(),
  servername: z.string().optional().describe("TLS server name (SNI) when it differs from the URL's host"),
  protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
  keepaliveS: z.number().int().min(5).max(3600).default(60),
  reconnectMs: z.number().int().min(10).max(600_000).default(2000),
});
export type Connection = z.infer<typeof Connection>;

export class ConfigError extends Error {}

/** Environment variables the host reads, and the field each sets. */
export const ENV: Record<string, keyof Connection> = {
  WASM_SCALE_BROKER: "url",
  WASM_SCALE_DEVICE_ID: "deviceId",
  WASM_SCALE_CA: "ca",
  WASM_SCALE_CERT: "cert",
  WASM_SCALE_KEY: "key",
  WASM_SCALE_USERNAME: "username",
  WASM_SCALE_PASSWORD: "password",
  WASM_SCALE_SERVERNAME: "servername",
};

/** The command-line flag that sets each field. */
const FLAGS: Record<string, string> = {
  url: "--broker", deviceId: "--device-id", ca: "--ca", cert: "--cert", key: "--key",
  username: "--username", password: "--password", servername: "--servername", protocolVersion: "--mqtt5",
};

/** Merges file < environment < flags and validates the result. */
export function resolveConnection(file: string | undefined, env: NodeJS.ProcessEnv, flags: Partial<Connection>): Connection {
  let fromFile: Record<string, unknown> = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
    }
    // Paths in the file are relative to the file.
    for (const k of ["ca", "cert", "key"]) {
      if (typeof fromFile[k] === "string") fromFile[k] = resolve(dirname(file), fromFile[k] as string);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(ENV)) if (env[name] !== undefined && env[name] !== "") fromEnv[field] = env[name];
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const r = Connection.safeParse({ ...fromFile, ...fromEnv, ...defined });
  if (!r.success) {
    const where = (field: string) => {
      const env = Object.keys(ENV).find((k) => ENV[k] === field);
      const flag = FLAGS[field];
      return [flag, env, `"${field}" in --config`].filter(Boolean).join(", ");
    };
    throw new ConfigError(`broker configuration: ${r.error.issues.map((i) => {
      const field = i.path.join(".");
      if (!field) return i.message;
      return i.code === "invalid_type" && i.input === undefined ? `${field} is missing: set ${where(field)}` : `${field}: ${i.message} (${where(field)})`;
    }).join("; ")}`);
  }
  if ((r.data.cert === undefined) !== (r.data.key === undefined)) throw new ConfigError("broker configuration: cert and key go together");
  return r.data;
}

/** Reads a certificate (PEM or DER) as PEM, with a clear error. */
export function readCert(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ConfigError(`cannot read certificate ${path}: ${(e as Error).message}`);
  }
  try {
    return new X509Certificate(bytes).toString();
  } catch {
    throw new ConfigError(`${path} is not an X.509 certificate (PEM or DER)`);
  }
}

/** Reads a private key (PEM, or DER as PKCS#8, SEC1 or PKCS#1) as PEM, with a clear error. */
export function readKey(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ConfigError(`cannot read key ${path}: ${(e as Error).message}`);
  }
  const pem = bytes.includes("-----BEGIN");
  const attempts = pem ? [{ key: bytes }] : (["pkcs8", "sec1", "pkcs1"] as const).map((type) => ({ key: bytes, format: "der" as const, type }));
  for (const a of attempts) {
    try {
      return createPrivateKey(a).export({ format: "pem", type: "pkcs8" }).toString();
    } catch {
      // try the next encoding
    }
  }
  throw new ConfigError(`${path} is not a private key (PEM, or DER as PKCS#8, SEC1 or PKCS#1)`);
}

/** MQTT.js options for a tool's own client (record, module install) on a resolved connection. */
export function toolClientOptions(c: Connection, clientId: string, reconnectPeriod = 0): import("mqtt").IClientOptions {
  return {
    protocolVersion: c.protocolVersion, clientId, reconnectPeriod, connectTimeout: 15_000,
    username: c.username, password: c.password, rejectUnauthorized: true, servername: c.servername,
    ca: c.ca ? readCert(c.ca) : undefined, cert: c.cert ? readCert(c.cert) : undefined, key: c.key ? readKey(c.key) : undefined,
  };
}
