// Home Assistant MQTT discovery: the weight, status and piece count sensors and the tare and zero
// buttons, retained, announced on every connection and whenever Home Assistant says it is back online.
import { TOPIC_STATE, TOPIC_STATUS, TOPIC_CMD } from "./abi";
import { wStr, wByte, wInt } from "./json";
import { HA_ROOT, wTopic, wDeviceId, frameOpen, frameTopicEnd } from "./topics";
import { decimals } from "./outbox";
import { expireAfterS } from "./duty";

/** The version of the core, as Home Assistant shows it (package.json's, checked by a test). */
export const CORE_VERSION = "0.2.0";
export const ENTITIES: i32 = 5;

function wDevice(): void {
  wStr(",\"availability_topic\":\"");
  wTopic(TOPIC_STATUS);
  wStr("\",\"device\":{\"identifiers\":[\"wasm-scale-");
  wDeviceId();
  wStr("\"],\"name\":\"wasm-scale ");
  wDeviceId();
  wStr("\",\"manufacturer\":\"wasm-scale\",\"model\":\"HX711 WiFi scale\",\"sw_version\":\"");
  wStr(CORE_VERSION);
  wStr("\"}}");
}

/** Entity e: 0 weight sensor, 1 tare button, 2 zero button, 3 status sensor, 4 piece count sensor. */
export function discoveryFrame(p: usize, cap: i32, e: i32): void {
  frameOpen(p, cap, 1, true);
  wStr(HA_ROOT);
  wStr(e == 1 || e == 2 ? "button/" : "sensor/");
  wDeviceId();
  wStr(e == 0 ? "/weight" : e == 1 ? "/tare" : e == 2 ? "/zero" : e == 3 ? "/status" : "/count");
  wStr("/config");
  frameTopicEnd(p);
  wStr("{\"name\":\"");
  wStr(e == 0 ? "Weight" : e == 1 ? "Tare" : e == 2 ? "Zero" : e == 3 ? "Status" : "Count");
  wStr("\",\"unique_id\":\"wasm-scale-");
  wDeviceId();
  wStr(e == 0 ? "-weight" : e == 1 ? "-tare" : e == 2 ? "-zero" : e == 3 ? "-status" : "-count");
  wByte(0x22);
  if (e == 1 || e == 2) {
    wStr(",\"command_topic\":\"");
    wTopic(TOPIC_CMD);
    wStr(e == 1 ? "\",\"payload_press\":\"{\\\"cmd\\\":\\\"tare\\\"}\"" : "\",\"payload_press\":\"{\\\"cmd\\\":\\\"zero\\\"}\"");
  } else {
    wStr(",\"state_topic\":\"");
    wTopic(TOPIC_STATE);
    if (e == 0) {
      wStr("\",\"value_template\":\"{{ value_json.kg }}\",\"unit_of_measurement\":\"kg\",\"device_class\":\"weight\",\"state_class\":\"measurement\"");
      wStr(",\"suggested_display_precision\":");
      wInt(<i64>decimals());
    } else if (e == 3) {
      wStr("\",\"value_template\":\"{{ value_json.status }}\",\"icon\":\"mdi:scale\"");
    } else {
      // Readings carry a count only while counting (PIECE_KG set): unknown otherwise.
      wStr("\",\"value_template\":\"{{ value_json.count if value_json.count is defined else None }}\",\"unit_of_measurement\":\"pcs\",\"state_class\":\"measurement\",\"icon\":\"mdi:counter\"");
    }
    // Battery mode: the state goes unavailable when three publishing periods bring nothing (the
    // device sleeps between connections, so the will never tells that it is gone).
    const expire = expireAfterS();
    if (expire > 0) {
      wStr(",\"expire_after\":");
      wInt(<i64>expire);
    }
  }
  wDevice();
}
