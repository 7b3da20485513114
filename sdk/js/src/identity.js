/** Who is calling: the signed-in citizen as a pairwise subject, their roles and, with consent, personal data items. */
import { host, witCall } from './sys.js';
import { ClaimError } from './errors.js';
import { Response } from './response.js';

/**
 * The data items `claim` may release.
 *
 * @example
 * identity.claim(identity.DataItem.Email)
 */
export const DataItem = Object.freeze({
  RealName: 'real-name',
  NationalId: 'national-id',
  Phone: 'phone',
  Email: 'email',
  LegalPerson: 'legal-person',
});

/** The caller: `{subject, assuranceLevel, roles, hasRole(role), isStaff()}`. */
function caller(raw) {
  return {
    subject: raw.subject,
    assuranceLevel: raw.assuranceLevel,
    roles: [...raw.roles],
    hasRole(role) {
      return this.roles.includes(role);
    },
    isStaff() {
      return this.roles.includes('staff');
    },
  };
}

/**
 * The current caller, or undefined for an anonymous request.
 *
 * @example
 * const who = identity.currentCaller()?.subject ?? 'anonymous';
 */
export function currentCaller() {
  const raw = host().identity.currentCaller();
  return raw ? caller(raw) : undefined;
}

/**
 * The current caller; throws a 401 `unauthenticated` response when anonymous.
 *
 * @example
 * const { subject } = identity.requireCaller();
 */
export function requireCaller() {
  const c = currentCaller();
  if (!c) throw Response.unauthorized();
  return c;
}

/**
 * The current caller if they have `role`; else throws 401 (anonymous) or 403 `forbidden`.
 *
 * @example
 * identity.requireRole('staff');
 */
export function requireRole(role) {
  const c = requireCaller();
  if (!c.hasRole(role)) throw Response.forbidden(`this needs the ${role} role`);
  return c;
}

/**
 * The value of personal data item `item` (see DataItem); throws a ClaimError
 * (`no-consent` → 403 whose error carries `consent: {item, purpose}` for the
 * app's consent prompt).
 *
 * @example
 * const name = identity.claim(DataItem.RealName); // ClaimError no-consent → 403 + consent prompt
 */
export function claim(item) {
  return witCall(() => host().identity.claim(item), (tag, val) => new ClaimError(tag, val));
}

/**
 * A subject shared by all mini-services of this department, or undefined when anonymous.
 *
 * @example
 * const shared = identity.departmentSubject();
 */
export function departmentSubject() {
  return host().identity.departmentSubject() ?? undefined;
}
