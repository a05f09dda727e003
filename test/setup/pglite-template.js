// jest globalSetup: one initialised PGlite data directory per PGlite version, which every test database copies
// (test/helpers/database.ts). A fresh PGlite runs initdb in WebAssembly, about 5 s of CPU; a copy opens in under one.
// Migrations are not applied here: each server still runs them, exactly as `npm start` does on a new data dir.
// Built in a scratch directory and renamed into place, so an interrupted build never leaves a half template.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export default async function setup() {
  if (process.env.TEST_DATABASE_URL) return;
  const { version } = JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8'));
  const dir = join(tmpdir(), `gatehouse-pglite-template-${version}`);
  process.env.GATEHOUSE_PGLITE_TEMPLATE = dir;
  if (existsSync(join(dir, 'pgdata', 'PG_VERSION'))) return;
  const scratch = mkdtempSync(`${dir}.building-`);
  const db = new PGlite(join(scratch, 'pgdata'));
  await db.query('select 1');
  await db.close();
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(scratch, dir);
  } catch {
    rmSync(scratch, { recursive: true, force: true }); // another run built it first
  }
}
