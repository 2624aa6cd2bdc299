/* Generated from assembly/abi.json by host/gen-abi.ts (npm run abi). Do not edit. */
#pragma once

#define SCALE_ABI_VERSION 6
#define SCALE_ABI_MAX_PAGES 1
#define SCALE_ABI_IMPORT_COUNT 9

/* Imports: WAMR native signatures ('*' pointer, '~' its length). */
/* gpio.wait_low: Wait until every listed DOUT pin reads low (all HX711s have a conversion ready), yielding to other tasks, at most timeout_us. Called per sample, first of two host calls. */
#define SCALE_ABI_MODULE_GPIO_WAIT_LOW "gpio"
#define SCALE_ABI_SIG_GPIO_WAIT_LOW "(*~i)i"
/* gpio.clock_in: Clock `pulses` pulses on pin clk and sample every listed data pin after each rising edge. Each high phase is kept short (about 1 us) and uninterruptible; only low phases may be stretched. Called per sample, second of two host calls (once per clock pin). */
#define SCALE_ABI_MODULE_GPIO_CLOCK_IN "gpio"
#define SCALE_ABI_SIG_GPIO_CLOCK_IN "(i*~i*~)i"
/* gpio.write: Drive an output pin. Used to power the HX711s down (clock high > 60 us) and up. Called rare: power down / up. */
#define SCALE_ABI_MODULE_GPIO_WRITE "gpio"
#define SCALE_ABI_SIG_GPIO_WRITE "(ii)"
/* calib.gain: The installed calibration module's gain for this sample (see calibration_module, cal_gain), from the chips' latest codes. The host calls the module's cal_gain with its instruction budget; when the module traps, runs out of budget or returns a non-finite gain, the host answers NaN and rolls the module back. The core multiplies its copy of the module's curve by it; a gain outside 1 +- calibration_module.maxGainDeviation is refused through calib.fault. A host without module support returns NaN. Called per sample while a module is switched on (cal_module), the third host call. */
#define SCALE_ABI_MODULE_CALIB_GAIN "calib"
#define SCALE_ABI_SIG_CALIB_GAIN "(FFFF)F"
/* calib.curve: Asks the installed module for its curve at this temperature (calibration_module, cal_curve, with the `other` budget): the number of knots it declares, which calib.knot then reads. A negative answer: none (no module, a trap, a budget overrun, or the module's own error; the host rolls a failed module back). Called when a module is switched on, after a fit through it, and when env_temperature changes while it is on. */
#define SCALE_ABI_MODULE_CALIB_CURVE "calib"
#define SCALE_ABI_SIG_CALIB_CURVE "(F)i"
/* calib.knot: Value i of the knots the last calib.curve declared: knot i/2's counts (even i) or kg (odd i), read from the module's memory at cal_knots; NaN outside the declared knots or the module's memory. Called 2n times after each calib.curve answered n. */
#define SCALE_ABI_MODULE_CALIB_KNOT "calib"
#define SCALE_ABI_SIG_CALIB_KNOT "(i)F"
/* calib.fault: The core refused what the module gave in service. The host treats it as the module's failure: rolled back after this sample, the reason decided by the module manager. The core weighs meanwhile with the last curve it accepted (a refused gain: that reading with its built-in curve). Called only when the module misbehaves. */
#define SCALE_ABI_MODULE_CALIB_FAULT "calib"
#define SCALE_ABI_SIG_CALIB_FAULT "(iFF)"
/* calib.fit: Fit the installed module to the recorded points: the host copies them into the module as (counts above zero_counts, kg) pairs and calls its cal_fit, then persists the module's parameters. Called on a calibration command while a module is switched on. */
#define SCALE_ABI_MODULE_CALIB_FIT "calib"
#define SCALE_ABI_SIG_CALIB_FIT "(i*iF)i"
/* sys.panic: The core hit an internal invariant (AssemblyScript abort). The host logs it and instantiates the core again; the call traps right after. Called never in a correct core. */
#define SCALE_ABI_MODULE_SYS_PANIC "sys"
#define SCALE_ABI_SIG_SYS_PANIC "(ii)"

