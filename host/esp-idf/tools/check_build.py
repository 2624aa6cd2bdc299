#!/usr/bin/env python3
"""Compile the ESP-IDF host's C against the real ESP-IDF 5.1.6 and 5.5.4 headers (the oldest and the
newest versions idf_component.yml allows), without the ESP-IDF toolchain.

What it does, offline:
  1. unpacks ESP-IDF v5.1.6's and v5.5.4's headers, esp-idf-kconfig 2.5.4 and WAMR 2.4.0 (checked
     against their SHA-256) from the vendor folder (WASM_SCALE_VENDOR, default ../shared/vendor beside the
     repository) into build/esp-idf-check;
  2. generates sdkconfig.h with the real kconfgen from every component's Kconfig, esp-mqtt's, WAMR's
     ESP-IDF Kconfig, this project's Kconfig.projbuild and sdkconfig.defaults, and checks the values
     the firmware depends on;
  3. compiles every .c of host/esp-idf syntax-only with xtensa-lx106-elf-gcc (Debian's
     gcc-xtensa-lx106 and libnewlib-dev), the ESP32's type sizes and -Wall -Wextra -Werror, each
     component seeing only the include directories of the components it REQUIRES (read from its
     CMakeLists.txt), so that a missing REQUIRES fails here as it would in a real build.

Each step runs for each version, and a failure names it. It proves that the firmware's C is valid
against the API and Kconfig of both. It does not link and does not generate Xtensa code: run
`idf.py build` for that.

Usage: python3 host/esp-idf/tools/check_build.py [--keep-going]
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# host/esp-idf, or another copy of it (the tests check that a broken copy fails).
PROJECT = Path(os.environ.get("WASM_SCALE_ESP_IDF_PROJECT", HERE.parent)).resolve()
REPO = HERE.parent.parent.parent
WORK = REPO / "build" / "esp-idf-check"
VENDOR = Path(os.environ.get("WASM_SCALE_VENDOR", REPO.parent / "shared" / "vendor"))

# Third-party sources, pinned once for the project in host/third-party.json.
PINS = json.loads((REPO / "host" / "third-party.json").read_text())
SOURCES = {PINS[k]["folder"]: (PINS[k]["tarball"], PINS[k]["sha256"])
           for k in ("esp-idf-headers-5.1", "esp-idf-headers", "esp-idf-kconfig", "wamr")}
# The versions checked, oldest first: idf_component.yml's range ">=5.1,<6.0".
VERSIONS = [PINS["esp-idf-headers-5.1"]["folder"], PINS["esp-idf-headers"]["folder"]]

CC = "xtensa-lx106-elf-gcc"

# ESP-IDF components this firmware reaches: their public include directories (relative to
# components/<name>) and the components they REQUIRE publicly (what a user of them also sees). The
# union of 5.1's and 5.5's layouts: a directory one version lacks is not searched.
IDF = {
    "newlib": (["platform_include"], []),
    "esp_common": (["include"], []),
    "esp_system": (["include"], []),
    "esp_hw_support": (["include", "include/soc", "include/soc/esp32", "port/esp32", "port/esp32/include", "dma/include",
                        "ldo/include", "mspi_timing_tuning/include", "power_supply/include"], ["soc"]),
    "esp_rom": (["include", "include/esp32", "esp32", "esp32/include", "esp32/include/esp32"], []),
    "soc": (["include", "esp32", "esp32/include", "esp32/register"], []),
    "hal": (["include", "esp32/include", "platform_port/include"], ["soc"]),
    "xtensa": (["include", "esp32/include", "deprecated_include"], []),
    "freertos": (["FreeRTOS-Kernel/include", "FreeRTOS-Kernel/portable/xtensa/include",
                  "FreeRTOS-Kernel/portable/xtensa/include/freertos", "esp_additions/include",
                  "esp_additions/include/freertos", "esp_additions/arch/xtensa/include", "config/include",
                  "config/include/freertos", "config/xtensa/include"], []),
    "log": (["include"], []),
    "heap": (["include"], []),
    "esp_timer": (["include"], []),
    "pthread": (["include"], []),
    "esp_pm": (["include"], []),
    "esp_mm": (["include"], []),
    "esp_driver_gpio": (["include"], []),
    "esp_driver_uart": (["include"], []),
    "esp_driver_usb_serial_jtag": (["include"], []),
    "esp_ringbuf": (["include"], []),
    # 5.1: gpio/include, uart/include, usb_serial_jtag/include; 5.5: the esp_driver_* components.
    "driver": (["include", "deprecated", "gpio/include", "uart/include", "usb_serial_jtag/include"],
               ["esp_pm", "esp_driver_gpio", "esp_driver_uart", "esp_driver_usb_serial_jtag", "esp_ringbuf"]),
    "spi_flash": (["include"], []),
    "esp_partition": (["include"], ["spi_flash"]),
    "nvs_flash": (["include"], ["esp_partition"]),
    "esp_app_format": (["include"], []),
    "esp_bootloader_format": (["include"], []),  # 5.3 on
    "bootloader_support": (["include"], []),
    "app_update": (["include"], ["esp_partition", "esp_app_format", "esp_bootloader_format", "bootloader_support"]),
    "esp_event": (["include"], []),
    "lwip": (["include", "include/apps", "include/apps/sntp", "lwip/src/include", "port/include",
              "port/freertos/include", "port/esp32xx/include", "port/esp32xx/include/arch"], ["vfs"]),
    "vfs": (["include"], []),
    "esp_vfs_console": (["include"], []),
    "esp_netif": (["include"], ["esp_event", "lwip"]),
    "esp_phy": (["include"], []),
    "esp_coex": (["include"], []),
    "esp_wifi": (["include", "include/local", "wifi_apps/include", "wifi_apps/nan_app/include"], ["esp_event", "esp_phy", "esp_netif", "esp_coex"]),
    "esp_security": (["include"], []),
    "efuse": (["include", "esp32/include"], []),
    "mbedtls": (["port/include", "mbedtls/include", "esp_crt_bundle/include"], []),
    "esp-tls": (["", "esp-tls-crypto"], ["mbedtls"]),
    "tcp_transport": (["include"], ["esp-tls", "lwip", "esp_timer"]),
    "mqtt": (["esp-mqtt/include"], ["esp_event", "tcp_transport"]),
    "esp_http_client": (["include"], ["lwip", "esp_event"]),
    "esp_https_ota": (["include"], ["esp_http_client", "bootloader_support", "esp_app_format", "esp_event", "esp_partition", "app_update"]),
}
# Components from the ESP Component Registry (main/idf_component.yml, components/*/idf_component.yml):
# WAMR, from the vendor folder.
MANAGED = ["espressif__wasm-micro-runtime"]

# What every ESP-IDF component sees without asking (IDF's "common requirements").
COMMON = ["newlib", "esp_common", "esp_system", "esp_hw_support", "esp_rom", "soc", "hal", "xtensa",
          "freertos", "log", "heap"]

# sdkconfig values the firmware relies on: a renamed or lost Kconfig symbol fails the check.
EXPECTED = {
    "CONFIG_FREERTOS_HZ": "1000",
    "CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE": "1",
    "CONFIG_GPIO_CTRL_FUNC_IN_IRAM": "1",
    "CONFIG_WAMR_ENABLE_INTERP": "1",
    "CONFIG_WAMR_INTERP_CLASSIC": "1",
    "CONFIG_FREERTOS_USE_TRACE_FACILITY": "1",
    "CONFIG_COMPILER_OPTIMIZATION_SIZE": "1",
    # The defaults tests/firmware.test.ts runs the core with (its harness reads the same Kconfig).
    "CONFIG_SCALE_WASM_POOL_KB": "0",
    "CONFIG_SCALE_WASM_STACK_KB": "3",
    "CONFIG_SCALE_CORE_TASK_STACK": "10240",
    "CONFIG_MBEDTLS_CERTIFICATE_BUNDLE": "1",
    "CONFIG_MBEDTLS_HAVE_TIME_DATE": "1",
    "CONFIG_MBEDTLS_DYNAMIC_BUFFER": "1",
    "CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN": "16384",
    "CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN": "4096",
    "CONFIG_MQTT_PROTOCOL_5": "1",
    "CONFIG_ESP_TASK_WDT_TIMEOUT_S": "10",
    # Battery wakes: no image check after deep sleep, a quiet bootloader, brown-out detection on.
    "CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP": "1",
    "CONFIG_BOOTLOADER_LOG_LEVEL_WARN": "1",
    "CONFIG_ESP_BROWNOUT_DET": "1",
}
PRESENT = ["CONFIG_SCALE_WASM_INSTRUCTION_LIMIT", "CONFIG_SCALE_WIFI_BACKOFF_MAX_S",
           "CONFIG_SCALE_HX711_CLK_PIN", "CONFIG_SCALE_HX711_RATE_SPS", "CONFIG_SCALE_BROKER_URI"]
ABSENT = ["CONFIG_WAMR_INTERP_FAST", "CONFIG_WAMR_ENABLE_AOT", "CONFIG_WAMR_ENABLE_LIBC_WASI", "CONFIG_WAMR_ENABLE_LIB_PTHREAD",
          "CONFIG_LWIP_DHCP_DOES_ARP_CHECK", "CONFIG_LWIP_DHCP_DOES_ACD_CHECK"]


class CheckError(Exception):
    pass


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unpack() -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    dirs = {}
    for name, (tarball, digest) in SOURCES.items():
        target = WORK / name
        dirs[name] = target
        if (target / ".unpacked").exists():
            continue
        src = VENDOR / tarball
        if not src.exists():
            raise CheckError(f"{src} is missing: set WASM_SCALE_VENDOR to the folder holding {tarball}")
        if sha256(src) != digest:
            raise CheckError(f"{src}: SHA-256 differs from the one this project pins")
        with tarfile.open(src) as t:
            try:
                t.extractall(WORK, filter="data")
            except TypeError:  # Python without extraction filters: these are pinned, hashed archives
                t.extractall(WORK)
        (target / ".unpacked").write_text(digest)
    return dirs


def generate_sdkconfig(idf: Path, kconfig: Path, wamr: Path) -> Path:
    out = WORK / ("config-" + idf.name + "-" + hashlib.sha1(str(PROJECT).encode()).hexdigest()[:10])
    out.mkdir(exist_ok=True)
    comps = sorted((idf / "components").iterdir())
    kconfigs = [str(c / "Kconfig") for c in comps if (c / "Kconfig").exists()]
    kconfigs += [str(idf / "components/mqtt/esp-mqtt/Kconfig"), str(wamr / "build-scripts/esp-idf/wamr/Kconfig")]
    projbuild = [str(c / "Kconfig.projbuild") for c in comps if (c / "Kconfig.projbuild").exists()]
    projbuild.append(str(PROJECT / "main" / "Kconfig.projbuild"))
    renames = [str(p) for c in comps for p in (c / "sdkconfig.rename", c / "sdkconfig.rename.esp32") if p.exists()]
    env = {
        "COMPONENT_KCONFIGS": ";".join(kconfigs),
        "COMPONENT_KCONFIGS_PROJBUILD": ";".join(projbuild),
        "COMPONENT_SDKCONFIG_RENAMES": ";".join(renames),
        "COMPONENT_KCONFIGS_SOURCE_FILE": str(out / "kconfigs.in"),
        "COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE": str(out / "kconfigs_projbuild.in"),
        "IDF_TARGET": "esp32", "IDF_TARGET_ARCH": "xtensa", "IDF_PATH": str(idf), "IDF_INIT_VERSION": "5.1.0",
        "IDF_ENV_FPGA": "", "IDF_MINIMAL_BUILD": "n",
    }
    env_file = out / "config.env"
    env_file.write_text(json.dumps(env, indent=2))
    run([sys.executable, str(idf / "tools/kconfig_new/prepare_kconfig_files.py"), "--list-separator=semicolon", "--env-file", str(env_file)])
    sdkconfig = out / "sdkconfig"
    sdkconfig.unlink(missing_ok=True)
    run([sys.executable, "-m", "kconfgen", "--list-separator=semicolon", "--kconfig", str(idf / "Kconfig"),
         "--sdkconfig-rename", str(idf / "sdkconfig.rename"), "--config", str(sdkconfig),
         "--defaults", str(PROJECT / "sdkconfig.defaults"), "--env-file", str(env_file), "--env", "IDF_TARGET=esp32",
         "--output", "header", str(out / "sdkconfig.h"), "--output", "config", str(sdkconfig)],
        env={**os.environ, "PYTHONPATH": str(kconfig)})
    return out


def check_sdkconfig(header: Path) -> list:
    values = dict(re.findall(r"^#define (CONFIG_\w+) (.*)$", header.read_text(), re.M))
    problems = []
    for name, want in EXPECTED.items():
        if values.get(name) != want:
            problems.append(f"sdkconfig: {name} is {values.get(name, 'not set')}, the firmware needs {want}")
    problems += [f"sdkconfig: {name} is not set (renamed or lost Kconfig symbol?)" for name in PRESENT if name not in values]
    problems += [f"sdkconfig: {name} is set; sdkconfig.defaults turns it off" for name in ABSENT if name in values]
    return problems


def run(cmd, env=None):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise CheckError(f"{' '.join(cmd[:3])} ... failed:\n{r.stdout}{r.stderr}")
    return r


def cmake_list(text: str, key: str) -> list:
    keys = "SRCS|INCLUDE_DIRS|PRIV_INCLUDE_DIRS|REQUIRES|PRIV_REQUIRES|EMBED_FILES|EMBED_TXTFILES|LDFRAGMENTS"
    m = re.search(rf"\b{key}\b((?:\s+(?!(?:{keys})\b)[^\s)]+)*)", text)
    return [w.strip('"') for w in m.group(1).split()] if m else []


def project_components() -> dict:
    """name -> (dir, srcs, include dirs, requires, priv_requires, defines), from each CMakeLists.txt.
    The defines are those of target_compile_definitions(${COMPONENT_LIB} PRIVATE ...), as this
    project's top CMakeLists.txt and a full build (main/certs filled in) would set them."""
    found = {}
    # Components outside the project: set(EXTRA_COMPONENT_DIRS ...) in its top CMakeLists.txt,
    # each a component folder itself (relative to ${CMAKE_CURRENT_LIST_DIR}).
    top = (PROJECT / "CMakeLists.txt").read_text()
    extra = [Path(w.replace("${CMAKE_CURRENT_LIST_DIR}", str(PROJECT))).resolve()
             for m in re.finditer(r"set\(EXTRA_COMPONENT_DIRS\s+([^)]*)\)", top) for w in m.group(1).split()]
    for d in extra:
        if not (d / "CMakeLists.txt").exists():
            raise CheckError(f"EXTRA_COMPONENT_DIRS names {d}, which is not a component folder")
    for cmakelists in [PROJECT / "main" / "CMakeLists.txt", *sorted(PROJECT.glob("components/*/CMakeLists.txt")),
                       *[d / "CMakeLists.txt" for d in extra]]:
        text = cmakelists.read_text()
        call = re.search(r"idf_component_register\((.*?)\)", text, re.S)
        if not call:
            raise CheckError(f"{cmakelists}: no idf_component_register")
        body = call.group(1)
        d = cmakelists.parent
        defines = [w for m in re.finditer(r"target_compile_definitions\(\$\{COMPONENT_LIB\} PRIVATE ([^)]*)\)", text) for w in m.group(1).split()]
        found[d.name] = (d, cmake_list(body, "SRCS"), cmake_list(body, "INCLUDE_DIRS"),
                         cmake_list(body, "REQUIRES"), cmake_list(body, "PRIV_REQUIRES"), defines)
    return found


