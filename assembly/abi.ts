// Generated from assembly/abi.json by host/gen-abi.ts (npm run abi). Do not edit.

export const ABI_VERSION: i32 = 6;

/** DOUT did not go low within the ready timeout: chip missing, unpowered or DOUT stuck high */
export const FAULT_TIMEOUT: i32 = 1;
/** code 0x7FFFFF: input above full scale, or a power-down mid-read */
export const FAULT_SATURATED_HIGH: i32 = 2;
/** code 0x800000: input below negative full scale */
export const FAULT_SATURATED_LOW: i32 = 3;
/** the read ended too long after the data became ready (a stalled read, or chips whose conversions drifted nearly a period apart): a new conversion may have replaced the later bits */
export const FAULT_LATE: i32 = 4;
/** the 25th..27th bits were not all high: a missed or extra pulse */
export const FAULT_GAIN_PULSES: i32 = 5;
/** DOUT not high after the last pulse: a missed pulse, or DOUT stuck low */
export const FAULT_NO_DOUT_HIGH: i32 = 6;
/** a clock high phase exceeded 50 us: the chip powered down during the read */
export const FAULT_POWER_DOWN: i32 = 7;
/** the same code repeated more often than noise allows */
export const FAULT_FROZEN: i32 = 8;
/** the host refused a GPIO call */
export const FAULT_HOST: i32 = 9;

/** unknown setting key */
export const ERR_BAD_KEY: i32 = -1;
/** value out of range or not finite */
export const ERR_BAD_VALUE: i32 = -2;
/** the weight is in motion */
export const ERR_NOT_STABLE: i32 = -3;
/** outside the zero-setting range, or no reading yet */
export const ERR_OUT_OF_RANGE: i32 = -4;
/** fewer distinct calibration points than the fit order needs */
export const ERR_TOO_FEW_POINTS: i32 = -5;
/** the points do not determine a usable calibration */
export const ERR_DEGENERATE: i32 = -6;
/** no room for another chip or calibration point */
export const ERR_FULL: i32 = -7;
/** blob too short, wrong magic, version or checksum */
export const ERR_BAD_BLOB: i32 = -8;
/** the last read was a fault */
export const ERR_FAULTED: i32 = -9;
/** a command payload is not one JSON object */
export const ERR_BAD_JSON: i32 = -10;
/** a command has an unknown, repeated or wrongly typed field, or a string with escapes or over 32 bytes */
export const ERR_BAD_FIELD: i32 = -11;
/** the cmd field names no command */
export const ERR_UNKNOWN_COMMAND: i32 = -12;
/** the command needs a field it lacks (kg, order, key, value, corner, seconds, piece_kg, pieces) */
export const ERR_MISSING_FIELD: i32 = -13;
/** the message does not fit the io buffer */
export const ERR_TOO_LONG: i32 = -14;
/** mqtt_setup has not been given a valid device id */
export const ERR_NO_DEVICE: i32 = -15;
/** a piece weight lighter than 5 divisions or 4 stability bands (STABLE_BAND_D divisions each): rounding and a stable weight's wander could then move the count */
export const ERR_PIECE_TOO_LIGHT: i32 = -16;

/** the weight as converted, before spike rejection and smoothing (one value each way excepted), and the weight shown stayed within STABLE_BAND_D divisions for STABLE_MS */
export const FLAG_STABLE: i32 = 1;
/** gross within a quarter division of zero */
export const FLAG_CENTER_ZERO: i32 = 2;
/** a tare is active: kg is net */
export const FLAG_NET: i32 = 4;
/** gross above capacity plus 9 divisions, or the ADC saturated in the loading direction: kg and gross are then absent */
export const FLAG_OVERLOAD: i32 = 8;
/** gross below minus 20 divisions */
export const FLAG_UNDERLOAD: i32 = 16;
/** no calibration for the gain this reading was taken at */
export const FLAG_UNCALIBRATED: i32 = 32;
/** gross inside the zero-setting range */
export const FLAG_ZERO_RANGE: i32 = 64;
/** gross below zero */
export const FLAG_GROSS_NEGATIVE: i32 = 128;
/** battery mode: a publishing wake browned out (the supply sagged under the radio's current) and publishing backs off until one gets through */
export const FLAG_LOW_SUPPLY: i32 = 256;
/** PIECE_KG is set: the reading carries count */
export const FLAG_COUNTING: i32 = 512;
/** the count is stable: the weight is, and the net weight is within COUNT_TOLERANCE of a piece of a whole number of pieces */
export const FLAG_COUNT_STABLE: i32 = 1024;

