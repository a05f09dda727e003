// For the knex CLI and tooling. Gatehouse itself runs migrations at start and through `gatehouse migrate`.
import { migrationConfig } from './src/db/migrations.js';

export default {
  client: 'pg',
  connection: process.env.DATABASE_URL,
  migrations: migrationConfig,
};
