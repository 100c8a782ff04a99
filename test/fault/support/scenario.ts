import { sleep } from "./child";
import { deadLetterHead } from "./streams";
import { driveLoad } from "./load";
import { settle, type Outcome } from "./outcome";
import type { Tenant } from "./tenant";
import type { World } from "./world";

export interface Scenario {
  /** How docs/reliability.md names the fault. */
  fault: string;
  /** Lower-case letters and digits, unique within the world: the prefix of the run's keys. */
  run: string;
  tenants: readonly Tenant[];
  deliveries: number;
  starts: number;
  /** The load is spread over this long. */
  spreadMs: number;
  /** The fault is injected this long after the load begins. */
  faultAfterMs: number;
  /** Injects the fault and undoes it (the engine back, the service restarted). */
  inject(): Promise<void>;
  /** How long a sender resends one item before giving up (default 180 s). */
  giveUpAfterMs?: number;
  /** How long, after the load, every accepted run may take to end (default 120 s). */
  settleTimeoutMs?: number;
}

/**
 * One fault under load: the load begins, the fault is injected and undone while it runs, every
 * service must answer ready again on its own, then the run settles and is counted.
 */
export async function runScenario(world: World, scenario: Scenario): Promise<Outcome> {
  const dlqBefore = await deadLetterHead(world.nats);
  const load = driveLoad(() => world.gatewayUrl, {
    run: scenario.run,
    tenants: scenario.tenants,
    deliveries: scenario.deliveries,
    starts: scenario.starts,
    spreadMs: scenario.spreadMs,
    giveUpAfterMs: scenario.giveUpAfterMs ?? 180_000,
  });
  await sleep(scenario.faultAfterMs);
  await scenario.inject();
  const readyMs = await world.galaxy.waitReady(undefined, 120_000).catch(async (error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${await world.galaxy.tails()}`);
  });
  const results = await load;
  return settle(world, scenario.fault, results, { loadEndedAt: Date.now(), readyMs, dlqBefore, settleTimeoutMs: scenario.settleTimeoutMs ?? 120_000 });
}
