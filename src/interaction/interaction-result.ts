// Ends an interaction with its result, on the interaction the route already holds. oidc-provider's
// interactionResult() would first find the interaction and its session again — two round trips the route made at
// the start of the same request (pages.details) — and then do exactly this. Nothing is checked less: the resume at
// /authorize/:uid still requires the interaction's session to be the browser's current one, and its principal.
import type { InteractionResults } from 'oidc-provider';
import type { Details } from './pages.js';

export async function finishInteraction(d: Details, result: InteractionResults, options: { mergeWithLastSubmission: boolean }): Promise<string> {
  d.result = options.mergeWithLastSubmission && !('error' in result) ? { ...d.lastSubmission, ...result } : result;
  await d.save(d.exp - Math.floor(Date.now() / 1000));
  return d.returnTo;
}
