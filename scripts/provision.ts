import { bootstrapService, ensureDatabase, migrateService, serviceLoginPassword } from "@galaxy/db";
import { SERVICE_MIGRATIONS } from "./migrations";

/**
 * Creates the database, each service's roles and schema, and runs every migration as the
 * schema's owner. Each service's login role gets the password its variables name
 * (`GALAXY_<SERVICE>_DB_PASSWORD`, docs/operations.md, Database users), when `env` has one.
 * Safe to run again: it does only what is missing, and sets the passwords again.
 */
export async function provisionDatabase(bootstrapUrl: string, log: (line: string) => void = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await ensureDatabase(bootstrapUrl);
  for (const [service, migrations] of SERVICE_MIGRATIONS) {
    await bootstrapService(bootstrapUrl, service, serviceLoginPassword(service, env));
    const result = await migrateService(bootstrapUrl, service, migrations);
    const applied = result.results?.filter((r) => r.status === "Success").map((r) => r.migrationName) ?? [];
    log(`${service}: ${applied.length > 0 ? `applied ${applied.join(", ")}` : "up to date"}`);
  }
}
