// The module topic on the desktop: each message handed to the module manager, which answers every
// step (abi.json calibration_module.transfer); the answers go out through `answer`.
import type { ModuleEvent, ModuleManager } from "./manager.js";

export interface TransferAnswer extends ModuleEvent {
  cmd: "module" | "core" | "firmware";
}

/** The answer as the result topic carries it: {"cmd":"module"|"core",...,"module"|"core":{name, version}}. */
export function answerOf(e: ModuleEvent): TransferAnswer {
  const { kind, module, ...rest } = e;
  if (kind) return { cmd: kind, ...rest, ...(module ? { [kind]: module } : {}) } as TransferAnswer;
  return { cmd: "module", ...e };
}

/** One line for a person: the step, its verdict and why. */
export function describeAnswer(e: ModuleEvent | TransferAnswer): string {
  const named = e.module ?? (e as { core?: ModuleEvent["module"] }).core ?? (e as { firmware?: ModuleEvent["module"] }).firmware;
  const what = named ? `${named.name} ${named.version}: ` : "";
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
