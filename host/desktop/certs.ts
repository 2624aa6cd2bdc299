// Certificates for a broker and its devices, made in JavaScript so the same command works on Linux,
// macOS and Windows (`npm run certs`): a CA, a broker certificate for the broker's host names, and a
// device key, CSR and certificate, each in PEM and in DER (the form a device stores).
import { keepSecret, makeDirs, systemReason, writeSecret } from "./files.js";
import { webcrypto, createPrivateKey } from "node:crypto";
import { writeFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata"; // @peculiar/x509 resolves its ASN.1 schemas through it
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGN: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const DAY_MS = 86_400_000;

export interface Issued {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (PKCS#8). */
  key: string;
  certDer: Buffer;
  keyDer: Buffer;
  keys: CryptoKeyPair;
  x509: x509.X509Certificate;
}

export interface Validity {
  /** Days from now the certificate starts (negative: in the past). */
  fromDays?: number;
  /** Days from now it ends (negative: already expired). */
  toDays?: number;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function finish(cert: x509.X509Certificate, keys: CryptoKeyPair): Promise<Issued> {
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = createPrivateKey({ key: keyDer, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
  return { cert: cert.toString("pem") + "\n", key, certDer: Buffer.from(cert.rawData), keyDer, keys, x509: cert };
}

function dates(v: Validity): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now + (v.fromDays ?? -1) * DAY_MS), notAfter: new Date(now + (v.toDays ?? 825) * DAY_MS) };
}

/** A certificate authority (self-signed). */
export async function makeCa(commonName = "wasm-scale test CA", validity: Validity = { toDays: 3650 }): Promise<Issued> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: SIGN,
    ...dates(validity),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return finish(cert, keys);
}

async function issue(ca: Issued, subject: string, publicKey: CryptoKey, extensions: x509.Extension[], validity: Validity): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.x509.subject,
    publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGN,
    ...dates(validity),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
      ...extensions,
    ],
  });
}

/** A broker (TLS server) certificate for host names and IP addresses. */
export async function makeServer(ca: Issued, names: string[], validity: Validity = {}): Promise<Issued> {
  const keys = await keyPair();
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? { type: "ip" as const, value: n } : { type: "dns" as const, value: n }));
  const cert = await issue(ca, `CN=${names[0]}`, keys.publicKey, [
    new x509.SubjectAlternativeNameExtension(san),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
  ], validity);
  return finish(cert, keys);
}

