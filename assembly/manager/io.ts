// What both managers (index.ts, cores.ts) show their hosts first: the interface's version, and the
// buffer the host writes what an export reads (state, topic, points, words) and reads answers from.

/** The managers' interface with their hosts (host.ts and the entries' exports). */
const MANAGER_ABI: i32 = 1;
export const IO_CAP: i32 = 2048;
export const io = memory.data(IO_CAP);

export function mgr_abi(): i32 {
  return MANAGER_ABI;
}

/** Where the host writes what an export reads and reads mgr_list's JSON. */
export function mgr_io(): usize {
  return io;
}

export function mgr_io_bytes(): i32 {
  return IO_CAP;
}
