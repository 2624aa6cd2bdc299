// Making calibration module packages (the tools' side: build, sign, keygen): the .wasm and its
// manifest (name, version, module ABI, SHA-256, parameters, golden vectors), signed with ECDSA
// P-256 / SHA-256 so that a device runs only what a key it trusts has signed. The layout is in
// abi.json (calibration_module.package). What a scale accepts is decided by the module manager
// (assembly/manager) on every host; decodePackage here only splits a package for the tools.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { z } from "zod";
import { abi } from "../../abi.js";

const spec = abi.calibration_module.package;
const MAGIC = Buffer.from(spec.magic, "latin1");

/** A refusal with the ABI's reason name (abi.json calibration_module.reasons) and a sentence. */
export class ModuleRefused extends Error {
  constructor(readonly reason: string, detail: string) {
    super(detail);
    this.name = "ModuleRefused";
    if (!(reason in abi.calibration_module.reasons)) throw new Error(`unknown module refusal ${reason}`);
  }
}

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const vector = z.object({
  x: finite,
  chips: z.array(finite.nullable()).max(4).default([]),
  temp: finite.nullable().default(null),
  kg: finite,
}).strict();

export const manifestSchema = z.object({
  format: z.literal("wasm-scale-module"),
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, "1..32 of a-z 0-9 _ -"),
  version: z.string().regex(/^\d{1,3}\.\d{1,3}\.\d{1,3}$/, "major.minor.patch"),
  abi: z.number().int(),
  size: z.number().int().positive().max(spec.maxWasmBytes),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
  /** Parameters loaded before the vectors run (the module's own defaults when empty). */
  params: z.array(finite).max(32).default([]),
  vectors: z.array(vector).min(1).max(spec.maxVectors),
  /** Largest difference a vector's weight may show (kg); engines give identical f64 results. */
  tolerance: finite.refine((v) => v >= 0 && v <= 0.001, "0 .. 0.001 kg").default(0),
  /** SHA-256 of the signing key's public key (SPKI DER), first 16 hex digits. */
  key: z.string().regex(/^[0-9a-f]{16}$/).optional(),
}).strict();

/** A core's manifest: the release, the core ABI and state stream it speaks, no vectors. */
export const coreManifestSchema = z.object({
  format: z.literal("wasm-scale-core"),
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, "1..32 of a-z 0-9 _ -"),
  version: z.string().regex(/^\d{1,3}\.\d{1,3}\.\d{1,3}$/, "major.minor.patch"),
  abi: z.number().int(),
  /** The version of the core's state stream (state_save): a core of another starts from the blobs. */
  state: z.number().int().min(1).max(65535),
  size: z.number().int().positive().max(spec.maxWasmBytes),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
  key: z.string().regex(/^[0-9a-f]{16}$/).optional(),
}).strict();

/** A firmware image's manifest (the ESP32's OTA): the image is fetched by the scale from its url. */
export const firmwareManifestSchema = z.object({
  format: z.literal("wasm-scale-firmware"),
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, "1..32 of a-z 0-9 _ -"),
  version: z.string().regex(/^\d{1,3}\.\d{1,3}\.\d{1,3}$/, "major.minor.patch"),
  size: z.number().int().positive().max(16 * 1024 * 1024),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
  url: z.string().regex(/^https:\/\/[\x21-\x7e]{1,247}$/, "an https:// address of at most 255 printable characters"),
  key: z.string().regex(/^[0-9a-f]{16}$/).optional(),
}).strict();

export type Manifest = z.infer<typeof manifestSchema> | z.infer<typeof coreManifestSchema> | z.infer<typeof firmwareManifestSchema>;
export type FirmwareManifest = z.infer<typeof firmwareManifestSchema>;
export type CoreManifest = z.infer<typeof coreManifestSchema>;
export type ModuleManifest = z.infer<typeof manifestSchema>;
export type Vector = z.infer<typeof vector>;