/* Exports the host calls. */
#define SCALE_EXPORT_SCALE_INIT "scale_init"
#define SCALE_EXPORT_IO_PTR "io_ptr"
#define SCALE_EXPORT_IO_CAP "io_cap"
#define SCALE_EXPORT_READING_PTR "reading_ptr"
#define SCALE_EXPORT_HX_ADD_CHIP "hx_add_chip"
#define SCALE_EXPORT_HX_POWER "hx_power"
#define SCALE_EXPORT_SCALE_SAMPLE "scale_sample"
#define SCALE_EXPORT_CONFIG_SET "config_set"
#define SCALE_EXPORT_CONFIG_GET "config_get"
#define SCALE_EXPORT_CMD_TARE "cmd_tare"
#define SCALE_EXPORT_CMD_CLEAR_TARE "cmd_clear_tare"
#define SCALE_EXPORT_CMD_ZERO "cmd_zero"
#define SCALE_EXPORT_CMD_TRIM_EMPTY "cmd_trim_empty"
#define SCALE_EXPORT_CMD_TRIM_CORNER "cmd_trim_corner"
#define SCALE_EXPORT_CMD_TRIM_CLEAR "cmd_trim_clear"
#define SCALE_EXPORT_CAL_SPAN "cal_span"
#define SCALE_EXPORT_CAL_ADD_POINT "cal_add_point"
#define SCALE_EXPORT_CAL_CLEAR_POINTS "cal_clear_points"
#define SCALE_EXPORT_CAL_FIT "cal_fit"
#define SCALE_EXPORT_CAL_RESIDUAL "cal_residual"
#define SCALE_EXPORT_CAL_MODULE "cal_module"
#define SCALE_EXPORT_BUTTON "button"
#define SCALE_EXPORT_ENV_TEMPERATURE "env_temperature"
#define SCALE_EXPORT_BLOB_SAVE "blob_save"
#define SCALE_EXPORT_BLOB_LOAD "blob_load"
#define SCALE_EXPORT_MQTT_SETUP "mqtt_setup"
#define SCALE_EXPORT_MQTT_TOPIC "mqtt_topic"
#define SCALE_EXPORT_MQTT_WILL "mqtt_will"
#define SCALE_EXPORT_MQTT_CONNECTED "mqtt_connected"
#define SCALE_EXPORT_MQTT_MESSAGE "mqtt_message"
#define SCALE_EXPORT_OUT_NEXT "out_next"
#define SCALE_EXPORT_OUT_DONE "out_done"
#define SCALE_EXPORT_OUT_PENDING "out_pending"
#define SCALE_EXPORT_OUT_DROPPED "out_dropped"
#define SCALE_EXPORT_TIME_SYNC "time_sync"
#define SCALE_EXPORT_STATE_DIRTY "state_dirty"
#define SCALE_EXPORT_STATE_SAVE "state_save"
#define SCALE_EXPORT_STATE_LOAD "state_load"
#define SCALE_EXPORT_WAKE_BEGIN "wake_begin"
#define SCALE_EXPORT_WAKE_STEP "wake_step"
#define SCALE_EXPORT_WAKE_SLEEP_MS "wake_sleep_ms"

#define SCALE_FAULT_TIMEOUT (1) /* DOUT did not go low within the ready timeout: chip missing, unpowered or DOUT stuck high */
#define SCALE_FAULT_SATURATED_HIGH (2) /* code 0x7FFFFF: input above full scale, or a power-down mid-read */
#define SCALE_FAULT_SATURATED_LOW (3) /* code 0x800000: input below negative full scale */
#define SCALE_FAULT_LATE (4) /* the read ended too long after the data became ready (a stalled read, or chips whose conversions drifted nearly a period apart): a new conversion may have replaced the later bits */
#define SCALE_FAULT_GAIN_PULSES (5) /* the 25th..27th bits were not all high: a missed or extra pulse */
#define SCALE_FAULT_NO_DOUT_HIGH (6) /* DOUT not high after the last pulse: a missed pulse, or DOUT stuck low */
#define SCALE_FAULT_POWER_DOWN (7) /* a clock high phase exceeded 50 us: the chip powered down during the read */
#define SCALE_FAULT_FROZEN (8) /* the same code repeated more often than noise allows */
#define SCALE_FAULT_HOST (9) /* the host refused a GPIO call */

