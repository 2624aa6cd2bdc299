import { crc32, blobSeal, blobOpen, BLOB_HEADER } from "../blob";

const buf = memory.data(64);

describe("crc32", () => {
  it("matches the IEEE check value for \"123456789\"", () => {
    for (let i = 0; i < 9; i++) store<u8>(buf + i, <u8>(0x31 + i));
    expect<u32>(crc32(buf, 9)).toBe(0xCBF43926);
  });
  it("is 0 for no bytes", () => {
    expect<u32>(crc32(buf, 0)).toBe(0);
  });
});

describe("blob framing", () => {
  it("round-trips a payload", () => {
    store<u32>(buf + BLOB_HEADER, 0xDEADBEEF);
    const len = blobSeal(buf, 1, 1, 4);
    expect<i32>(len).toBe(16);
    expect<i32>(blobOpen(buf, len, 1, 1)).toBe(4);
  });
  it("rejects a flipped bit, a wrong kind, version or length", () => {
    store<u32>(buf + BLOB_HEADER, 0xDEADBEEF);
    const len = blobSeal(buf, 1, 1, 4);
    expect<i32>(blobOpen(buf, len, 0, 1)).toBe(-1);
    expect<i32>(blobOpen(buf, len, 1, 2)).toBe(-1);
    expect<i32>(blobOpen(buf, len - 1, 1, 1)).toBe(-1);
    expect<i32>(blobOpen(buf, 3, 1, 1)).toBe(-1);
    store<u8>(buf + BLOB_HEADER + 2, load<u8>(buf + BLOB_HEADER + 2) ^ 0x10);
    expect<i32>(blobOpen(buf, len, 1, 1)).toBe(-1);
  });
});
