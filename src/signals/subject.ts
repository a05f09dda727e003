// Who an identity provider names (docs/UNIVERSAL-LOGOUT.md, "Subjects"): an RFC 9493 subject identifier, `email` or
// `iss_sub` (the two Okta Universal Logout sends), and the accounts it stands for, looked up among the identities of
// the calling connection only. An email matches only where that connection's IdP verified it; an `iss_sub` only the
// identity it names. A person known only through another connection is unknown here: one IdP's word never reaches
// the people another IdP vouches for.
import { z } from 'zod';
import type { Accounts } from '../upstream/accounts.js';
import { badRequest } from './refusal.js';

export type Subject = { format: 'email'; email: string } | { format: 'iss_sub'; iss: string; sub: string };

const EmailSubject = z.strictObject({ format: z.literal('email'), email: z.string().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address') });
const IssSubSubject = z.strictObject({ format: z.literal('iss_sub'), iss: z.string().min(1).max(2000), sub: z.string().min(1).max(500) });
const SCHEMAS = { email: EmailSubject, iss_sub: IssSubSubject } as const;

/** Reads a subject identifier (`where` names it in the refusal: `sub_id`, `subject`); throws a 400 refusal. */
export function parseSubject(value: unknown, where: string): Subject {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${where} must be a subject identifier object (RFC 9493)`);
  const format = (value as { format?: unknown }).format;
  if (typeof format !== 'string') throw badRequest(`${where}.format is required`);
  if (!(format in SCHEMAS)) throw badRequest(`${where}.format ${format.slice(0, 40)} is not supported (email, iss_sub)`);
  const parsed = SCHEMAS[format as keyof typeof SCHEMAS].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const member = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
    throw badRequest(`${where}${member ? `.${member}` : ''}: ${issue.code === 'unrecognized_keys' ? 'not a member of this format' : issue.message}`);
  }
  return parsed.data as Subject;
}

/**
 * The person a Security Event Token is about: SSF's `sub_id` claim, else the event's own `subject` (the CAEP and RISC
 * drafts before SSF 1.0). A `complex` subject (SSF) names the person in its `user` member; its session or device
 * members narrow nothing here, since Gatehouse keeps no IdP session ids: the whole person is logged out.
 */
export function subjectOfSet(subId: unknown, eventSubject: unknown): Subject {
  const [value, where] = subId !== undefined ? [subId, 'sub_id'] : [eventSubject, 'subject'];
  if (value === undefined) throw badRequest('the SET names no subject (sub_id, or the event\'s subject)');
  if (value && typeof value === 'object' && (value as { format?: unknown }).format === 'complex') {
    const user = (value as { user?: unknown }).user;
    if (user === undefined) throw badRequest(`${where}: a complex subject without a user member names no person`);
    return parseSubject(user, `${where}.user`);
  }
  return parseSubject(value, where);
}

/** The accounts the subject names among the connection's identities (none: unknown here). */
export async function accountsOf(accounts: Accounts, connectionId: string, subject: Subject): Promise<string[]> {
  if (subject.format === 'email') return accounts.findByConnectionEmail(connectionId, subject.email);
  const id = await accounts.findByIdentity(connectionId, subject.iss, subject.sub);
  return id ? [id] : [];
}

/** The subject as the audit row records it. */
export function describeSubject(subject: Subject): Record<string, string> {
  return subject.format === 'email' ? { format: 'email', email: subject.email } : { format: 'iss_sub', iss: subject.iss, sub: subject.sub };
}
