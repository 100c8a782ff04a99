import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SendPlan, Sent, SenderMessage } from "./sender";

const SENDER = fileURLToPath(new URL("./sender.ts", import.meta.url));

export interface SendRun {
  /** Every delivery, in the order it was made. */
  done: Promise<Sent[]>;
  /** Deliveries answered so far, and accepted (202) so far, as the senders last reported (every 200 ms). */
  progress(): { answered: number; accepted: number };
  /** CPU seconds the senders' process used sending, once `done` resolved. */
  cpuSeconds(): number | undefined;
  /** Stops the senders at once (the run's promise then rejects). */
  abort(): void;
}

/**
 * Signed webhook deliveries from a process of their own (bench/load/sender.ts), so the
 * senders never share an event loop with what they measure nor with the watcher that times
 * the executions. The run gives up after `timeoutMs`.
 */
export function sendDeliveries(plan: SendPlan, timeoutMs: number): SendRun {
  const child = fork(SENDER, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let progress = { answered: 0, accepted: 0 };
  let cpuSeconds: number | undefined;
  const done = new Promise<Sent[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the senders did not finish ${plan.count} deliveries within ${timeoutMs} ms (${progress.answered} answered)`));
    }, timeoutMs);
    child.on("message", (message: SenderMessage) => {
      if (message.type === "progress") progress = { answered: message.answered, accepted: message.accepted };
      else if (message.type === "done") {
        clearTimeout(timer);
        cpuSeconds = message.cpuSeconds;
        resolve(message.sent);
      } else {
        clearTimeout(timer);
        reject(new Error(`the senders failed: ${message.reason}`));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the senders' process exited (${code ?? signal}) before reporting`));
    });
  });
  done.catch(() => undefined);
  child.send(plan);
  return { done, progress: () => progress, cpuSeconds: () => cpuSeconds, abort: () => child.kill("SIGKILL") };
}
