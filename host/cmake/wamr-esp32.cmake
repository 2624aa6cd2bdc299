# WAMR 2.4.0 (the runtime of the ESP component espressif/wasm-micro-runtime 2.4.0), declared once
# for every desktop build of it, and configured as the firmware builds it (host/esp-idf/
# sdkconfig.defaults and CMakeLists.txt): the interpreter only (fast, or classic when
# WAMR_INTERP_FAST is 0), no AOT/JIT/WASI/libc/pthreads/multi-module, bulk memory, instruction
# metering, software bounds checks, aligned accesses as on Xtensa, and none of x86-64's GS-base
# shortcut (which the ESP32 has not, and valgrind cannot run).
# Offline: -DFETCHCONTENT_SOURCE_DIR_WAMR=<unpacked wasm-micro-runtime-WAMR-2.4.0>.
# Sets WAMR_ROOT_DIR and WAMR_RUNTIME_LIB_SOURCE, and WAMR's definitions, in the including directory.
include(FetchContent)
FetchContent_Declare(wamr
  GIT_REPOSITORY https://github.com/bytecodealliance/wasm-micro-runtime.git
  GIT_TAG 47c7c85ac21f240a878026af603e032065d183fb) # WAMR-2.4.0
FetchContent_GetProperties(wamr)
if(NOT wamr_POPULATED)
  FetchContent_Populate(wamr)
endif()

if(NOT DEFINED WAMR_INTERP_FAST)
  set(WAMR_INTERP_FAST 1)
endif()
set(WAMR_ROOT_DIR ${wamr_SOURCE_DIR})
set(WAMR_BUILD_PLATFORM linux)
set(WAMR_BUILD_INTERP 1)
set(WAMR_BUILD_FAST_INTERP ${WAMR_INTERP_FAST})
set(WAMR_BUILD_AOT 0)
set(WAMR_BUILD_JIT 0)
set(WAMR_BUILD_FAST_JIT 0)
set(WAMR_BUILD_LIBC_BUILTIN 0)
set(WAMR_BUILD_LIBC_WASI 0)
set(WAMR_BUILD_LIB_PTHREAD 0)
set(WAMR_BUILD_MULTI_MODULE 0)
set(WAMR_BUILD_BULK_MEMORY 1)
set(WAMR_BUILD_REF_TYPES 0)
set(WAMR_BUILD_SIMD 0)
set(WAMR_BUILD_INSTRUCTION_METERING 1)
set(WAMR_DISABLE_HW_BOUND_CHECK 1)
set(WAMR_DISABLE_WRITE_GS_BASE 1)
set(WAMR_BUILD_SHRUNK_MEMORY 1)
include(${WAMR_ROOT_DIR}/build-scripts/runtime_lib.cmake)
add_definitions(-DWASM_CPU_SUPPORTS_UNALIGNED_ADDR_ACCESS=0)