#define SCALE_ERR_BAD_KEY (-1) /* unknown setting key */
#define SCALE_ERR_BAD_VALUE (-2) /* value out of range or not finite */
#define SCALE_ERR_NOT_STABLE (-3) /* the weight is in motion */
#define SCALE_ERR_OUT_OF_RANGE (-4) /* outside the zero-setting range, or no reading yet */
#define SCALE_ERR_TOO_FEW_POINTS (-5) /* fewer distinct calibration points than the fit order needs */
#define SCALE_ERR_DEGENERATE (-6) /* the points do not determine a usable calibration */
#define SCALE_ERR_FULL (-7) /* no room for another chip or calibration point */
#define SCALE_ERR_BAD_BLOB (-8) /* blob too short, wrong magic, version or checksum */
#define SCALE_ERR_FAULTED (-9) /* the last read was a fault */
#define SCALE_ERR_BAD_JSON (-10) /* a command payload is not one JSON object */
#define SCALE_ERR_BAD_FIELD (-11) /* a command has an unknown, repeated or wrongly typed field, or a string with escapes or over 32 bytes */
#define SCALE_ERR_UNKNOWN_COMMAND (-12) /* the cmd field names no command */
#define SCALE_ERR_MISSING_FIELD (-13) /* the command needs a field it lacks (kg, order, key, value, corner, seconds, piece_kg, pieces) */
#define SCALE_ERR_TOO_LONG (-14) /* the message does not fit the io buffer */
#define SCALE_ERR_NO_DEVICE (-15) /* mqtt_setup has not been given a valid device id */
#define SCALE_ERR_PIECE_TOO_LIGHT (-16) /* a piece weight lighter than 5 divisions or 4 stability bands (STABLE_BAND_D divisions each): rounding and a stable weight's wander could then move the count */

#define SCALE_FLAG_STABLE (1) /* the weight as converted, before spike rejection and smoothing (one value each way excepted), and the weight shown stayed within STABLE_BAND_D divisions for STABLE_MS */
#define SCALE_FLAG_CENTER_ZERO (2) /* gross within a quarter division of zero */
#define SCALE_FLAG_NET (4) /* a tare is active: kg is net */
#define SCALE_FLAG_OVERLOAD (8) /* gross above capacity plus 9 divisions, or the ADC saturated in the loading direction: kg and gross are then absent */
#define SCALE_FLAG_UNDERLOAD (16) /* gross below minus 20 divisions */
#define SCALE_FLAG_UNCALIBRATED (32) /* no calibration for the gain this reading was taken at */
#define SCALE_FLAG_ZERO_RANGE (64) /* gross inside the zero-setting range */
#define SCALE_FLAG_GROSS_NEGATIVE (128) /* gross below zero */
#define SCALE_FLAG_LOW_SUPPLY (256) /* battery mode: a publishing wake browned out (the supply sagged under the radio's current) and publishing backs off until one gets through */
#define SCALE_FLAG_COUNTING (512) /* PIECE_KG is set: the reading carries count */
#define SCALE_FLAG_COUNT_STABLE (1024) /* the count is stable: the weight is, and the net weight is within COUNT_TOLERANCE of a piece of a whole number of pieces */

