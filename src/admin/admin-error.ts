// The one error shape of the admin service layer: what went wrong, in a code every adapter maps the same way
// (console: a page with that status; CLI: one line, exit 1; admin API: `{error, error_description}` with the status).
export type AdminErrorCode = 'not_found' | 'conflict' | 'invalid_request';

const STATUS: Record<AdminErrorCode, 400 | 404 | 409> = { invalid_request: 400, not_found: 404, conflict: 409 };

export class AdminError extends Error {
  readonly status: 400 | 404 | 409;

  constructor(
    readonly code: AdminErrorCode,
    message: string,
    /** The input field at fault, for a form or an API answer. */
    readonly field?: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}
