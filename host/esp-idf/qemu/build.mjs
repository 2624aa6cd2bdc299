// npm run build:esp32c3 [-- --certs <dir>] [-- -DSCALE_...=...]: the firmware's QEMU variant for the
// ESP32-C3 (host/esp-idf/qemu), built offline with ESP-IDF v5.3.1 driven by cmake and ninja, from
// the vendor folder and Debian's packages only (no idf.py, no Espressif download):
//   - the compiler wrappers, newlib, libstdc++ and QEMU from host/esp-idf/tools/esp32c3-toolchain.sh
//     (cached by the hash of their inputs);
//   - ESP-IDF, esp-idf-kconfig, esptool and WAMR from the vendor folder (SHA-256 checked);
//   - the component the component manager would download: WAMR (its repository is an ESP-IDF
//     component).
// Writes build/esp32c3-qemu/wasm-scale.elf, .bin and flash.bin (a 4 MB image QEMU boots), and prints
// the build folder. --certs: the folder with ca.pem, device.der and device-key.der to embed (the
// tests make them; main/certs otherwise). With Espressif's own toolchain, `idf.py set-target esp32c3
// build` in host/esp-idf builds the same firmware for a real ESP32-C3 (WiFi instead of Ethernet).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { repo, unpackVendor } from "../../vendor.mjs";

const args = process.argv.slice(2);
const certsAt = args.indexOf("--certs");
const certs = certsAt >= 0 ? args[certsAt + 1] : null;
const defines = args.filter((a) => a.startsWith("-D"));
const out = join(repo, "build", "esp32c3-qemu");
const here = join(repo, "host", "esp-idf", "qemu");

const tools = execFileSync("bash", [join(repo, "host", "esp-idf", "tools", "esp32c3-toolchain.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
  .trim().split("\n").pop();
const idf = unpackVendor("ESP_IDF");
const kconfig = unpackVendor("ESP_IDF_KCONFIG");
const esptool = unpackVendor("ESPTOOL");
const wamr = unpackVendor("WAMR");

// Stand-ins for the managed components, named as the component manager names them.
const offline = join(out, "offline-components");
mkdirSync(offline, { recursive: true });
const wamrLink = join(offline, "espressif__wasm-micro-runtime");
if (!existsSync(wamrLink)) symlinkSync(wamr, wamrLink);
rmSync(join(offline, "espressif__cjson"), { recursive: true, force: true }); // an older build's stand-in: nothing needs cJSON now

const env = {
  ...process.env,
  PATH: `${join(tools, "bin")}:${process.env.PATH}`,
  IDF_PATH: idf,
  IDF_TARGET: "esp32c3",
  IDF_COMPONENT_MANAGER: "0",
  PYTHONPATH: [kconfig, esptool, process.env.PYTHONPATH].filter(Boolean).join(":"),
  // ESP-IDF's Python checks want its own virtual environment; these are the tools it runs.
  IDF_PYTHON_ENV_PATH: "/usr",
};
const run = (cmd, argv, opts = {}) => execFileSync(cmd, argv, { stdio: "inherit", cwd: out, env, ...opts });

const configure = [
  "-G", "Ninja", "-S", here, "-B", out, "-DIDF_TARGET=esp32c3", "-DPYTHON_DEPS_CHECKED=1", "-DPYTHON=/usr/bin/python3",
  `-DSCALE_OFFLINE_COMPONENTS=${offline}`, `-DSDKCONFIG=${join(out, "sdkconfig")}`, ...defines,
];
configure.push(`-DSCALE_CERTS_DIR=${certs ?? ""}`); // empty: main/certs (a cached folder of an earlier run is forgotten)
// The configuration comes from the defaults files every time (an sdkconfig left from an earlier
// build would keep old values); kconfgen rewrites sdkconfig.h only when a value changed.
rmSync(join(out, "sdkconfig"), { force: true });
run("cmake", configure);
run("ninja", ["-C", out]);
// The image QEMU boots: bootloader, partition table and app at their offsets, filled to 4 MB.
run("/usr/bin/python3", ["-m", "esptool", "--chip", "esp32c3", "merge_bin", "-o", join(out, "flash.bin"), "--fill-flash-size", "4MB", "@flash_args"]);
console.log(out);
