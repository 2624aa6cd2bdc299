// The firmware image itself (ESP32): a signed package that describes an image (its version, size,
// SHA-256 and https:// address) and carries none, sent on <module topic>/firmware. It is checked as
// a module's package is (the manifest, the signature, a version above the running image's); the
// host then fetches the image into its next OTA slot, checks it against the manifest and restarts
// into it, and ESP-IDF's app rollback keeps it only once it has weighed and reached the broker.
import { firmware_version, firmware_fetch } from "./host";
import { readPackage, mKind, KIND_FIRMWARE, mName, mVersion, mSize, mSha, mUrl, mUrlLen } from "./package";
import { checkSignature } from "./package";
import { refuse, say, d, dn, dc, dBytes, dVersion, publish, reason, nameLength } from "./out";

/** The slot the host reads the message being handled from (its payload). */
export const MESSAGE_SLOT: i32 = 4;

function dImage(): void {
  d("firmware ");
  dBytes(mName, nameLength(mName));
  dc(0x20);
  dVersion(mVersion);
}

/** A firmware package of len bytes (the message's payload): checked, then fetched by the host. */
export function firmwareInstall(len: u32): void {
  const running = firmware_version();
  if (running == 0) {
    refuse("BAD_PACKAGE");
    d("this scale's firmware image is not updated over the air (update its core: wasm-scale core install)");
    publish("install", false, reason(), -1, -1, 0, 0);
    return;
  }
  if (!readPackage(MESSAGE_SLOT, len)) {
    publish("install", false, reason(), -1, -1, 0, 0);
    return;
  }
  if (mKind != KIND_FIRMWARE) {
    refuse("BAD_PACKAGE");
    d("not a firmware package (a module or a core is sent in chunks: wasm-scale module|core install)");
    publish("install", false, reason(), -1, -1, 0, 0);
    return;
  }
  if (!checkSignature(MESSAGE_SLOT)) {
    publish("install", false, reason(), -1, -1, mName, mVersion);
    return;
  }
  if (mVersion <= running) {
    refuse("DOWNGRADE");
    dImage();
    d(" is not newer than the ");
    dVersion(running);
    d(" running: versions only go up (ESP-IDF's rollback returns to the image before)");
    publish("install", false, reason(), -1, -1, mName, mVersion);
    return;
  }
  const r = firmware_fetch(mUrl, mUrlLen, mSize, mSha);
  if (r == 0) {
    say();
    dImage();
    d(" (");
    dn(mSize);
    d(" bytes): fetching it; the scale restarts into it once its SHA-256 checks, and keeps it once it has weighed and reached the broker");
    publish("install", true, "", -1, -1, mName, mVersion);
    return;
  }
  if (r == 1) refuse("BUSY");
  else if (r == 2) refuse("TOO_LARGE");
  else refuse("BAD_PACKAGE");
  dImage();
  if (r == 1) d(": another image is being fetched");
  else if (r == 2) d(" does not fit the scale's OTA slot");
  else d(": this scale cannot fetch a firmware image now");
  publish("install", false, reason(), -1, -1, mName, mVersion);
}
