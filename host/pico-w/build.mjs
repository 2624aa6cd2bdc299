// npm run build:pico [-- -DWIFI_SSID=... -DSCALE_BROKER_HOST=... ...]: the Pico W firmware,
// build/pico-w/wasm_scale.uf2, from the release core. With --emulator: the same firmware without a
// network for a plain Pico (the emulated RP2040 of tests/pico-emulator.ts), every reading's record
// on the console, in build/pico-emulator-<rate>; with --pico2w: for the Pico 2 W (RP2350), in
// build/pico2-w. Offline, the Pico SDK, picotool and wasm3
// come from the vendor folder (host/vendor.mjs checks their SHA-256); otherwise CMake fetches
// them from upstream and the SDK builds picotool itself. Needs Debian's gcc-arm-none-eabi,
// libnewlib-arm-none-eabi and libstdc++-arm-none-eabi-newlib (and libusb-1.0-0-dev for picotool).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repo, vendorOverrides } from "../vendor.mjs";

const flags = process.argv.slice(2);
const settings = flags.filter((a) => a.startsWith("-D"));
const rate = /-DSCALE_HX711_RATE_SPS=(\d+)/.exec(settings.join(" "))?.[1] ?? "10";
const out = flags.includes("--emulator") ? join(repo, "build", `pico-emulator-${rate}`) : flags.includes("--pico2w") ? join(repo, "build", "pico2-w") : join(repo, "build", "pico-w");
if (flags.includes("--emulator")) settings.push("-DSCALE_NETWORK=OFF", "-DPICO_BOARD=pico", "-DSCALE_CONSOLE_RECORDS=ON");
if (flags.includes("--pico2w")) settings.push("-DPICO_BOARD=pico2_w", "-DPICO_PLATFORM=rp2350-arm-s");
const cmake = (args) => execFileSync("cmake", args, { stdio: "inherit", cwd: repo });

const overrides = vendorOverrides(["PICO_SDK", "WASM3", "PICOTOOL"]);
const dirOf = (name) => overrides.find((a) => a.startsWith(`-DFETCHCONTENT_SOURCE_DIR_${name}=`))?.split("=")[1];
const args = ["-S", join(repo, "host", "pico-w"), "-B", out, ...settings];
if (overrides.length) {
  const sdk = dirOf("PICO_SDK");
  const prefix = join(repo, "build", "picotool");
  if (!existsSync(join(prefix, "picotool", "picotoolConfig.cmake"))) {
    // picotool, built once for this machine, with the SDK it belongs to.
    const work = join(repo, "build", "picotool-build");
    cmake(["-S", dirOf("PICOTOOL"), "-B", work, `-DPICO_SDK_PATH=${sdk}`, "-DPICOTOOL_FLAT_INSTALL=1", `-DCMAKE_INSTALL_PREFIX=${prefix}`]);
    cmake(["--build", work, "-j", "2"]);
    cmake(["--install", work]);
  }
  args.push("-DFETCHCONTENT_FULLY_DISCONNECTED=ON", `-DFETCHCONTENT_SOURCE_DIR_PICO_SDK=${sdk}`,
    `-DFETCHCONTENT_SOURCE_DIR_WASM3=${dirOf("WASM3")}`, `-Dpicotool_DIR=${join(prefix, "picotool")}`);
}
cmake(args);
cmake(["--build", out, "-j", "2"]);
console.log(`firmware: ${join(out, "wasm_scale.uf2")}`);