def include_dirs(name: str, components: dict, idf: Path, wamr: Path) -> list:
    """Include dirs a component compiles with: its own, and those of what it requires, transitively
    through public REQUIRES only, as ESP-IDF's build resolves them."""
    seen, order = set(), []

    def visit(dep: str) -> None:
        if dep in seen:
            return
        seen.add(dep)
        order.append(dep)
        if dep in components:
            for r in components[dep][3]:
                visit(r)
        elif dep in IDF:
            for r in IDF[dep][1]:
                visit(r)
        elif dep not in MANAGED:
            raise CheckError(f"{name} requires {dep}, which this check does not know: add it to the IDF table in {Path(__file__).name}")

    _, _, _, requires, priv, _ = components[name]
    visit(name)
    for r in requires + priv + COMMON:
        visit(r)
    dirs = []
    for dep in order:
        if dep in components:
            cd, _, incs, _, _, _ = components[dep]
            dirs += [cd / i for i in incs]
        elif dep == "espressif__wasm-micro-runtime":
            dirs.append(wamr / "core/iwasm/include")
        else:
            dirs += [idf / "components" / dep / i for i in IDF[dep][0]]
    return [str(p) for p in dirs]


def compiler_dirs() -> list:
    try:
        r = subprocess.run([CC, "-print-file-name=include"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        raise CheckError(f"{CC} is missing: apt-get install gcc-xtensa-lx106 libnewlib-dev")
    inc = Path(r.stdout.strip())
    return [str(inc), str(inc.parent / "include-fixed")]


def newlib_fix() -> str:
    """Debian's newlib 4.3 declares _global_impure_ptr const; IDF 5.5 assigns it: a patched copy first."""
    src = Path("/usr/include/newlib/sys/reent.h")
    if not src.exists():
        raise CheckError("newlib headers are missing: apt-get install libnewlib-dev")
    fix = WORK / "newlib-fix"
    (fix / "sys").mkdir(parents=True, exist_ok=True)
    (fix / "sys" / "reent.h").write_text(src.read_text().replace("struct _reent *const _global_impure_ptr", "struct _reent * _global_impure_ptr"))
    return str(fix)


def check_version(idf: Path, kconfig: Path, wamr: Path, keep_going: bool) -> tuple:
    """Problems found against one ESP-IDF version, files compiled, components."""
    version = idf.name.removeprefix("esp-idf-v")
    config = generate_sdkconfig(idf, kconfig, wamr)
    problems = [f"ESP-IDF {version}: {p}" for p in check_sdkconfig(config / "sdkconfig.h")]
    components = project_components()
    # _POSIX_THREADS: Espressif's newlib declares the pthread API (ESP-IDF's pthread component
    # implements it); Debian's newlib for the lx106 does not.
    base = ["-std=gnu17", "-fsyntax-only", "-nostdinc", "-D__XTENSA__", "-mlongcalls", "-D_GNU_SOURCE", "-DESP_PLATFORM", "-D_POSIX_THREADS=1",
            "-U__INT32_TYPE__", "-D__INT32_TYPE__=long int", "-U__UINT32_TYPE__", "-D__UINT32_TYPE__=long unsigned int",
            "-U__INT_LEAST32_TYPE__", "-D__INT_LEAST32_TYPE__=long int",
            "-U__UINT_LEAST32_TYPE__", "-D__UINT_LEAST32_TYPE__=long unsigned int",
            "-Wall", "-Wextra", "-Werror", "-Wno-sign-compare", "-Wno-unused-parameter",  # as IDF itself builds (its hal headers need it)
            "-isystem", newlib_fix()]
    for d in compiler_dirs():
        base += ["-isystem", d]
    base += ["-isystem", "/usr/include/newlib", "-I", str(config)]
    compiled = 0
    for name, (d, srcs, _, _, _, defines) in components.items():
        incs = [a for i in include_dirs(name, components, idf, wamr) for a in ("-I", i)]
        for src in srcs:
            cmd = [CC, *base, *[f"-D{x}" for x in defines], *incs, str(d / src)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            compiled += 1
            if r.returncode != 0:
                problems.append(f"{d.relative_to(PROJECT) / src} does not compile against ESP-IDF {version}:\n{r.stderr.strip()}")
                if not keep_going:
                    return problems, compiled, len(components)
    return problems, compiled, len(components)


def main() -> int:
    keep_going = "--keep-going" in sys.argv
    try:
        dirs = unpack()
        kconfig, wamr = dirs["esp-idf-kconfig-2.5.4"], dirs["wasm-micro-runtime-WAMR-2.4.0"]
        problems, done = [], []
        for folder in VERSIONS:
            found, compiled, n_components = check_version(dirs[folder], kconfig, wamr, keep_going)
            problems += found
            done.append(folder.removeprefix("esp-idf-v"))
            if found and not keep_going:
                break
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        print(f"ESP-IDF {' and '.join(done)} check: sdkconfig.h from the real Kconfig ({len(EXPECTED) + len(PRESENT) + len(ABSENT)} values "
              f"checked); {compiled} C files of {n_components} components compile with -Wall -Wextra -Werror against each")
        return 0
    except CheckError as e:
        print(f"esp-idf check: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