#define SCALE_TOPIC_STATE (0) /* wasm-scale/<id>/state: a JSON reading */
#define SCALE_TOPIC_STATUS (1) /* wasm-scale/<id>/status: online / offline, retained (the will) */
#define SCALE_TOPIC_CMD (2) /* wasm-scale/<id>/cmd: JSON commands in */
#define SCALE_TOPIC_RESULT (3) /* wasm-scale/<id>/result: accepted / rejected with a reason, for every command */
#define SCALE_TOPIC_HA_STATUS (4) /* homeassistant/status: online re-announces discovery */
#define SCALE_TOPIC_GAP (5) /* wasm-scale/<id>/gap: readings dropped while offline */
#define SCALE_TOPIC_RAW (6) /* wasm-scale/<id>/raw: while a record command runs, what the core was given, in binary batches (docs/simulator.md, Recording on the device) */
#define SCALE_TOPIC_MODULE (7) /* wasm-scale/<id>/module: calibration module transfer to the host (calibration_module.transfer); the core does not read it */

#define SCALE_WAKE_SAMPLE (0) /* wake_step: the wake's reading is not done; sample on */
#define SCALE_WAKE_SLEEP (1) /* wake_step: the reading is queued and the chips are down; sleep for wake_sleep_ms */
#define SCALE_WAKE_PUBLISH (2) /* wake_step: the reading is queued; connect, publish everything (out_next until 0), answer the commands waiting, then sleep */

#define SCALE_CAUSE_TIMER (0) /* wake_begin: the sleep timer (or any boot that is not a brown-out) */
#define SCALE_CAUSE_BROWNOUT (1) /* wake_begin: the chip was reset by its brown-out detector (the cells sagged, usually under the radio's transmit current) */

#define SCALE_BLOB_CALIBRATION (0) /* calibration, zero, tare and recorded points */
#define SCALE_BLOB_CONFIG (1) /* every setting in codes.config */

