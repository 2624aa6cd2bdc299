# What the firmware's C is built with on Linux, as host/esp-idf builds it for the ESP32: the WAMR
# interpreter sdkconfig.defaults chooses (unless -DWAMR_INTERP_FAST=0/1 says), WAMR configured as
# the firmware configures it, and sdkconfig.h with main/Kconfig.projbuild's defaults for that
# interpreter. Included by the test harnesses of components/wasm_host and components/cal_module.
set(ESP_IDF_DIR ${CMAKE_CURRENT_LIST_DIR}/../esp-idf)

# The interpreter the firmware's sdkconfig.defaults chooses, unless -DWAMR_INTERP_FAST=0/1 says.
if(NOT DEFINED WAMR_INTERP_FAST)
  file(READ ${ESP_IDF_DIR}/sdkconfig.defaults defaults)
  if(defaults MATCHES "\nCONFIG_WAMR_INTERP_CLASSIC=y")
    set(WAMR_INTERP_FAST 0)
  elseif(defaults MATCHES "\nCONFIG_WAMR_INTERP_FAST=y")
    set(WAMR_INTERP_FAST 1)
  else()
    message(FATAL_ERROR "host/esp-idf/sdkconfig.defaults chooses no WAMR interpreter")
  endif()
endif()
message(STATUS "WAMR ${WAMR_INTERP_FAST} (1 fast, 0 classic) interpreter")

# WAMR as the firmware builds it (declared and configured once for the desktop builds).
include(${CMAKE_CURRENT_LIST_DIR}/wamr-esp32.cmake)
add_library(iwasm STATIC ${WAMR_RUNTIME_LIB_SOURCE})
target_compile_options(iwasm PRIVATE -w)

# sdkconfig.h from the Kconfig defaults for this interpreter (WAMR_INTERP_FAST 1 or 0, as
# CONFIG_WAMR_INTERP_FAST / _CLASSIC would be in sdkconfig), so a changed default is what the test runs.
set(KCONFIG ${ESP_IDF_DIR}/main/Kconfig.projbuild)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${KCONFIG})
file(READ ${KCONFIG} kconfig)
# As in ESP-IDF's sdkconfig.h, a bool that is off is not defined at all (the C tests it with #ifdef).
if(WAMR_INTERP_FAST)
  set(sdkconfig "/* generated from main/Kconfig.projbuild's defaults */\n#define CONFIG_WAMR_INTERP_FAST 1\n")
else()
  set(sdkconfig "/* generated from main/Kconfig.projbuild's defaults */\n#define CONFIG_WAMR_INTERP_CLASSIC 1\n")
endif()
foreach(name SCALE_WASM_POOL_KB SCALE_WASM_STACK_KB SCALE_WASM_INSTRUCTION_LIMIT)
  string(FIND "${kconfig}" "config ${name}\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "no ${name} in ${KCONFIG}")
  endif()
  string(SUBSTRING "${kconfig}" ${at} 1200 entry)
  string(REGEX REPLACE "\n *config .*" "" entry "${entry}") # this entry only
  string(REGEX MATCHALL "default [0-9]+( if [A-Z_]+)?" defaults "${entry}")
  unset(value)
  foreach(d ${defaults})
    if(NOT DEFINED value AND d MATCHES "^default ([0-9]+)( if ([A-Z_]+))?$")
      if(NOT CMAKE_MATCH_3 OR (CMAKE_MATCH_3 STREQUAL "WAMR_INTERP_FAST" AND WAMR_INTERP_FAST))
        set(value ${CMAKE_MATCH_1})
      elseif(NOT CMAKE_MATCH_3 STREQUAL "WAMR_INTERP_FAST")
        message(FATAL_ERROR "${name}: a default under ${CMAKE_MATCH_3}, which this test does not know")
      endif()
    endif()
  endforeach()
  if(NOT DEFINED value)
    message(FATAL_ERROR "no default for ${name} in ${KCONFIG}")
  endif()
  if(name STREQUAL "SCALE_WASM_POOL_KB" AND WASM_HOST_POOL_KB)
    set(value ${WASM_HOST_POOL_KB}) # measuring only (cmake -DWASM_HOST_POOL_KB=N): the tests use the Kconfig default
  endif()
  string(APPEND sdkconfig "#define CONFIG_${name} ${value}\n")
endforeach()
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/sdkconfig.h "${sdkconfig}")

