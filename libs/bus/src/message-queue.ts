import type { JsMsg } from "@nats-io/jetstream";

/** The messages a consumer has received and not yet taken, in arrival (stream) order. */
export class MessageQueue {
  private items: JsMsg[] = [];
  private ended = false;
  private wake: (() => void) | null = null;
  private touchedAt = Date.now();

  /** Tells JetStream the waiting messages are still wanted, when the last time was `everyMs` ago or more. */
  keepAlive(everyMs: number): void {
    if (Date.now() - this.touchedAt < everyMs) return;
    this.touchedAt = Date.now();
    for (const msg of this.items) msg.working();
  }

  push(msg: JsMsg): void {
    this.items.push(msg);
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  /** Up to `max` messages, waiting for the first and then up to `lingerMs` for more; null once ended and empty. */
  async take(max: number, lingerMs: number): Promise<JsMsg[] | null> {
    while (this.items.length === 0) {
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.items.length < max && lingerMs > 0 && !this.ended) await new Promise((resolve) => setTimeout(resolve, lingerMs));
    return this.items.splice(0, max);
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
