// Who may do what on the embedded broker, from the common name of the client's certificate:
//   "subscriber"        the built-in subscriber, the web view and the command-line tools: reads
//                       every scale's topics and Home Assistant's, sends commands and modules to any;
//   "<name>@<device>"   a person or tool for one scale (`certs --device-id me@scale1`): reads
//                       wasm-scale/<device>/#, sends its commands and modules;
//   anything else       a scale, whose id it is: publishes under wasm-scale/<id>/ (not its own
//                       commands or modules) and its own Home Assistant discovery, reads its
//                       commands, modules and homeassistant/status.
// The same rules as the Mosquitto ACL the tests use (tests/brokers.ts). A client id belongs to the
// certificate that first used it: another certificate cannot take it over.

export type Identity =
  | { kind: "device"; id: string }
  | { kind: "operator"; device: string | null /* null: every scale */ };

export const SUBSCRIBER = "subscriber";

export function identityOf(commonName: string): Identity {
  if (commonName === SUBSCRIBER) return { kind: "operator", device: null };
  const at = commonName.lastIndexOf("@");
  if (at > 0 && at < commonName.length - 1) return { kind: "operator", device: commonName.slice(at + 1) };
  return { kind: "device", id: commonName };
}

/** True when every topic `filter` matches is matched by `allowed` (both MQTT filters). */
export function within(filter: string, allowed: string): boolean {
  const f = filter.split("/");
  const a = allowed.split("/");
  for (let i = 0; i < f.length; i++) {
    if (a[i] === "#") return true;
    if (a[i] === undefined) return false;
    if (f[i] === "#") return false; // the filter reaches further than `allowed` lets it
    if (a[i] === "+") continue;
    if (f[i] === "+" || f[i] !== a[i]) return false;
  }
  return f.length === a.length;
}

/** A device id is one topic level of plain characters (as the core accepts it). */
function level(id: string): boolean {
  return id.length > 0 && !/[/+#\u0000]/.test(id);
}

function publishable(who: Identity): string[] {
  if (who.kind === "device") {
    return level(who.id) ? [`wasm-scale/${who.id}/+`, `homeassistant/+/${who.id}/+/config`] : [];
  }
  const d = who.device ?? "+";
  if (who.device !== null && !level(who.device)) return [];
  return [`wasm-scale/${d}/cmd`, `wasm-scale/${d}/module/#`, ...(who.device === null ? ["homeassistant/status"] : [])];
}

function readable(who: Identity): string[] {
  if (who.kind === "device") return level(who.id) ? [`wasm-scale/${who.id}/cmd`, `wasm-scale/${who.id}/module/#`, "homeassistant/status"] : [];
  if (who.device === null) return ["wasm-scale/#", "homeassistant/#"];
  return level(who.device) ? [`wasm-scale/${who.device}/#`] : [];
}

export function mayPublish(who: Identity, topic: string): boolean {
  if (topic.includes("+") || topic.includes("#")) return false;
  if (who.kind === "device" && (topic === `wasm-scale/${who.id}/cmd` || topic.startsWith(`wasm-scale/${who.id}/module/`))) return false;
  return publishable(who).some((p) => within(topic, p));
}

export function maySubscribe(who: Identity, filter: string): boolean {
  return readable(who).some((p) => within(filter, p));
}
