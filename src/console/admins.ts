// Who is an administrator, decided now (issue 16; docs/SECURITY.md "Issue 16: console administration"): the rule is
// the admin service layer's (admin/administrators.ts), which also refuses taking away the last administrator; the
// console's guard and pages ask it on every request.
export { Administrators, type AdministratorsDeps } from '../admin/administrators.js';
