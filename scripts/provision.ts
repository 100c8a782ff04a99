import { bootstrapService, ensureDatabase, migrateService } from "@galaxy/db";
import { SERVICE_MIGRATIONS } from "./migrations";

/**
 * Creates the database, each service's roles and schema, and runs every migration as the
 * schema's owner. Safe to run again: it does only what is missing.
 */
export async function provisionDatabase(bootstrapUrl: string, log: (line: string) => void = () => {}): Promise<void> {
  await ensureDatabase(bootstrapUrl);
  for (const [service, migrations] of SERVICE_MIGRATIONS) {
    await bootstrapService(bootstrapUrl, service);
    const result = await migrateService(bootstrapUrl, service, migrations);
    const applied = result.results?.filter((r) => r.status === "Success").map((r) => r.migrationName) ?? [];
    log(`${service}: ${applied.length > 0 ? `applied ${applied.join(", ")}` : "up to date"}`);
  }
}