/** wasm-scale/<id>/state: a JSON reading */
export const TOPIC_STATE: i32 = 0;
/** wasm-scale/<id>/status: online / offline, retained (the will) */
export const TOPIC_STATUS: i32 = 1;
/** wasm-scale/<id>/cmd: JSON commands in */
export const TOPIC_CMD: i32 = 2;
/** wasm-scale/<id>/result: accepted / rejected with a reason, for every command */
export const TOPIC_RESULT: i32 = 3;
/** homeassistant/status: online re-announces discovery */
export const TOPIC_HA_STATUS: i32 = 4;
/** wasm-scale/<id>/gap: readings dropped while offline */
export const TOPIC_GAP: i32 = 5;
/** wasm-scale/<id>/raw: while a record command runs, what the core was given, in binary batches (docs/simulator.md, Recording on the device) */
export const TOPIC_RAW: i32 = 6;
/** wasm-scale/<id>/module: calibration module transfer to the host (calibration_module.transfer); the core does not read it */
export const TOPIC_MODULE: i32 = 7;

/** wake_step: the wake's reading is not done; sample on */
export const WAKE_SAMPLE: i32 = 0;
/** wake_step: the reading is queued and the chips are down; sleep for wake_sleep_ms */
export const WAKE_SLEEP: i32 = 1;
/** wake_step: the reading is queued; connect, publish everything (out_next until 0), answer the commands waiting, then sleep */
export const WAKE_PUBLISH: i32 = 2;

/** wake_begin: the sleep timer (or any boot that is not a brown-out) */
export const CAUSE_TIMER: i32 = 0;
/** wake_begin: the chip was reset by its brown-out detector (the cells sagged, usually under the radio's transmit current) */
export const CAUSE_BROWNOUT: i32 = 1;

/** calibration, zero, tare and recorded points */
export const BLOB_CALIBRATION: i32 = 0;
/** every setting in codes.config */
export const BLOB_CONFIG: i32 = 1;

/** 128 (channel A), 64 (channel A) or 32 (channel B) */
export const CFG_GAIN: i32 = 0;
/** conversions discarded after power-up, reset or a gain change */
export const CFG_SETTLE_DISCARD: i32 = 1;
/** 0 off, 1 median, 2 trimmed mean */
export const CFG_SPIKE_MODE: i32 = 2;
/** samples in the spike filter window (an even window's median averages the two middle samples) */
export const CFG_SPIKE_WINDOW: i32 = 3;
/** samples dropped from each end by the trimmed mean */
export const CFG_SPIKE_TRIM: i32 = 4;
/** 0 off, 1 moving average, 2 EMA, 3 adaptive */
export const CFG_SMOOTH_MODE: i32 = 5;
/** samples in the moving average */
export const CFG_SMOOTH_WINDOW: i32 = 6;
/** EMA weight of a new sample; the adaptive filter's weight at rest */
export const CFG_SMOOTH_ALPHA: i32 = 7;
/** a departure larger than this many divisions is a load change */
export const CFG_ADAPT_THRESHOLD_D: i32 = 8;
/** consecutive departing samples that confirm a load change */
export const CFG_ADAPT_CONFIRM: i32 = 9;
/** display division d */
export const CFG_DIVISION_KG: i32 = 10;
/** maximum capacity */
export const CFG_CAPACITY_KG: i32 = 11;
/** stability band in divisions */
export const CFG_STABLE_BAND_D: i32 = 12;
/** the weight is stable when it stays inside the band for this long (the same at 10 and 80 SPS) */
export const CFG_STABLE_MS: i32 = 13;
/** zero-tracking rate limit; 0 disables zero tracking */
export const CFG_ZERO_TRACK_D_PER_S: i32 = 14;
/** zero tracking acts only while |gross| is within this many divisions */
export const CFG_ZERO_TRACK_RANGE_D: i32 = 15;
/** zero-setting range in percent of capacity, in total (OIML R76: 4, i.e. -2 % .. +2 % around the initial zero), zero tracking included */
export const CFG_ZERO_RANGE_PCT: i32 = 16;
/** longest wait for DOUT low */
export const CFG_READY_TIMEOUT_MS: i32 = 17;
/** identical consecutive codes that make a FROZEN fault; 0 disables */
export const CFG_FROZEN_COUNT: i32 = 18;
/** a reading is queued for MQTT at most this often (a fault, or its end, at once); 0 queues every reading */
export const CFG_PUBLISH_MS: i32 = 19;
/** readings kept for publishing while the broker is unreachable; the oldest are dropped beyond it */
export const CFG_OUTBOX_CAPACITY: i32 = 20;
/** the HX711 output rate set by its RATE pin: 10 or 80; reads older than 80 % of a conversion period are refused */
export const CFG_RATE_SPS: i32 = 21;
/** initial zero-setting range in percent of capacity, in total (R76: up to 20): at power-up a stable load that close to the calibrated zero becomes zero; 0 keeps the stored zero (a monitoring scale may restart loaded) */
export const CFG_INITIAL_ZERO_PCT: i32 = 22;
/** battery mode: the scale wakes this often (seconds), takes one reading and sleeps; 0 keeps it awake, sampling continuously */
export const CFG_WAKE_INTERVAL_S: i32 = 23;
/** battery mode: connect and publish every this many wakes; the readings in between wait in the outbox */
export const CFG_PUBLISH_EVERY: i32 = 24;
/** battery mode: publish at once when the weight moved more than this since the last publishing wake; 0 disables */
export const CFG_PUBLISH_CHANGE_KG: i32 = 25;
/** battery mode: longest time a wake samples for a stable reading; then the last reading is kept as it is (motion or fault) */
export const CFG_WAKE_SAMPLE_MS: i32 = 26;
/** battery mode: longest time a publishing wake spends on WiFi, TLS and MQTT; then the host gives up, keeps the readings and sleeps */
export const CFG_CONNECT_BUDGET_MS: i32 = 27;
/** piece counting: the weight of one piece (set directly, by the count command or by count_sample); 0 counts nothing. At least 5 divisions and 4 stability bands (PIECE_TOO_LIGHT) */
export const CFG_PIECE_KG: i32 = 28;
/** piece counting: how far from a whole number of pieces (in pieces) the net weight may be for the count to be stable */
export const CFG_COUNT_TOLERANCE: i32 = 29;
/** piece counting: 1 refines the piece weight as pieces are added (a stable count above the pieces it was last taken from, within half the tolerance, gives it again); 0 keeps it */
export const CFG_COUNT_REFINE: i32 = 30;
/** the button: the reference weight a very long press calibrates with; 0 refuses button calibration */
export const CFG_BUTTON_CAL_KG: i32 = 31;

