// What a slot holds, for the managers' mgr_list: the fields every package has, written as JSON
// (the module manager adds a module's parameters; the core manager closes the entry).
import { wByte, wStr } from "../json";
import { mName, mVersion, mSha, mKey, mKeyLen } from "./package";
import { dVersion, nameLength } from "./out";
import { slotLetter } from "./slots";

/**
 * {"slot":..,"kind":..,"role":..,"name":..,"version":..,"sha256":..[,"key":..],"trial":.. of the
 * package read last (readPackage) in slot, left open for the kind's own fields. role: 0 active, 1
 * previous, 2 spare.
 */
export function wSlot(slot: i32, core: bool, role: i32, trial: bool): void {
  wStr("{\"slot\":\"");
  wByte(slotLetter(slot));
  if (core) wStr("\",\"kind\":\"core\",\"role\":\"");
  else wStr("\",\"kind\":\"module\",\"role\":\"");
  wStr(role == 0 ? "active" : role == 1 ? "previous" : "spare");
  wStr("\",\"name\":\"");
  for (let i = 0; i < nameLength(mName); i++) wByte(load<u8>(mName + <usize>i));
  wStr("\",\"version\":\"");
  dVersion(mVersion);
  wStr("\",\"sha256\":\"");
  for (let i = 0; i < 32; i++) {
    const b = <i32>load<u8>(mSha + <usize>i);
    wByte("0123456789abcdef".charCodeAt(b >> 4));
    wByte("0123456789abcdef".charCodeAt(b & 15));
  }
  wByte(0x22);
  if (mKeyLen) {
    wStr(",\"key\":\"");
    for (let i = 0; i < mKeyLen; i++) wByte(load<u8>(mKey + <usize>i));
    wByte(0x22);
  }
  wStr(",\"trial\":");
  wStr(trial ? "true" : "false");
}