export interface ModulePackage {
  manifest: Manifest;
  /** The manifest exactly as signed. */
  manifestBytes: Buffer;
  signature: Buffer;
  wasm: Buffer;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The key id a manifest names its signer by. */
export function keyId(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return sha256(pub.export({ type: "spki", format: "der" })).slice(0, 16);
}

export function encodePackage(manifestBytes: Buffer, signature: Buffer, wasm: Uint8Array): Buffer {
  const head = Buffer.alloc(MAGIC.length + 1 + 4);
  MAGIC.copy(head);
  head[MAGIC.length] = spec.format;
  head.writeUInt32LE(manifestBytes.length, MAGIC.length + 1);
  const sigLen = Buffer.alloc(2);
  sigLen.writeUInt16LE(signature.length);
  return Buffer.concat([head, manifestBytes, sigLen, signature, wasm]);
}

/** Splits a package and checks its manifest and the module's size and hash (not the signature). */
export function decodePackage(bytes: Uint8Array): ModulePackage {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const headLen = MAGIC.length + 1 + 4;
  if (b.length < headLen || !b.subarray(0, MAGIC.length).equals(MAGIC)) throw new ModuleRefused("BAD_PACKAGE", "not a wasm-scale module package");
  if (b[MAGIC.length] !== spec.format) throw new ModuleRefused("BAD_PACKAGE", `package format ${b[MAGIC.length]}; this host reads ${spec.format}`);
  const manifestLen = b.readUInt32LE(MAGIC.length + 1);
  if (manifestLen > spec.maxManifestBytes) throw new ModuleRefused("BAD_PACKAGE", `manifest of ${manifestLen} bytes, over ${spec.maxManifestBytes}`);
  if (headLen + manifestLen + 2 > b.length) throw new ModuleRefused("TRUNCATED", "the package ends inside its manifest");
  const manifestBytes = b.subarray(headLen, headLen + manifestLen);
  const sigLen = b.readUInt16LE(headLen + manifestLen);
  const sigAt = headLen + manifestLen + 2;
  if (sigAt + sigLen > b.length) throw new ModuleRefused("TRUNCATED", "the package ends inside its signature");
  const signature = b.subarray(sigAt, sigAt + sigLen);
  const wasm = b.subarray(sigAt + sigLen);
  let manifest: Manifest;
  try {
    const json = JSON.parse(manifestBytes.toString("utf8")) as { format?: unknown };
    manifest = json?.format === "wasm-scale-core" ? coreManifestSchema.parse(json)
      : json?.format === "wasm-scale-firmware" ? firmwareManifestSchema.parse(json) : manifestSchema.parse(json);
  } catch (e) {
    const detail = e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join(".") || "manifest"}: ${i.message}`).join("; ") : (e as Error).message;
    throw new ModuleRefused("BAD_PACKAGE", `manifest: ${detail}`);
  }
  if (manifest.format === "wasm-scale-firmware") {
    if (wasm.length) throw new ModuleRefused("BAD_PACKAGE", "a firmware package carries no image: the scale fetches it from the manifest's url");
    return { manifest, manifestBytes: Buffer.from(manifestBytes), signature: Buffer.from(signature), wasm: Buffer.alloc(0) };
  }
  if (wasm.length < manifest.size) throw new ModuleRefused("TRUNCATED", `the module has ${wasm.length} of its ${manifest.size} bytes`);
  if (wasm.length > manifest.size) throw new ModuleRefused("BAD_PACKAGE", `the module has ${wasm.length} bytes; the manifest says ${manifest.size}`);
  if (sha256(wasm) !== manifest.sha256) throw new ModuleRefused("BAD_HASH", "the module's SHA-256 differs from the manifest's");
  return { manifest, manifestBytes: Buffer.from(manifestBytes), signature: Buffer.from(signature), wasm: Buffer.from(wasm) };
}

/** Signs a package's manifest (naming the key in it first); returns the signed package. */
export function signPackage(pkg: ModulePackage, privateKey: KeyObject): Buffer {
  if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error("the signing key must be ECDSA P-256 (wasm-scale module keygen)");
  }
  const manifestBytes = Buffer.from(JSON.stringify({ ...pkg.manifest, key: keyId(privateKey) }, null, 2) + "\n");
  const signature = sign("sha256", manifestBytes, { key: privateKey, dsaEncoding: "der" });
  return encodePackage(manifestBytes, signature, pkg.wasm);
}

/** A new ECDSA P-256 key pair as PEM (PKCS#8 private, SPKI public). */
export function generateSigningKey(): { privatePem: string; publicPem: string; id: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicPem: publicKey.export({ type: "spki", format: "pem" }) as string,
    id: keyId(publicKey),
  };
}

export function readPublicKey(pem: string | Buffer, from: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("not an ECDSA P-256 key");
    return key;
  } catch (e) {
    throw new Error(`${from}: not a module signing public key (${(e as Error).message})`);
  }
}

export function readPrivateKey(pem: string | Buffer, from: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new Error(`${from}: not a private key (${(e as Error).message})`);
  }
}
