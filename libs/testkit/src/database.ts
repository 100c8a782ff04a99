import pg from "pg";
import { randomBytes } from "node:crypto";
import { withUser } from "@galaxy/db";

async function admin<T>(bootstrapUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withUser(bootstrapUrl, new URL(bootstrapUrl).username || "postgres", "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops a test database, closing whatever connections a crashed test left on it. */
export async function dropDatabase(bootstrapUrl: string, name: string): Promise<void> {
  await admin(bootstrapUrl, async (client) => {
    await client.query(`drop database if exists "${name}" with (force)`);
  });
}

/** Creates an empty database (the template a run migrates once). */
export async function createDatabase(bootstrapUrl: string, name: string): Promise<void> {
  await admin(bootstrapUrl, async (client) => {
    await client.query(`create database "${name}"`);
  });
}

/**
 * Clones the migrated template into a database of the test's own; returns its bootstrap URL.
 * Cloning takes tens of milliseconds, where migrating would take seconds.
 */
export async function cloneDatabase(bootstrapUrl: string, template: string): Promise<{ name: string; url: string }> {
  const name = `galaxy_test_${randomBytes(6).toString("hex")}`;
  await admin(bootstrapUrl, async (client) => {
    await client.query(`create database "${name}" template "${template}"`);
  });
  return { name, url: withUser(bootstrapUrl, new URL(bootstrapUrl).username || "postgres", name) };
}
