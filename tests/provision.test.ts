// Provisioning over a serial port, end to end: `wasm-scale provision` (serialport) against the
// ESP32's and the Pico W's provisioning code built for Linux (host/scale_portable/test/prov_serve.c:
// the portable parser, and each firmware's own storage of the settings over a real file), each
// served on a pseudo-terminal as the scale serves its USB port. Certificates are issued for the
// test by the `certs` tooling. `npm run test:c` builds the hosts.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repo } from "../host/vendor.mjs";
import { bin, Watched } from "./processes.js";

const HOSTS = {
  esp32: join(repo, "build", "c", "test_provision_esp32"),
  pico: join(repo, "build", "c", "test_provision_pico"),
} as const;
type HostName = keyof typeof HOSTS;

const scratch = mkdtempSync(join(tmpdir(), "wasm-scale-provision-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const certs = join(scratch, "certs");

/** A scale's provisioning on a pseudo-terminal: its storage (a folder or a flash file) outlives it. */
class Device extends Watched {
  constructor(host: HostName, readonly storage: string, args: string[] = []) {
    assert.ok(existsSync(HOSTS[host]), `${HOSTS[host]} is missing: npm run test:c builds it (needs libmbedtls-dev)`);
    super(HOSTS[host], [storage, "--network", "hive=password-123", ...args], "pipe");
  }

  async port(): Promise<string> {
    return (await this.waitFor(/^pty (\S+)$/m))[1];
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

/** `wasm-scale provision ...`, run to its end. */
async function provision(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [bin, "provision", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, out, err };
}

for (const host of Object.keys(HOSTS) as HostName[]) {
  /** Where a scale keeps its settings: a folder standing for NVS, or a file standing for flash. */
  const storage = (name: string) => (host === "esp32" ? mkdtempSync(join(scratch, `esp32-${name}-`)) : join(scratch, `pico-${name}.flash`));

  describe(`provisioning the ${host} firmware over a pseudo-terminal`, () => {
    test("WiFi by Improv, the broker, a device id and a certificate issued for it: kept, and in use after the restart", async () => {
      const where = storage("one");
      const device = new Device(host, where);
      try {
        const port = await device.port();
        await device.waitFor(/^boot stored=0 wifi=- online=0 device_id=scale1$/m);
        const r = await provision(["--port", port, "--wifi", "hive", "--wifi-password", "password-123", "--broker", "mqtts://broker.example:8883",
          "--username", "hive-owner", "--device-id", `${host}-7`, "--issue-cert", "--certs", certs], { WASM_SCALE_MQTT_PASSWORD: "broker-secret" });
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /WiFi: joined "hive" and kept/);
        assert.match(r.out, new RegExp(`certificate: issued for ${host}-7`));
        assert.match(r.out, new RegExp(`cert +CN=${host}-7`));
        assert.match(r.out, /ca +CN=wasm-scale test CA/);
        assert.match(r.out, /key +set/);
        assert.match(r.out, /password +set/);
        assert.doesNotMatch(r.out + r.err, /password-123|broker-secret|PRIVATE KEY/, "a secret was printed back");
        // The scale tried the network before keeping it, and runs on the settings after its restart.
        await device.waitFor(/^wifi hive connected$/m);
        await device.waitFor(new RegExp(`^boot stored=1 wifi=hive online=1 device_id=${host}-7$`, "m"));
        // Read back later, with nothing to change: the same settings, and no restart.
        const again = await provision(["--port", port]);
        assert.equal(again.code, 0, again.err);
        assert.match(again.out, /broker +mqtts:\/\/broker\.example:8883/);
        assert.match(again.out, /username +hive-owner/);
        assert.doesNotMatch(again.out, /restarting/);
      } finally {
        await device.stop();
      }
      // Kept across a power-off: a new process reads the same storage.
      const next = new Device(host, where);
      try {
        await next.waitFor(new RegExp(`^boot stored=1 wifi=hive online=1 device_id=${host}-7$`, "m"));
      } finally {
        await next.stop();
      }
    });

    test("bad values are refused with their reason, and nothing is half-written", async () => {
      const where = storage("bad");
      const device = new Device(host, where);
      try {
        const port = await device.port();
        const first = await provision(["--port", port, "--no-wifi-check", "--wifi", "hive", "--wifi-password", "password-123", "--device-id", "kept-id", "--no-restart"]);
        assert.equal(first.code, 0, first.err);
        const cases: Array<[string[], RegExp]> = [
          [["--device-id", "new-id", "--broker", "mqtt://plain.example"], /refused broker: .*plaintext MQTT is refused/],
          [["--device-id", "new/id"], /refused device_id: the device id may use only/],
          [["--device-id", "new-id", "--no-wifi-check", "--wifi", "hive", "--wifi-password", "short"], /refused wifi_password: the WiFi password must be empty/],
          [["--device-id", "new-id", "--ca", join(certs, "ca-key.pem")], /refused ca: a certificate must be PEM/],
        ];
        // A key that is not the certificate's (another device's), and a certificate without a key.
        writeFileSync(join(scratch, "not-a-cert.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        cases.push([["--device-id", "new-id", "--cert", join(certs, `${host}-7.pem`), "--key", join(certs, "broker-key.pem")], /did not keep the settings: the key is not the certificate's/]);
        cases.push([["--device-id", "new-id", "--cert", join(scratch, "not-a-cert.pem"), "--key", join(certs, "broker-key.pem")], /refused cert: a certificate in it does not parse/]);
        // A WiFi network the scale cannot join: Improv's "unable to connect", and the old one kept.
        cases.push([["--wifi", "hive", "--wifi-password", "wrong-password", "--device-id", "new-id"], /did not take WiFi "hive": unable to connect/]);
        for (const [args, reason] of cases) {
          const r = await provision(["--port", port, "--no-restart", ...args]);
          assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}${r.err}`);
          assert.match(r.err, reason, args.join(" "));
        }
        const now = await provision(["--port", port]);
        assert.match(now.out, /device_id +kept-id/);
        assert.match(now.out, /wifi_ssid +hive/);
        assert.match(now.out, /cert +\(build\)/);
      } finally {
        await device.stop();
      }
    });

    test("a power cut while the settings are written leaves the old ones whole", async () => {
      const where = storage("cut");
      const device = new Device(host, where);
      const port = await device.port();
      const first = await provision(["--port", port, "--no-wifi-check", "--wifi", "hive", "--device-id", "before-cut", "--issue-cert", "--certs", certs, "--no-restart"]);
      assert.equal(first.code, 0, first.err);
      await device.stop();
      // The power goes 300 bytes into writing the new settings (a certificate's worth of them).
      const cut = new Device(host, where, ["--cut", "300"]);
      const r = await provision(["--port", await cut.port(), "--device-id", "after-cut", "--broker", "mqtts://new.example", "--no-restart"]);
      assert.notEqual(r.code, 0);
      assert.equal(await cut.exited, 3, cut.err);
      const back = new Device(host, where);
      try {
        await back.waitFor(/^boot stored=1 wifi=hive online=\d device_id=before-cut$/m);
        const now = await provision(["--port", await back.port()]);
        assert.match(now.out, /broker +\(build\)/);
        assert.match(now.out, /cert +CN=before-cut/);
      } finally {
        await back.stop();
      }
    });
  });
}

test("a fleet plan: a certificate a device, the files a factory step needs, and a record the firmware reads", async () => {
  const plan = join(scratch, "scales.csv");
  writeFileSync(plan, "device_id,wifi_ssid,wifi_password,broker\nhive-a,hive,password-123,mqtts://broker.example:8883\nhive-b,hive,password-123,mqtts://broker.example:8883\n");
  const out = join(scratch, "fleet");
  const r = await provision(["--plan", plan, "--out", out, "--certs", certs]);
  assert.equal(r.code, 0, r.err);
  for (const id of ["hive-a", "hive-b"]) {
    const dir = join(out, id);
    for (const f of ["settings.bin", "nvs.csv", "ca.pem", `${id}.pem`, `${id}-key.pem`, "provision.txt"]) assert.ok(existsSync(join(dir, f)), `${id}/${f}`);
    assert.equal(statSync(join(dir, `${id}-key.pem`)).mode & 0o077, 0, "a key readable by others");
    assert.equal(statSync(join(dir, "settings.bin")).mode & 0o077, 0, "a record with secrets readable by others");
    assert.match(readFileSync(join(dir, "nvs.csv"), "utf8"), /^key,type,encoding,value\nwasm-scale,namespace,,\nprovision,file,binary,.*settings\.bin\n$/);
  }
  // A factory step that writes settings.bin into NVS: the ESP32's code boots on it.
  const nvs = mkdtempSync(join(scratch, "esp32-nvs-"));
  copyFileSync(join(out, "hive-a", "settings.bin"), join(nvs, "nvs.provision"));
  const esp = new Device("esp32", nvs);
  try {
    await esp.waitFor(/^boot stored=1 wifi=hive online=1 device_id=hive-a$/m);
    const now = await provision(["--port", await esp.port()]);
    assert.match(now.out, /cert +CN=hive-a/);
  } finally {
    await esp.stop();
  }
  // One planned device provisioned over its port.
  const pico = new Device("pico", join(scratch, "plan.flash"));
  try {
    const p = await provision(["--port", await pico.port(), "--plan", plan, "--device-id", "hive-b", "--certs", certs]);
    assert.equal(p.code, 0, p.err);
    await pico.waitFor(/^boot stored=1 wifi=hive online=1 device_id=hive-b$/m);
  } finally {
    await pico.stop();
  }
  // A plan with a mistake is refused before anything is written.
  writeFileSync(plan, "device_id,colour\nhive-c,blue\n");
  const bad = await provision(["--plan", plan, "--out", out, "--certs", certs]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /column "colour" is not one of/);
  assert.ok(!existsSync(join(out, "hive-c")));
});

test("wasm-scale provision says what is wrong with its own input before it opens anything", async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /give the scale's serial port \(--port\), or a --plan/],
    [["--port", join(scratch, "no-such-port")], /cannot open .*no-such-port: No such file or directory/],
    [["--port", "/dev/null", "--cert", "a.pem"], /--cert and --key go together/],
    [["--port", "/dev/null", "--plan", join(scratch, "scales.csv")], /with --plan and --port, name the planned device to provision \(--device-id\)/],
    [["--port", "/dev/null", "--baud", "fast"], /--baud must be a positive whole number/],
  ];
  for (const [args, reason] of cases) {
    const r = await provision(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}${r.err}`);
    assert.match(r.err, reason, args.join(" "));
  }
});