#define SCALE_CFG_GAIN (0) /* 128 (channel A), 64 (channel A) or 32 (channel B) */
#define SCALE_CFG_SETTLE_DISCARD (1) /* conversions discarded after power-up, reset or a gain change */
#define SCALE_CFG_SPIKE_MODE (2) /* 0 off, 1 median, 2 trimmed mean */
#define SCALE_CFG_SPIKE_WINDOW (3) /* samples in the spike filter window (an even window's median averages the two middle samples) */
#define SCALE_CFG_SPIKE_TRIM (4) /* samples dropped from each end by the trimmed mean */
#define SCALE_CFG_SMOOTH_MODE (5) /* 0 off, 1 moving average, 2 EMA, 3 adaptive */
#define SCALE_CFG_SMOOTH_WINDOW (6) /* samples in the moving average */
#define SCALE_CFG_SMOOTH_ALPHA (7) /* EMA weight of a new sample; the adaptive filter's weight at rest */
#define SCALE_CFG_ADAPT_THRESHOLD_D (8) /* a departure larger than this many divisions is a load change */
#define SCALE_CFG_ADAPT_CONFIRM (9) /* consecutive departing samples that confirm a load change */
#define SCALE_CFG_DIVISION_KG (10) /* display division d */
#define SCALE_CFG_CAPACITY_KG (11) /* maximum capacity */
#define SCALE_CFG_STABLE_BAND_D (12) /* stability band in divisions */
#define SCALE_CFG_STABLE_MS (13) /* the weight is stable when it stays inside the band for this long (the same at 10 and 80 SPS) */
#define SCALE_CFG_ZERO_TRACK_D_PER_S (14) /* zero-tracking rate limit; 0 disables zero tracking */
#define SCALE_CFG_ZERO_TRACK_RANGE_D (15) /* zero tracking acts only while |gross| is within this many divisions */
#define SCALE_CFG_ZERO_RANGE_PCT (16) /* zero-setting range in percent of capacity, in total (OIML R76: 4, i.e. -2 % .. +2 % around the initial zero), zero tracking included */
#define SCALE_CFG_READY_TIMEOUT_MS (17) /* longest wait for DOUT low */
#define SCALE_CFG_FROZEN_COUNT (18) /* identical consecutive codes that make a FROZEN fault; 0 disables */
#define SCALE_CFG_PUBLISH_MS (19) /* a reading is queued for MQTT at most this often (a fault, or its end, at once); 0 queues every reading */
#define SCALE_CFG_OUTBOX_CAPACITY (20) /* readings kept for publishing while the broker is unreachable; the oldest are dropped beyond it */
#define SCALE_CFG_RATE_SPS (21) /* the HX711 output rate set by its RATE pin: 10 or 80; reads older than 80 % of a conversion period are refused */
#define SCALE_CFG_INITIAL_ZERO_PCT (22) /* initial zero-setting range in percent of capacity, in total (R76: up to 20): at power-up a stable load that close to the calibrated zero becomes zero; 0 keeps the stored zero (a monitoring scale may restart loaded) */
#define SCALE_CFG_WAKE_INTERVAL_S (23) /* battery mode: the scale wakes this often (seconds), takes one reading and sleeps; 0 keeps it awake, sampling continuously */
#define SCALE_CFG_PUBLISH_EVERY (24) /* battery mode: connect and publish every this many wakes; the readings in between wait in the outbox */
#define SCALE_CFG_PUBLISH_CHANGE_KG (25) /* battery mode: publish at once when the weight moved more than this since the last publishing wake; 0 disables */
#define SCALE_CFG_WAKE_SAMPLE_MS (26) /* battery mode: longest time a wake samples for a stable reading; then the last reading is kept as it is (motion or fault) */
#define SCALE_CFG_CONNECT_BUDGET_MS (27) /* battery mode: longest time a publishing wake spends on WiFi, TLS and MQTT; then the host gives up, keeps the readings and sleeps */
#define SCALE_CFG_PIECE_KG (28) /* piece counting: the weight of one piece (set directly, by the count command or by count_sample); 0 counts nothing. At least 5 divisions and 4 stability bands (PIECE_TOO_LIGHT) */
#define SCALE_CFG_COUNT_TOLERANCE (29) /* piece counting: how far from a whole number of pieces (in pieces) the net weight may be for the count to be stable */
#define SCALE_CFG_COUNT_REFINE (30) /* piece counting: 1 refines the piece weight as pieces are added (a stable count above the pieces it was last taken from, within half the tolerance, gives it again); 0 keeps it */
#define SCALE_CFG_BUTTON_CAL_KG (31) /* the button: the reference weight a very long press calibrates with; 0 refuses button calibration */

/* The commands by index (a recording's 'X' records, the button export's result). */
#define SCALE_COMMAND_NAMES {"tare", "clear_tare", "zero", "calibrate", "cal_point", "cal_clear", "cal_fit", "config", "trim_empty", "trim_corner", "trim_clear", "record", "count", "count_sample"}
#define SCALE_COMMAND_COUNT 14

#define SCALE_ABI_READING_SIZE 36
#define SCALE_ABI_READING_SEQ 0 /* u32 increments for every reading and fault report */
#define SCALE_ABI_READING_T_MS 4 /* u32 host monotonic time of the conversion */
#define SCALE_ABI_READING_KG 8 /* f32 net if a tare is active, else gross, rounded to the division; NaN on a fault */
#define SCALE_ABI_READING_GROSS_KG 12 /* f32 gross weight rounded to the division; NaN on a fault */
#define SCALE_ABI_READING_RAW 16 /* i32 sum of the decoded 24-bit codes of all chips */
#define SCALE_ABI_READING_COUNTS 20 /* f32 filtered counts the weight was computed from */
#define SCALE_ABI_READING_FLAGS 24 /* u32 codes.flag bits */
#define SCALE_ABI_READING_FAULT 28 /* i32 codes.fault code in the low byte, chip index in the next byte; 0 when none */
#define SCALE_ABI_READING_COUNT 32 /* i32 the net weight in pieces of PIECE_KG, rounded; 0 when counting is off (flag COUNTING) or on a fault */
