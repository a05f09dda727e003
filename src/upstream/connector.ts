// The one shape every identity source produces (DESIGN.md §9, after dex's connector.Identity): whoever logs a
// person in, Gatehouse only ever sees this. Upstream tokens never leave the connector.
export interface Identity {
  connector: string; // the connection's id, e.g. "local"
  issuer: string; // who vouches for the subject
  subject: string; // stable id at that issuer
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
  groups: string[];
}

/** A connector that checks a password itself (local accounts). */
export interface PasswordConnector {
  readonly id: string;
  readonly kind: 'password';
  login(email: string, password: string): Promise<Identity | undefined>;
}

export type Connector = PasswordConnector;
