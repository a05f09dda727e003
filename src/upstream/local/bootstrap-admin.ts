// The first administrator for unattended installs (docs/SECURITY.md, "The first administrator"): BOOTSTRAP_ADMIN_EMAIL
// and a password read from BOOTSTRAP_ADMIN_PASSWORD_FILE, a file (a mounted secret) or `-` for standard input. The
// password is never taken from an environment variable's value (config.ts refuses BOOTSTRAP_ADMIN_PASSWORD). Read
// and checked here; created at start by first-admin.ts's createBootstrapAdmin while no administrator exists.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config.js';
import { AccountError, checkPasswordStrength, normaliseEmail } from './accounts.js';

export interface BootstrapAdmin {
  email: string;
  password: string;
}

interface BootstrapSettings {
  BOOTSTRAP_ADMIN_EMAIL?: string | undefined;
  BOOTSTRAP_ADMIN_PASSWORD_FILE?: string | undefined;
}

/** `-` means standard input: only `gatehouse serve` reads it (main.ts), once, before anything else does. */
export const STDIN = '-';

/** One trailing line break (what `echo` and most editors leave) is not part of the password; anything else is. */
const withoutFinalNewline = (text: string) => text.replace(/\r?\n$/, '');

function readPassword(file: string, stdin: () => string): { password: string } | { problem: string } {
  const source = file === STDIN ? 'standard input' : file;
  let text: string;
  try {
    if (file === STDIN && process.stdin.isTTY) return { problem: 'standard input is a terminal: pipe the password in (printf \'%s\' "$PASSWORD" | …)' };
    text = file === STDIN ? stdin() : readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { problem: code === 'ENOENT' ? `${source}: no such file` : code === 'EACCES' ? `${source}: permission denied` : code === 'EISDIR' ? `${source}: is a directory` : `${source}: cannot be read (${code ?? (err as Error).message})` };
  }
  const password = withoutFinalNewline(text);
  if (!password) return { problem: `${source} is empty` };
  try {
    checkPasswordStrength(password);
  } catch (err) {
    if (err instanceof AccountError) return { problem: `the password in ${source}: ${err.message.replace(/^password /, '')}` };
    throw err;
  }
  return { password };
}

/**
 * The problems of the bootstrap settings as configuration problems, one line each naming the variable. Standard
 * input is not read here: the CLI loads this configuration too and owns its own standard input (--password-stdin).
 */
export function bootstrapAdminProblems(settings: BootstrapSettings): string[] {
  const problems: string[] = [];
  if (settings.BOOTSTRAP_ADMIN_EMAIL) {
    try {
      normaliseEmail(settings.BOOTSTRAP_ADMIN_EMAIL);
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      problems.push(`BOOTSTRAP_ADMIN_EMAIL: ${err.message}`);
    }
  }
  const file = settings.BOOTSTRAP_ADMIN_PASSWORD_FILE;
  if (file && file !== STDIN) {
    const read = readPassword(file, () => '');
    if ('problem' in read) problems.push(`BOOTSTRAP_ADMIN_PASSWORD_FILE: ${read.problem}`);
  }
  return problems;
}

/**
 * The administrator to create at start, or undefined when BOOTSTRAP_ADMIN_EMAIL is unset. Reads the file, or
 * standard input for `-`; a ConfigError names the variable of each problem.
 */
export function readBootstrapAdmin(settings: BootstrapSettings, stdin: () => string = () => readFileSync(0, 'utf8')): BootstrapAdmin | undefined {
  const { BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD_FILE: file } = settings;
  if (!email || !file) return undefined;
  const problems = bootstrapAdminProblems({ BOOTSTRAP_ADMIN_EMAIL: email });
  const read = readPassword(file, stdin);
  if ('problem' in read) problems.push(`BOOTSTRAP_ADMIN_PASSWORD_FILE: ${read.problem}`);
  if (problems.length || !('password' in read)) throw new ConfigError(problems);
  return { email: normaliseEmail(email), password: read.password };
}