export const CFG_COUNT: i32 = 32;
/** Names by key, comma-separated (JSON payloads and commands). */
export const CFG_NAMES = "GAIN,SETTLE_DISCARD,SPIKE_MODE,SPIKE_WINDOW,SPIKE_TRIM,SMOOTH_MODE,SMOOTH_WINDOW,SMOOTH_ALPHA,ADAPT_THRESHOLD_D,ADAPT_CONFIRM,DIVISION_KG,CAPACITY_KG,STABLE_BAND_D,STABLE_MS,ZERO_TRACK_D_PER_S,ZERO_TRACK_RANGE_D,ZERO_RANGE_PCT,READY_TIMEOUT_MS,FROZEN_COUNT,PUBLISH_MS,OUTBOX_CAPACITY,RATE_SPS,INITIAL_ZERO_PCT,WAKE_INTERVAL_S,PUBLISH_EVERY,PUBLISH_CHANGE_KG,WAKE_SAMPLE_MS,CONNECT_BUDGET_MS,PIECE_KG,COUNT_TOLERANCE,COUNT_REFINE,BUTTON_CAL_KG";
/** Names by -code, comma-separated (index 0 is unused). */
export const ERR_NAMES = ",BAD_KEY,BAD_VALUE,NOT_STABLE,OUT_OF_RANGE,TOO_FEW_POINTS,DEGENERATE,FULL,BAD_BLOB,FAULTED,BAD_JSON,BAD_FIELD,UNKNOWN_COMMAND,MISSING_FIELD,TOO_LONG,NO_DEVICE,PIECE_TOO_LIGHT";
/** Names by code, comma-separated (index 0 is unused). */
export const FAULT_NAMES = ",TIMEOUT,SATURATED_HIGH,SATURATED_LOW,LATE,GAIN_PULSES,NO_DOUT_HIGH,POWER_DOWN,FROZEN,HOST";
export const CFG_DEFAULT: StaticArray<f32> = [128, 4, 1, 5, 1, 3, 8, 0.1, 4, 2, 0.01, 50, 1, 1000, 0.5, 0.5, 4, 500, 16, 1000, 256, 10, 0, 0, 4, 0, 5000, 20000, 0, 0.25, 0, 0];
export const CFG_MIN: StaticArray<f32> = [32, 0, 0, 1, 0, 0, 1, 0.001, 0.1, 1, 0.000001, 0.001, 0.1, 200, 0, 0, 0, 1, 0, 0, 1, 10, 0, 0, 1, 0, 500, 2000, 0, 0.05, 0, 0];
export const CFG_MAX: StaticArray<f32> = [128, 16, 2, 15, 7, 3, 64, 1, 1000, 8, 1000, 1000000, 100, 5000, 0.5, 100, 20, 2000, 1000, 3600000, 256, 80, 20, 86400, 1000, 1000000, 60000, 120000, 1000000, 0.45, 1, 1000000];

/** The commands by index, comma-separated. */
export const COMMAND_NAMES = "tare,clear_tare,zero,calibrate,cal_point,cal_clear,cal_fit,config,trim_empty,trim_corner,trim_clear,record,count,count_sample";

export const READING_SIZE: i32 = 36;
export const READING_SEQ: i32 = 0;
export const READING_T_MS: i32 = 4;
export const READING_KG: i32 = 8;
export const READING_GROSS_KG: i32 = 12;
export const READING_RAW: i32 = 16;
export const READING_COUNTS: i32 = 20;
export const READING_FLAGS: i32 = 24;
export const READING_FAULT: i32 = 28;
export const READING_COUNT: i32 = 32;
