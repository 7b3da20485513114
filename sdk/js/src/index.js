/**
 * Write Islet mini-services in JavaScript: a Router with path parameters,
 * Request/Response helpers, and the identity, storage, log, payment and
 * notification capabilities. Test with `@islet/sdk/testing` under `node --test`;
 * build the component with `islet-js-build` (or `islet plugin build`).
 */
export { Router } from './router.js';
export { Request } from './request.js';
export { Response } from './response.js';
export { IsletError, StorageError, ClaimError, PaymentError, NotifyError, JsonError } from './errors.js';
export * as identity from './identity.js';
export * as storage from './storage.js';
export * as log from './log.js';
export * as payment from './payment.js';
export * as notification from './notification.js';
export { DataItem } from './identity.js';
/**
 * The version of the `islet:platform` WIT package this SDK implements.
 *
 * @example
 * PLATFORM_VERSION // '0.1.0'
 */
export const PLATFORM_VERSION = '0.1.0';
