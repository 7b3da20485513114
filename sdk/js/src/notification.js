/** Messages to a citizen's inbox, with the citizen's consent per template. Failures throw NotifyError. */
import { host, witCall } from './sys.js';
import { NotifyError } from './errors.js';

/**
 * Send template `template` with `params` (an object or `[name, value]`
 * pairs) to `recipient` (a pairwise subject); `link` is a path inside this
 * mini-service the message opens. Returns the message id.
 *
 * @example
 * notification.send(subject, 'topup-credited', { card, amount: '50.00' }, '/');
 */
export function send(recipient, template, params = {}, link) {
  const list = (Array.isArray(params) ? params : Object.entries(params)).map(([name, value]) => ({ name, value: String(value) }));
  return witCall(() => host().notification.send(recipient, template, list, link ?? undefined), (t, v) => new NotifyError(t, v));
}
