// The module topic on the desktop: each message handed to the module manager, which answers every
// step (abi.json calibration_module.transfer); the answers go out through `answer`.
import type { ModuleEvent, ModuleManager } from "./manager.js";

export interface TransferAnswer extends ModuleEvent {
  cmd: "module";
}

export function answerOf(e: ModuleEvent): TransferAnswer {
  return { cmd: "module", ...e };
}

/** One line for a person: the step, its verdict and why. */
export function describeAnswer(e: ModuleEvent | TransferAnswer): string {
  const what = e.module ? `${e.module.name} ${e.module.version}: ` : "";
  return `${e.step} ${e.status}${e.reason ? ` (${e.reason})` : ""}: ${what}${e.detail}`;
}

export class ModuleTransfer {
  constructor(private readonly manager: ModuleManager, answer: (a: TransferAnswer) => void) {
    manager.onTransfer = (e) => answer(answerOf(e));
  }

  /** A message on the module topic; `sub` is what follows it ("begin", "chunk/4096", "end", "rollback"). */
  handle(sub: string, payload: Uint8Array): void {
    this.manager.message(sub, payload);
  }
}
