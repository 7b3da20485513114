/**
 * Errors a handler may throw: the router answers each with the platform's
 * error shape `{"error": {"code", "message", "request_id"}}` and its status.
 */
import { Response } from './response.js';

const snake = (s) => s.replace(/-/g, '_');

/**
 * An error with an HTTP status and an error code; thrown from a handler it becomes that answer.
 *
 * @example
 * throw new IsletError(422, 'invalid_card', 'a card number has 8 to 12 digits');
 */
export class IsletError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {object} [extra] fields added to the error object */
  constructor(status, code, message, extra) {
    super(message);
    this.name = 'IsletError';
    this.status = status;
    this.code = code;
    this.extra = extra;
  }

  /**
   * The error as a response.
   *
   * @example
   * e.toResponse().status
   */
  toResponse() {
    const error = { code: this.code, message: this.message, ...(this.extra || {}) };
    return Response.json({ error }, this.status);
  }
}

/** A kind-tagged capability error: `kind` is the WIT variant (kebab case), `code` is `<prefix>_<kind>`. */
class CapabilityError extends IsletError {
  constructor(prefix, kind, status, message, detail, extra) {
    super(status, `${prefix}_${snake(kind)}`, message, extra);
    this.kind = kind;
    this.detail = detail;
  }
}

const STORAGE = {
  'quota-exceeded': [507, () => 'the storage quota would be exceeded'],
  'key-too-large': [500, () => 'the key is empty or longer than 256 bytes'],
  'value-too-large': [413, () => 'the value is too large'],
  conflict: [409, () => 'the stored value changed meanwhile'],
  'not-a-number': [500, () => 'the stored value is not a 64-bit integer, or the result overflows'],
  unavailable: [503, (v) => `storage is unavailable: ${v}`],
  'invalid-json': [500, (v) => `the stored value is not the expected JSON: ${v}`],
};

/**
 * A storage call failed; `kind` as in the WIT (`quota-exceeded`, `conflict`, ...) or `invalid-json`.
 *
 * @example
 * try { storage.compareAndSwap(key, before, after); } catch (e) { if (!(e instanceof StorageError && e.kind === 'conflict')) throw e; }
 */
export class StorageError extends CapabilityError {
  constructor(kind, detail) {
    const [status, msg] = STORAGE[kind] || [500, () => kind];
    super('storage', kind, status, msg(detail), detail);
    this.name = 'StorageError';
  }
}

const CLAIM = {
  'no-caller': [401, () => 'this needs a signed-in citizen'],
  'not-declared': [500, () => 'the mini-service does not declare this data item under [personal-data]'],
  'not-granted': [403, () => 'this data item was not granted to the mini-service'],
  'no-consent': [403, (v) => `the citizen has not consented to share ${v.item} (purpose: ${v.purpose})`],
  'not-available': [404, () => 'the identity provider did not supply this data item'],
};

/**
 * `identity.claim` did not release an item; on `no-consent`, `consent` is `{item, purpose}` for the app's prompt.
 *
 * @example
 * try { identity.claim(DataItem.Phone); } catch (e) { if (e instanceof ClaimError && e.consent) log.info(`ask for ${e.consent.item}`); throw e; }
 */
export class ClaimError extends CapabilityError {
  constructor(kind, detail) {
    const [status, msg] = CLAIM[kind] || [500, () => kind];
    const consent = kind === 'no-consent' ? { item: detail.item, purpose: detail.purpose } : undefined;
    super('claim', kind, status, msg(detail), detail, consent ? { consent } : undefined);
    this.name = 'ClaimError';
    this.consent = consent;
  }
}

const PAYMENT = {
  'invalid-amount': [400, (v) => `invalid amount: ${v}`],
  'merchant-not-granted': [403, (v) => `merchant account not granted: ${v}`],
  'key-reused': [409, (v) => `the key was already used with other parameters: ${v}`],
  'not-found': [404, () => 'no such order'],
  'invalid-state': [409, (v) => `the order's status does not allow this: ${v}`],
  'provider-unavailable': [503, (v) => `the payment provider is unavailable: ${v}`],
  'quota-exceeded': [429, () => 'too many orders today'],
  'no-citizen': [401, () => 'paying needs a signed-in citizen'],
  'invalid-argument': [400, (v) => `invalid argument: ${v}`],
};

/**
 * A payment call failed; `kind` as in the WIT (`merchant-not-granted`, `invalid-state`, ...).
 *
 * @example
 * try { payment.closeOrder(id); } catch (e) { if (!(e instanceof PaymentError && e.kind === 'invalid-state')) throw e; }
 */
export class PaymentError extends CapabilityError {
  constructor(kind, detail) {
    const [status, msg] = PAYMENT[kind] || [500, () => kind];
    super('payment', kind, status, msg(detail), detail);
    this.name = 'PaymentError';
  }
}

const NOTIFY = {
  'no-consent': [409, () => 'the recipient has not consented to this template'],
  'template-not-approved': [403, (v) => `template not declared or not approved: ${v}`],
  'quota-exceeded': [429, () => 'too many messages today'],
  'bad-parameters': [400, (v) => `bad parameters: ${v}`],
  'unknown-recipient': [404, () => 'the recipient is not a subject of this mini-service'],
  unavailable: [503, (v) => `the message could not be stored: ${v}`],
};

/**
 * A notification was not sent; `kind` as in the WIT (`no-consent`, `quota-exceeded`, ...).
 *
 * @example
 * try { notification.send(subject, 'news', { text }); } catch (e) { if (!(e instanceof NotifyError && e.kind === 'no-consent')) throw e; }
 */
export class NotifyError extends CapabilityError {
  constructor(kind, detail) {
    const [status, msg] = NOTIFY[kind] || [500, () => kind];
    super('notification', kind, status, msg(detail), detail);
    this.name = 'NotifyError';
  }
}

/**
 * A request body that is not the JSON expected: 400 `invalid_json` when malformed, 422 `invalid_body` for the wrong shape.
 *
 * @example
 * const body = req.json(); // `{oops` throws JsonError: 400 invalid_json
 */
export class JsonError extends IsletError {
  constructor(malformed, message) {
    super(
      malformed ? 400 : 422,
      malformed ? 'invalid_json' : 'invalid_body',
      malformed ? `the body is not valid JSON: ${message}` : `the JSON body has the wrong shape: ${message}`,
    );
    this.name = 'JsonError';
    this.malformed = malformed;
  }
}
