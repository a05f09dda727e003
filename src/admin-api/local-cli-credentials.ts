// The CLI beside a server on the embedded database (docs/ADMIN-API.md, "The CLI"): the server holds the database
// exclusively, so the CLI goes through the admin API instead, with a key the server makes at each start and writes
// into its data directory (0600). Whoever can read that directory can read the database itself, so the key gives
// nobody a right they did not have. It is never stored in the database, dies with the process, is accepted only from
// a loopback address, and its caller is the CLI operator (actor `cli`), as when the CLI opens the database itself.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_CLI_FILE } from './invoke.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

export class LocalCliKey {
  readonly #key = `ghcli_${randomBytes(32).toString('base64url')}`;
  readonly #digest = digest(this.#key);
  #file: string | undefined;

  /** Whether a bearer value is this key (constant time). */
  matches(presented: string): boolean {
    return presented.startsWith('ghcli_') && timingSafeEqual(digest(presented), this.#digest);
  }

  /** Writes the file the CLI reads: the server's issuer, its loopback URL and the key. */
  async write(dataDir: string, where: { issuer: string; url: string }): Promise<void> {
    const file = join(dataDir, LOCAL_CLI_FILE);
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify({ issuer: where.issuer, url: where.url, key: this.#key }, null, 2)}\n`, { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, file);
    this.#file = file;
  }

  /** Removes the file at shutdown: a stopped server's key opens nothing, and the CLI then opens the database. */
  async remove(): Promise<void> {
    if (this.#file) await rm(this.#file, { force: true });
  }
}

/** Whether an address is the loopback (IPv4, IPv6, or IPv4-mapped). */
export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}