/** A device: key, CSR (as the device would send it) and the certificate the CA signs from it. */
export async function makeDevice(ca: Issued, deviceId: string, validity: Validity = {}): Promise<Issued & { csr: string; csrDer: Buffer }> {
  const keys = await keyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${deviceId}`, keys, signingAlgorithm: SIGN });
  if (!(await csr.verify())) throw new Error("CSR signature does not verify");
  const cert = await issue(ca, csr.subject, await csr.publicKey.export(), [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ], validity);
  return { ...(await finish(cert, keys)), csr: csr.toString("pem") + "\n", csrDer: Buffer.from(csr.rawData) };
}

export interface CertFiles {
  dir: string;
  ca: string;
  caKey: string;
  broker: string;
  brokerKey: string;
  device: string;
  deviceKey: string;
}

export function certFiles(dir: string, deviceId: string): CertFiles {
  return {
    dir,
    ca: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.pem"),
    broker: join(dir, "broker.pem"),
    brokerKey: join(dir, "broker-key.pem"),
    device: join(dir, `${deviceId}.pem`),
    deviceKey: join(dir, `${deviceId}-key.pem`),
  };
}

export interface CertRequest {
  /** Clients to hold a certificate (devices, subscribers): each the certificate's common name. */
  clients: string[];
  /** Host names and IP addresses the broker certificate must cover (added to those it has). */
  hosts: string[];
  /** Make new keys and certificates for the CA, the broker and the clients named, even if they exist. */
  rotate?: boolean;
}

export interface CertReport {
  files: CertFiles;
  /** What was made and what was reused, one line each. */
  lines: string[];
  /** The broker certificate's names. */
  hosts: string[];
}

async function loadCa(files: CertFiles): Promise<Issued> {
  const pem = readFileSync(files.ca, "utf8");
  const der = createPrivateKey(readFileSync(files.caKey)).export({ format: "der", type: "pkcs8" });
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, EC, true, ["sign"]);
  const cert = new x509.X509Certificate(pem);
  const publicKey = await cert.publicKey.export(EC, ["verify"]);
  if (cert.notAfter < new Date()) throw new CertError(`${files.ca} has expired: run certs with --rotate to make a new CA`);
  return { cert: pem, key: "", certDer: Buffer.from(cert.rawData), keyDer: Buffer.from(der), keys: { privateKey, publicKey }, x509: cert };
}

/** The certificate at path when it exists, is signed by ca and is valid now; else null. */
async function validIssued(path: string, ca: Issued): Promise<x509.X509Certificate | null> {
  if (!existsSync(path)) return null;
  try {
    const cert = new x509.X509Certificate(readFileSync(path, "utf8"));
    const now = new Date();
    if (cert.notBefore > now || cert.notAfter < now) return null;
    return (await cert.verify({ publicKey: ca.keys.publicKey, signatureOnly: true })) ? cert : null;
  } catch {
    return null;
  }
}

function sanNames(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return san ? san.names.items.map((n) => n.value) : [];
}

/** The names of a broker certificate being replaced, so that a rotation keeps them. */
function previousNames(path: string): string[] {
  try {
    return existsSync(path) ? sanNames(new x509.X509Certificate(readFileSync(path, "utf8"))) : [];
  } catch {
    return [];
  }
}

export class CertError extends Error {}

/**
 * Makes what is missing in dir and reuses what is there: a CA, a broker certificate covering every
 * host name asked for now or before, and a certificate per client, PEM and DER. Keys are written
 * readable by the owner only. With rotate, everything named is made anew.
 */
export async function writeCerts(dir: string, request: CertRequest): Promise<CertReport> {
  try {
    makeDirs(dir, 0o700); // it holds private keys
  } catch (e) {
    throw new CertError(`cannot create ${dir}: ${systemReason(e)}`);
  }
  const files = certFiles(dir, request.clients[0] ?? "scale1");
  const lines: string[] = [];
  const secret = (path: string, data: string | Buffer) => writeSecret(path, data);
  const write = (path: string, data: string | Buffer) => writeFileSync(path, data);
  try {
    let ca: Issued;
    const rotateCa = request.rotate || !existsSync(files.ca) || !keepSecret(files.caKey);
    if (!rotateCa) {
      ca = await loadCa(files);
      lines.push(`CA       ${files.ca} (kept)`);
    } else {
      ca = await makeCa();
      write(files.ca, ca.cert);
      write(join(dir, "ca.der"), ca.certDer);
      secret(files.caKey, ca.key);
      lines.push(`CA       ${files.ca} (+ ca.der), key ${files.caKey} (new${request.rotate ? ": certificates from the old CA no longer verify" : ""})`);
    }
    const current = rotateCa ? null : await validIssued(files.broker, ca);
    const had = current ? sanNames(current) : rotateCa ? previousNames(files.broker) : [];
    const hosts = [...had, ...request.hosts.filter((h) => !had.includes(h))];
    if (current && keepSecret(files.brokerKey) && hosts.length === had.length) {
      lines.push(`broker   ${files.broker} for ${hosts.join(", ")} (kept)`);
    } else {
      const broker = await makeServer(ca, hosts);
      write(files.broker, broker.cert);
      secret(files.brokerKey, broker.key);
      lines.push(`broker   ${files.broker}, key ${files.brokerKey} for ${hosts.join(", ")} (new)`);
    }
    for (const id of request.clients) {
      const f = certFiles(dir, id);
      if (!rotateCa && keepSecret(f.deviceKey) && (await validIssued(f.device, ca))) {
        lines.push(`client   ${f.device}, key ${f.deviceKey} (kept)`);
        continue;
      }
      const device = await makeDevice(ca, id);
      write(f.device, device.cert);
      write(join(dir, `${id}.der`), device.certDer);
      write(join(dir, `${id}.csr`), device.csr);
      secret(f.deviceKey, device.key);
      secret(join(dir, `${id}-key.der`), device.keyDer);
      lines.push(`client   ${f.device} (+ .der, .csr), key ${f.deviceKey} (+ -key.der) (new)`);
    }
    return { files, lines, hosts };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err instanceof CertError) throw err;
    if (err.code && err.path) throw new CertError(`cannot write certificates in ${dir}: ${err.code} ${err.path}`);
    throw err;
  }
}
