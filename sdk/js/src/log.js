/** Leveled log lines, attached to the request that wrote them. */
import { host } from './sys.js';

/**
 * Write one line at `level` (`trace`, `debug`, `info`, `warn`, `error`).
 *
 * @example
 * log.write('info', 'started');
 */
export function write(level, message) {
  host().log.write(level, String(message));
}
/**
 * A trace line.
 *
 * @example
 * log.trace(`params ${JSON.stringify(req.params)}`);
 */
export const trace = (m) => write('trace', m);
/**
 * A debug line.
 *
 * @example
 * log.debug('cache miss');
 */
export const debug = (m) => write('debug', m);
/**
 * An info line.
 *
 * @example
 * log.info(`order ${id} paid`);
 */
export const info = (m) => write('info', m);
/**
 * A warning.
 *
 * @example
 * log.warn('no message sent (no-consent)');
 */
export const warn = (m) => write('warn', m);
/**
 * An error line.
 *
 * @example
 * log.error(`cannot credit ${card}`);
 */
export const error = (m) => write('error', m);
